"""A lean install: the wheel builds, installs into a fresh venv and runs the CLI and the dashboard's command;
what `make demo` installs holds no test-only package.

The fresh venv has no system site packages and gets only the wheel and its
base dependencies, pinned by requirements.lock as `make demo` pins them (pip
may take the packages from its local cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.helpers import clean_env

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import check_install  # noqa: E402


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh venv holding the built wheel and nothing but its base dependencies."""
    tmp = tmp_path_factory.mktemp("install")
    dist = tmp / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    wheels = list(dist.glob("hardtech-*.whl"))
    assert len(wheels) == 1, wheels
    home = tmp / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(home)
    python = home / "bin" / "python"
    env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "requirements.lock"), str(wheels[0])],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return {"home": home, "python": python, "bin": home / "bin", "env": env, "work": tmp}


def test_the_venv_is_fresh_and_holds_the_wheel(fresh):
    cfg = (fresh["home"] / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg
    where = subprocess.run(
        [str(fresh["python"]), "-c", "import hardtech, sys; print(hardtech.__file__)"],
        capture_output=True,
        text=True,
        env=fresh["env"],
        cwd=fresh["work"],
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    assert str(fresh["home"]) in where.stdout and "site-packages" in where.stdout  # the wheel, not the source tree


def test_no_test_only_package_is_installed_and_the_dashboard_is(fresh):
    listed = subprocess.run(
        [str(fresh["python"]), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        env=fresh["env"],
        timeout=120,
    )
    names = {check_install.canonical(p["name"]) for p in json.loads(listed.stdout)}
    forbidden = check_install.test_only()
    assert {"pytest", "playwright", "schemathesis", "mesa", "ema-workbench", "pyabc"} <= forbidden | {"numba"}
    assert not names & forbidden, f"test-only packages in a plain install: {sorted(names & forbidden)}"
    assert {"fastapi", "uvicorn", "hardtech"} <= names
    # the script `make demo` runs on a fresh .venv agrees
    check = subprocess.run(
        [str(fresh["python"]), str(ROOT / "scripts" / "check_install.py")],
        capture_output=True,
        text=True,
        env=fresh["env"],
        timeout=120,
    )
    assert check.returncode == 0 and "none of the" in check.stdout, check.stdout + check.stderr


def test_the_installed_cli_runs_a_scenario_and_knows_serve(fresh):
    work = fresh["work"] / "cwd"
    work.mkdir()
    hardtech = str(fresh["bin"] / "hardtech")
    res = subprocess.run(
        [hardtech, "run", "--set", "scale=0.002", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=work,
        env=fresh["env"],
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Dragons by region and field" in res.stdout and "Stored 1 run(s) in results/hangzhou.duckdb" in res.stdout
    assert (work / "results" / "hangzhou.duckdb").is_file() and (work / "results" / "hangzhou.html").is_file()
    serve = subprocess.run(
        [hardtech, "serve", "--help"], capture_output=True, text=True, env=fresh["env"], timeout=120, cwd=work
    )
    assert serve.returncode == 0 and "--port" in serve.stdout and "--token" in serve.stdout, serve.stderr
    app = subprocess.run(
        [str(fresh["python"]), "-c", "from hardtech.web.app import create_app; create_app"],
        capture_output=True,
        text=True,
        env=fresh["env"],
        timeout=120,
        cwd=work,
    )
    assert app.returncode == 0, app.stderr[-2000:]  # the dashboard's packages came with the plain install


def test_make_demo_installs_the_package_without_extras(tmp_path):
    plan = subprocess.run(
        ["make", "-n", "-B", "demo", f"VENV={tmp_path / 'v'}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert plan.returncode == 0, plan.stderr
    installs = [ln for ln in plan.stdout.splitlines() if "pip install" in ln and "--upgrade pip" not in ln]
    assert installs and all(ln.rstrip().endswith("-c requirements.lock -e .") for ln in installs), installs
    assert "check_install.py" in plan.stdout  # and it lists what it installed, refusing test-only packages
