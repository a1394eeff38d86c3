"""Scenario loading, overrides and the one-line errors they give."""

import pytest

import hardtech
from hardtech.scenario import ScenarioError, load, presets, to_toml


def test_preset_loads_with_the_article_world():
    sc = load("hangzhou")
    assert presets() == ["hangzhou"] or "hangzhou" in presets()
    assert list(sc.regions) == ["hangzhou", "shenzhen", "beijing", "shanghai", "us_hub", "rest_of_world"]
    assert set(sc.fields) == {"ai_models", "legged_robotics", "bci", "games", "spatial_design"}
    assert (sc.time.start_year, sc.time.end_year, sc.steps) == (2012, 2035, 96)
    assert sc.scale == 0.01
    assert any(ev.date < 2023 and ev.imposer == "us" and ev.target == "china" for ev in sc.events)


def test_overrides_are_validated_like_the_file():
    sc = load("hangzhou", ["regions.hangzhou.living_cost=0.8", "innovation.spillovers=false"])
    assert sc.regions["hangzhou"].living_cost == 0.8 and sc.innovation.spillovers is False
    sc2 = load("hangzhou", {"regions.hangzhou.policy.talent_subsidy": [[2012, 1.0], [2020, 9.0]]})
    assert sc2.regions["hangzhou"].policy.talent_subsidy[1] == [2020, 9.0]


def test_resolved_toml_round_trips(tmp_path):
    sc = load("hangzhou", {"seed": 3})
    path = tmp_path / "s.toml"
    path.write_text(to_toml(sc))
    assert load(path) == sc


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        (
            "regions.hangzhou.living_cst=1",
            (
                "regions.hangzhou.living_cst: unknown key (did you mean 'living_cost'?); allowed: bloc, talent, "
                "living_cost"
            ),
        ),
        ("regions.narnia.living_cost=1", "regions.narnia: unknown key 'narnia'; allowed: hangzhou, shenzhen"),
        ("regions.hangzhou.living_cost=-1", "regions.hangzhou.living_cost: input should be greater than 0"),
        ("scale=5", "scale: input should be less than or equal to 1"),
        ("regions.hangzhou.policy.startup_support=2", "startup_support: value 2.0 outside the allowed range [0, 0.9]"),
        ("regions.hangzhou.bloc='mars'", "regions.hangzhou.bloc: unknown bloc 'mars'; allowed: china, us, neutral"),
        ("nonsense", "expected KEY=VALUE"),
    ],
)
def test_bad_overrides_name_the_field(override, needle):
    with pytest.raises(ScenarioError) as info:
        load("hangzhou", [override])
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_bad_file_names_the_field(tmp_path):
    text = to_toml(load("hangzhou")).replace("living_cost = 1.0", "living_costs = 1.0", 1)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"regions\.hangzhou\.living_costs: unknown key"):
        load(path)
    with pytest.raises(ScenarioError, match="unknown preset 'nowhere'"):
        load("nowhere")
    with pytest.raises(ScenarioError, match="not found"):
        load(tmp_path / "missing.toml")


def test_unknown_region_in_distances(tmp_path):
    text = to_toml(load("hangzhou")) + "\n"
    text = text.replace("[distances_km.hangzhou]", "[distances_km.hangzhou]\natlantis = 5.0", 1)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"distances_km\.hangzhou\.atlantis: unknown region 'atlantis'"):
        load(path)


def test_api_run_rejects_bad_override_before_running():
    with pytest.raises(ScenarioError, match="living_cost"):
        hardtech.run("hangzhou", overrides={"regions.hangzhou.living_cost": -1})


def test_preset_says_which_parameters_come_from_calibration():
    """The hangzhou preset's calibrated values are the ones its provenance header records."""
    from importlib.resources import files

    from hardtech.evidence.calibrate import getattr_path

    text = (files("hardtech.scenario") / "presets" / "hangzhou.toml").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("# calibrated:"))
    recorded = dict(item.split(" = ") for item in line.removeprefix("# calibrated:").strip().split(", "))
    assert len(recorded) >= 4
    preset = load("hangzhou")
    for path, value in recorded.items():
        assert getattr_path(preset, path) == pytest.approx(float(value)), path
    marked = [x for x in text.splitlines() if "[CALIBRATED]" in x and not x.startswith("#")]
    assert len(marked) == len(recorded)
