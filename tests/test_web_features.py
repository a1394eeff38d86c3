"""The dashboard's state, inspection and experiment features through its REST API (hardtech.web).

Page state (bases, reattachment, deduplication, stop keeping replications, pause/step), the world view
and firm biographies by replay, scenario files, labels and deletion, sweeps from the page, the agent
bound, and a clean shutdown on SIGINT/SIGTERM. Runs are tiny (scale 0.002, a few years).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import warnings

import numpy as np
import pandas as pd
import pytest
import tomllib

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

import hardtech  # noqa: E402
from _web import free_port, wait_job  # noqa: E402
from hardtech.scenario import load, to_toml  # noqa: E402
from hardtech.web.app import create_app  # noqa: E402
from helpers import ctrl_c_as_at_a_terminal  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TINY = {"scale": 0.002, "time.end_year": 2014}  # 12 quarters


def wait_for(client, job_id, status, timeout=60.0):
    return wait_job(lambda path: client.get(path).json(), job_id, status, timeout)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("web-features")


@pytest.fixture(scope="module")
def client(folder):
    with TestClient(create_app(folder, pace_ms=0, max_sweep_runs=12)) as c:
        yield c


@pytest.fixture(scope="module")
def stored(client):
    """A run of two replications with dragons (scale 0.002 to 2022 gives a few): its job info."""
    body = {
        "overrides": {"scale": 0.002, "time.end_year": 2022, "regions.hangzhou.policy.startup_support": 0.6},
        "seed": 7,
        "replications": 2,
    }
    job = client.post("/api/jobs/run", json=body).json()
    info = wait_for(client, job["id"], {"done", "failed"}, timeout=120)
    assert info["status"] == "done", info
    return info


# -- state -------------------------------------------------------------------------------------------------


def test_open_a_run_gives_its_whole_scenario_as_the_base(client, stored):
    run_id = stored["run_ids"][0]
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["base"] == f"run:{run_id}"
    controls = client.get("/api/controls", params={"base": detail["base"]}).json()
    values = {c["key"]: c["value"] for c in controls["controls"]}
    assert values["seed"] == 7 and values["scale"] == 0.002 and values["time.end_year"] == 2022
    assert values["regions.hangzhou.policy.startup_support"] == 0.6
    assert controls["base"] == detail["base"] and "stored run" in controls["base_name"]
    changed = {c["path"] for c in controls["base_changes"]}
    assert {"seed", "scale", "time.end_year", "regions.hangzhou.policy.startup_support"} <= changed
    # running the base unchanged is the same scenario: the same run id
    again = client.post("/api/jobs/run", json={"base": detail["base"]}).json()
    info = wait_for(client, again["id"], {"done", "failed"}, timeout=120)
    assert info["run_ids"] == [run_id]


def test_a_stored_run_opens_with_its_replications_band(client, stored):
    detail = client.get(f"/api/runs/{stored['run_ids'][0]}").json()
    assert detail["siblings"] == stored["run_ids"]
    bands = detail["bands"]
    assert bands["replications"] == 2 and len(bands["quarters"]) == len(detail["steps"]) == 44


def test_the_same_request_twice_is_one_job(client):
    body = {"overrides": {"scale": 0.002}, "pace_ms": 200, "seed": 41}
    first = client.post("/api/jobs/run", json=body).json()
    second = client.post("/api/jobs/run", json=body).json()
    assert second["id"] == first["id"] and second["deduplicated"] and not first["deduplicated"]
    assert first["spec"]["overrides"] == {"scale": 0.002} and first["spec"]["seed"] == 41  # a reload restores it
    listed = [j for j in client.get("/api/jobs").json() if j["id"] == first["id"]]
    assert len(listed) == 1 and listed[0]["status"] in ("queued", "running")
    client.post(f"/api/jobs/{first['id']}/cancel")
    wait_for(client, first["id"], {"cancelled"})


def test_pause_step_resume(client):
    job = client.post("/api/jobs/run", json={"overrides": TINY, "seed": 42, "pace_ms": 50}).json()
    wait_for(client, job["id"], {"running"})
    paused = client.post(f"/api/jobs/{job['id']}/control", json={"action": "pause"}).json()
    assert paused["paused"]
    time.sleep(0.3)
    held = client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"]
    time.sleep(0.3)
    assert client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"] == held  # it holds
    client.post(f"/api/jobs/{job['id']}/control", json={"action": "step"})
    deadline = time.monotonic() + 5
    while client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"] == held and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    assert client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"] == held + 1  # exactly one quarter
    paced = client.post(f"/api/jobs/{job['id']}/control", json={"action": "pace", "pace_ms": 0}).json()
    assert paced["pace_ms"] == 0 and paced["paused"]
    client.post(f"/api/jobs/{job['id']}/control", json={"action": "resume"})
    assert wait_for(client, job["id"], {"done", "failed"})["status"] == "done"


def test_stop_keeps_the_finished_replications(client):
    job = client.post("/api/jobs/run", json={"overrides": TINY, "seed": 43, "replications": 3}).json()
    client.post(f"/api/jobs/{job['id']}/control", json={"action": "pause"})
    done = client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"]
    while done < 12 + 3:  # into replication 1, one quarter at a time
        client.post(f"/api/jobs/{job['id']}/control", json={"action": "step"})
        deadline = time.monotonic() + 5
        while client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"] == done and time.monotonic() < deadline:
            time.sleep(0.01)
        done = client.get(f"/api/jobs/{job['id']}").json()["progress"]["done"]
    client.post(f"/api/jobs/{job['id']}/cancel")
    info = wait_for(client, job["id"], {"cancelled", "done", "failed"})
    assert info["status"] == "cancelled"
    assert len(info["run_ids"]) == 1 and info["run_ids"][0].endswith("-r0")
    assert "kept 1 finished replication" in info["note"]
    assert info["run_ids"][0] in {r["run_id"] for r in client.get("/api/runs").json()["runs"]}
    assert info["result"]["replications"] == 1


def test_a_request_may_not_ask_for_too_many_agents(tmp_path):
    with TestClient(create_app(tmp_path, max_agents=20_000)) as c:
        # scale within bounds, agents not: Σ talent 4.4 M × 0.01 = 44,000 > 20,000
        r = c.post("/api/jobs/run", json={"overrides": {"scale": 0.01}})
        assert r.status_code == 422
        item = r.json()["detail"][0]
        assert item["loc"] == ["body", "overrides", "scale"]
        assert "talent agents" in item["msg"] and "20,000" in item["msg"]
        # a region's talent raised: that field is named
        r = c.post("/api/jobs/run", json={"overrides": {"scale": 0.002, "regions.shenzhen.talent": 9e6}})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "overrides", "regions.shenzhen.talent"]
        assert c.post("/api/jobs/run", json={"overrides": {"scale": 0.002}, "seed": 5}).status_code == 202
        assert c.get("/api/health").json()["limits"]["max_agents"] == 20_000
        c.app.state.manager.shutdown(wait=5)


# -- world view and firm biographies --------------------------------------------------------------------------


def test_world_view_of_a_stored_run_by_replay(client, stored):
    run_id = stored["run_ids"][0]
    world = client.get(f"/api/runs/{run_id}/world").json()
    assert world["source"]["method"] == "replay" and all(c["ok"] for c in world["source"]["checks"])
    frames = world["frames"]
    assert len(frames) == 44 and frames[0]["quarter"] == "2012Q1" and frames[-1]["quarter"] == "2022Q4"
    regions = world["layout"]["regions"]
    assert regions == list(load("hangzhou").regions) and len(world["layout"]["x"]) == 6
    xy = np.column_stack([world["layout"]["x"], world["layout"]["y"]])
    assert ((xy >= 0) & (xy <= 1)).all() and len({tuple(p) for p in xy.round(3)}) == 6
    # the arrows are the stored region_flows, quarter by quarter
    flows = client.get(f"/api/runs/{run_id}/data", params={"table": "region_flows", "format": "csv"})
    stored_flows = pd.read_csv(pd.io.common.StringIO(flows.text))
    for f in (frames[5], frames[30]):
        rows = stored_flows[(stored_flows.step == f["step"]) & (stored_flows.from_region != stored_flows.to_region)]
        talent = {
            (regions.index(a), regions.index(b)): v
            for a, b, v in zip(rows.from_region, rows.to_region, rows.talent, strict=True)
            if v > 0
        }
        assert {(a, b): v for a, b, v in f["talent_flows"]} == pytest.approx(talent, rel=1e-4)
        capital = {
            (regions.index(a), regions.index(b)): v
            for a, b, v in zip(rows.from_region, rows.to_region, rows.capital, strict=True)
            if v > 0
        }
        assert {(a, b): v for a, b, v in f["capital_flows"]} == pytest.approx(capital, rel=1e-4)
    # marks: young firms only, at most 24 per region, the dragons among them flagged
    last = frames[-1]
    by_region = pd.Series([m[1] for m in last["marks"]]).value_counts()
    assert by_region.max() <= 24
    dragons = {d["firm_id"] for d in client.get(f"/api/runs/{run_id}").json()["dragons"]}
    flagged = {m[0] for m in last["marks"] if m[5]}
    assert flagged and flagged <= dragons


def test_a_dragons_biography_matches_the_stored_tables(client, stored):
    run_id = stored["run_ids"][0]
    dragons = pd.DataFrame(client.get(f"/api/runs/{run_id}").json()["dragons"])
    events = pd.read_csv(
        pd.io.common.StringIO(
            client.get(f"/api/runs/{run_id}/data", params={"table": "firm_events", "format": "csv"}).text
        )
    )
    firm = int(dragons.firm_id.iloc[0])
    bio = client.get(f"/api/runs/{run_id}/firms/{firm}").json()
    assert (
        bio["source"]["method"] == "replay"
        and bio["source"]["checks"]
        and all(c["ok"] for c in bio["source"]["checks"])
    )
    mine = events[(events.firm_id == firm) & (events.event == "funded")].sort_values("step")
    assert [r["step"] for r in bio["rounds"]] == mine.step.tolist()
    assert [r["amount_musd"] for r in bio["rounds"]] == pytest.approx(mine.value.tolist(), rel=1e-5)
    assert all(r["investor_region"] in load("hangzhou").regions for r in bio["rounds"])
    assert bio["dragon"]["valuation_musd"] == pytest.approx(float(dragons.valuation_musd.iloc[0]), rel=1e-4)
    assert bio["dragon"]["quarter"] == dragons.dragon_quarter.iloc[0]
    assert bio["region"] == dragons.region.iloc[0] and bio["field"] == dragons.field.iloc[0]
    panel = bio["panel"]
    assert len(panel["quarter"]) == len(panel["valuation"]) == len(panel["headcount"]) > 0
    assert panel["quarter"][0] == bio["founded_quarter"] or bio["founded_step"] < 0
    assert bio["end"]["kind"] in ("alive", "failed", "exit_ipo", "exit_acquired")
    assert sum(bio["imitation"]["by_region"].values()) == len(bio["imitation"]["quarters"])
    csv = client.get(f"/api/runs/{run_id}/firms/{firm}", params={"format": "csv", "download": True})
    assert csv.status_code == 200 and f"firm-{firm}.csv" in csv.headers["content-disposition"]
    frame = pd.read_csv(pd.io.common.StringIO(csv.text))
    assert len(frame) == len(panel["quarter"]) and {"valuation", "headcount", "round_musd", "round_investor"} <= set(
        frame
    )
    assert client.get(f"/api/runs/{run_id}/firms/99999999").status_code == 404


def test_replay_refuses_a_run_too_large_for_the_server(tmp_path):
    hardtech.run("hangzhou", overrides={"scale": 0.004, "time.end_year": 2012}, store=tmp_path / "cli.duckdb")
    with TestClient(create_app(tmp_path, max_agents=10_000)) as c:
        run_id = c.get("/api/runs").json()["runs"][0]["run_id"]
        r = c.get(f"/api/runs/{run_id}/world")
        assert r.status_code == 409 and "too large to replay" in r.json()["detail"]


# -- scenario files, labels, deletion, reports ------------------------------------------------------------------


def test_scenario_files_are_validated_like_the_cli(client):
    sc = load("hangzhou", {"scale": 0.002, "time.end_year": 2013, "regions.beijing.living_cost": 0.7})
    text = to_toml(sc)
    ok = client.post("/api/scenarios", json={"filename": "cheap-beijing.toml", "toml": text})
    assert ok.status_code == 201, ok.text
    info = ok.json()
    assert info["base"] == f"file:{info['id']}" and info["name"] == "hangzhou" and not info["warnings"]
    controls = client.get("/api/controls", params={"base": info["base"]}).json()
    assert {c["key"]: c["value"] for c in controls["controls"]}["regions.beijing.living_cost"] == 0.7
    assert info["id"] in {s["id"] for s in client.get("/api/scenarios").json()}
    job = client.post("/api/jobs/run", json={"base": info["base"]}).json()
    done = wait_for(client, job["id"], {"done", "failed"})
    assert done["status"] == "done"
    toml = tomllib.loads(client.get(f"/api/runs/{done['run_ids'][0]}/scenario.toml").text)
    assert toml["regions"]["beijing"]["living_cost"] == 0.7
    # errors name the field inside the file, one line
    bad = text.replace("living_cost = 0.7", "living_cost = -2.0", 1)
    r = client.post("/api/scenarios", json={"filename": "bad.toml", "toml": bad})
    assert r.status_code == 422
    item = r.json()["detail"][0]
    assert item["loc"] == ["body", "toml", "regions.hangzhou.living_cost"] or item["loc"][:2] == ["body", "toml"]
    assert "living_cost" in item["msg"] and "\n" not in item["msg"]
    r = client.post("/api/scenarios", json={"filename": "x.toml", "toml": "scale = [unclosed"})
    item = r.json()["detail"][0]
    assert r.status_code == 422 and item["loc"] == ["body", "toml"] and "not valid TOML" in item["msg"]
    big = client.post("/api/scenarios", json={"filename": "big.toml", "toml": to_toml(load(sc, {"scale": 0.5}))})
    assert big.status_code == 201 and "scale" in big.json()["warnings"][0]  # kept; the controls lower it before a run
    assert client.post("/api/jobs/run", json={"base": big.json()["base"]}).status_code == 422
    assert client.post("/api/jobs/run", json={"base": "file:nope"}).json()["detail"][0]["loc"] == ["body", "base"]


def test_label_and_delete_runs(client, folder):
    job = client.post("/api/jobs/run", json={"overrides": TINY, "seed": 44}).json()
    run_id = wait_for(client, job["id"], {"done"})["run_ids"][0]
    assert (
        client.put(f"/api/runs/{run_id}/label", json={"label": "  cheap   Hangzhou "}).json()["label"]
        == "cheap Hangzhou"
    )
    listed = {r["run_id"]: r for r in client.get("/api/runs").json()["runs"]}
    assert listed[run_id]["label"] == "cheap Hangzhou" and listed[run_id]["deletable"]
    assert client.get(f"/api/runs/{run_id}").json()["run"]["label"] == "cheap Hangzhou"
    gone = client.delete(f"/api/runs/{run_id}")
    assert gone.status_code == 200 and gone.json()["store"] == "dashboard.duckdb"
    assert gone.json()["bytes_after"] < gone.json()["bytes_before"]  # the file gives the space back (compacted)
    assert run_id not in {r["run_id"] for r in client.get("/api/runs").json()["runs"]}
    assert client.get(f"/api/runs/{run_id}").status_code == 404
    assert client.put(f"/api/runs/{run_id}/label", json={"label": "x"}).status_code == 404
    # runs of other stores are only read
    hardtech.run("hangzhou", overrides={"scale": 0.002, "time.end_year": 2012}, store=folder / "cli.duckdb")
    cli_run = next(r for r in client.get("/api/runs").json()["runs"] if r["store"] == "cli.duckdb")
    assert not cli_run["deletable"]
    refused = client.delete(f"/api/runs/{cli_run['run_id']}")
    assert refused.status_code == 409 and "only reads" in refused.json()["detail"]
    assert client.put(f"/api/runs/{cli_run['run_id']}/label", json={"label": "from the CLI"}).status_code == 200
    assert {r["run_id"]: r for r in client.get("/api/runs").json()["runs"]}[cli_run["run_id"]][
        "label"
    ] == "from the CLI"


def test_report_of_a_stored_run(client, stored):
    html = client.get(f"/api/runs/{stored['run_ids'][0]}/report.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    text = html.text
    preset = load("hangzhou").regions["hangzhou"].policy.startup_support
    assert (
        "Changed from preset hangzhou" in text and f"regions.hangzhou.policy.startup_support: {preset:g} → 0.6" in text
    )
    assert 'id="glossary"' in text and "inflow %/y 20-24" in text


def test_glossary_endpoint(client):
    data = client.get("/api/glossary").json()
    names = {t["term"] for t in data["terms"]}
    for word in (
        "dragon",
        "gap",
        "births",
        "inflow %/y 20-24",
        "returned",
        "usable from",
        "paired difference",
        "bootstrap interval",
        "95% band",
        "replay",
    ):
        assert word in names, word
    assert set(data["groups"]) == {t["group"] for t in data["terms"]}


# -- sweeps -------------------------------------------------------------------------------------------------------


def test_a_sweep_from_the_page_runs_through_the_experiment_machinery(client, folder):
    body = {
        "scenario": {"overrides": {"scale": 0.002, "time.end_year": 2013}},
        "design": "lhs",
        "samples": 4,
        "replications": 1,
        "seed": 3,
        "factors": [{"path": "regions.hangzhou.policy.startup_support", "lo": 0.0, "hi": 0.9}],
        "outcomes": ["births_hangzhou", "dragons"],
    }
    job = client.post("/api/jobs/sweep", json=body).json()
    info = wait_for(client, job["id"], {"done", "failed", "cancelled"}, timeout=120)
    assert info["status"] == "done", info
    result = info["result"]
    assert result["runs"] == result["expected_runs"] == 4 and result["complete"]
    assert len(result["rows"]) == 4 and set(result["correlations"]) == {"births_hangzhou", "dragons"}
    # stored like `hardtech sweep` does, in the server's sweep store, and it reopens
    import duckdb

    listed = client.get("/api/sweeps").json()["sweeps"]
    mine = next(s for s in listed if s["sweep_id"] == result["sweep_id"])
    assert mine["store"] == "dashboard-sweeps.duckdb" and mine["stored"] == 4
    again = client.get(f"/api/sweeps/{result['sweep_id']}").json()
    assert again["rows"] == result["rows"] and again["correlations"] == result["correlations"]
    with duckdb.connect(str(folder / "dashboard-sweeps.duckdb"), read_only=True) as con:
        n = con.execute("SELECT count(*) FROM sweep_runs WHERE sweep_id = ?", [result["sweep_id"]]).fetchone()[0]
    assert n == 4
    # the sweep's runs are not listed among past runs (they are under the sweep)
    runs = client.get("/api/runs").json()
    assert runs["hidden_sweep_runs"] >= 4
    # the same sweep again is already stored: nothing runs twice
    second = wait_for(client, client.post("/api/jobs/sweep", json=body).json()["id"], {"done", "failed"})
    assert second["result"]["report"]["runs_already_stored"] == 4 and second["result"]["report"]["runs_stored_now"] == 0
    assert client.delete(f"/api/sweeps/{result['sweep_id']}").json()["runs_deleted"] == 4
    assert client.get(f"/api/sweeps/{result['sweep_id']}").status_code == 404


def test_a_morris_screening_gives_indices(client):
    body = {
        "scenario": {"overrides": {"scale": 0.002, "time.end_year": 2012}},
        "design": "morris",
        "samples": 3,
        "factors": [
            {"path": "regions.hangzhou.policy.startup_support", "lo": 0.0, "hi": 0.9},
            {"path": "regions.hangzhou.living_cost", "lo": 0.6, "hi": 1.4},
        ],
        "outcomes": ["births_hangzhou"],
    }
    info = wait_for(client, client.post("/api/jobs/sweep", json=body).json()["id"], {"done", "failed"}, timeout=120)
    sens = info["result"]["sensitivity"]
    assert sens["method"] == "morris" and info["result"]["runs"] == 9
    factors = sens["outcomes"]["births_hangzhou"]["factors"]
    assert {f["factor"] for f in factors} == {"regions.hangzhou.policy.startup_support", "regions.hangzhou.living_cost"}
    assert all(f["mu_star"] is not None and f["mu_star"] >= 0 for f in factors)


@pytest.mark.parametrize(
    ("change", "loc", "text"),
    [
        ({"samples": 40}, ["body", "samples"], "limit of 12 runs"),
        ({"design": "sobol", "samples": 3}, ["body", "samples"], "power of 2"),
        (
            {"factors": [{"path": "regions.hangzhou.policy.startup_support", "lo": 0.0, "hi": 2.0}]},
            ["body", "factors", 0],
            "0.9",
        ),
        ({"factors": [{"path": "regions.hangzhou.nothing", "lo": 0.0, "hi": 1.0}]}, ["body", "factors", 0], "nothing"),
        ({"factors": [{"path": "scale", "lo": 0.001, "hi": 0.5}]}, ["body", "factors", 0, "hi"], "limit"),
        ({"outcomes": ["dragons_atlantis"]}, ["body", "outcomes", 0], "not an outcome"),
    ],
)
def test_bad_sweeps_are_422_naming_the_field(client, change, loc, text):
    body = {
        "scenario": {"overrides": {"scale": 0.002, "time.end_year": 2012}},
        "design": "lhs",
        "samples": 4,
        "factors": [{"path": "regions.hangzhou.policy.startup_support", "lo": 0.0, "hi": 0.9}],
        "outcomes": ["births_hangzhou"],
        **change,
    }
    before = len(client.get("/api/jobs").json())
    r = client.post("/api/jobs/sweep", json=body)
    assert r.status_code == 422, r.text
    item = r.json()["detail"][0]
    assert item["loc"][: len(loc)] == loc and text in item["msg"], item
    assert len(client.get("/api/jobs").json()) == before


# -- shutdown -----------------------------------------------------------------------------------------------------


def test_shutdown_cancels_and_marks_running_jobs(tmp_path):
    with TestClient(create_app(tmp_path, pace_ms=0)) as c:
        job = c.post("/api/jobs/run", json={"overrides": TINY, "replications": 3, "seed": 45}).json()
        c.post(f"/api/jobs/{job['id']}/control", json={"action": "pause"})
        while c.get(f"/api/jobs/{job['id']}").json()["progress"]["done"] < 14:
            c.post(f"/api/jobs/{job['id']}/control", json={"action": "step"})
            time.sleep(0.02)
        queued = c.post("/api/jobs/run", json={"overrides": TINY, "seed": 46}).json()
        manager = c.app.state.manager
    # leaving the client ran the app's shutdown: the running job was cancelled, marked and kept what it finished
    lines = manager.shutdown_summary
    assert any(job["id"] in line and "server shut down; kept 1 finished replication" in line for line in lines), lines
    assert "dropped 1 queued job(s)" in lines
    assert manager.get(job["id"]).status == "cancelled" and manager.get(queued["id"]).status == "cancelled"
    with TestClient(create_app(tmp_path)) as c2:
        assert manager.get(job["id"]).run_ids[0] in {r["run_id"] for r in c2.get("/api/runs").json()["runs"]}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_cleanly_on_a_signal(tmp_path, sig):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from hardtech.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--results",
            str(tmp_path),
            "--pace-ms",
            "50",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HARDTECH_TOKEN": ""},
        preexec_fn=ctrl_c_as_at_a_terminal,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/api/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"server did not start: {proc.communicate(timeout=5)}") from None
                time.sleep(0.2)
        req = urllib.request.Request(
            base + "/api/jobs/run",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"overrides": {"scale": 0.002}}).encode(),
        )
        job = json.loads(urllib.request.urlopen(req, timeout=10).read())
        stream = urllib.request.urlopen(base + job["events_url"], timeout=30)  # a page following the job
        stream.readline()
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        seconds = time.monotonic() - t0
        rest = stream.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    # uvicorn re-raises the signal after its clean stop: 130 after Ctrl-C (the CLI's "aborted"), terminated by SIGTERM
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGTERM), err
    assert "Traceback" not in err and "CancelledError" not in err, err
    assert f"SIG{'INT' if sig == signal.SIGINT else 'TERM'}: stopping" in err
    assert f"cancelled run job {job['id']}" in err and "server shut down" in err
    assert seconds < 15
    assert '"status":"cancelled"' in rest and "server shut down" in rest  # the page was told, not left on "Running"
