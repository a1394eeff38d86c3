"""Results reproduce across installs and machines of one platform family (docs/reproducibility.md).

* NumPy is kept off its AVX-512 kernels when hardtech is imported first, and a
  process that imported NumPy first says so (warning + run metadata);
* the model's small matrix products do not go through BLAS: the same tables
  whatever BLAS kernel or NumPy SIMD level (below AVX-512) the machine picks;
* the golden digest: a small run's stored tables hash to the digest committed
  in tests/golden/digests.json for this platform family, so any change of
  results shows up here and is committed on purpose;
* run ids and metadata carry the model version; metadata the machine;
* the installed numerical packages are the ones requirements.lock pins.

Update the golden digest after a deliberate change of results:
``make golden`` (= ``HARDTECH_UPDATE_GOLDEN=1 pytest tests/test_reproducibility.py -k golden``).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from helpers import assert_same_runs, clean_env, hardtech

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "digests.json"
GOLDEN_ARGS = [
    "run",
    "hangzhou",
    "--seed",
    "7",
    "--set",
    "scale=0.002",
    "--set",
    "time.end_year=2016",
    "--no-progress",
    "--no-report",
    "--json",
]
X86 = platform.machine().lower() in ("x86_64", "amd64")


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env or clean_env()
    )


def _golden_run(tmp_path: Path, name: str, **env: str) -> tuple[Path, str]:
    db = tmp_path / f"{name}.duckdb"
    base = clean_env(**env)
    res = hardtech(*GOLDEN_ARGS, "--out", str(db), env=base)
    assert res.returncode == 0, res.stderr
    return db, json.loads(res.stdout)["run_ids"][0]


def _digest(db: Path, run_id: str) -> dict[str, str]:
    from hardtech.store import ResultsStore

    with ResultsStore(db, read_only=True) as store:
        return store.digest(run_id)


# -- NumPy's SIMD --------------------------------------------------------------------------------


@pytest.mark.skipif(not X86, reason="NPY_DISABLE_CPU_FEATURES names x86 features only")
def test_the_disabled_targets_are_avx512_dispatch_targets_of_the_installed_numpy():
    from numpy._core import _multiarray_umath as m

    from hardtech._simd import avx512_targets

    names = avx512_targets(metadata.version("numpy"))
    assert set(names) <= set(m.__cpu_dispatch__), (names, m.__cpu_dispatch__)
    assert not set(names) & set(m.__cpu_baseline__)  # NumPy refuses to import if a baseline feature is disabled


def test_hardtech_first_keeps_numpy_off_avx512():
    res = _python(
        "import json, hardtech, os; from hardtech.provenance import numpy_simd; "
        "print(json.dumps({**numpy_simd(), 'env': os.environ.get('NPY_DISABLE_CPU_FEATURES', '')}))"
    )
    assert res.returncode == 0, res.stderr
    state = json.loads(res.stdout)
    assert state["avx512"] is False
    assert not any(f.startswith("AVX512") or f == "X86_V4" for f in state["dispatch_active"])
    if X86:
        assert "X86_V4" in state["env"] or "AVX512F" in state["env"]
    assert "ReproducibilityWarning" not in res.stderr


def test_numpy_first_is_recorded_and_warned_once():
    code = (
        "import numpy, warnings; warnings.simplefilter('always'); import hardtech; "
        "from hardtech.provenance import warn_if_not_portable; warn_if_not_portable(); "
        "r = hardtech.run('hangzhou', seed=7, overrides={'scale': 0.002, 'time.end_year': 2012}); "
        "import json; print(json.dumps(r.meta['platform']['numpy_simd']))"
    )
    res = _python(code)
    assert res.returncode == 0, res.stderr
    state = json.loads(res.stdout.splitlines()[-1])
    assert state["numpy_imported_first"] is True
    if not state["avx512"]:
        pytest.skip("this processor has no AVX-512: NumPy imported first uses the same kernels")
    assert res.stderr.count("ReproducibilityWarning") == 1 and "may differ from other machines" in res.stderr


def test_configure_merges_respects_opt_outs_and_never_names_baseline():
    from hardtech import _simd

    env = {"NPY_DISABLE_CPU_FEATURES": "AVX512_SPR FOO"}
    _simd.configure(env, modules={}, machine="x86_64", numpy_version="2.4.6")
    assert env["NPY_DISABLE_CPU_FEATURES"].split(",") == ["AVX512_SPR", "FOO", "X86_V4", "AVX512_ICL"]
    env = {}
    _simd.configure(env, modules={}, machine="x86_64", numpy_version="1.26.4")
    assert "AVX512F" in env["NPY_DISABLE_CPU_FEATURES"] and "AVX512_SPR" not in env["NPY_DISABLE_CPU_FEATURES"]
    for env, machine in (
        ({"HARDTECH_NATIVE_SIMD": "1"}, "x86_64"),
        ({"NPY_ENABLE_CPU_FEATURES": "AVX2"}, "x86_64"),
        ({}, "aarch64"),
    ):
        before = dict(env)
        _simd.configure(env, modules={}, machine=machine, numpy_version="2.4.6")
        assert env == before and _simd.STATE["skipped"]
    env = {}
    _simd.configure(env, modules={"numpy": object()}, machine="x86_64", numpy_version="2.4.6")
    assert env == {} and _simd.STATE["numpy_preloaded"]
    _simd.STATE["numpy_preloaded"] = False  # this process imported hardtech first


# -- the same tables whatever the BLAS and SIMD level ----------------------------------------------


def test_results_do_not_depend_on_blas_kernels_or_numpy_simd_level(tmp_path):
    reference, _ = _golden_run(tmp_path, "default")
    other_blas, _ = _golden_run(tmp_path, "sandybridge", OPENBLAS_CORETYPE="Sandybridge")
    assert_same_runs(reference, other_blas)
    if X86:  # NumPy without its AVX2 kernels either (SSE4.2 only), as on the oldest x86-64 machines
        no_avx2, _ = _golden_run(tmp_path, "sse", NPY_DISABLE_CPU_FEATURES="X86_V3")
        assert_same_runs(reference, no_avx2)


@pytest.mark.skipif(not X86, reason="NPY_DISABLE_CPU_FEATURES names x86 features only")
def test_the_cli_computes_as_a_processor_without_avx512_would(tmp_path):
    """`hardtech run` as installed gives the tables of a process whose NumPy was started without AVX-512."""
    from numpy._core import _multiarray_umath as m

    avx512 = [f for f in m.__cpu_dispatch__ if f.startswith("AVX512") or f == "X86_V4"]  # NumPy's own list
    default, _ = _golden_run(tmp_path, "default")
    without, _ = _golden_run(tmp_path, "without", NPY_DISABLE_CPU_FEATURES=",".join(avx512))
    assert_same_runs(default, without)


def test_numpys_avx512_kernels_would_change_the_results(tmp_path):
    """Why hardtech switches them off: on a processor with AVX-512 they change the trajectory."""
    res = _python(
        "from numpy._core import _multiarray_umath as m; print(m.__cpu_features__.get('AVX512_SKX', False))",
        env=clean_env(HARDTECH_NATIVE_SIMD="1"),
    )
    if res.stdout.strip() != "True":
        pytest.skip("this processor has no AVX-512")
    portable, rid = _golden_run(tmp_path, "portable")
    native, rid_native = _golden_run(tmp_path, "native", HARDTECH_NATIVE_SIMD="1")
    assert rid == rid_native  # same scenario, seed and model: same run id...
    assert _digest(portable, rid)["*"] != _digest(native, rid)["*"]  # ...other numbers: hence the switch


# -- the golden digest -------------------------------------------------------------------------------


def test_golden_digest(tmp_path):
    from hardtech.provenance import platform_key

    db, run_id = _golden_run(tmp_path, "golden")
    digest = _digest(db, run_id)
    key = platform_key()
    golden = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {"digests": {}}
    if os.environ.get("HARDTECH_UPDATE_GOLDEN") == "1":
        golden["command"] = "hardtech " + " ".join(GOLDEN_ARGS[:-3])
        golden.setdefault("digests", {})[key] = digest
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(golden, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"wrote the golden digest for {key} to {GOLDEN}")
    if key not in golden["digests"]:
        pytest.skip(
            f"no golden digest for platform family {key} (have: {', '.join(golden['digests'])}); results "
            "there are statistically, not bitwise, comparable; add one with `make golden` on such a machine"
        )
    expected = golden["digests"][key]
    changed = sorted(t for t in expected.keys() | digest.keys() if t != "*" and expected.get(t) != digest.get(t))
    assert digest["*"] == expected["*"], (
        f"results changed on {key} (tables: {', '.join(changed)}). If the change is deliberate, run `make golden` "
        "and commit tests/golden/digests.json with it (and `make readme`); if not, something made results depend "
        "on the machine or the install"
    )


# -- model version, run ids, metadata ------------------------------------------------------------------


def test_model_version_hashes_exactly_the_model_source(tmp_path, monkeypatch):
    from hardtech import __version__
    from hardtech.provenance import PACKAGE_DIR, model_version, source_hash

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # each edit below is computed, not remembered
    assert re.fullmatch(re.escape(__version__) + r"\+[0-9a-f]{12}", model_version())
    copy = tmp_path / "hardtech"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    base = source_hash(copy)
    assert base == model_version().split("+")[1]
    (copy / "cli" / "app.py").write_text("# the CLI is not the model\n", encoding="utf-8")
    assert source_hash(copy) == base
    preset = copy / "scenario" / "presets" / "hangzhou.toml"
    preset.write_bytes(preset.read_bytes().replace(b"\n", b"\r\n"))  # a Windows checkout: same model
    assert source_hash(copy) == base
    rule = copy / "model" / "capital.py"
    text = rule.read_text(encoding="utf-8")
    rule.write_text(text + "\n# a comment\n", encoding="utf-8")  # comments, docstrings, annotations, layout:
    assert source_hash(copy) == base  # the same code
    documented = text.replace('"""', '"""Documented better. ', 1).replace("-> None:", "  ->  None :", 1)
    rule.write_text(documented, encoding="utf-8")
    assert source_hash(copy) == base
    rule.write_text(text + "\nCHANGE = 1\n", encoding="utf-8")  # code: a new version
    assert source_hash(copy) != base
    rule.write_text(text.replace("0.0", "0.5", 1), encoding="utf-8")
    assert source_hash(copy) != base


def test_the_cached_source_hash_is_the_computed_one_and_any_edit_misses_the_cache(tmp_path, monkeypatch):
    from hardtech import provenance
    from hardtech.provenance import PACKAGE_DIR, model_files, source_hash

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = tmp_path / "cache" / "hardtech" / provenance.CACHE_FILE
    copy = tmp_path / "hardtech"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    real, computed = provenance._computed_hash, []

    def counting(root, files):
        computed.append(root)
        return real(root, files)

    def uncached():
        return real(copy, model_files(copy))

    monkeypatch.setattr(provenance, "_computed_hash", counting)
    base = uncached()
    assert source_hash(copy) == base and len(computed) == 1  # a miss: computed and stored
    assert cache.is_file() and base in cache.read_text(encoding="utf-8")
    assert source_hash(copy) == base and len(computed) == 1  # a hit: not computed again
    rule = copy / "model" / "capital.py"
    text = rule.read_text(encoding="utf-8")
    rule.write_text(text + "\n# a comment\n", encoding="utf-8")  # new bytes, the same code: a miss, the same value
    assert source_hash(copy) == base and len(computed) == 2
    rule.write_text(text.replace("0.0", "0.5", 1), encoding="utf-8")  # new code: a miss, the computed new value
    edited = source_hash(copy)
    assert len(computed) == 3 and edited == uncached() != base
    rule.write_text(text, encoding="utf-8")  # back as it was: the first entry again
    assert source_hash(copy) == base and len(computed) == 3
    entries = json.loads(cache.read_text(encoding="utf-8"))
    assert len(entries) == 3 and set(entries.values()) == {base, edited}
    cache.write_text(json.dumps({"f" * 64: "1" * 12}), encoding="utf-8")  # only other keys' entries: computed
    assert source_hash(copy) == base and len(computed) == 4
    cache.write_text("{not json", encoding="utf-8")  # a corrupt cache: computed
    assert source_hash(copy) == base and len(computed) == 5
    (tmp_path / "file").write_text("", encoding="utf-8")  # a cache that cannot be written: computed every time
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert source_hash(copy) == base and source_hash(copy) == base and len(computed) == 7


def test_the_code_hash_ignores_types_but_not_what_makes_a_dataclass():
    import ast

    from hardtech.provenance import _CodeOnly, _serialise

    def code(text: str) -> str:
        return _serialise(_CodeOnly().visit(ast.parse(text)))

    assert code('def f(x: int) -> int:\n    """Doc."""\n    return x') == code("def f(x):\n    return x")
    assert code("y: float = 1.0") == code("y = 1.0")
    assert code("class A:\n    x: int = 0") != code("class A:\n    x: ClassVar[int] = 0")
    assert code("y = 1.0") != code("y = 1.5")


def test_run_id_and_metadata_carry_model_version_and_machine(tmp_path, monkeypatch):
    import hardtech
    from hardtech import result as result_module
    from hardtech import runner
    from hardtech.provenance import model_version
    from hardtech.store import ResultsStore

    sc = hardtech.load("hangzhou", ["scale=0.002", "time.end_year=2012"])
    rid = runner.run_id_for(sc, 0)
    monkeypatch.setattr(result_module, "model_version", lambda: "0.1.0+000000000000")
    assert runner.run_id_for(sc, 0) != rid
    monkeypatch.undo()
    result = hardtech.run(sc)
    assert result.run_id == rid and result.meta["model_version"] == model_version()
    plat = result.meta["platform"]
    assert {"machine", "processor", "libc", "python", "numpy", "numpy_simd", "blas"} <= set(plat)
    assert plat["processor"] and plat["numpy_simd"]["baseline"] is not None
    path = result.save(tmp_path / "m.duckdb")
    with ResultsStore(path, read_only=True) as store:
        row = store.runs().iloc[0]
        assert row["model_version"] == model_version()
        assert json.loads(row["extra"])["platform"]["machine"] == platform.machine()


# -- the lock file -------------------------------------------------------------------------------------


def test_installed_numerical_packages_are_the_locked_ones():
    lock = ROOT / "requirements.lock"
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock.read_text(encoding="utf-8"), re.M))
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-c requirements.lock" in makefile  # what make setup / demo / test install
    for name in ("numpy", "scipy", "pandas", "pyarrow", "duckdb", "SALib", "powerlaw", "pydantic"):
        pinned = next((v for k, v in pins.items() if k.lower() == name.lower()), None)
        assert pinned, f"requirements.lock does not pin {name}"
        assert metadata.version(name) == pinned, (
            f"{name} {metadata.version(name)} is installed but requirements.lock pins {pinned}: run `make setup`"
        )
