"""The dashboard: a REST API (OpenAPI at /docs) and a static page that drives it.

    >>> from hardtech.web.app import create_app, serve
    >>> app = create_app("results")
    >>> serve(app, "127.0.0.1", 8000)         # clean shutdown on Ctrl-C / SIGTERM

or from the shell: ``hardtech serve``. Every scenario in a request is a base —
a preset, a stored run's scenario (``run:<id>``) or an uploaded scenario file
(``file:<id>``) — plus ``{dotted.path: value}`` overrides resolved by
:func:`hardtech.scenario.load` — the CLI's validation — and refused with HTTP
422 naming the field when it does not validate or exceeds the server's bounds
(scale, steps, replications, talent agents, sweep runs). Runs queue on one or
two worker threads and stream their progress as Server-Sent Events; finished
runs go to ``<results>/dashboard.duckdb`` and sweeps to
``<results>/dashboard-sweeps.duckdb`` (the server is their only writer);
every store in the results folder can be browsed and downloaded by run id, a
stored run's world view and any firm's biography are re-derived by replaying
it (:mod:`hardtech.web.replay`).

With a token, every request must carry it: ``Authorization: Bearer <token>``,
``?token=<token>`` (for the page and its event streams; it also sets an
HttpOnly same-site cookie so the page's own requests carry it) or that cookie.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

import tomllib
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import hardtech
from hardtech.analysis.changes import changed_fields, describe_changes, preset_of
from hardtech.analysis.glossary import GROUPS, glossary
from hardtech.scenario import Scenario, ScenarioError, load, presets, to_toml
from hardtech.scenario.loading import preset_text, validate
from hardtech.web import schemas as s
from hardtech.web.controls import controls as build_controls
from hardtech.web.jobs import Job, JobManager, QueueFull
from hardtech.web.results import Refused, ResultsFolder, RunNotFound, StoreBusy

log = logging.getLogger("hardtech.web")

STATIC = Path(str(resources.files("hardtech.web") / "static"))
COOKIE = "hardtech_token"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": s.MessageResponse, "description": "Token missing (when the server requires one)."},
    403: {"model": s.MessageResponse, "description": "Wrong token."},
    422: {"model": s.ValidationErrorResponse, "description": "Invalid request; `loc` names the field."},
}
JobId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$", description="A job id.")]
RunIdParam = Annotated[
    str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$", description="A run id (GET /api/runs).")
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": s.MessageResponse, "description": "Unknown id."}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": s.MessageResponse, "description": "Refused (e.g. a run of a store the dashboard only reads)."}
}
SweepId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$", description="A sweep id.")]
FirmId = Annotated[int, PathParam(ge=0, le=2**62, description="A firm id.")]
REPLAY_CACHE = 24
DEFAULT_MIN_AGENTS = 250_000


class ApiError(Exception):
    """A 422 with our usual body: ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``."""

    def __init__(self, loc: list[str | int], msg: str, kind: str = "value_error") -> None:
        super().__init__(msg)
        self.items: list[dict[str, Any]] = [{"loc": loc, "msg": msg, "type": kind}]


@lru_cache(maxsize=32)
def _preset_scenario(name: str) -> Scenario:
    """A shipped preset, read from the package only — a request never names a file."""
    return validate(tomllib.loads(preset_text(name)))


def _scenario_error(exc: Exception, where: list[str | int], nested: bool = True) -> ApiError:
    """A ScenarioError ("path: message") as a 422 at ``where`` + overrides + path (or + path for a file)."""
    msg = str(exc)
    path = msg.split(":", 1)[0].strip() if ":" in msg else ""
    path = path.removeprefix("--set").strip()
    inner = [*where, "overrides"] if nested else list(where)
    if path in ("", "scenario") or " " in path:
        return ApiError(inner, msg)
    return ApiError([*inner, path], msg)


# -- token gate ----------------------------------------------------------------------------------


class TokenGate:
    """ASGI middleware: every HTTP request must carry the token (header, query or cookie).

    The cookie holds a digest of the token, not the token itself.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token
        self.cookie_value = hashlib.sha256(f"hardtech-dashboard:{token}".encode()).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an HTTP request on if it carries the token, else answer 401 (none) or 403 (wrong); refuse websockets."""
        if scope["type"] == "websocket":  # none are served; refuse rather than pass through unchecked
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        offered: list[tuple[str, str]] = []
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            offered.append(("header", auth[7:].strip()))
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            offered.append(("query", query["token"][-1]))
        if "cookie" in headers:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(headers["cookie"])
            except Exception:  # noqa: BLE001 - a malformed cookie header is simply ignored
                jar = SimpleCookie()
            if COOKIE in jar:
                offered.append(("cookie", jar[COOKIE].value))
        good = [
            how
            for how, value in offered
            if secrets.compare_digest(value.encode(), (self.cookie_value if how == "cookie" else self.token).encode())
        ]
        if not good:
            status, msg = (
                (403, "wrong token")
                if offered
                else (401, "this server requires a token: Authorization: Bearer <token> or ?token=<token>")
            )
            response = JSONResponse({"detail": msg}, status_code=status, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        if "query" in good and "cookie" not in good:
            cookie = f"{COOKIE}={self.cookie_value}; Path=/; HttpOnly; SameSite=Strict"

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    message["headers"] = [*message["headers"], (b"set-cookie", cookie.encode("latin-1"))]
                await send(message)

            await self.app(scope, receive, send_with_cookie)
            return
        await self.app(scope, receive, send)


# -- the app --------------------------------------------------------------------------------------


def default_max_agents(max_scale: float) -> int:
    """Talent agents a server allows by default: 1.5 × the largest preset at the largest scale, at least 250,000."""
    largest = max(sum(r.talent for r in _preset_scenario(n).regions.values()) for n in presets())
    return max(DEFAULT_MIN_AGENTS, math.ceil(1.5 * max_scale * largest))


def talent_agents(sc: Scenario) -> float:
    """Talent agents a scenario starts with: Σ regions' talent × scale."""
    return sum(r.talent for r in sc.regions.values()) * sc.scale


def create_app(
    results_dir: str | Path = "results",
    token: str | None = None,
    *,
    max_scale: float = 0.02,
    max_replications: int = s.MAX_REPLICATIONS,
    max_steps: int = 160,
    workers: int = 1,
    pace_ms: int = 0,
    queue_limit: int = 16,
    allowed_hosts: list[str] | None = None,
    max_agents: int | None = None,
    max_sweep_runs: int = 64,
) -> FastAPI:
    """The dashboard app.

    Parameters
    ----------
    results_dir:
        Folder of ``.duckdb`` stores; the server writes ``dashboard.duckdb`` and ``dashboard-sweeps.duckdb`` there
        and reads nothing outside it.
    token:
        If given, required on every request.
    max_scale, max_replications, max_steps:
        Bounds on what one request may ask for (scale ≤ 1, replications ≤ 20).
    workers:
        Worker threads running simulations (1 or 2); further jobs queue.
    pace_ms:
        Default pause after each streamed step, so the page's plots visibly grow.
    queue_limit:
        Most jobs waiting at once (more → HTTP 429).
    allowed_hosts:
        If given, only these Host headers are served (guards a token-less loopback server against DNS rebinding).
    max_agents:
        Most talent agents one run may start with, Σ regions' talent × scale (default
        :func:`default_max_agents`); also bounds the stored runs the server replays.
    max_sweep_runs:
        Most runs one sweep from the page may have.
    """
    if not 0 < max_scale <= 1:
        raise ValueError("max_scale must be in (0, 1]")
    if not 1 <= max_replications <= s.MAX_REPLICATIONS:
        raise ValueError(f"max_replications must be in 1..{s.MAX_REPLICATIONS}")
    max_agents = int(max_agents or default_max_agents(max_scale))
    limits = s.Limits(
        max_scale=max_scale,
        max_replications=max_replications,
        max_steps=max_steps,
        max_pace_ms=s.MAX_PACE_MS,
        default_pace_ms=pace_ms,
        max_agents=max_agents,
        max_sweep_runs=max_sweep_runs,
    )
    folder = ResultsFolder(results_dir)
    manager = JobManager(folder, workers=workers, queue_limit=queue_limit)
    closing = threading.Event()
    replays: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
    replay_lock = threading.Lock()  # one replay at a time: they compete with jobs for the cores

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        closing.set()
        await asyncio.to_thread(manager.shutdown)  # serve() prints manager.shutdown_summary

    app = FastAPI(
        title="hardtech dashboard",
        version=hardtech.__version__,
        description="Run, stream, compare, sweep and browse hardtech simulations. Scenarios are a base (a preset, a "
        "stored run or an uploaded file) plus `{dotted.path: value}` overrides, validated like "
        "`hardtech run --set`.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.manager, app.state.folder, app.state.limits, app.state.closing = manager, folder, limits, closing
    if token:
        app.add_middleware(TokenGate, token=token)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        items = [
            {"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": jsonable_encoder(items)}, status_code=422)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.items}, status_code=422)

    @app.exception_handler(RunNotFound)
    async def _not_found(_request: Request, exc: RunNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(StoreBusy)
    async def _busy(_request: Request, exc: StoreBusy) -> JSONResponse:
        return JSONResponse({"detail": f"results store busy: {exc}"}, status_code=503, headers={"Retry-After": "2"})

    # -- scenario resolution (the one validation path) ---------------------------------------
    def base_of(spec: s.ScenarioSpec, where: list[str | int]) -> Scenario:
        if spec.base:
            kind, _, ref = spec.base.partition(":")
            try:
                if kind == "run":
                    return folder.scenario(ref)[0]
                text = folder.scenario_file(ref)["toml"]
                return validate(tomllib.loads(text))
            except RunNotFound as exc:
                raise ApiError([*where, "base"], f"base: {exc}") from None
            except (Refused, StoreBusy, ScenarioError, tomllib.TOMLDecodeError) as exc:
                raise ApiError([*where, "base"], f"base: {spec.base}: {exc}") from None
        if spec.preset not in presets():
            raise ApiError([*where, "preset"], f"unknown preset {spec.preset!r}; allowed: {', '.join(presets())}")
        return _preset_scenario(spec.preset)

    def check_bounds(sc: Scenario, where: list[str | int], overrides: dict[str, Any] | None = None) -> None:
        if sc.scale > max_scale:
            raise ApiError(
                [*where, "overrides", "scale"],
                f"scale: {sc.scale} is above this server's limit {max_scale} "
                "(set overrides.scale lower, or start the server with a larger --max-scale)",
            )
        if sc.steps > max_steps:
            raise ApiError(
                [*where, "overrides", "time.end_year"],
                f"time.end_year: {sc.steps} quarters is above this server's limit of {max_steps} "
                f"(end year ≤ {sc.time.start_year + max_steps // 4 - 1})",
            )
        agents = talent_agents(sc)
        if agents > max_agents:
            talent_keys = [k for k in (overrides or {}) if k.startswith("regions.") and k.endswith(".talent")]
            key = max(talent_keys, key=lambda k: sc.regions[k.split(".")[1]].talent) if talent_keys else "scale"
            raise ApiError(
                [*where, "overrides", key],
                f"{key}: the run would start with {agents:,.0f} talent agents (scale {sc.scale:g} × "
                f"{agents / sc.scale:,.0f} persons, Σ regions' talent), above this server's limit of "
                f"{max_agents:,}; lower scale or regions.<region>.talent",
            )

    def resolve(spec: s.ScenarioSpec, where: list[str | int]) -> Scenario:
        base = base_of(spec, where)
        try:
            sc = load(base, dict(spec.overrides))
            if spec.seed is not None:
                sc = load(sc, {"seed": spec.seed})
        except ScenarioError as exc:
            raise _scenario_error(exc, where) from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # odd override shapes
            raise ApiError([*where, "overrides"], f"cannot apply overrides: {exc}") from None
        check_bounds(sc, where, dict(spec.overrides))
        return sc

    def check_replications(n: int) -> None:
        if n > max_replications:
            raise ApiError(
                ["body", "replications"], f"replications: {n} is above this server's limit {max_replications}"
            )

    def job_or_404(job_id: str) -> Job:
        job = manager.get(job_id)
        if job is None:
            raise HTTPException(404, f"job {job_id!r} not found (finished jobs are kept for a while only)")
        return job

    def submit(
        kind: str,
        labels: list[str],
        scenarios: list[Scenario],
        replications: int,
        pace_ms_: int,
        spec: dict[str, Any],
        **extra: Any,
    ) -> s.JobInfo:
        try:
            job, again = manager.submit(
                kind, labels, scenarios, replications, pace_s=pace_ms_ / 1000.0, spec=spec, **extra
            )
        except QueueFull as exc:
            raise HTTPException(429 if not closing.is_set() else 503, str(exc)) from None
        return s.JobInfo(**job.info(manager.queue_position(job)), deduplicated=again)

    def label_of(spec: s.ScenarioSpec, default: str) -> str:
        if spec.label:
            return spec.label
        name = spec.base or spec.preset
        return f"{default}{name}" + (" (modified)" if spec.overrides else "")

    # -- page and docs -------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="hardtech dashboard — API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # -- catalogue -------------------------------------------------------------------------------
    @app.get("/api/health", tags=["meta"], responses=_ERRORS)
    async def health() -> dict[str, Any]:
        """Server version, limits and queue state (the page polls it to notice a lost server)."""
        jobs = manager.jobs()
        return {
            "status": "closing" if closing.is_set() else "ok",
            "version": hardtech.__version__,
            "limits": limits.model_dump(),
            "queued": sum(j.status == "queued" for j in jobs),
            "running": sum(j.status == "running" for j in jobs),
        }

    @app.get("/api/presets", tags=["scenarios"], responses=_ERRORS)
    async def list_presets() -> list[s.PresetInfo]:
        """The scenarios shipped with hardtech."""
        return [s.PresetInfo(name=n, description=_preset_scenario(n).description) for n in presets()]

    @app.get("/api/glossary", tags=["meta"], responses=_ERRORS)
    async def get_glossary() -> dict[str, Any]:
        """Every term the page, the CLI summary and the HTML report use, with its definition and unit."""
        return {"groups": GROUPS, "terms": [t.as_dict() for t in glossary()]}

    @app.get("/api/controls", tags=["scenarios"], responses=_ERRORS)
    async def get_controls(
        preset: Annotated[str, Query(max_length=64, json_schema_extra={"enum": presets()})] = "hangzhou",
        base: Annotated[
            str | None,
            Query(
                min_length=6,
                max_length=140,
                pattern=r"^(run|file):[A-Za-z0-9_.-]+$",
                description="run:<run id> or file:<id>: controls showing that scenario.",
            ),
        ] = None,
    ) -> s.ControlsResponse:
        """The page's controls: labels, units, hints, schema and plausible ranges; values from the preset or base."""
        if preset not in presets():
            raise ApiError(["query", "preset"], f"unknown preset {preset!r}; allowed: {', '.join(presets())}")
        spec = s.ScenarioSpec(preset=preset, base=base)
        sc = await asyncio.to_thread(base_of, spec, ["query"])
        reference = preset_of(sc) if base else sc
        shown = preset if reference is None or not base else reference.name
        name = sc.name
        if base and base.startswith("run:"):
            name = f"stored run {base[4:]}"
        elif base:
            name = f"scenario file {sc.name}"
        data = build_controls(
            sc,
            preset=shown,
            reference=reference,
            max_scale=max_scale,
            max_steps=max_steps,
            base_ref=base,
            base_name=name,
        )
        changes = changed_fields(sc, reference) if base and reference is not None else []
        data["base_changes"] = [{**c, "text": t} for c, t in zip(changes, describe_changes(changes), strict=True)]
        return s.ControlsResponse(limits=limits, **data)

    @app.post("/api/validate", tags=["scenarios"], responses=_ERRORS)
    async def validate_scenario(body: s.ValidateRequest) -> s.ValidateResponse:
        """Resolve a scenario (as `hardtech show`), without running it."""
        sc = resolve(body, ["body"])
        return s.ValidateResponse(ok=True, name=sc.name, seed=sc.seed, scale=sc.scale, steps=sc.steps, toml=to_toml(sc))

    @app.post("/api/scenarios", tags=["scenarios"], responses=_ERRORS, status_code=201)
    async def upload_scenario(body: s.ScenarioUpload) -> s.ScenarioFileInfo:
        """Keep a scenario file (validated like `hardtech run FILE.toml`); use its `base` in later requests."""
        try:
            raw = tomllib.loads(body.toml)
        except tomllib.TOMLDecodeError as exc:
            raise ApiError(["body", "toml"], f"{body.filename}: not valid TOML ({exc})") from None
        try:
            sc = validate(raw)
        except ScenarioError as exc:
            raise _scenario_error(exc, ["body", "toml"], nested=False) from None
        warnings = []
        try:
            check_bounds(sc, ["body", "toml"])
        except ApiError as exc:
            warnings.append(exc.items[0]["msg"] + " — lower it in the controls before running")
        info = await asyncio.to_thread(folder.save_scenario_file, body.filename, body.toml, sc)
        info.pop("toml", None)
        return s.ScenarioFileInfo(**info, warnings=warnings)

    @app.get("/api/scenarios", tags=["scenarios"], responses=_ERRORS)
    async def list_scenarios() -> list[s.ScenarioFileInfo]:
        """Uploaded scenario files, newest first."""
        return [s.ScenarioFileInfo(**r) for r in await asyncio.to_thread(folder.scenario_files)]

    # -- jobs --------------------------------------------------------------------------------------
    @app.post("/api/jobs/run", status_code=202, tags=["jobs"], responses=_ERRORS | {429: {"model": s.MessageResponse}})
    async def start_run(body: s.RunRequest) -> s.JobInfo:
        """Queue a run (replication 0 streams per step; further replications give means, intervals and bands).

        The same request while an identical one is queued or running returns that job (`deduplicated`).
        """
        sc = resolve(body, ["body"])
        check_replications(body.replications)
        pace = limits.default_pace_ms if body.pace_ms is None else body.pace_ms
        return submit(
            "run", [label_of(body, "")], [sc], body.replications, pace, body.model_dump(mode="json", exclude_none=True)
        )

    @app.post(
        "/api/jobs/compare", status_code=202, tags=["jobs"], responses=_ERRORS | {429: {"model": s.MessageResponse}}
    )
    async def start_compare(body: s.CompareRequest) -> s.JobInfo:
        """Queue a comparison: B − A paired over replications on common random numbers, with bootstrap intervals."""
        a = resolve(body.a, ["body", "a"])
        b = resolve(body.b, ["body", "b"])
        check_replications(body.replications)
        return submit(
            "compare",
            [label_of(body.a, "A: "), label_of(body.b, "B: ")],
            [a, b],
            body.replications,
            0,
            body.model_dump(mode="json", exclude_none=True),
        )

    @app.post(
        "/api/jobs/sweep", status_code=202, tags=["jobs"], responses=_ERRORS | {429: {"model": s.MessageResponse}}
    )
    async def start_sweep(body: s.SweepRequest) -> s.JobInfo:
        """Queue a sweep (lhs, factorial) or sensitivity analysis (sobol, morris) through hardtech.experiments."""
        from hardtech.experiments.spec import SpecError
        from hardtech.web.experiments import build_sweep

        base = resolve(body.scenario, ["body", "scenario"])
        for i, f in enumerate(body.factors):
            if not f.lo < f.hi:
                raise ApiError(["body", "factors", i, "hi"], f"factors.{i}: hi ({f.hi}) must be above lo ({f.lo})")
            for end in (f.lo, f.hi):  # the factor's ends must stay within the server's bounds too
                try:
                    check_bounds(load(base, {f.path: end}), ["body", "factors", i])
                except ScenarioError:
                    pass  # reported by the spec's own check below, naming the field
                except ApiError as exc:
                    raise ApiError(["body", "factors", i, "hi" if end == f.hi else "lo"], exc.items[0]["msg"]) from None
        try:
            resolved, plan = await asyncio.to_thread(build_sweep, body, base)
        except SpecError as exc:
            raise _spec_error(exc) from None
        if len(plan.tasks) > max_sweep_runs:
            raise ApiError(
                ["body", "samples"],
                f"samples: the {body.design} design gives {len(plan.tasks)} runs "
                f"({len(plan.design)} samples × {body.replications} replication(s)), above this server's "
                f"limit of {max_sweep_runs} runs per sweep",
            )
        return submit(
            "sweep",
            [f"sweep {body.name}"],
            [base],
            body.replications,
            0,
            body.model_dump(mode="json", exclude_none=True),
            key=f"sweep:{resolved.sweep_id}",
            sweep=(resolved, plan),
            total=len(plan.tasks),
        )

    @app.get("/api/jobs", tags=["jobs"], responses=_ERRORS)
    async def list_jobs() -> list[s.JobInfo]:
        """Recent jobs, oldest first (without their results) — the page reattaches to the one it left."""
        return [s.JobInfo(**j.info(manager.queue_position(j), with_result=False)) for j in manager.jobs()]

    @app.get("/api/jobs/{job_id}", tags=["jobs"], responses=_ERRORS | _NOT_FOUND)
    async def get_job(job_id: JobId) -> s.JobInfo:
        """A job's status, progress and (when done) result."""
        job = job_or_404(job_id)
        return s.JobInfo(**job.info(manager.queue_position(job)))

    @app.post("/api/jobs/{job_id}/cancel", tags=["jobs"], responses=_ERRORS | _NOT_FOUND)
    async def cancel_job(job_id: JobId) -> s.JobInfo:
        """Stop a job: a queued one never starts, a running one stops after the current quarter.

        A running job stores the replications it finished.
        """
        job = manager.cancel(job_or_404(job_id), note="stopped")
        return s.JobInfo(**job.info(manager.queue_position(job)))

    @app.post("/api/jobs/{job_id}/control", tags=["jobs"], responses=_ERRORS | _NOT_FOUND)
    async def control_job(job_id: JobId, body: s.JobControl) -> s.JobInfo:
        """Pause a job after the current quarter, step it one quarter, resume it, or change its pace."""
        job = manager.control(job_or_404(job_id), body.action, body.pace_ms)
        return s.JobInfo(**job.info(manager.queue_position(job)))

    @app.get(
        "/api/jobs/{job_id}/events",
        tags=["jobs"],
        responses=_ERRORS
        | _NOT_FOUND
        | {
            200: {
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
                "description": "Server-Sent Events: queued, started, replication, step, progress, paused, resumed, "
                "stored, result, end (and `server` when the server shuts down).",
            }
        },
        response_class=StreamingResponse,
    )
    async def job_events(
        request: Request,
        job_id: JobId,
        after: Annotated[int, Query(ge=0, le=10**9, description="First event id to send.")] = 0,
        last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    ) -> StreamingResponse:
        """The job's events from `after` on, streamed until the job ends (resumes from Last-Event-ID)."""
        job = job_or_404(job_id)
        start = after
        if last_event_id and last_event_id.isdigit():
            start = max(start, int(last_event_id) + 1)

        async def stream() -> AsyncIterator[str]:
            index, idle, closed_at = start, 0.0, None
            yield "retry: 1000\n\n"
            while True:
                events = job.events_after(index)
                for event_id, event, text in events:
                    yield f"id: {event_id}\nevent: {event}\ndata: {text}\n\n"
                    index = event_id + 1
                if events:
                    idle = 0.0
                elif job.finished and index >= job.event_count:
                    return
                else:
                    if closing.is_set():  # the server is going down: let the job's end event out, then close
                        closed_at = closed_at or time.monotonic()
                        if time.monotonic() - closed_at > 2.0:
                            yield 'event: server\ndata: {"status":"shutting down"}\n\n'
                            return
                    if await request.is_disconnected():
                        return
                    idle += 0.05
                    if idle >= 15:
                        idle = 0.0
                        yield ": keep-alive\n\n"
                    await asyncio.sleep(0.05)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    # -- stored runs ---------------------------------------------------------------------------------
    @app.get("/api/runs", tags=["runs"], responses=_ERRORS)
    async def list_runs(
        include_sweeps: Annotated[bool, Query(description="Also list the runs of sweeps.")] = False,
    ) -> s.RunsResponse:
        """Runs in the results folder's stores, newest first (runs of sweeps: GET /api/sweeps)."""
        runs, unavailable, hidden = await asyncio.to_thread(folder.list_runs, include_sweeps)
        size = folder.own.stat().st_size / 1e6 if folder.own.exists() else None
        return s.RunsResponse(
            runs=[s.RunInfo(**r) for r in runs],
            unavailable=unavailable,
            hidden_sweep_runs=hidden,
            own_store_mb=None if size is None else round(size, 2),
        )

    @app.get("/api/runs/{run_id}", tags=["runs"], responses=_ERRORS | _NOT_FOUND)
    async def get_run(run_id: RunIdParam) -> s.RunDetail:
        """A stored run's plot series (one entry per step), dragons, outcomes and its replications' bands."""
        detail = await asyncio.to_thread(folder.detail, run_id)
        return s.RunDetail(**detail)

    @app.put("/api/runs/{run_id}/label", tags=["runs"], responses=_ERRORS | _NOT_FOUND)
    async def label_run(run_id: RunIdParam, body: s.LabelRequest) -> dict[str, Any]:
        """Name a run (kept in dashboard.duckdb; any store's run may be labelled); an empty label removes it."""
        label = await asyncio.to_thread(folder.set_label, run_id, body.label)
        return {"run_id": run_id, "label": label}

    @app.delete("/api/runs/{run_id}", tags=["runs"], responses=_ERRORS | _NOT_FOUND | _CONFLICT)
    async def delete_run(run_id: RunIdParam) -> dict[str, Any]:
        """Delete a run the dashboard stored (every table's rows of it); other stores are only read (409)."""
        return await asyncio.to_thread(folder.delete_run, run_id)

    def replay_inputs(run_id: str) -> tuple[Scenario, int]:
        sc, replication = folder.scenario(run_id)
        agents = talent_agents(sc)
        if agents > max_agents or sc.steps > max_steps:
            raise Refused(
                f"run {run_id!r} is too large to replay on this server ({agents:,.0f} talent agents, "
                f"{sc.steps} quarters; limits {max_agents:,} and {max_steps}): start it with a larger "
                "--max-scale / --max-steps"
            )
        return sc, replication

    def cached_replay(key: tuple[Any, ...], make: Any) -> Any:
        with replay_lock:
            if key in replays:
                replays.move_to_end(key)
                return replays[key]
            value = make()
            replays[key] = value
            while len(replays) > REPLAY_CACHE:
                replays.popitem(last=False)
            return value

    @app.get("/api/runs/{run_id}/world", tags=["runs"], responses=_ERRORS | _NOT_FOUND | _CONFLICT)
    async def get_world(run_id: RunIdParam) -> dict[str, Any]:
        """The world view of a stored run, every quarter, re-derived by replaying the run.

        Regions, their most valuable young firms, talent and capital flows between regions; checked
        against the run's stored step_metrics.
        """
        from hardtech.web import replay

        def make() -> dict[str, Any]:
            sc, replication = replay_inputs(run_id)
            return replay.world(sc, replication, folder.table(run_id, "step_metrics"))

        return await asyncio.to_thread(cached_replay, ("world", run_id), make)

    @app.get(
        "/api/runs/{run_id}/firms/{firm_id}",
        tags=["runs"],
        responses=_ERRORS
        | _NOT_FOUND
        | _CONFLICT
        | {
            200: {
                "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
                "description": "The biography (JSON) or its quarter-by-quarter panel (CSV).",
            }
        },
    )
    async def get_firm(
        run_id: RunIdParam,
        firm_id: FirmId,
        format: Annotated[Literal["json", "csv"], Query(description="json (everything) or csv (the panel).")] = "json",  # noqa: A002
        download: Annotated[bool, Query(description="Send as a file.")] = False,
    ) -> Response:
        """A firm's biography, every quarter, re-derived by replaying the run.

        Founding, rounds and investors' regions, headcount, revenue, capability and valuation every
        quarter, regions imitated, scenes defined, its end.
        """
        from hardtech.web import replay

        def make() -> dict[str, Any]:
            sc, replication = replay_inputs(run_id)
            stored = folder.firm_rows(run_id, firm_id)
            try:
                return replay.biography(
                    sc, replication, firm_id, stored_events=stored["firm_events"], stored_dragon=stored["dragons"]
                )
            except replay.FirmNotFound as exc:
                raise RunNotFound(str(exc)) from None

        bio = await asyncio.to_thread(cached_replay, ("firm", run_id, firm_id), make)
        name = f"{run_id}-firm-{firm_id}.{format}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'} if download else {}
        if format == "csv":
            return Response(replay.biography_csv(bio), media_type="text/csv; charset=utf-8", headers=headers)
        return JSONResponse({**bio, "run_id": run_id}, headers=headers)

    @app.get(
        "/api/runs/{run_id}/data",
        tags=["runs"],
        responses=_ERRORS
        | _NOT_FOUND
        | {
            200: {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
                },
                "description": "The table as CSV or Parquet.",
            }
        },
        response_class=Response,
    )
    async def download_table(
        run_id: RunIdParam,
        table: Annotated[s.TableName, Query(description="Which result table.")] = "step_metrics",
        format: Annotated[Literal["csv", "parquet"], Query(description="csv or parquet.")] = "csv",  # noqa: A002
    ) -> Response:
        """Download one result table of a run (named by run id only)."""
        data = await asyncio.to_thread(folder.download, run_id, table, format)
        media = "text/csv; charset=utf-8" if format == "csv" else "application/vnd.apache.parquet"
        return Response(
            data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{run_id}-{table}.{format}"'}
        )

    @app.get(
        "/api/runs/{run_id}/scenario.toml",
        tags=["runs"],
        responses=_ERRORS
        | _NOT_FOUND
        | {
            200: {
                "content": {"application/toml": {"schema": {"type": "string"}}},
                "description": "The resolved scenario.",
            }
        },
        response_class=Response,
    )
    async def download_scenario(run_id: RunIdParam) -> Response:
        """The run's fully resolved scenario as TOML (re-run it with `hardtech run FILE.toml`)."""
        text = await asyncio.to_thread(folder.scenario_toml, run_id)
        return Response(
            text,
            media_type="application/toml; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{run_id}.toml"'},
        )

    @app.get(
        "/api/runs/{run_id}/report.html",
        tags=["runs"],
        responses=_ERRORS
        | _NOT_FOUND
        | {200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "The run's HTML report."}},
        response_class=HTMLResponse,
    )
    async def run_report(run_id: RunIdParam) -> HTMLResponse:
        """The run's self-contained HTML report, as `hardtech run` writes it."""
        return HTMLResponse(await asyncio.to_thread(_report_html, folder, run_id))

    # -- sweeps ------------------------------------------------------------------------------------------
    @app.get("/api/sweeps", tags=["sweeps"], responses=_ERRORS)
    async def list_sweeps() -> dict[str, Any]:
        """Sweeps in the results folder's stores (the page's and the CLI's), newest first."""
        found, unavailable = await asyncio.to_thread(folder.list_sweeps)
        return {"sweeps": [s.SweepInfo(**r).model_dump() for r in found], "unavailable": unavailable}

    @app.get("/api/sweeps/{sweep_id}", tags=["sweeps"], responses=_ERRORS | _NOT_FOUND | _CONFLICT)
    async def get_sweep(sweep_id: SweepId) -> dict[str, Any]:
        """A stored sweep reopened: per-sample means, rank correlations and (sobol/morris) sensitivity indices."""
        from hardtech.experiments.spec import SpecError
        from hardtech.web.experiments import reopen, sweep_result

        def make() -> dict[str, Any]:
            info, frame = folder.sweep(sweep_id)
            try:
                resolved = reopen(info)
            except SpecError as exc:
                raise Refused(str(exc)) from None
            return {**sweep_result(resolved, frame), "store": info["store"], "created_at": info.get("created_at")}

        return await asyncio.to_thread(make)

    @app.delete("/api/sweeps/{sweep_id}", tags=["sweeps"], responses=_ERRORS | _NOT_FOUND)
    async def delete_sweep(sweep_id: SweepId) -> dict[str, Any]:
        """Delete a sweep the dashboard ran, with its runs."""
        return await asyncio.to_thread(folder.delete_sweep, sweep_id)

    return app


def _spec_error(exc: Exception) -> ApiError:
    """A SpecError ("sweep: factors.0.range: …") as a 422 naming the request field."""
    msg = str(exc).removeprefix("sweep: ")
    head = msg.split(":", 1)[0].split(" ", 1)[0]
    loc: list[str | int] = ["body"]
    for part in head.split("."):
        if part.isdigit():
            loc.append(int(part))
        elif part.isidentifier():
            loc.append(part)
        else:
            break
    return ApiError(loc if len(loc) > 1 else ["body"], msg)


def _report_html(folder: ResultsFolder, run_id: str) -> str:
    """Build a stored run's report as `hardtech run` writes it (its summary, its tables)."""
    import pyarrow as pa

    from hardtech.analysis.report import write_report
    from hardtech.runner import RunResult, summarise

    sc, replication = folder.scenario(run_id)
    meta = folder.meta(run_id)
    names = ("step_metrics", "region_metrics", "field_metrics", "dragons")
    frames = {n: folder.table(run_id, n) for n in names}
    if not len(frames["step_metrics"]) or not len(frames["region_metrics"]) or not len(frames["field_metrics"]):
        raise Refused(f"run {run_id!r} did not keep the tables a report needs (step, region and field metrics)")
    tables = {n: pa.Table.from_pandas(f, preserve_index=False) for n, f in frames.items() if len(f.columns)}
    result = RunResult(run_id, sc, replication, tables, meta)
    summary = summarise([result])  # a run stored without a dragons table lists none
    info = {
        "scenario": sc.name,
        "seed": sc.seed,
        "replication": replication,
        "scale": sc.scale,
        "run_id": run_id,
        "wall_seconds": meta.get("wall_seconds"),
    }
    with tempfile.TemporaryDirectory(prefix="hardtech-report-") as tmp:
        path = write_report(
            Path(tmp) / "report.html",
            f"hardtech — {sc.name} (seed {sc.seed})",
            {**summary, "meta": info},
            {n: frames[n] for n in names[:3]},
            scenario=sc,
        )
        return path.read_text(encoding="utf-8")


# -- serving ------------------------------------------------------------------------------------------


def serve(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    log_level: str = "info",
    timeout_graceful_shutdown: int = 5,
) -> None:
    """Run ``app`` with uvicorn and stop it cleanly on SIGINT / SIGTERM.

    At the signal the server stops taking jobs and cancels every job (each
    keeps the replications it finished); the event streams of connected pages
    end with the jobs' end events, so uvicorn's graceful shutdown does not time
    out on them (which printed a traceback); the lifespan's end waits for the
    running jobs to store what they finished, and one line per job goes to
    stderr. Then uvicorn re-raises the signal, so the process ends as
    interrupted (exit status 130 after Ctrl-C) or terminated (SIGTERM).
    """
    import uvicorn

    closing: threading.Event = app.state.closing
    manager: JobManager = app.state.manager

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if not closing.is_set():
                closing.set()
                name = signal.Signals(sig).name if sig in list(signal.Signals) else str(sig)
                print(
                    f"hardtech serve: {name}: stopping; cancelling running jobs (finished replications are kept)",
                    file=sys.stderr,
                    flush=True,
                )
                # not in the signal handler itself: the manager takes locks the interrupted code may hold
                threading.Thread(target=manager.begin_shutdown, name="hardtech-shutdown", daemon=True).start()
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets: Any = None) -> None:
            await super().shutdown(sockets=sockets)  # the lifespan's end: jobs have stored what they finished
            for line in manager.shutdown_summary:
                print(f"hardtech serve: {line}", file=sys.stderr, flush=True)
            print("hardtech serve: stopped", file=sys.stderr, flush=True)

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=timeout_graceful_shutdown
    )
    # uvicorn re-raises the signal once it has stopped: Ctrl-C ends with exit status 130, SIGTERM as terminated
    Server(config).run()
