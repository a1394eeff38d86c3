"""Compiled kernels and the choice of engine: Numba when available, NumPy otherwise.

A model writes a hot rule twice: as whole-array NumPy code (the reference)
and as a loop decorated with :func:`kernel`, compiled by Numba. Which one
runs is :func:`compiled`:

- ``HARDTECH_ENGINE=numpy`` — the NumPy reference everywhere (tests compare
  the two; the benchmark times both);
- ``HARDTECH_ENGINE=numba`` or unset — the kernels, if Numba imports
  (otherwise the reference, silently: Numba is an optional speed-up).

By default the kernels draw exactly the random numbers the reference draws,
and a whole run is bit-identical to the NumPy reference. With
``HARDTECH_DRAWS=economical`` (or ``use_engine("numba", draws="economical")``)
a compiled rule skips numbers the reference draws and then discards (an
innovation step for every firm, used only by the firms that succeed): the
same law, other realisations (tests check both: bit-identity with the
reference draws, statistical equivalence of the economical ones).

:func:`use_engine` switches in-process (for tests): the choice is read when
a rule runs, so one process can run both. The environment variables are
read once, when a rule first asks (rules ask thousands of times a run).

Reproducibility. Kernels are compiled with ``fastmath=False`` (no
reassociation, no fused multiply-add contraction, IEEE semantics for NaN and
infinities) and NumPy's error model (a division by zero gives ±inf or NaN as
in NumPy, no exception). Intel's SVML vector maths is switched off before
Numba loads. Kernels hold only additions, multiplications, divisions,
comparisons, ``min``/``max`` and ``sqrt`` — all correctly rounded on any
x86-64 — and leave transcendental functions (``exp``, ``log``, ``power``) to
NumPy, so a kernel gives the same bits on any processor Numba compiles for,
and the same bits as the reference wherever it does the same operations in
the same order. Compiled code is cached on disk (``NUMBA_CACHE_DIR``, or
``__pycache__`` next to the source).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager

OPTIONS: dict = {"fastmath": False, "error_model": "numpy", "nogil": True}  # every kernel's compile options
ENV = "HARDTECH_ENGINE"
ENGINES = ("numba", "numpy")
DRAWS_ENV = "HARDTECH_DRAWS"
DRAWS = ("economical", "reference")

os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")  # before Numba loads: no approximate vector maths

_forced: str | None = None
_forced_draws: str | None = None
_numba: object = None  # the numba module once imported, False if it cannot be
_from_env: dict[str, str] = {}  # ENV and DRAWS_ENV as first read, normalised


def _load_numba():
    global _numba
    if _numba is None:
        try:
            import numba
        except ImportError:  # pragma: no cover - Numba is a dependency; kept optional for odd platforms
            _numba = False
        else:
            _numba = numba
    return _numba


class EngineChoiceError(ValueError):
    """``HARDTECH_ENGINE`` or ``HARDTECH_DRAWS`` names no engine or draw mode (bad input, not a bug)."""


def check_environment() -> None:
    """Raise :class:`EngineChoiceError` naming the variable, its value and what is allowed, if either is bad."""
    _env(ENV, "numba", ENGINES)
    _env(DRAWS_ENV, "reference", DRAWS)


def _env(name: str, default: str, allowed: tuple[str, ...]) -> str:
    """Environment variable ``name``, stripped and lower-cased (``default`` if unset or empty), read once.

    A value outside ``allowed`` raises :class:`EngineChoiceError` (and is not kept: every ask raises).
    """
    value = _from_env.get(name)
    if value is None:
        value = os.environ.get(name, "").strip().lower() or default
        if value not in allowed:
            raise EngineChoiceError(f"{name}={value!r}: must be one of {', '.join(allowed)}")
        _from_env[name] = value
    return value


def engine() -> str:
    """The engine rules run on now: ``"numba"`` or ``"numpy"``."""
    name = _forced or _env(ENV, "numba", ENGINES)
    if name == "numba" and not _load_numba():
        return "numpy"
    return name


def compiled() -> bool:
    """True when rules should run their compiled kernels."""
    return engine() == "numba"


def economical_draws() -> bool:
    """True when compiled rules may skip random draws the reference discards (see the module docstring)."""
    if not compiled():
        return False
    draws = _forced_draws or _env(DRAWS_ENV, "reference", DRAWS)
    return draws == "economical"


@contextmanager
def use_engine(name: str, draws: str = "reference"):
    """Run a block on engine ``name`` (``"numba"`` or ``"numpy"``) with ``draws``, whatever the environment says."""
    global _forced, _forced_draws
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")
    if draws not in DRAWS:
        raise ValueError(f"draws must be one of {', '.join(DRAWS)}, got {draws!r}")
    before = _forced, _forced_draws
    _forced, _forced_draws = name, draws
    try:
        yield
    finally:
        _forced, _forced_draws = before


class _Lazy:
    """A kernel compiled on first call (importing a model does not import Numba)."""

    def __init__(self, fn: Callable) -> None:
        self.py = fn  # the plain Python loop (also what runs without Numba)
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self._jit = None

    def __call__(self, *args):
        jit = self._jit
        if jit is None:
            numba = _load_numba()
            if not numba:
                return self.py(*args)
            jit = self._jit = numba.njit(self.py, cache=True, **OPTIONS)
        return jit(*args)

    @property
    def dispatcher(self):
        """The Numba dispatcher (compiling on demand happens at the first call)."""
        numba = _load_numba()
        if self._jit is None and numba:
            self._jit = numba.njit(self.py, cache=True, **OPTIONS)
        return self._jit


def kernel(fn: Callable) -> _Lazy:
    """Mark a loop over agents as a compiled kernel (see the module docstring)."""
    return _Lazy(fn)
