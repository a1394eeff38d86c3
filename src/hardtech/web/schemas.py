"""Request and response models of the dashboard's REST API.

Requests carry a preset name and ``{dotted.path: value}`` overrides; they are
resolved with :func:`hardtech.scenario.load` — the same validation as the CLI's
``--set`` — so a bad value is refused with the field it concerns (HTTP 422).
The bounds here are the hard ceilings; a server may be started with lower ones
(see :func:`hardtech.web.app.create_app`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from hardtech.scenario import presets

MAX_REPLICATIONS = 20
"""Most replications one request may ask for."""
MAX_OVERRIDES = 200
MAX_PACE_MS = 500
MAX_SCENARIO_BYTES = 262_144
"""Largest scenario file the page may upload (256 KiB)."""

OverrideKey = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.]+$")]


def _override_value(value: Any) -> Any:
    """One error per bad value (a plain union would report one per member)."""

    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    if isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 1000):
        return value
    if isinstance(value, list) and len(value) <= 200:
        if all(isinstance(x, str) and len(x) <= 200 for x in value):
            return value
        if all(isinstance(x, list) and len(x) == 2 and all(number(y) for y in x) for x in value):
            return value
    raise ValueError("must be a number, true/false, text, a schedule [[year, value], ...] or a list of names")


OverrideValue = Annotated[
    Any,
    AfterValidator(_override_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "number"},
                {"type": "string", "maxLength": 1000},
                {
                    "type": "array",
                    "maxItems": 200,
                    "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                },
                {"type": "array", "maxItems": 200, "items": {"type": "string", "maxLength": 200}},
            ]
        }
    ),
]
"""A value as in the scenario TOML.

A number, switch, text, a lever schedule ``[[year, value], ...]`` or a list of names.
"""

TABLES = (
    "step_metrics",
    "region_metrics",
    "field_metrics",
    "bloc_metrics",
    "ledger",
    "region_flows",
    "firm_events",
    "firms",
    "dragons",
    "firm_panel",
)
TableName = Literal[
    "step_metrics",
    "region_metrics",
    "field_metrics",
    "bloc_metrics",
    "ledger",
    "region_flows",
    "firm_events",
    "firms",
    "dragons",
    "firm_panel",
]
RunId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


class Strict(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


BaseRef = Annotated[str, StringConstraints(min_length=6, max_length=140, pattern=r"^(run|file):[A-Za-z0-9_.-]+$")]


class ScenarioSpec(Strict):
    """A scenario: a preset (or a stored run's or an uploaded file's scenario) plus overrides."""

    preset: str = Field(
        "hangzhou",
        min_length=1,
        max_length=64,
        description="A preset name (see GET /api/presets).",
        json_schema_extra={"enum": [*presets()]},
    )
    base: BaseRef | None = Field(
        None,
        description="Start from this scenario instead of the preset: `run:<run id>` (a "
        "stored run's resolved scenario) or `file:<id>` (an uploaded file, POST /api/scenarios).",
    )
    overrides: dict[OverrideKey, OverrideValue] = Field(
        default_factory=dict,
        max_length=MAX_OVERRIDES,
        description='Field overrides by dotted path, e.g. {"regions.hangzhou.living_cost": 0.8, "scale": 0.002}.',
        examples=[{"scale": 0.002, "time.end_year": 2016, "regions.hangzhou.policy.startup_support": 0.5}],
    )
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Random seed (default: the scenario's).")
    label: str | None = Field(None, max_length=80, description="A name to show for this scenario (compare).")


class RunRequest(ScenarioSpec):
    """Run a scenario; replication 0 is streamed step by step."""

    replications: int = Field(1, ge=1, le=MAX_REPLICATIONS, description="Independent replications (1–20).")
    pace_ms: int | None = Field(
        None,
        ge=0,
        le=MAX_PACE_MS,
        description="Pause after each streamed step, ms (default: the server's), so plots visibly grow.",
    )


class CompareRequest(Strict):
    """Compare scenario B with A over replications run on common random numbers (paired B − A)."""

    a: ScenarioSpec = Field(description="Scenario A.")
    b: ScenarioSpec = Field(description="Scenario B.")
    replications: int = Field(5, ge=1, le=MAX_REPLICATIONS, description="Replications of each scenario (1–20).")


class ValidateRequest(ScenarioSpec):
    """Resolve a scenario without running it."""


class JobControl(Strict):
    """Pause, resume or step a running job, or change its pace."""

    action: Literal["pause", "resume", "step", "pace"] = Field(
        description=(
            "pause: hold after the current quarter; resume; step: one more quarter, then hold; pace: only set pace_ms."
        )
    )
    pace_ms: int | None = Field(None, ge=0, le=MAX_PACE_MS, description="Pause after each streamed quarter, ms.")


class SweepFactor(Strict):
    """One factor of a sweep: a numeric scenario field and its range."""

    path: OverrideKey = Field(description="A numeric scenario field by dotted path (a control's key).")
    lo: float = Field(description="Lower end of the range.", allow_inf_nan=False)
    hi: float = Field(description="Upper end of the range.", allow_inf_nan=False)


class SweepRequest(Strict):
    """A small sweep or sensitivity analysis through hardtech.experiments (stored in dashboard-sweeps.duckdb)."""

    scenario: ScenarioSpec = Field(default_factory=ScenarioSpec, description="The base scenario (the page's controls).")
    name: str = Field("dashboard-sweep", min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    design: Literal["lhs", "sobol", "morris", "factorial"] = "lhs"
    factors: list[SweepFactor] = Field(min_length=1, max_length=4, description="1–4 factors.")
    samples: int = Field(
        8,
        ge=2,
        le=1024,
        description="lhs: points; sobol: base N (power of 2); morris: trajectories; factorial: levels per factor.",
    )
    replications: int = Field(1, ge=1, le=5)
    outcomes: list[Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_]+$")]] = Field(
        min_length=1, max_length=6, description="Outcome names (see hardtech.analysis.outcomes), e.g. dragons_hangzhou."
    )
    seed: int = Field(0, ge=0, le=2**63 - 1)


class LabelRequest(Strict):
    """A run's new label."""

    label: str = Field(max_length=80, description="A name for the run; empty removes it.")


class ScenarioUpload(Strict):
    """A scenario file's text (validated like `hardtech run FILE.toml`)."""

    filename: str = Field("scenario.toml", min_length=1, max_length=200)
    toml: str = Field(min_length=1, max_length=MAX_SCENARIO_BYTES)


class ErrorItem(BaseModel):
    """One validation error: where, what, and its kind."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """HTTP 422: the request does not validate; ``loc`` names the field."""

    detail: list[ErrorItem]


class MessageResponse(BaseModel):
    """An error with a one-line message (401, 403, 404, 409, 429)."""

    detail: str


class PresetInfo(BaseModel):
    """A shipped scenario preset."""

    name: str
    description: str


class Limits(BaseModel):
    """The dashboard's limits on what a request may ask."""

    max_scale: float
    max_replications: int
    max_steps: int
    max_pace_ms: int
    default_pace_ms: int
    max_agents: int = Field(description="Most talent agents a run may start with (Σ regions' talent × scale).")
    max_sweep_runs: int = Field(description="Most runs one sweep from the page may have.")


class Control(BaseModel):
    """One control of the page, generated from the scenario's JSON schema and a preset."""

    key: str = Field(description="Dotted override path, e.g. regions.hangzhou.policy.startup_support.")
    group: str
    label: str
    type: Literal["number", "integer", "boolean"]
    description: str = ""
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    slider_max: float | None = Field(
        None, description="Upper end of the slider (the typed value may go up to maximum)."
    )
    step: float | None = None
    default: Any = Field(None, description="The schema's default, if any.")
    value: Any = Field(None, description="The preset's value (for a scheduled lever: its last value).")
    schedule: list[list[float]] | None = Field(
        None, description="The preset's schedule [[year, value], ...], if the lever has one."
    )
    plausible_min: float | None = Field(
        None, description="Lower end of the slider: the plausible range (see web/controls.py)."
    )
    plausible_max: float | None = Field(None, description="Upper end of the slider: the plausible range.")
    plausible_source: str = ""
    hint: str = Field("", description="One line: what the control does.")
    preset_value: Any = Field(None, description="The preset's value, when the base scenario is not the preset itself.")


class ControlsResponse(BaseModel):
    """The page's controls for a preset or a base scenario."""

    preset: str
    base: str | None = Field(None, description="The base scenario (`run:<id>`, `file:<id>`) or null for the preset.")
    base_name: str = ""
    base_changes: list[dict[str, Any]] = Field(
        default_factory=list, description="Fields where the base differs from its preset."
    )
    description: str
    regions: list[str]
    fields: list[str]
    field_labels: dict[str, str]
    start_year: int
    limits: Limits
    controls: list[Control]


class ValidateResponse(BaseModel):
    """A scenario that validates, and its resolved TOML."""

    ok: bool
    name: str
    seed: int
    scale: float
    steps: int
    toml: str


class JobInfo(BaseModel):
    """A job: its status, progress and (when done) result."""

    id: str
    kind: Literal["run", "compare", "sweep"]
    status: JobStatus
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    labels: list[str]
    replications: int
    progress: dict[str, int] = Field(description="{done, total} steps over all replications.")
    queue_position: int | None = None
    error: str | None = None
    run_ids: list[str] = Field(default_factory=list)
    events_url: str
    result: dict[str, Any] | None = None
    spec: dict[str, Any] | None = Field(
        None, description="The request that made the job (scenario specs, replications)."
    )
    paused: bool = False
    pace_ms: int = 0
    note: str | None = Field(None, description="What a stopped job kept, or why it ended.")
    deduplicated: bool = Field(False, description="True when this request matched a job already queued or running.")


class RunInfo(BaseModel):
    """A stored run, as the runs list shows it."""

    run_id: str
    scenario_name: str | None = None
    seed: int | None = None
    replication: int | None = None
    scale: float | None = None
    steps: int | None = None
    started_at: str | None = None
    wall_seconds: float | None = None
    dragons: int | None = None
    store: str = Field(description="Store file name inside the results folder.")
    label: str | None = None
    deletable: bool = Field(False, description="Whether the dashboard may delete it (runs in its own store only).")
    sweep_id: str | None = Field(None, description="The sweep the run belongs to, if any.")


class RunsResponse(BaseModel):
    """The stored runs the dashboard can read."""

    runs: list[RunInfo]
    unavailable: list[str] = Field(default_factory=list, description="Store files that could not be read (busy).")
    hidden_sweep_runs: int = Field(0, description="Runs of sweeps, listed under GET /api/sweeps instead.")
    own_store_mb: float | None = Field(None, description="Size of dashboard.duckdb, MB.")


class ScenarioFileInfo(BaseModel):
    """An uploaded scenario file."""

    id: str
    base: str
    name: str
    filename: str
    description: str
    uploaded_at: str
    warnings: list[str] = Field(default_factory=list)


class SweepInfo(BaseModel):
    """A stored sweep, as the sweeps list shows it."""

    sweep_id: str
    name: str
    design: str
    samples: int
    replications: int
    runs: int
    stored: int
    created_at: str | None = None
    store: str


class RunDetail(BaseModel):
    """A stored run in full: what the page needs to show it."""

    run: RunInfo
    regions: list[str]
    fields: list[str]
    field_labels: dict[str, str]
    steps: list[dict[str, Any]] = Field(description="One entry per step, as the `step` events of a streamed run.")
    dragons: list[dict[str, Any]]
    outcomes: dict[str, float | None]
    siblings: list[str] = Field(default_factory=list, description="Stored replications of the same scenario and seed.")
    bands: dict[str, Any] | None = Field(None, description="Mean and 95% band over the stored replications (≥ 2).")
    base: str = Field(description="`run:<run id>`: use as ScenarioSpec.base to rerun or modify this run's scenario.")
