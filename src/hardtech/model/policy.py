"""Policy (C2, C8): each regional government's levers for the current year.

Levers are constants or time schedules in the scenario; this phase evaluates
them for the step's year into arrays over regions that other rules read
(subsidies in migration, support in experiments, research in science,
procurement in the market, the cluster programme in cooperation, fund
injections in capital).
"""

from __future__ import annotations

import numpy as np

from hardtech.model.world import World
from hardtech.scenario.schema import lever_value

LEVERS = ("talent_subsidy", "startup_support", "basic_research", "procurement", "cluster_programme", "fund_injection")


def set_levers(world: World) -> None:
    """Evaluate every lever of every region for the current year."""
    year = world.year
    world.levers = {
        name: np.array([lever_value(getattr(r.policy, name), year) for r in world.scenario.regions.values()])
        for name in LEVERS
    }
