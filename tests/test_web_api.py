"""The dashboard's REST API (hardtech.web): every endpoint, bad inputs, streaming, downloads, tokens.

Runs are kept tiny (scale 0.002, a few years) so the whole module takes seconds.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import tomllib

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette's note on its httpx-based client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from _web import wait_job  # noqa: E402
from hardtech.scenario import load  # noqa: E402
from hardtech.web.app import create_app  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SMALL = {"scale": 0.002, "time.end_year": 2016}  # 20 quarters, ~0.1 s
SMALL_STEPS = 20


def sse_events(client: TestClient, url: str) -> list[tuple[str, dict]]:
    """Read a Server-Sent Events stream to its end: [(event, data), ...]."""
    events, event, data = [], None, []
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and event is not None:
                events.append((event, json.loads("\n".join(data))))
                event, data = None, []
    return events


def wait_for(client: TestClient, job_id: str, status: set[str], timeout: float = 30.0) -> dict:
    return wait_job(lambda path: client.get(path).json(), job_id, status, timeout)


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("web-results")


@pytest.fixture(scope="module")
def client(results_dir):
    app = create_app(results_dir, pace_ms=0, max_scale=0.02, max_steps=160)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def finished(client):
    """One small run streamed to its end: (job info, events)."""
    response = client.post("/api/jobs/run", json={"preset": "hangzhou", "overrides": SMALL, "seed": 3})
    assert response.status_code == 202, response.text
    job = response.json()
    events = sse_events(client, job["events_url"])
    return client.get(f"/api/jobs/{job['id']}").json(), events


# -- catalogue ---------------------------------------------------------------------------------------


def test_health_presets_and_page(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["limits"]["max_replications"] == 20
    presets = client.get("/api/presets").json()
    assert {"name": "hangzhou", "description": load("hangzhou").description} in presets
    page = client.get("/")
    assert page.status_code == 200 and "hardtech" in page.text and "/static/app.js" in page.text
    for path in (
        "/static/app.js",
        "/static/style.css",
        "/static/vendor/chart.umd.min.js",
        "/static/vendor/chart.js.LICENSE.md",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
    ):
        assert client.get(path).status_code == 200, path
    assert "cdn" not in page.text.lower()


def test_docs_and_openapi_work_offline(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text and "cdn.jsdelivr" not in docs.text
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/api/jobs/run",
        "/api/jobs/compare",
        "/api/jobs/{job_id}/events",
        "/api/runs/{run_id}/data",
        "/api/runs/{run_id}/scenario.toml",
        "/api/controls",
    } <= paths


def test_controls_come_from_the_schema_and_the_preset(client):
    spec = client.get("/api/controls", params={"preset": "hangzhou"}).json()
    by_key = {c["key"]: c for c in spec["controls"]}
    sc = load("hangzhou")
    for region in sc.regions:
        for lever in ("talent_subsidy", "startup_support", "basic_research", "procurement", "cluster_programme"):
            assert f"regions.{region}.policy.{lever}" in by_key
        living = by_key[f"regions.{region}.living_cost"]
        assert living["value"] == sc.regions[region].living_cost
        assert living["minimum"] == 0 and living["exclusive_minimum"] and living["maximum"] == 10
    support = by_key["regions.hangzhou.policy.startup_support"]
    preset_support = sc.regions["hangzhou"].policy.startup_support
    assert (support["minimum"], support["maximum"], support["value"], support["default"]) == (
        0,
        0.9,
        preset_support,
        0.0,
    )
    assert support["unit"] == "share" and "government" in support["description"]
    subsidy = by_key["regions.hangzhou.policy.talent_subsidy"]
    assert subsidy["schedule"] == [[2012.0, 1.5], [2017.0, 4.0]] and subsidy["unit"] == "thousand USD per person"
    # sliders span the plausible range the schema declares, the typed value the allowed one
    from hardtech.scenario.schema import Policy, Region, meta

    assert (subsidy["minimum"], subsidy["maximum"]) == tuple(meta(Policy, "talent_subsidy")["allowed"]) == (0, 100)
    plausible = tuple(meta(Policy, "talent_subsidy")["plausible"])
    assert (subsidy["plausible_min"], subsidy["plausible_max"]) == plausible and subsidy["slider_max"] == plausible[1]
    assert plausible[1] <= 30  # not 0–100 against a preset of 4
    assert "plausible range" in subsidy["plausible_source"] and subsidy["hint"].startswith("Settling subsidy")
    cost = tuple(meta(Region, "living_cost")["plausible"])
    for region in ("hangzhou", "us_hub"):
        c = by_key[f"regions.{region}.living_cost"]
        assert (c["plausible_min"], c["plausible_max"]) == cost and c["maximum"] == 10
    for c in spec["controls"]:
        assert c["hint"] and len(c["hint"]) <= 150, c["key"]
        if c["plausible_min"] is not None and c["value"] is not None and not isinstance(c["value"], bool):
            assert c["plausible_min"] <= c["value"] <= c["plausible_max"], c[
                "key"
            ]  # the preset's value is on the slider
    for switch in ("innovation.spillovers", "capital.recycling", "decoupling.enabled", "cooperation.enabled"):
        assert by_key[switch]["type"] == "boolean" and by_key[switch]["value"] is True
    assert by_key["scale"]["maximum"] == 0.02  # the server's bound, not the schema's 1.0
    assert by_key["time.end_year"]["maximum"] == 2012 + 160 // 4 - 1
    assert spec["regions"] == list(sc.regions) and spec["limits"]["max_scale"] == 0.02


def test_validate_resolves_like_the_cli(client):
    body = {
        "preset": "hangzhou",
        "overrides": {"regions.hangzhou.living_cost": 0.8, "capital.recycling": False},
        "seed": 9,
    }
    out = client.post("/api/validate", json=body).json()
    assert out["ok"] and out["seed"] == 9 and out["steps"] == 96
    resolved = tomllib.loads(out["toml"])
    assert resolved["regions"]["hangzhou"]["living_cost"] == 0.8 and resolved["capital"]["recycling"] is False


# -- bad inputs ---------------------------------------------------------------------------------------

BAD = [
    ({"preset": "nowhere"}, ["body", "preset"], "unknown preset"),
    ({"preset": "../../etc/passwd"}, ["body", "preset"], "unknown preset"),
    (
        {"overrides": {"regions.hangzhou.livng_cost": 1.0}},
        ["body", "overrides", "regions.hangzhou.livng_cost"],
        "unknown key",
    ),
    (
        {"overrides": {"regions.hangzhou.living_cost": -1.0}},
        ["body", "overrides", "regions.hangzhou.living_cost"],
        "greater than 0",
    ),
    ({"overrides": {"regions.hangzhou.policy.startup_support": 2.0}}, ["body", "overrides", "startup_support"], "0.9"),
    ({"overrides": {"scale": 0.05}}, ["body", "overrides", "scale"], "limit 0.02"),
    ({"overrides": {"time.end_year": 2100}}, ["body", "overrides", "time.end_year"], "limit of 160"),
    ({"overrides": {"time.end_year": 2000}}, ["body", "overrides", "time.end_year"], "before"),
    ({"replications": 21}, ["body", "replications"], "less than or equal to 20"),
    ({"replications": 0}, ["body", "replications"], "greater than or equal to 1"),
    ({"overrides": {"scale": {"nested": 1}}}, ["body", "overrides", "scale"], ""),
    ({"seed": -1}, ["body", "seed"], "greater than or equal to 0"),
    ({"surprise": 1}, ["body", "surprise"], "extra"),
]


@pytest.mark.parametrize(("body", "loc", "text"), BAD, ids=[str(b) for b, _, _ in BAD])
def test_bad_run_requests_are_422_naming_the_field(client, body, loc, text):
    before = len(client.get("/api/jobs").json())
    response = client.post("/api/jobs/run", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    item = detail[0]
    assert set(item) == {"loc", "msg", "type"}
    assert item["loc"][: len(loc) - 1] == loc[:-1] and loc[-1] in str(item["loc"][-1]), item
    assert text.lower() in item["msg"].lower(), item
    assert len(client.get("/api/jobs").json()) == before  # nothing was queued


def test_compare_names_the_side_at_fault(client):
    body = {
        "a": {"overrides": SMALL},
        "b": {"overrides": {**SMALL, "regions.beijing.living_cost": 0}},
        "replications": 2,
    }
    response = client.post("/api/jobs/compare", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "b", "overrides", "regions.beijing.living_cost"]
    assert client.post("/api/jobs/compare", json={**body, "replications": 99}).status_code == 422


def test_server_bounds_on_replications(tmp_path):
    with TestClient(create_app(tmp_path, max_replications=3)) as c:
        response = c.post("/api/jobs/run", json={"overrides": SMALL, "replications": 5})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "replications"]


def test_unknown_ids_are_404(client):
    for path in (
        "/api/runs/no-such-run",
        "/api/runs/no-such-run/data",
        "/api/runs/no-such-run/scenario.toml",
        "/api/jobs/abc123",
        "/api/jobs/abc123/events",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "not found" in response.json()["detail"]
    assert client.post("/api/jobs/abc123/cancel").status_code == 404
    # ids are names, never paths
    assert client.get("/api/runs/..%2F..%2Fetc%2Fpasswd/scenario.toml").status_code in (404, 422)
    assert client.get("/api/runs/a b/data").status_code == 422
    assert client.get("/api/runs/x/data", params={"table": "runs"}).status_code == 422
    assert client.get("/api/runs/x/data", params={"format": "xlsx"}).status_code == 422


# -- a run end to end ------------------------------------------------------------------------------------


def test_run_streams_one_event_per_step(finished):
    info, events = finished
    assert info["status"] == "done", info
    names = [e for e, _ in events]
    assert names[0] == "queued" and names[-1] == "end" and events[-1][1]["status"] == "done"
    for expected in ("started", "replication", "stored", "result"):
        assert expected in names
    steps = [d for e, d in events if e == "step"]
    assert [d["step"] for d in steps] == list(range(SMALL_STEPS))
    regions = list(load("hangzhou").regions)
    first = steps[0]
    assert len(first["dragons"]) == len(regions) == len(first["talent"]) == len(first["capital"]) == len(first["gap"])
    assert len(first["maturity"]) == len(load("hangzhou").fields) == len(first["demand"])
    assert first["quarter"] == "2012Q1" and steps[-1]["quarter"] == "2016Q4"
    assert steps[-1]["done"] == steps[-1]["total"] == SMALL_STEPS
    # the dragons streamed are exactly the cumulative count the plots show
    streamed = [row for d in steps for row in d.get("new_dragons", [])]
    assert len(streamed) == sum(steps[-1]["dragons"])
    for row in streamed:
        assert set(row) == {"firm_id", "region", "field", "founded_quarter", "dragon_quarter", "valuation_musd"}
    assert info["result"]["dragon_count"] == len(streamed)
    assert [r["region"] for r in info["result"]["regions"]] == regions


def test_events_resume_from_an_offset(client, finished):
    info, events = finished
    later = sse_events(client, f"/api/jobs/{info['id']}/events?after=5")
    assert [e for e, _ in later] == [e for e, _ in events][5:]


def test_finished_run_is_listed_opened_and_downloadable(client, finished):
    info, _ = finished
    run_id = info["run_ids"][0]
    runs = client.get("/api/runs").json()
    listed = {r["run_id"]: r for r in runs["runs"]}
    assert run_id in listed and listed[run_id]["store"] == "dashboard.duckdb" and listed[run_id]["seed"] == 3
    detail = client.get(f"/api/runs/{run_id}").json()
    assert len(detail["steps"]) == SMALL_STEPS and detail["regions"] == list(load("hangzhou").regions)
    assert len(detail["dragons"]) == listed[run_id]["dragons"] == info["result"]["dragon_count"]
    assert detail["outcomes"]["births"] > 0

    csv = client.get(f"/api/runs/{run_id}/data", params={"table": "step_metrics", "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert f'filename="{run_id}-step_metrics.csv"' in csv.headers["content-disposition"]
    frame = pd.read_csv(io.StringIO(csv.text))
    sc = load("hangzhou")
    assert len(frame) == SMALL_STEPS * len(sc.regions) * len(sc.fields)
    assert {"step", "quarter", "region", "field", "dragons", "gap_to_frontier"} <= set(frame.columns)

    parquet = client.get(f"/api/runs/{run_id}/data", params={"format": "parquet"})
    assert parquet.status_code == 200 and parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == len(frame)
    regions = client.get(f"/api/runs/{run_id}/data", params={"table": "region_metrics", "format": "csv"})
    assert len(pd.read_csv(io.StringIO(regions.text))) == SMALL_STEPS * len(sc.regions)

    toml = client.get(f"/api/runs/{run_id}/scenario.toml")
    assert toml.status_code == 200 and toml.headers["content-type"].startswith("application/toml")
    resolved = tomllib.loads(toml.text)
    assert resolved["scale"] == 0.002 and resolved["seed"] == 3 and resolved["time"]["end_year"] == 2016


def test_replications_give_intervals_and_bands(client):
    job = client.post(
        "/api/jobs/run", json={"overrides": {"scale": 0.002, "time.end_year": 2013}, "replications": 3}
    ).json()
    info = wait_for(client, job["id"], {"done", "failed"})
    assert info["status"] == "done" and len(info["run_ids"]) == 3
    result = info["result"]
    regions = list(load("hangzhou").regions)
    # below 5 replications: the mean with the replications' range, never a t-interval
    for region in regions:
        v = result["intervals"][f"births_{region}"]
        assert v["method"] == "range" and v["n"] == 3 and v["lo"] <= v["mean"] <= v["hi"]
    assert "range" in result["interval_note"] and "5 replications" in result["interval_note"]
    assert "dragons_ci" not in result
    # every plot gets a mean and a 95% band over the replications
    bands = result["bands"]
    assert bands["replications"] == 3 and len(bands["quarters"]) == 8
    for metric in ("dragons", "talent", "capital", "gap", "maturity", "demand"):
        mean, lo, hi = (np.array(bands[metric][k], dtype=float) for k in ("mean", "lo", "hi"))
        assert mean.shape[0] == 8
        ok = np.isfinite(mean)
        assert (lo[ok] <= mean[ok] + 1e-9).all() and (mean[ok] <= hi[ok] + 1e-9).all(), metric
    assert len(bands["talent"]["mean"][0]) == len(regions) + 1  # regions plus the world total


def test_five_replications_give_bootstrap_intervals(client):
    job = client.post(
        "/api/jobs/run", json={"overrides": {"scale": 0.002, "time.end_year": 2012}, "replications": 5}
    ).json()
    info = wait_for(client, job["id"], {"done", "failed"})
    births = info["result"]["intervals"]["births_beijing"]
    assert births["method"] == "bootstrap" and births["n"] == 5 and births["lo"] <= births["mean"] <= births["hi"]
    assert births["lo"] >= 0  # a percentile bootstrap of counts never goes negative


def test_compare_two_scenarios_paired(client):
    small = {"scale": 0.002, "time.end_year": 2014}
    body = {
        "a": {"overrides": small, "label": "A: as preset"},
        "b": {"overrides": {**small, "regions.hangzhou.living_cost": 0.5}, "label": "B: cheap Hangzhou"},
        "replications": 2,
    }
    job = client.post("/api/jobs/compare", json=body)
    assert job.status_code == 202
    events = sse_events(client, job.json()["events_url"])
    assert events[-1] == ("end", events[-1][1]) and events[-1][1]["status"] == "done"
    assert not any(e == "step" for e, _ in events)  # comparisons report progress, not per-step plots
    result = dict(events)["result"]
    assert [s["label"] for s in result["sides"]] == ["A: as preset", "B: cheap Hangzhou"]
    assert result["pairs"] == 2 and result["regions"] == list(load("hangzhou").regions)
    assert result["changed"] == [{"path": "regions.hangzhou.living_cost", "a": 1.0, "b": 0.5}]
    assert result["interval"] == "none" and "fewer than 5 pairs" in result["interval_note"]
    rows = {r["key"]: r for r in result["outcomes"]}
    # the focal region's outcomes, not only world totals; paired differences, no interval below 5 pairs
    for key in ("births", "births_hangzhou", "talent_end_hangzhou", "dragons_hangzhou", "net_inflow_hangzhou"):
        r = rows[key]
        assert r["n"] == 2 and len(r["paired"]) == 2 and r["lo"] is None and r["hi"] is None
        assert r["diff"] == pytest.approx(np.mean(r["paired"]), abs=1e-3)
        assert r["diff"] == pytest.approx(r["b"] - r["a"], abs=1e-3)
    assert rows["births_hangzhou"]["scope"] == "hangzhou" and rows["births"]["scope"] == "world"
    for side in result["sides"]:
        assert len(side["run_ids"]) == 2
    stored = {r["run_id"] for r in client.get("/api/runs").json()["runs"]}
    assert {rid for s in result["sides"] for rid in s["run_ids"]} <= stored
    # the same seeds and replication numbers on both sides (common random numbers)
    assert [r.rsplit("-r", 1)[1] for r in result["sides"][0]["run_ids"]] == ["0", "1"]
    assert [r.rsplit("-r", 1)[1] for r in result["sides"][1]["run_ids"]] == ["0", "1"]


def test_compare_bootstrap_from_five_pairs(client):
    small = {"scale": 0.002, "time.end_year": 2013}
    body = {
        "a": {"overrides": small},
        "b": {"overrides": {**small, "regions.hangzhou.policy.startup_support": 0.9}},
        "replications": 5,
    }
    job = client.post("/api/jobs/compare", json=body).json()
    info = wait_for(client, job["id"], {"done", "failed"}, timeout=60)
    result = info["result"]
    assert result["interval"] == "bootstrap" and result["pairs"] == 5
    from hardtech.evidence.ensembles import paired_difference

    row = next(r for r in result["outcomes"] if r["key"] == "births_hangzhou")
    a = np.array(row["paired"])  # B − A per pair; the interval is the CLI's paired bootstrap of the same pairs
    d, lo, hi = paired_difference(np.zeros_like(a), a)
    assert (row["diff"], row["lo"], row["hi"]) == pytest.approx((d, lo, hi), abs=1e-3)
    assert row["lo"] <= row["diff"] <= row["hi"]


def test_cancel_a_running_and_a_queued_job(client):
    long = {"overrides": {"scale": 0.002}, "pace_ms": 200}  # 96 quarters × 0.2 s: still running when cancelled
    first = client.post("/api/jobs/run", json=long).json()
    second = client.post("/api/jobs/run", json={"overrides": SMALL}).json()
    wait_for(client, first["id"], {"running"})
    queued = client.get(f"/api/jobs/{second['id']}").json()
    assert queued["status"] == "queued" and queued["queue_position"] == 1  # one worker: the second waits
    assert client.post(f"/api/jobs/{second['id']}/cancel").json()["status"] == "cancelled"
    client.post(f"/api/jobs/{first['id']}/cancel")
    info = wait_for(client, first["id"], {"cancelled", "done", "failed"}, timeout=5)
    assert info["status"] == "cancelled" and info["run_ids"] == []
    assert info["progress"]["done"] < info["progress"]["total"]
    events = sse_events(client, first["events_url"])
    assert events[-1][0] == "end" and events[-1][1]["status"] == "cancelled"
    assert client.get(f"/api/jobs/{second['id']}").json()["progress"]["done"] == 0


def test_queue_limit_is_429(tmp_path):
    with TestClient(create_app(tmp_path, queue_limit=1)) as c:
        slow = {"overrides": {"scale": 0.002}, "pace_ms": 200}
        jobs = [c.post("/api/jobs/run", json={**slow, "seed": k}) for k in range(3)]  # distinct: not deduplicated
        assert [j.status_code for j in jobs[:2]] == [202, 202] and jobs[2].status_code == 429
        for j in jobs[:2]:
            c.post(f"/api/jobs/{j.json()['id']}/cancel")


def test_store_reads_other_stores_in_the_folder_and_nothing_else(tmp_path):
    import hardtech

    hardtech.run("hangzhou", overrides={"scale": 0.002, "time.end_year": 2012}, store=tmp_path / "cli.duckdb")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.duckdb"
    hardtech.run("hangzhou", overrides={"scale": 0.002, "time.end_year": 2013}, store=outside)
    (tmp_path / "link.duckdb").symlink_to(outside)
    with TestClient(create_app(tmp_path)) as c:
        runs = c.get("/api/runs").json()["runs"]
        assert [r["store"] for r in runs] == ["cli.duckdb"] and runs[0]["steps"] == 4
        assert c.get(f"/api/runs/{runs[0]['run_id']}/scenario.toml").status_code == 200
    assert not (tmp_path / "dashboard.duckdb").exists()  # browsing writes nothing


# -- security ------------------------------------------------------------------------------------------


def test_token_is_required_on_every_request(tmp_path):
    token = "s3cret-token-value"
    with TestClient(create_app(tmp_path, token=token)) as c:
        for path in ("/", "/static/app.js", "/docs", "/openapi.json", "/api/health", "/api/runs"):
            assert c.get(path).status_code == 401, path
        assert c.get("/api/health", headers={"Authorization": "Bearer nope"}).status_code == 403
        assert c.get("/api/health", params={"token": "nope"}).status_code == 403
        assert c.post("/api/jobs/run", json={"overrides": SMALL}).status_code == 401
        assert c.get("/api/health", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        page = c.get("/", params={"token": token})
        assert page.status_code == 200 and "HttpOnly" in page.headers["set-cookie"]
        assert token not in page.headers["set-cookie"]  # a digest, not the token
        assert c.get("/static/app.js").status_code == 200  # the cookie the page got
        c.cookies.set("hardtech_token", token)  # the raw token is not a valid cookie
        assert c.get("/api/health").status_code == 403
    with TestClient(create_app(tmp_path, token=token)) as fresh:
        assert fresh.get("/api/health", params={"token": token}).status_code == 200


def test_host_header_guard(tmp_path):
    with TestClient(create_app(tmp_path, allowed_hosts=["127.0.0.1", "localhost", "testserver"])) as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"Host": "evil.example"}).status_code == 400


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from hardtech.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_cli_refuses_a_public_host_without_a_token():
    env = {"HARDTECH_TOKEN": ""}
    result = _cli("serve", "--host", "0.0.0.0", "--port", "8765", env=env)
    assert result.returncode == 2
    assert "needs a token" in result.stderr and "HARDTECH_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert _cli("serve", "--host", "192.168.1.20", env=env).returncode == 2


def test_cli_serves_with_a_token_from_the_environment(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from hardtech.cli import app as cli_app
    from hardtech.cli import run_cmd, serve_cmd  # noqa: F401  (register the commands, as main() does)
    from hardtech.web import app as web

    calls = {}
    monkeypatch.setattr(web, "serve", lambda app, host, port, **kw: calls.update(app=app, host=host, port=port, **kw))
    monkeypatch.setenv("HARDTECH_TOKEN", "token-from-env")
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0", "--port", "8123", "--results", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert calls["host"] == "0.0.0.0" and calls["port"] == 8123
    with TestClient(calls["app"]) as c:
        assert c.get("/api/health").status_code == 401
        assert c.get("/api/health", headers={"Authorization": "Bearer token-from-env"}).status_code == 200
    assert serve_cmd.is_loopback("127.0.0.1") and serve_cmd.is_loopback("::1") and serve_cmd.is_loopback("localhost")
    assert not serve_cmd.is_loopback("0.0.0.0") and not serve_cmd.is_loopback("example.org")


# -- schemathesis: no input makes the server fail ----------------------------------------------------------

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402


def test_no_input_causes_a_server_error(tmp_path):
    """Schemathesis generates requests for every operation from the OpenAPI schema; none may get a 5xx.

    Expensive endpoints are bounded by the server: at most 2 replications of the preset's size, at
    most 2 jobs waiting (then 429), and every job is cancelled at the end. (A plain loop over the
    operations rather than ``schema.parametrize``: schemathesis' lazy pytest fixture trips over
    pytest 9's node internals.)
    """
    from hypothesis import given

    app = create_app(tmp_path, max_scale=0.01, max_steps=96, max_replications=2, queue_limit=2, max_sweep_runs=2)
    loader = getattr(schemathesis.openapi, "from_asgi", None) or schemathesis.from_asgi
    schema = loader("/openapi.json", app)
    tested = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            tested.append(f"{operation.method.upper()} {operation.path}")

            @given(case=operation.as_strategy())
            @settings(
                max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
            )
            def no_server_error(case):
                case.call_and_validate(checks=[not_a_server_error])

            no_server_error()
    finally:
        app.state.manager.shutdown()
    assert "POST /api/jobs/run" in tested and "GET /api/jobs/{job_id}/events" in tested and len(tested) >= 13


def test_a_finished_job_has_its_end_event_in_the_log():
    """An event stream closes once the job is finished and every event is sent: the end event must come first."""
    from hardtech.web.jobs import Job

    job = Job(kind="run", labels=["a"], scenarios=[load("hangzhou")], replications=1)
    seen_finished_at_end = []
    emit = job.emit

    def recording_emit(event, data):
        if event == "end":
            seen_finished_at_end.append(job.finished)
        emit(event, data)

    job.emit = recording_emit
    job.finish("done")
    assert seen_finished_at_end == [False]  # not finished while the end event is not yet in the log
    assert job.finished and job.status == "done" and job.events_after(0)[-1][1] == "end"
