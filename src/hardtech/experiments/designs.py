"""Designs: the sample matrix of an experiment and the seed of every run.

:func:`design_matrix` draws the design (full factorial, Latin hypercube, Sobol
with Saltelli's scheme, or Morris trajectories; the last three via SALib) from
a generator seeded by the spec's seed, so the same spec always gives the same
matrix. :func:`run_seed` derives each sample's run seed from (spec seed,
sample index) alone, so results do not depend on the executor, the number of
workers or the order in which runs finish.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from hardtech.experiments.spec import ResolvedSpec

# spawn keys of the spec seed's SeedSequence: one stream per use, never shared
_DESIGN_STREAM, _RUN_STREAM, _ANALYSIS_STREAM = 0, 1, 2


def rng_for(seed: int, stream: int, *key: int) -> np.random.Generator:
    """A numpy Generator for ``stream`` (design, runs, analysis) of the spec seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, *key)))


def run_seed(spec_seed: int, sample: int) -> int:
    """The scenario seed of every run of ``sample`` (0 ≤ seed < 2**63), from (spec seed, sample) only."""
    ss = np.random.SeedSequence(spec_seed, spawn_key=(_RUN_STREAM, sample))
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def analysis_seed(spec_seed: int) -> int:
    """Seed of the bootstrap of the analyses (confidence intervals)."""
    ss = np.random.SeedSequence(spec_seed, spawn_key=(_ANALYSIS_STREAM,))
    return int(ss.generate_state(1, dtype=np.uint32)[0]) + 1  # SALib treats 0 as 'no seed'


def salib_problem(resolved: ResolvedSpec) -> dict[str, Any]:
    """The SALib problem dict: factor paths as names, sampling bounds."""
    return {
        "num_vars": len(resolved.factors),
        "names": [f.path for f in resolved.factors],
        "bounds": [list(f.bounds) for f in resolved.factors],
    }


@dataclass(frozen=True)
class Design:
    """A design: ``x`` (samples × factors, design coordinates) and the scenario values of each sample."""

    x: np.ndarray
    values: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.values)


def design_matrix(resolved: ResolvedSpec) -> Design:
    """Draw the design of a resolved spec (deterministic in the spec seed).

    Sizes: factorial = product of level counts; lhs = ``samples``; sobol =
    ``samples``·(2k+2) with second order, else ``samples``·(k+2); morris =
    ``samples``·(k+1), for k factors.
    """
    spec, factors = resolved.spec, resolved.factors
    if spec.design == "factorial":
        grids = [f.grid() for f in factors]
        values = [dict(zip((f.path for f in factors), combo, strict=True)) for combo in itertools.product(*grids)]
        x = np.array([[f.numeric(v[f.path]) for f in factors] for v in values], dtype=float)
        return Design(x, values)
    problem = salib_problem(resolved)
    rng = rng_for(spec.seed, _DESIGN_STREAM)
    assert spec.samples is not None  # the spec's validator requires samples for every design but factorial
    n = int(spec.samples)
    if spec.design == "lhs":
        from SALib.sample import latin

        x = latin.sample(problem, n, seed=rng)
    elif spec.design == "sobol":
        from SALib.sample import sobol

        x = sobol.sample(problem, n, calc_second_order=spec.sobol.second_order, scramble=True, seed=rng)
    else:
        from SALib.sample import morris

        x = morris.sample(problem, n, num_levels=spec.morris.levels, seed=rng)
    x = np.asarray(x, dtype=float)
    values = [{f.path: f.value(xi) for f, xi in zip(factors, row, strict=True)} for row in x]
    return Design(x, values)


def design_size(resolved: ResolvedSpec) -> int:
    """Number of samples (design rows) without drawing the design."""
    spec, k = resolved.spec, len(resolved.factors)
    if spec.design == "factorial":
        return int(np.prod([len(f.grid()) for f in resolved.factors]))
    assert spec.samples is not None  # the spec's validator requires samples for every design but factorial
    n = int(spec.samples)
    if spec.design == "lhs":
        return n
    if spec.design == "sobol":
        return n * (2 * k + 2 if spec.sobol.second_order else k + 2)
    return n * (k + 1)
