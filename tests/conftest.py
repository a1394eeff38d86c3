"""Shared fixtures: small, seeded runs so the suite stays fast on 2 cores."""

from __future__ import annotations

import pytest

import hardtech

SMALL = {"scale": 0.003}


@pytest.fixture(scope="session")
def small_run():
    """One small run of the default scenario (seed 7), shared by read-only tests."""
    return hardtech.run("hangzhou", seed=7, overrides=SMALL)


@pytest.fixture(scope="session")
def conformance_outcomes():
    """Today's outcome of every run of the conformance set (tests/conformance.py), computed once per session."""
    import conformance

    return conformance.compute(workers=2)
