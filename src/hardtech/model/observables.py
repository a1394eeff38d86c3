"""The model's observables: dragons (young firms that reach the field's threshold).

A firm becomes a **dragon** the first time its valuation reaches its field's
``dragon_threshold`` within ``dragon.max_age_years`` of its founding. Scenes
defined are counted where they happen (see :func:`hardtech.model.market.define_scenes`).
"""

from __future__ import annotations

import numpy as np

from hardtech.engine.jit import compiled
from hardtech.model import kernels
from hardtech.model.world import World


def detect_dragons(world: World) -> None:
    """Mark firms that just became dragons and count them by region and field.

    Dragons at a deal price of 1 (``valuation_par``: what the firm would be
    worth if venture money were balanced) are counted alongside, so a reader
    can see how many dragons owe their status to the price of deals.
    """
    firms = world.firms
    max_age = world.scenario.dragon.max_age_years * 4
    if compiled():
        new, new_par = np.empty(len(firms), np.bool_), np.empty(len(firms), np.bool_)
        kernels.dragon_candidates(
            firms["incumbent"],
            firms["founded"],
            firms["field"],
            firms["valuation"],
            firms["valuation_par"],
            firms["dragon_step"],
            firms["par_dragon_step"],
            world.field_param("dragon_threshold"),
            world.step,
            max_age,
            new,
            new_par,
        )
        par = np.flatnonzero(new_par)
    else:
        age_q = world.step - firms["founded"]
        threshold = world.field_param("dragon_threshold")[firms["field"]]
        young = ~firms["incumbent"] & (age_q <= max_age)
        par = np.flatnonzero(young & (firms["par_dragon_step"] < 0) & (firms["valuation_par"] >= threshold))
    if par.size:
        firms["par_dragon_step"][par] = world.step
        np.add.at(world.dragons_par_total, (firms["region"][par], firms["field"][par]), 1)
        key = world.region_field(firms["region"][par], firms["field"][par])
        world.flows["new_par_dragons"] += np.bincount(key, minlength=world.n_regions * world.n_fields)
    if not compiled():  # (the compiled path found them above, before the par dragons were marked)
        new = young & (firms["dragon_step"] < 0) & (firms["valuation"] >= threshold)
    rows = np.flatnonzero(new)
    if rows.size == 0:
        return
    firms["dragon_step"][rows] = world.step
    np.add.at(world.dragons_total, (firms["region"][rows], firms["field"][rows]), 1)
    key = world.region_field(firms["region"][rows], firms["field"][rows])
    world.flows["new_dragons"] += np.bincount(key, minlength=world.n_regions * world.n_fields)
    world.event("dragon", rows, firms["valuation"][rows])
    world.dragons.append(
        {
            "firm_id": firms.ids[rows].copy(),
            "region": firms["region"][rows].copy(),
            "field": firms["field"][rows].copy(),
            "founded": firms["founded"][rows].copy(),
            "dragon_step": np.full(rows.size, world.step, np.int32),
            "valuation": firms["valuation"][rows].copy(),
            "spinout": firms["parent"][rows] >= 0,
            "niche": firms["segment"][rows] >= 0,
        }
    )
