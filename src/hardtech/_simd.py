"""Keep NumPy off its AVX-512 math kernels, so results do not depend on the processor.

On x86-64 processors with AVX-512, NumPy ≥ 2 computes float64 ``exp``,
``log``, ``log1p``, ``power``, … with its own AVX-512 kernels (SVML); on
every other x86-64 processor the same calls go to the C library (glibc's
libm). The two differ in the last bit of a small share of results, and the
model is chaotic in the last bit: on one Intel Xeon, ``hardtech run hangzhou
--seed 7`` gave 335 dragons with AVX-512 and 371 without (371 is also what an
AMD Zen 3 processor, which has no AVX-512, gives).

NumPy reads ``NPY_DISABLE_CPU_FEATURES`` once, when it is first imported.
:func:`configure`, called by ``hardtech/__init__.py`` before anything imports
NumPy, adds NumPy's AVX-512 dispatch targets to that variable (keeping what
the user put there). The names depend on the NumPy version, read from the
installed package's metadata without importing it: NumPy 2.4 groups the
x86 features as ``X86_V2``/``X86_V3``/``X86_V4``/``AVX512_ICL``/``AVX512_SPR``,
older versions name each AVX-512 family. Only dispatch targets are named,
never a baseline feature (NumPy refuses to import if one is disabled);
disabling a target the processor lacks is a no-op in NumPy, so machines
without AVX-512 are unaffected. Worker processes inherit ``os.environ``.

Nothing is changed when:

* ``HARDTECH_NATIVE_SIMD=1`` is set (opt out: use every kernel NumPy has;
  results may then differ from other machines);
* ``NPY_ENABLE_CPU_FEATURES`` is set (NumPy refuses both variables at once);
* the processor is not x86 (the variable names x86 features only);
* NumPy was imported before hardtech (e.g. in a notebook that ran
  ``import numpy`` first): it is too late, so :mod:`hardtech.provenance`
  records whether AVX-512 kernels are active in each run's metadata and
  ``hardtech`` warns once.

This module imports only the standard library.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import warnings
from importlib import metadata

OPT_OUT = "HARDTECH_NATIVE_SIMD"
DISABLE_VAR = "NPY_DISABLE_CPU_FEATURES"
ENABLE_VAR = "NPY_ENABLE_CPU_FEATURES"
X86 = ("x86_64", "amd64", "i386", "i686", "x86")

# What configure() did, for the run metadata (hardtech.provenance).
STATE: dict[str, object] = {"numpy_preloaded": False, "disabled": [], "skipped": ""}


def avx512_targets(numpy_version: str) -> tuple[str, ...]:
    """NumPy's AVX-512 dispatch targets for a NumPy version string ("2.4.6")."""
    parts = re.findall(r"\d+", numpy_version)[:2]
    major, minor = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (0, 0)
    if (major, minor) >= (2, 4):
        return ("X86_V4", "AVX512_ICL", "AVX512_SPR")
    older = ("AVX512F", "AVX512CD", "AVX512_KNL", "AVX512_KNM", "AVX512_SKX", "AVX512_CLX", "AVX512_CNL", "AVX512_ICL")
    return (*older, "AVX512_SPR") if major >= 2 else older


def configure(environ=None, modules=None, machine: str | None = None, numpy_version: str | None = None) -> None:
    """Add NumPy's AVX-512 targets to ``NPY_DISABLE_CPU_FEATURES`` unless it is too late or opted out.

    The arguments (``os.environ``, ``sys.modules``, ``platform.machine()``, the
    installed NumPy version) are for tests.
    """
    env = os.environ if environ is None else environ
    if "numpy" in (sys.modules if modules is None else modules):
        STATE.update(numpy_preloaded=True, skipped="NumPy was imported before hardtech")
        return
    if env.get(OPT_OUT, "").strip() not in ("", "0"):
        STATE["skipped"] = f"{OPT_OUT} is set"
        return
    if env.get(ENABLE_VAR, "").strip():
        STATE["skipped"] = f"{ENABLE_VAR} is set"
        return
    machine = platform.machine() if machine is None else machine
    if machine.lower() not in X86:
        STATE["skipped"] = f"not an x86 processor ({machine})"
        return
    if numpy_version is None:
        try:
            numpy_version = metadata.version("numpy")
        except metadata.PackageNotFoundError:
            STATE["skipped"] = "NumPy is not installed"
            return
    current = [t for t in re.split(r"[,\s]+", env.get(DISABLE_VAR, "")) if t]
    wanted = [t for t in avx512_targets(numpy_version) if t not in current]
    env[DISABLE_VAR] = ",".join(current + wanted)
    STATE.update(disabled=list(avx512_targets(numpy_version)), skipped="")
    # a NumPy build without some of these targets warns (ImportWarning) and ignores just those
    warnings.filterwarnings("ignore", message=f".*{DISABLE_VAR}.*", category=ImportWarning)
