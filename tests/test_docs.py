"""The documentation site builds with --strict, and --strict catches what it should.

`make docs` builds the same site; a broken link, a missing anchor, a missing
page or an API object without a docstring is a warning, and --strict makes
any warning fail the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("mkdocs", reason="the docs tools are in the dev extra: pip install -e '.[dev]'")


def build(config: Path, site: Path, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def test_the_site_builds_strictly_with_the_api_reference_and_the_generated_fields(tmp_path):
    res = build(ROOT / "mkdocs.yml", tmp_path / "site", ROOT)
    assert res.returncode == 0, res.stderr[-4000:]
    site = tmp_path / "site"
    for page in (
        "index.html",
        "ODD.html",
        "getting-started.html",
        "evidence.html",
        "claims.html",
        "history.html",
        "validation.html",
        "calibration.html",
        "experiments.html",
        "dashboard.html",
        "api.html",
        "tutorials.html",
        "howto/region-or-field.html",
        "howto/dask.html",
        "reproducibility.html",
        "contributing.html",
        "changelog.html",
        "reference/running.html",
    ):
        assert (site / page).is_file(), page
    running = (site / "reference" / "running.html").read_text(encoding="utf-8")
    assert "hardtech.result.RunResult" in running
    assert "Run a DuckDB SQL query over this run" in running  # docstrings rendered by mkdocstrings
    fields = (site / "reference" / "scenario-fields.html").read_text(encoding="utf-8")
    assert "regions.*.living_cost" in fields and "index, Hangzhou 2012 = 1" in fields
    assert "Add a mechanism" in (site / "contributing.html").read_text(encoding="utf-8")  # CONTRIBUTING.md included


def test_strict_build_fails_on_a_broken_link_anchor_and_a_missing_docstring(tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    shutil.copytree(ROOT / "docs", work / "docs")
    (work / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "docs_hooks.py", work / "scripts")
    for name in ("mkdocs.yml", "CONTRIBUTING.md", "CHANGELOG.md"):
        shutil.copy(ROOT / name, work / name)
    (work / "src").symlink_to(ROOT / "src")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "undocumented_api.py").write_text('"""A module."""\n\n\ndef no_docstring(x):\n    return x\n')
    config = (work / "mkdocs.yml").read_text(encoding="utf-8").replace("paths: [src]", f"paths: [src, {extra}]")
    (work / "mkdocs.yml").write_text(config, encoding="utf-8")
    page = work / "docs" / "api.md"
    page.write_text(
        page.read_text(encoding="utf-8") + "\n[gone](no-such-page.md) and [anchor](ODD.md#no-such-section)\n\n"
        "::: undocumented_api\n",
        encoding="utf-8",
    )
    res = build(work / "mkdocs.yml", tmp_path / "site", work, extra)
    assert res.returncode != 0
    log = res.stderr + res.stdout
    assert "no-such-page.md" in log
    assert "no-such-section" in log
    assert "no docstring for undocumented_api.no_docstring" in log
