"""Every number a model rule uses is a scenario parameter (issue #15, item 1).

(a) The model package holds no numeric literal but the definitions on
    ``ALLOWED`` (module-level named constants count; docstrings do not).
(b) Every scenario field declares a unit, an allowed range (or values), a
    plausible range and a provenance tag, machine-readably; each plausible
    range lies inside the allowed range and holds the default.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import get_args, get_origin

import numpy as np
import pytest
from pydantic import BaseModel

from hardtech.scenario import ScenarioError, load
from hardtech.scenario.schema import PROVENANCE, Scenario, parameters

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "src" / "hardtech" / "model"

# (value, module or "*", why it is a definition). At most 15 entries.
ALLOWED: list[tuple[float, str, str]] = [
    (0, "*", "nothing: zero counts, empty sums, no floor"),
    (1, "*", "one: a whole (shares' complement), one person, one row"),
    (-1, "*", "'none' in id columns (no employer, no segment, not yet)"),
    (
        2,
        "*",
        (
            "a pair: a link needs two firms, n(n − 1)/2 pairs, the 2 × 2 founder classes, the middle (½) of the 0–1 "
            "skill scale"
        ),
    ),
    (4, "*", "quarters in a year: yearly rates ÷ 4, years × 4 steps, quarter labels"),
    (1000, "*", "a thousand: thousand USD (wages) → million USD, distance costs per 1,000 km"),
    (0.5, "innovation.py", "one half: imitation's reach halves every innovation.world_halving_km"),
]


def _scan(source: str) -> list[tuple[int, float]]:
    """(line, value) of every int or float literal outside docstrings (booleans are not numbers; −x is one literal)."""
    tree = ast.parse(source)
    docstrings, negated = set(), set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            docstrings.add(id(body[0].value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            negated.add(id(node.operand))
    return [
        (node.lineno, -node.value if id(node) in negated else node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
        and id(node) not in docstrings
    ]


def _allowed(value: float, module: str) -> bool:
    return any(value == v and scope in ("*", module) for v, scope, _ in ALLOWED)


def test_allow_list_is_short_and_explained():
    assert len(ALLOWED) <= 15
    assert all(len(why) > 10 for _, _, why in ALLOWED)


def test_model_code_holds_only_definitions():
    offenders = []
    for path in sorted(MODEL.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        offenders += [
            f"{path.name}:{line}: {value!r}  {lines[line - 1].strip()[:90]}"
            for line, value in _scan(text)
            if not _allowed(value, path.name)
        ]
    assert not offenders, (
        "numeric literals in src/hardtech/model/ that are not definitions "
        "(make them scenario parameters, or add a definition to ALLOWED):\n" + "\n".join(offenders)
    )


def test_literal_scan_catches_a_new_constant():
    """The scan itself: a named module constant and an inline factor are found; docstrings are not."""
    source = '"""Doc 0.97."""\nRATE = 0.97\n\n\ndef f(x):\n    """Per 3.5."""\n    return x * 1.2 - 1 + (-2.5)\n'
    assert sorted(v for _, v in _scan(source)) == [-2.5, 0.97, 1, 1.2]
    assert not _allowed(0.97, "x.py") and _allowed(1, "x.py") and _allowed(4.0, "x.py")
    assert _allowed(0.5, "innovation.py") and not _allowed(0.5, "market.py")


# -- (b) every field declared ------------------------------------------------------------

FACT_IDS = set(re.findall(r"^\| ([A-Z]+\d+[a-z]?) \|", (ROOT / "docs" / "FACTS.md").read_text(encoding="utf-8"), re.M))
PARAMS = list(parameters())
NUMERIC = [p for p in PARAMS if p.kind in ("number", "integer") and isinstance(p.allowed, list)]


def _bounds_of(path: str) -> dict:
    """The pydantic bound keywords (gt/ge/lt/le) of the field at a ``parameters`` path."""
    model = Scenario
    parts = path.split(".")
    for part in parts[:-1]:
        if part == "*":
            continue
        model = _inner(model.model_fields[part].annotation)
    info = model.model_fields[parts[-1]]
    out = {}
    for m in info.metadata:
        for key in ("gt", "ge", "lt", "le"):
            if getattr(m, key, None) is not None:
                out[key] = getattr(m, key)
    return out


def _inner(annotation):
    while get_origin(annotation) in (dict, list):
        annotation = get_args(annotation)[-1]
    return annotation


def test_every_field_is_declared():
    assert len(PARAMS) > 200  # every block, regions, fields, events and levers included
    paths = {p.path for p in PARAMS}
    for expected in (
        "regions.*.talent",
        "regions.*.policy.procurement",
        "fields.*.bass_q",
        "events.*.intensity",
        "capital.round_price_fade",
        "setup.incumbent_headcount",
        "distances_km",
    ):
        assert expected in paths
    missing = [
        p.path for p in PARAMS if not (p.unit and p.allowed is not None and p.plausible is not None and p.provenance)
    ]
    assert not missing, f"fields without unit, allowed, plausible or provenance: {missing}"
    bad = [f"{p.path}: {p.provenance}" for p in PARAMS if not PROVENANCE.match(p.provenance)]
    assert not bad


def test_metadata_is_in_the_json_schema():
    schema = Scenario.model_json_schema()
    node = schema["$defs"]["Capital"]["properties"]["round_price_fade"]
    assert (
        node["unit"] == "per quarter"
        and node["plausible"] == [0.9, 1.0]
        and node["provenance"].startswith("[ASSUMPTION")
    )
    assert node["allowed"] == [0, 1]


@pytest.mark.parametrize("p", NUMERIC, ids=[p.path for p in NUMERIC])
def test_plausible_inside_allowed_and_holds_default(p):
    lo, hi = p.allowed
    assert lo is not None and hi is not None and lo <= hi, p.path
    assert isinstance(p.plausible, list) and len(p.plausible) == 2, p.path
    a, b = p.plausible
    assert lo <= a <= b <= hi, f"{p.path}: plausible {p.plausible} outside allowed {p.allowed}"
    bounds = _bounds_of(p.path) if p.path.split(".")[-1] not in ("distances_km", "relatedness") else {}
    if "gt" in bounds:
        assert a > bounds["gt"], p.path
    if "lt" in bounds:
        assert b < bounds["lt"], p.path
    if p.default is not None:
        assert a <= p.default <= b, f"{p.path}: default {p.default} outside plausible {p.plausible}"


def test_switches_declare_their_values():
    switches = [p for p in PARAMS if p.kind == "boolean"]
    assert len(switches) >= 9
    for p in switches:
        assert p.allowed == [False, True] and p.default in p.plausible and p.tag == "DEFINITION", p.path


def test_sources_name_facts_ids():
    sources = [p for p in PARAMS if p.tag == "SOURCE"]
    assert sources
    for p in sources:
        ids = PROVENANCE.match(p.provenance).group("ids").split(", ")
        assert set(ids) <= FACT_IDS, f"{p.path}: {ids} not in docs/FACTS.md"


def test_calibrated_parameters_are_the_presets():
    """Each [CALIBRATED] field is set by the preset, inside its plausible range (the calibration bounds)."""
    sc = load("hangzhou")
    calibrated = [p for p in PARAMS if p.tag == "CALIBRATED"]
    assert {p.path for p in calibrated} == {
        "market.capability_weight",
        "capital.seed_round",
        "capital.runway_quarters",
        "capital.milestone_gain",
        "entrepreneurship.runway_quarters",
    }
    for p in calibrated:
        block, name = p.path.split(".")
        value = getattr(getattr(sc, block), name)
        assert value != p.default and p.plausible[0] <= value <= p.plausible[1], p.path


def test_preset_values_lie_in_their_plausible_ranges():
    """The preset is a point of the space an analysis samples."""
    by_path = {p.path: p for p in NUMERIC}
    outside, checked = [], []

    def check(path: str, value) -> None:
        p = by_path.get(path)
        if p is None or isinstance(value, (bool, str)):
            return
        if isinstance(value, dict):  # distances, relatedness
            values = [v for row in value.values() for v in row.values()]
        elif isinstance(value, list):  # a lever's schedule
            values = [v for _, v in value]
        else:
            values = [value]
        checked.append(path)
        outside.extend(
            f"{path} = {v} (plausible {p.plausible})" for v in values if not p.plausible[0] <= v <= p.plausible[1]
        )

    def walk(model, data: dict, prefix: str) -> None:
        for name, value in data.items():
            annotation = model.model_fields[name].annotation
            inner, origin = _inner(annotation), get_origin(annotation)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                if origin is dict:
                    for item in value.values():
                        walk(inner, item, f"{prefix}{name}.*.")
                elif origin is list:
                    for item in value:
                        walk(inner, item, f"{prefix}{name}.*.")
                else:
                    walk(inner, value, f"{prefix}{name}.")
            else:
                check(f"{prefix}{name}", value)

    walk(Scenario, load("hangzhou").model_dump(mode="python"), "")
    assert {
        "regions.*.talent",
        "regions.*.policy.talent_subsidy",
        "fields.*.bass_p",
        "events.*.date",
        "distances_km",
        "market.capability_weight",
    } <= set(checked)
    assert not outside, outside


# -- the parameters act, and their checks ------------------------------------------------


def test_min_max_pairs_must_ascend():
    with pytest.raises(ScenarioError, match="labour.graduate_age_max"):
        load("hangzhou", {"labour.graduate_age_min": 27.0})
    with pytest.raises(ScenarioError, match="setup.incumbent_age_max_years"):
        load("hangzhou", {"setup.incumbent_age_max_years": 10.1})
    with pytest.raises(ScenarioError, match="distances_km"):
        load("hangzhou", {"distances_km.hangzhou.us_hub": 30000})


def test_setup_parameters_shape_the_start_state():
    from hardtech.model.world import build_world

    base = {"scale": 0.002}
    w0 = build_world(load("hangzhou", base))
    w1 = build_world(
        load(
            "hangzhou",
            {
                **base,
                "setup.incumbent_headcount": 6000.0,
                "setup.startup_age_max_years": 1.0,
                "setup.talent_age_min": 30.0,
            },
        )
    )
    inc0, inc1 = w0.firms["incumbent"], w1.firms["incumbent"]
    # the same draws, scaled: the median headcount doubles
    assert np.allclose(w1.firms["headcount"][inc1], 2 * w0.firms["headcount"][inc0])
    assert (w1.firms["founded"][~inc1] > -4).all() and (w0.firms["founded"][~inc0] <= -4).any()
    assert w1.talent["age"].min() >= 30.0 > w0.talent["age"].min()


def test_bass_inverse_is_exact_at_full_adoption():
    from hardtech.model.market import bass_adoption, bass_advance

    p, q = np.array([0.03, 0.03]), np.array([0.38, 0.38])
    assert bass_advance(np.array([1.0, 0.0]), p, q, 0.25)[0] == 1.0
    assert math.isclose(bass_advance(np.array([0.0, 0.0]), p, q, 2.0)[1], float(bass_adoption(2.0, 0.03, 0.38)))


def test_events_take_effect_in_the_quarter_they_fall_in():
    from hardtech.model.decoupling import event_step

    assert event_step(2022.77, 2012) == 43  # 2022Q4 (Oct 7)
    assert event_step(2025.0, 2012) == 52 and event_step(2024.99, 2012) == 51
    assert event_step(2010.5, 2012) < 0  # before the run: in force from the start
