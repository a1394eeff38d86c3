"""Technology (C1, C6): science stocks, frontiers and maturity.

- Each bloc's **science stock** per field grows with the basic research funded
  in its regions (universities plus the public lever) and absorbs a share of
  any other bloc's lead, unless a blockade cuts that knowledge channel.
- A bloc's **frontier** is the best capability any of its firms has reached; the
  **world frontier** is the best over blocs. Frontiers move only because firms
  innovate (see :mod:`hardtech.model.innovation`).
- **Maturity** of a field is a logistic function of its world frontier.
"""

from __future__ import annotations

import numpy as np

from hardtech.model.shared import update_frontiers
from hardtech.model.world import World


def grow_science(world: World) -> None:
    """Basic research and cross-bloc diffusion raise each bloc's science stock."""
    tech = world.scenario.technology
    research = world.region_param("university_research") + world.levers["basic_research"]
    per_bloc = np.bincount(world.region_bloc, weights=research, minlength=len(world.bloc_names))
    growth = tech.science_per_musd * per_bloc / 4.0  # same for every field of the bloc
    lead = np.maximum(world.science[None, :, :] - world.science[:, None, :], 0.0)  # [to, from, field]
    open_flow = 1.0 - world.cut["knowledge"].T  # cut is [imposer = from, target = to]
    absorbed = tech.science_diffusion / 4.0 * (lead * open_flow[:, :, None]).max(axis=1)
    world.science += growth[:, None] + absorbed


def maturity_of(frontier: np.ndarray, midpoint: np.ndarray, steepness: np.ndarray) -> np.ndarray:
    """Logistic maturity M = 1 / (1 + exp(−k (frontier − midpoint)))."""
    return 1.0 / (1.0 + np.exp(-steepness * (frontier - midpoint)))


def update_maturity(world: World) -> None:
    """Maturity follows the world frontier; note when products become usable."""
    world.maturity = maturity_of(
        world.frontier, world.field_param("maturity_midpoint"), world.field_param("maturity_steepness")
    )
    newly = (world.usable_onset < 0) & (world.maturity >= world.field_param("usability_threshold"))
    world.usable_onset[newly] = world.step


def technology_step(world: World) -> None:
    """The technology phase: science, frontiers, maturity."""
    grow_science(world)
    update_frontiers(world)
    update_maturity(world)
