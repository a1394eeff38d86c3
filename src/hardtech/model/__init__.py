"""The hardtech ecosystem model: world set-up, one module per mechanism, metrics.

=================  ==============================================================
module             rule
=================  ==============================================================
technology         science stocks, frontiers, logistic maturity (C1, C6)
market             Bass demand, platform and niches, revenue shares, scenes (C1, C5, C9)
labour             graduates, retirement, wages, migration, hiring (C2)
capital            pools, rounds, exits, recycling (C4)
innovation         R&D draws, imitation, spillovers (C3)
entrepreneurship   founding, spin-outs, experiments, pivots, failure (C2, C4, C5)
cooperation        links, shared R&D, pooled risk (C7)
policy             regional levers and their schedules (C2, C8)
decoupling         blocs, blockades, substitution (C6)
observables        dragons
metrics            per-step aggregates
shared             what several rules derive from the state (below the mechanisms)
kernels            the hot rules as compiled loops (Numba), same results as NumPy
=================  ==============================================================

No mechanism imports another and ``world`` imports none (``tests/test_model_imports.py``).
Which code runs — kernels or the NumPy reference — is :mod:`hardtech.engine.jit`'s
choice (``HARDTECH_ENGINE``); both give the same bits.
"""

from hardtech.model.model import HardtechModel

__all__ = ["HardtechModel"]
