"""Today's code reproduces the conformance set bit for bit (tests/conformance.py says what it is for).

A failure means results changed. If that was the point of the change, rewrite the
record with ``make conformance`` (this file with HARDTECH_UPDATE_CONFORMANCE=1) and
regenerate the long README blocks (``make readme-full``); if it was not, the change
has a bug.
"""

from __future__ import annotations

import pytest

import conformance
from hardtech.evidence.registry import declared_claims
from hardtech.evidence.robustness import assumptions
from hardtech.provenance import platform_key
from hardtech.scenario import load


def test_the_set_reaches_every_claim_and_every_assumption():
    """Every declared claim with arms has its arms in the set, and the hypercube moves every assumption."""
    names = set(conformance.jobs())
    small = load(conformance.PRESET, conformance.SCREENING)
    for claim in declared_claims(small):
        for arm in set(claim.arms) - set(claim.inject):
            assert f"claim/{claim.id}/{arm}" in names
    lhs = [sc for name, (sc, _, _) in conformance.jobs().items() if name.startswith("lhs/")]
    for p in assumptions(small):
        values = {float(_at(sc, p.path)) for sc in lhs}
        assert len(values) > 1, f"{p.path}: one value over the hypercube"


def _at(obj, path: str):
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def test_todays_code_reproduces_the_recorded_set(conformance_outcomes):
    if conformance.updating():
        conformance.write(conformance_outcomes)
        pytest.skip(f"{conformance.FILE.name} rewritten: review the diff and commit it")
    record = conformance.recorded()
    if platform_key() != record["platform"]:
        pytest.skip(f"the record is of {record['platform']}; this is {platform_key()} (docs/reproducibility.md)")
    changed = conformance.differences(record, conformance_outcomes)
    assert not changed, (
        f"{len(changed)} run(s) of the conformance set differ from model {record['model']}'s: results changed.\n"
        + "\n".join(changed[:10])
        + "\nIf on purpose: `make conformance`, then `make readme-full`."
    )
