"""Where a run's numbers come from: the model version and the machine that computed them.

* :func:`model_version` — the package version plus a hash of the model's
  source (``engine/``, ``model/`` and ``scenario/``: the rules, the schema
  and the presets). Python files are hashed as code, not text: their syntax
  tree without docstrings, comments, type annotations or layout, so a
  reformatted or better documented rule keeps its version while any change to
  what it computes gives a new one. Two installs with the same model version
  run the same code on the same inputs. It is part of every run id (see
  :func:`hardtech.runner.run_id_for`) and of every run's metadata.
* :func:`platform_info` — processor, the SIMD features NumPy uses, the C
  library, the BLAS, Python and NumPy versions; stored with each run (the
  ``extra`` JSON of the ``runs`` table, key ``platform``).
* :func:`numpy_simd` — whether NumPy's AVX-512 kernels are active in this
  process (they are not when hardtech was imported before NumPy; see
  :mod:`hardtech._simd`).

docs/reproducibility.md says what is guaranteed across machines.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np  # hardtech/__init__.py has configured NumPy by now

import hardtech
from hardtech import _simd

PACKAGE_DIR = Path(__file__).resolve().parent
# The source that decides a run's results: rules, engine, scenario schema and presets.
MODEL_SOURCES = ("engine/**/*.py", "model/**/*.py", "scenario/**/*.py", "scenario/presets/*.toml")


class ReproducibilityWarning(UserWarning):
    """Results of this process may differ from other machines' (NumPy's AVX-512 kernels are active)."""


def package_files(patterns: tuple[str, ...], root: Path = PACKAGE_DIR) -> list[Path]:
    """The files under ``root`` matching any of the glob ``patterns``, in a fixed order (bytecode caches left out)."""
    files = {p for pattern in patterns for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts}
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def model_files(root: Path = PACKAGE_DIR) -> list[Path]:
    """The files hashed into the model version, in a fixed order."""
    return package_files(MODEL_SOURCES, root)


_KEPT = {"ClassVar", "InitVar"}


class _CodeOnly(ast.NodeTransformer):
    """Drops what does not change what Python code computes: docstrings, type annotations, ``if TYPE_CHECKING:``."""

    def visit_If(self, node: ast.If) -> ast.AST | None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" and not node.orelse:
            return None  # imports for type checkers only: never run
        return self.generic_visit(node)

    def _body(self, node: ast.AST) -> ast.AST:
        self.generic_visit(node)
        body = getattr(node, "body", None)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
        return node

    visit_Module = visit_ClassDef = _body

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.returns = None
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg]:
            if arg is not None:
                arg.annotation = None
        return self._body(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        # ClassVar and InitVar decide what a dataclass is: such annotations stay whole.
        if any(
            isinstance(n, (ast.Name, ast.Attribute)) and getattr(n, "id", getattr(n, "attr", "")) in _KEPT
            for n in ast.walk(node.annotation)
        ):
            return node
        # Otherwise the type is for readers and checkers. A bare annotation (``x: int``) computes nothing
        # outside a class; in a dataclass it declares a field, which changes results only through the
        # code that sets or reads it (and that code is hashed).
        if node.value is None:
            return None
        return ast.Assign(targets=[node.target], value=node.value, type_comment=None, lineno=node.lineno)


def _code(path: Path) -> bytes:
    """What a model file contributes to the model version: Python as its normalised syntax tree, else its text."""
    raw = path.read_bytes().replace(b"\r\n", b"\n")
    if path.suffix != ".py":
        return raw
    return _serialise(_CodeOnly().visit(ast.parse(raw))).encode()


def _serialise(node: Any) -> str:
    """A syntax tree as text that does not depend on the Python version.

    ``ast.dump`` does (3.12 adds ``type_params``, 3.13 drops empty fields), so
    fields that are None or empty are left out and nodes are named by class.
    """
    if isinstance(node, ast.AST):
        fields = [f"{name}={_serialise(v)}" for name, v in ast.iter_fields(node) if v is not None and v != []]
        return f"{type(node).__name__}({' '.join(fields)})"
    if isinstance(node, list):
        return "[" + ",".join(_serialise(v) for v in node) + "]"
    return repr(node)


def source_hash(root: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the model's files (relative path and code, see :func:`_code`), 12 hex digits.

    Parsing and writing out every file's syntax tree takes most of a second, so the value is
    cached on disk (:func:`cache_dir`), keyed by the files' exact bytes: see :func:`_cached`.
    """
    files = model_files(root)
    return _cached(root, files, lambda: _computed_hash(root, files))


def _computed_hash(root: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(_code(path) + b"\0")
    return h.hexdigest()[:12]


CACHE_FILE = "source-hash.json"
CACHE_ENTRIES = 32  # the keys computed last are kept (one per version of the model's files)
_HASH = re.compile(r"[0-9a-f]{12}")


def cache_dir() -> Path:
    """Where hardtech caches values derived from its files: ``$XDG_CACHE_HOME/hardtech``, else ``~/.cache/hardtech``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    # the XDG spec: a relative path is invalid and is ignored
    return (Path(base) if base and os.path.isabs(base) else Path.home() / ".cache") / "hardtech"


def _raw_key(root: Path, files: list[Path]) -> str:
    """SHA-256 of everything the hash is computed from, as it is on disk.

    The files' relative paths and exact bytes, this module's own bytes (the normaliser) and the
    Python version (the parser): a cache entry is used only for the very same inputs.
    """
    h = hashlib.sha256(b"hardtech source_hash cache 1\0")
    h.update(f"{sys.version_info[0]}.{sys.version_info[1]}\0".encode())
    own = Path(__file__).read_bytes()
    h.update(f"<normaliser>\0{len(own)}\0".encode() + own)
    for path in files:
        raw = path.read_bytes()
        h.update(f"{path.relative_to(root).as_posix()}\0{len(raw)}\0".encode() + raw)
    return h.hexdigest()


def _cached(root: Path, files: list[Path], compute: Callable[[], str]) -> str:
    """``compute()``, looked up first in the cache file under the files' :func:`_raw_key` and stored there after.

    Any problem with the cache (missing, unreadable, not writable, corrupt) only means computing:
    the value never depends on it.
    """
    key = _raw_key(root, files)
    try:
        path = cache_dir() / CACHE_FILE
    except RuntimeError:  # no home directory: nowhere to cache
        return compute()
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(entries, dict):
            entries = {}
    except (OSError, ValueError):
        entries = {}
    found = entries.get(key)
    if isinstance(found, str) and _HASH.fullmatch(found):
        return found
    value = compute()
    entries.pop(key, None)
    entries[key] = value
    _write_cache(path, dict(list(entries.items())[-CACHE_ENTRIES:]))
    return value


def _write_cache(path: Path, entries: dict[str, str]) -> None:
    """Replace the cache file atomically (a concurrent reader sees the old file or the new one); quietly give up."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".source-hash.")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entries, f)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@functools.lru_cache(maxsize=1)
def model_version() -> str:
    """``<package version>+<source hash>``, e.g. ``0.1.0+3f9c2a1b7d40``."""
    return f"{hardtech.__version__}+{source_hash()}"


def _cpu_module():
    try:
        # numpy's stubs do not declare this private module (it exists at run time in NumPy ≥ 2)
        from numpy._core import _multiarray_umath as m  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - NumPy 1.26
        from numpy.core import _multiarray_umath as m
    return m


def numpy_simd() -> dict[str, Any]:
    """NumPy's SIMD state in this process: baseline, the dispatch targets in use, AVX-512 on or off."""
    m = _cpu_module()
    features = m.__cpu_features__
    active = [f for f in m.__cpu_dispatch__ if features.get(f)]
    return {
        "baseline": list(m.__cpu_baseline__),
        "dispatch_active": active,
        "dispatch_disabled": [f for f in m.__cpu_dispatch__ if not features.get(f)],
        "avx512": any(f.startswith("AVX512") or f == "X86_V4" for f in active),
        "npy_disable_cpu_features": os.environ.get(_simd.DISABLE_VAR, ""),
        "numpy_imported_first": bool(_simd.STATE["numpy_preloaded"]),
        "not_configured_because": _simd.STATE["skipped"],
    }


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> dict[str, Any]:
    info: dict[str, Any] = {}
    try:
        deps = np.show_config(mode="dicts").get("Build Dependencies", {})
        blas = deps.get("blas", {})
        info = {k: blas[k] for k in ("name", "version", "openblas configuration") if k in blas}
    except Exception:  # noqa: BLE001 - old NumPy without mode="dicts": record what we can
        pass
    try:
        from threadpoolctl import threadpool_info

        info["runtime"] = [
            {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for lib in threadpool_info()
            if lib.get("user_api") == "blas"
        ]
    except Exception:  # noqa: BLE001 - threadpoolctl is optional
        pass
    return info


@functools.lru_cache(maxsize=1)
def platform_info() -> dict[str, Any]:
    """The machine and numerical libraries of this process (constant over its life)."""
    libc, libc_version = platform.libc_ver()
    return {
        "machine": platform.machine(),
        "processor": _processor(),
        "system": f"{platform.system()} {platform.release()}",
        "libc": f"{libc} {libc_version}".strip() or sys.platform,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "numpy_simd": numpy_simd(),
        "blas": _blas(),
    }


def platform_key() -> str:
    """The family of machines whose results are expected to agree bit for bit: ``<machine>-<libc>``.

    Within one key (e.g. ``x86_64-glibc``), with NumPy off its AVX-512 kernels,
    the same scenario, seed and lock file give the same tables (see
    docs/reproducibility.md); across keys results agree statistically only.
    """
    machine = platform.machine().lower().replace("amd64", "x86_64")
    libc = platform.libc_ver()[0] or sys.platform
    return f"{machine}-{libc}"


_warned = False


def warn_if_not_portable() -> None:
    """Warn once per process when NumPy was imported first with its AVX-512 kernels active."""
    global _warned
    if _warned or not _simd.STATE["numpy_preloaded"]:
        return
    if numpy_simd()["avx512"]:
        _warned = True
        warnings.warn(
            "NumPy was imported before hardtech and uses its AVX-512 math kernels: results of this process "
            "are reproducible on this machine but may differ from other machines' (each run's metadata says so). "
            "Import hardtech before NumPy, or start Python with NPY_DISABLE_CPU_FEATURES="
            f"{','.join(_simd.avx512_targets(np.__version__))}, to get portable results.",
            ReproducibilityWarning,
            stacklevel=3,
        )
