"""Experiment specs: what to vary, how to sample it, and what to keep.

An experiment spec is a TOML file validated with pydantic like a scenario
(unknown keys refused, one-line errors naming the field, the value and what is
allowed). It names a base scenario (preset or path) with optional ``[set]``
overrides, the factors (scenario fields by dotted path, each a numeric range
or explicit levels), a design (``factorial``, ``lhs``, ``sobol``, ``morris``),
the number of samples, replications, a seed and the outcomes to keep::

    name = "levers-sobol"
    base = "hangzhou"
    design = "sobol"
    samples = 16                 # Sobol base sample N (power of 2)
    replications = 1
    seed = 42
    outcomes = ["dragons_hangzhou", "births_hangzhou"]

    [set]
    scale = 0.005
    time.end_year = 2025

    [[factors]]
    path = "regions.hangzhou.policy.startup_support"
    range = [0.0, 0.9]

    [[factors]]
    path = "regions.hangzhou.incumbents"
    levels = [0, 1, 2]

:func:`load_spec` reads and validates a spec; :func:`resolve` turns it into a
:class:`ResolvedSpec` holding the base scenario (with ``set`` applied), each
factor's kind and the ``sweep_id`` (a hash of everything that defines the runs, the model
version included: a sweep resumed after the model changed is a new sweep, never a mix).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hardtech.analysis.outcomes import outcome_names
from hardtech.provenance import model_version
from hardtech.scenario import Scenario, ScenarioError, load, to_toml
from hardtech.scenario.loading import apply_override, read_raw, validate

DESIGNS = ("factorial", "lhs", "sobol", "morris")
RUN_TABLES = (
    "step_metrics",
    "region_metrics",
    "field_metrics",
    "bloc_metrics",
    "ledger",
    "firm_events",
    "firms",
    "dragons",
    "firm_panel",
)  # known run tables; other table names are checked against the first runs
_TABLE_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
RESERVED_PATHS = ("seed", "name", "description")
MAX_RUNS = 10_000_000
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class SpecError(ValueError):
    """An experiment spec that cannot be used; the message is one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Factor(_Strict):
    """One scenario field varied by the design."""

    path: str = Field(description="Dotted path of a scenario field, e.g. regions.hangzhou.policy.startup_support.")
    range: list[float] | None = Field(None, description="[lo, hi]: sampled uniformly (integers for integer fields).")
    levels: list[Any] | None = Field(None, description="Explicit values (any the scenario field accepts).")
    n_levels: int | None = Field(None, description="factorial design only: evenly spaced levels over `range` (≥ 2).")

    @model_validator(mode="after")
    def _one_kind(self) -> Factor:
        if (self.range is None) == (self.levels is None):
            raise ValueError("range: give exactly one of `range = [lo, hi]` or `levels = [...]`")
        if self.range is not None:
            if len(self.range) != 2:
                raise ValueError(f"range: {self.range} must be [lo, hi]")
            lo, hi = self.range
            if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
                raise ValueError(f"range: {self.range} must be finite with lo < hi")
        if self.levels is not None and len(self.levels) < 1:
            raise ValueError("levels: give at least one value")
        if self.n_levels is not None:
            if self.range is None:
                raise ValueError("n_levels: only with `range` (levels already lists the values)")
            if not 2 <= self.n_levels <= 1000:
                raise ValueError(f"n_levels: {self.n_levels} must be in 2..1000")
        return self


class SobolOptions(_Strict):
    """Saltelli/Sobol design and analysis options."""

    second_order: bool = Field(
        True, description="Sample and report second-order indices (N·(2k+2) rows instead of N·(k+2))."
    )
    bootstrap: int = Field(1000, ge=10, le=100_000, description="Bootstrap resamples for the confidence intervals.")
    conf_level: float = Field(0.95, gt=0, lt=1, description="Confidence level of the intervals.")


class MorrisOptions(_Strict):
    """Morris elementary-effects design and analysis options."""

    levels: int = Field(4, ge=2, le=100, description="Grid levels p of the Morris design (even numbers are usual).")
    bootstrap: int = Field(1000, ge=10, le=100_000, description="Bootstrap resamples for the μ* confidence interval.")
    conf_level: float = Field(0.95, gt=0, lt=1, description="Confidence level of the interval.")


class ExperimentSpec(_Strict):
    """A validated experiment spec (see the module docstring for the TOML format)."""

    name: str = Field("experiment", description="Name of the experiment (letters, digits, _ . -).")
    description: str = Field("", description="What the experiment asks.")
    base: str = Field(
        "hangzhou", description="Base scenario: a preset name or a path to a .toml file (relative to the spec)."
    )
    set: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the base scenario, dotted path → value."
    )
    factors: list[Factor] = Field(min_length=1, description="The scenario fields the design varies.")
    design: str = Field(description="factorial, lhs (Latin hypercube), sobol (Saltelli) or morris.")
    samples: int | None = Field(
        None, description="lhs: points; sobol: base sample N (power of 2); morris: trajectories; factorial: not used."
    )
    replications: int = Field(1, description="Replications of every sample (independent random streams), 1–1000.")
    seed: int = Field(0, description="Seed of the design and of every run's seed, 0 ≤ seed < 2**63.")
    outcomes: list[str] = Field(min_length=1, description="Outcome names to keep (see hardtech.analysis.outcomes).")
    keep_tables: list[str] = Field(
        default_factory=lambda: ["step_metrics"], description="Run tables stored per run besides the outcomes."
    )
    sobol: SobolOptions = Field(default_factory=SobolOptions)
    morris: MorrisOptions = Field(default_factory=MorrisOptions)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(f"name: {v!r} may only contain letters, digits, _ . -")
        return v

    @field_validator("design")
    @classmethod
    def _design(cls, v: str) -> str:
        if v not in DESIGNS:
            raise ValueError(f"design: {v!r} is not a design; allowed: {', '.join(DESIGNS)}")
        return v

    @field_validator("replications")
    @classmethod
    def _reps(cls, v: int) -> int:
        if not 1 <= v <= 1000:
            raise ValueError(f"replications: {v} must be in 1..1000")
        return v

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int) -> int:
        if not 0 <= v < 2**63:
            raise ValueError(f"seed: {v} must be in 0..2**63-1")
        return v

    @field_validator("keep_tables")
    @classmethod
    def _tables(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _TABLE_RE.match(name) or name in ("runs", "sweeps", "sweep_runs"):
                raise ValueError(f"keep_tables: {name!r} is not a run table; allowed: {', '.join(RUN_TABLES)}")
        if len(set(v)) != len(v):
            raise ValueError(f"keep_tables: {v} lists a table twice")
        return v

    @model_validator(mode="after")
    def _samples(self) -> ExperimentSpec:
        n = self.samples
        if self.design == "factorial":
            if n is not None:
                raise ValueError(
                    f"samples: {n} is not used by the factorial design (its size is the product of the level "
                    "counts); remove it"
                )
            for i, f in enumerate(self.factors):
                if f.range is not None and f.n_levels is None:
                    raise ValueError(
                        f"factors.{i}.n_levels: the factorial design needs levels; add n_levels = N to {f.path!r} "
                        "or give levels = [...]"
                    )
        else:
            if n is None:
                raise ValueError(f"samples: required by the {self.design} design")
            low = 2
            if not low <= n <= MAX_RUNS:
                raise ValueError(f"samples: {n} must be in {low}..{MAX_RUNS}")
            if self.design == "sobol" and n & (n - 1):
                raise ValueError(
                    f"samples: {n} must be a power of 2 for the sobol design (e.g. {2 ** round(math.log2(n))})"
                )
            for i, f in enumerate(self.factors):
                if f.n_levels is not None:
                    raise ValueError(
                        f"factors.{i}.n_levels: only used by the factorial design (the {self.design} design "
                        "samples the range)"
                    )
        paths = [f.path for f in self.factors]
        for i, p in enumerate(paths):
            if p in paths[:i]:
                raise ValueError(f"factors.{i}.path: {p!r} is already a factor")
        if len(set(self.outcomes)) != len(self.outcomes):
            raise ValueError(f"outcomes: {self.outcomes} lists an outcome twice")
        return self


# -- loading ----------------------------------------------------------------------------


def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"time": {"end_year": 2020}} → {"time.end_year": 2020} (lists are values)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _describe(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "spec"
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        model = _model_for(error["loc"][:-1])
        allowed = ", ".join(model.model_fields) if model else "see docs/experiments.md"
        return f"{loc}: unknown key; allowed: {allowed}"
    if kind == "missing":
        return f"{loc}: required but missing"
    if msg.startswith("Value error, "):
        text = msg[len("Value error, ") :]
        # a list item's validator names only the key inside the item: prefix the item's location
        return f"{loc}.{text}" if error["loc"] and isinstance(error["loc"][-1], int) else text
    return f"{loc}: {msg[0].lower() + msg[1:]} (got {error.get('input')!r})"


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = ExperimentSpec
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        args = typing.get_args(ann)
        model = args[0] if typing.get_origin(ann) is list and args else ann
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def parse_spec(raw: dict[str, Any], *, origin: str = "spec", default_name: str | None = None) -> ExperimentSpec:
    """Validate a raw mapping into an :class:`ExperimentSpec` (shape only; see :func:`resolve`)."""
    raw = copy.deepcopy(raw)
    if isinstance(raw.get("set"), dict):
        raw["set"] = _flatten(raw["set"])
    if default_name and "name" not in raw:
        raw["name"] = re.sub(r"[^A-Za-z0-9_.-]", "-", default_name)
    try:
        return ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{origin}: {_describe(exc.errors()[0])}") from None


def load_spec(source: str | Path | dict[str, Any]) -> ResolvedSpec:
    """Read, validate and resolve an experiment spec from a TOML path (or a raw mapping).

    Raises :class:`SpecError` with a one-line message naming the field, the value
    and what is allowed.
    """
    if isinstance(source, dict):
        return resolve(parse_spec(source), Path.cwd(), origin="spec")
    path = Path(source)
    if not path.is_file():
        raise SpecError(f"spec: file {str(source)!r} not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a UTF-8 text file") from None
    spec = parse_spec(raw, origin=str(path), default_name=path.stem)
    return resolve(spec, path.resolve().parent, origin=str(path))


# -- resolving ------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorInfo:
    """A validated factor: its path, kind of scenario field and sampling bounds.

    ``kind`` is ``int``/``float`` for range factors and ``levels`` otherwise.
    ``bounds`` are the bounds handed to SALib: ``[lo, hi]`` for float ranges,
    ``[lo, hi + 1]`` for integer ranges (floored), ``[0, len(levels)]`` for
    levels (floored to an index).
    """

    path: str
    kind: str
    lo: float | None
    hi: float | None
    levels: tuple[Any, ...] | None
    n_levels: int | None
    column_type: str  # arrow type of the stored column: float64, int64, bool, string

    def ends(self) -> tuple[float, float]:
        """``lo`` and ``hi`` of a range factor (both are set when ``levels`` is not)."""
        assert self.lo is not None and self.hi is not None, self.path
        return self.lo, self.hi

    def level_values(self) -> tuple[Any, ...]:
        """The levels of a levels factor (set when the factor has no range)."""
        assert self.levels is not None, self.path
        return self.levels

    @property
    def bounds(self) -> tuple[float, float]:
        """The factor's range as a half-open interval for the design (integers: up to hi + 1)."""
        if self.kind == "float":
            lo, hi = self.ends()
            return (float(lo), float(hi))
        if self.kind == "int":
            lo, hi = self.ends()
            return (float(lo), float(hi) + 1.0)
        return (0.0, float(len(self.level_values())))

    def value(self, x: float) -> Any:
        """The scenario value at design coordinate ``x`` (within :attr:`bounds`)."""
        if self.kind == "float":
            return float(x)
        if self.kind == "int":
            return int(min(math.floor(x), self.ends()[1]))
        levels = self.level_values()
        idx = int(min(max(math.floor(x), 0), len(levels) - 1))
        return levels[idx]

    def grid(self) -> list[Any]:
        """Factorial levels: explicit levels, or n_levels evenly spaced over the range."""
        if self.levels is not None:
            return list(self.levels)
        n = int(self.n_levels or 2)
        lo, hi = self.ends()
        pts = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
        if self.kind == "int":
            return sorted({int(round(p)) for p in pts})
        return [float(p) for p in pts]

    def column_value(self, value: Any) -> Any:
        """How ``value`` is stored in its ``sweep_runs`` column."""
        if self.column_type == "string" and not isinstance(value, str):
            return json.dumps(value)
        return value

    def numeric(self, value: Any) -> float:
        """A number for ``value`` (the level index for non-numeric levels) — PRIM and plots use it."""
        if self.column_type in ("float64", "int64"):
            return float(value)
        return float(self.level_values().index(value))


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec checked against its base scenario, ready to plan."""

    spec: ExperimentSpec
    base: Scenario
    factors: tuple[FactorInfo, ...]
    sweep_id: str
    origin: str

    @property
    def name(self) -> str:
        """The spec's name."""
        return self.spec.name

    @property
    def base_toml(self) -> str:
        """The base scenario, fully resolved, as TOML."""
        return to_toml(self.base)

    def to_toml(self) -> str:
        """The validated spec as TOML (defaults filled in, ``set`` flattened to dotted keys)."""
        data = self.spec.model_dump(mode="json", exclude_none=True)
        return tomli_w.dumps(data)


def _annotation_at(path: str) -> Any:
    """The type annotation of the scenario field at a (valid) dotted path."""
    model: Any = Scenario
    for part in path.split("."):
        origin, args = typing.get_origin(model), typing.get_args(model)
        if isinstance(model, type) and issubclass(model, BaseModel):
            model = model.model_fields[part].annotation
        elif origin in (dict, list) and args:
            model = args[-1]  # part is a key (regions.<name>) or an index (events.<i>)
    return model


def _kind_of(annotation: Any) -> str:
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    args = typing.get_args(annotation)
    if float in args:
        return "float"  # a policy lever: a constant or a schedule
    if annotation is str:
        return "str"
    return "other"


def _column_type(kind: str, levels: list[Any] | None) -> str:
    if levels is None:
        return "int64" if kind == "int" else "float64"
    if all(isinstance(v, bool) for v in levels):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in levels) and kind == "int":
        return "int64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in levels) and kind in ("float", "int"):
        return "float64"
    return "string"


def resolve(spec: ExperimentSpec, root: Path, *, origin: str = "spec") -> ResolvedSpec:
    """Check a spec against its base scenario and compute its ``sweep_id``.

    Checks that the base scenario loads with ``set`` applied, that every factor
    path is a scenario field (and not also in ``set``), that range ends and
    every level validate against the scenario schema, and that every outcome is
    a name :func:`hardtech.analysis.outcomes.outcome_names` yields.
    """
    where = origin
    base_source: str | Path = spec.base
    if spec.base.endswith(".toml") or "/" in spec.base:
        candidate = Path(spec.base)
        if not candidate.is_absolute() and (root / candidate).is_file():
            candidate = root / candidate
        base_source = candidate
    try:
        base_raw = read_raw(base_source)
    except ScenarioError as exc:
        raise SpecError(f"{where}: base = {spec.base!r}: {exc}") from None
    for key, value in spec.set.items():
        if key == "seed":
            raise SpecError(
                f"{where}: set.{key}: the run seeds derive from the spec's `seed`; set `seed` at the top level instead"
            )
        try:
            apply_override(base_raw, key, value)
        except ScenarioError as exc:
            raise SpecError(f"{where}: set.{key} = {value!r}: {exc}") from None
    try:
        base = validate(base_raw)
    except ScenarioError as exc:
        raise SpecError(f"{where}: {'set: ' if spec.set else f'base = {spec.base!r}: '}{exc}") from None

    factors = []
    for i, f in enumerate(spec.factors):
        here = f"{where}: factors.{i}"
        if f.path in RESERVED_PATHS:
            raise SpecError(
                f"{here}.path: {f.path!r} cannot be a factor; allowed: any other scenario field (each run's seed "
                "derives from the spec's seed)"
            )
        if f.path in spec.set:
            raise SpecError(f"{here}.path: {f.path!r} is also in [set]; remove it from one of them")
        probe = copy.deepcopy(base_raw)
        try:
            apply_override(probe, f.path, 0)
        except ScenarioError as exc:
            raise SpecError(f"{here}.path = {f.path!r}: {exc}") from None
        kind = _kind_of(_annotation_at(f.path))
        if f.range is not None:
            if kind not in ("int", "float"):
                raise SpecError(f"{here}.range: {f.path!r} is not a numeric field; give levels = [...] instead")
            lo, hi = f.range
            if kind == "int" and not (float(lo).is_integer() and float(hi).is_integer()):
                raise SpecError(f"{here}.range: {f.path!r} is an integer field; give integer ends, got {f.range}")
            values = [int(lo), int(hi)] if kind == "int" else [float(lo), float(hi)]
        else:
            assert f.levels is not None  # the factor's validator requires a range or levels
            values = list(f.levels)
        for v in values:
            _check_value(base_raw, f.path, v, f"{here}.{'range' if f.range is not None else 'levels'}")
        if f.levels is not None:
            for j, v in enumerate(f.levels):
                if v in f.levels[:j]:
                    raise SpecError(f"{here}.levels: {v!r} is listed twice")
        levels = (
            None
            if f.levels is None
            else tuple(int(v) if kind == "int" and isinstance(v, float) and v.is_integer() else v for v in f.levels)
        )
        fkind = kind if f.range is not None else "levels"
        lo_hi = (
            (int(f.range[0]), int(f.range[1]))
            if f.range is not None and kind == "int"
            else tuple(f.range)
            if f.range
            else (None, None)
        )
        factors.append(
            FactorInfo(
                f.path,
                fkind,
                lo_hi[0],
                lo_hi[1],
                levels,
                f.n_levels,
                _column_type(kind, list(levels) if levels is not None else None),
            )
        )

    allowed = outcome_names(list(base.regions))
    for i, name in enumerate(spec.outcomes):
        if name not in allowed:
            close = [a for a in allowed if name.split("_")[0] in a][:8]
            hint = (
                f"; e.g. {', '.join(close)}"
                if close
                else f"; allowed: {', '.join(allowed[:18])}, … (<metric>_<region>)"
            )
            raise SpecError(f"{where}: outcomes.{i}: {name!r} is not an outcome{hint}")

    identity = {
        "base": to_toml(base),
        "factors": [f.model_dump(mode="json") for f in spec.factors],
        "design": spec.design,
        "samples": spec.samples,
        "replications": spec.replications,
        "seed": spec.seed,
        "outcomes": spec.outcomes,
        "keep_tables": spec.keep_tables,
        "model": model_version(),  # another model version: another sweep
        "design_options": {"sobol": {"second_order": spec.sobol.second_order}}
        if spec.design == "sobol"
        else {"morris": {"levels": spec.morris.levels}}
        if spec.design == "morris"
        else {},
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return ResolvedSpec(spec, base, tuple(factors), digest, origin)


def _check_value(base_raw: dict[str, Any], path: str, value: Any, where: str) -> None:
    probe = copy.deepcopy(base_raw)
    try:
        apply_override(probe, path, value)
        validate(probe)
    except ScenarioError as exc:
        raise SpecError(f"{where}: {path} = {value!r} does not validate: {exc}") from None


def scenario_for(base_raw: dict[str, Any], overrides: dict[str, Any]) -> Scenario:
    """The scenario of one run: ``base_raw`` (a mapping, not changed) with ``overrides`` applied."""
    raw = copy.deepcopy(base_raw)
    for key, value in overrides.items():
        apply_override(raw, key, value)
    return validate(raw)


__all__ = [
    "DESIGNS",
    "ExperimentSpec",
    "Factor",
    "FactorInfo",
    "ResolvedSpec",
    "SpecError",
    "load",
    "load_spec",
    "parse_spec",
    "resolve",
    "scenario_for",
]
