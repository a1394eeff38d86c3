"""Decoupling (C6): blocs, blockade events and substitution.

Blockade intensity per channel (knowledge, components, market) and per
(imposer, target) pair is the running sum of the scenario's dated events,
kept in [0, 1]. It cuts cross-bloc science diffusion (technology), knowledge
spillovers (innovation), market access (market) and — here — components:
a firm loses capability in proportion to its foreign dependency, and a
dependent firm adds substitution R&D that, when it succeeds, replaces part of
its foreign inputs, restoring the capability the blockade took. Substitution
does not move a firm toward the frontier by itself: whether pressure closes
gaps is left to the other rules (docs/ODD.md §8, H8).
"""

from __future__ import annotations

import math

import numpy as np

from hardtech.model.shared import component_cut, cost_per_head
from hardtech.model.world import World

CHANNELS = ("knowledge", "components", "market")


def event_step(date: float, start_year: int) -> int:
    """The step (quarter) a dated event falls in: it takes effect from that quarter on."""
    return math.floor((date - start_year) * 4)


def blockade_matrix(world: World, step: int) -> dict[str, np.ndarray]:
    """Cumulative blockade intensity per channel as (imposer, target) matrices at ``step``."""
    B = len(world.bloc_names)
    cut = {ch: np.zeros((B, B)) for ch in CHANNELS}
    if world.scenario.decoupling.enabled:
        for ev in sorted(world.scenario.events, key=lambda e: e.date):
            if event_step(ev.date, world.scenario.time.start_year) <= step:
                i, j = world.bloc_names.index(ev.imposer), world.bloc_names.index(ev.target)
                for ch in ev.channels:
                    cut[ch][i, j] = np.clip(cut[ch][i, j] + ev.intensity, 0.0, 1.0)
    return cut


def set_blockades(world: World) -> None:
    """Evaluate the blockade matrices for the current step."""
    world.cut = blockade_matrix(world, world.step)


def substitute(world: World, rd_effort: np.ndarray, zeta: float) -> None:
    """Dependent firms under blockade add R&D effort to replace foreign inputs.

    ``rd_effort`` is each firm's normal R&D effort (in ``innovation.effort_unit``,
    see :func:`hardtech.model.innovation.rd_effort`); ``zeta`` the R&D productivity.
    """
    dec = world.scenario.decoupling
    firms = world.firms
    pressure = component_cut(world) * firms["dependency"]
    active = pressure > 0
    if not active.any():
        return
    rng = world.streams["decoupling"]
    effort = dec.substitution_effort * pressure * rd_effort
    success = active & (rng.random(len(firms)) < 1.0 - np.exp(-zeta * effort))
    firms["dependency"] = np.where(success, firms["dependency"] * (1.0 - dec.substitution_rate), firms["dependency"])
    # the researchers that effort takes, paid at local cost
    inn = world.scenario.innovation
    researchers = (inn.effort_unit * effort) ** (1.0 / inn.rd_returns) * world.field_param("capital_intensity")[
        firms["field"]
    ]
    cost = researchers * cost_per_head(world)
    firms["cash"] = firms["cash"] - cost
    world.book("sink:substitution_rd", cost.sum())
