"""The dashboard: a REST API (OpenAPI at /docs) and a static page that drives it.

    >>> from hardtech.web.app import create_app
    >>> app = create_app("results")            # then: uvicorn.run(app)

or from the shell: ``hardtech serve``. Every scenario in a request is a preset
plus ``{dotted.path: value}`` overrides resolved by
:func:`hardtech.scenario.load` — the CLI's validation — and refused with HTTP
422 naming the field when it does not validate or exceeds the server's bounds
(scale, steps, replications). Runs queue on one or two worker threads and
stream their progress as Server-Sent Events; finished runs go to
``<results>/dashboard.duckdb`` (the server is its only writer) and every store
in the results folder can be browsed and downloaded by run id.

With a token, every request must carry it: ``Authorization: Bearer <token>``,
``?token=<token>`` (for the page and its event streams; it also sets an
HttpOnly same-site cookie so the page's own requests carry it) or that cookie.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

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
from hardtech.scenario import Scenario, ScenarioError, load, presets, to_toml
from hardtech.scenario.loading import preset_text, validate
from hardtech.web import schemas as s
from hardtech.web.controls import controls as build_controls
from hardtech.web.jobs import Job, JobManager, QueueFull
from hardtech.web.results import ResultsFolder, RunNotFound, StoreBusy

log = logging.getLogger("hardtech.web")

STATIC = Path(str(resources.files("hardtech.web") / "static"))
COOKIE = "hardtech_token"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
_ERRORS = {
    401: {"model": s.MessageResponse, "description": "Token missing (when the server requires one)."},
    403: {"model": s.MessageResponse, "description": "Wrong token."},
    422: {"model": s.ValidationErrorResponse, "description": "Invalid request; `loc` names the field."},
}
JobId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$", description="A job id.")]
RunIdParam = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$",
                                      description="A run id (GET /api/runs).")]
_NOT_FOUND = {404: {"model": s.MessageResponse, "description": "Unknown id."}}


class ApiError(Exception):
    """A 422 with our usual body: ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``."""

    def __init__(self, loc: list[str | int], msg: str, kind: str = "value_error") -> None:
        super().__init__(msg)
        self.items = [{"loc": loc, "msg": msg, "type": kind}]


@lru_cache(maxsize=32)
def _preset_scenario(name: str) -> Scenario:
    """A shipped preset, read from the package only — a request never names a file."""
    return validate(tomllib.loads(preset_text(name)))


def _scenario_error(exc: Exception, where: list[str | int]) -> ApiError:
    msg = str(exc)
    path = msg.split(":", 1)[0].strip() if ":" in msg else ""
    path = path.removeprefix("--set").strip()
    if path in ("", "scenario") or " " in path:
        return ApiError([*where, "overrides"], msg)
    return ApiError([*where, "overrides", path], msg)


# -- token gate ----------------------------------------------------------------------------------


class TokenGate:
    """ASGI middleware: every HTTP request must carry the token (header, query or cookie).

    The cookie holds a digest of the token, not the token itself.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token
        self.cookie_value = hashlib.sha256(f"hardtech-dashboard:{token}".encode()).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        good = [how for how, value in offered
                if secrets.compare_digest(value.encode(), (self.cookie_value if how == "cookie" else self.token).encode())]
        if not good:
            status, msg = (403, "wrong token") if offered else (401, "this server requires a token: "
                                                                      "Authorization: Bearer <token> or ?token=<token>")
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
) -> FastAPI:
    """The dashboard app.

    Parameters
    ----------
    results_dir:
        Folder of ``.duckdb`` stores; the server writes ``dashboard.duckdb`` there and reads nothing outside it.
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
    """
    if not 0 < max_scale <= 1:
        raise ValueError("max_scale must be in (0, 1]")
    if not 1 <= max_replications <= s.MAX_REPLICATIONS:
        raise ValueError(f"max_replications must be in 1..{s.MAX_REPLICATIONS}")
    limits = s.Limits(max_scale=max_scale, max_replications=max_replications, max_steps=max_steps,
                      max_pace_ms=s.MAX_PACE_MS, default_pace_ms=pace_ms)
    folder = ResultsFolder(results_dir)
    manager = JobManager(folder, workers=workers, queue_limit=queue_limit)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        manager.shutdown()

    app = FastAPI(
        title="hardtech dashboard",
        version=hardtech.__version__,
        description="Run, stream, compare and browse hardtech simulations. Scenarios are a preset plus "
                    "`{dotted.path: value}` overrides, validated like `hardtech run --set`.",
        docs_url=None, redoc_url=None, lifespan=lifespan,
    )
    app.state.manager, app.state.folder, app.state.limits = manager, folder, limits
    if token:
        app.add_middleware(TokenGate, token=token)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        items = [{"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                 for e in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(items)}, status_code=422)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.items}, status_code=422)

    @app.exception_handler(RunNotFound)
    async def _not_found(_request: Request, exc: RunNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StoreBusy)
    async def _busy(_request: Request, exc: StoreBusy) -> JSONResponse:
        return JSONResponse({"detail": f"results store busy: {exc}"}, status_code=503, headers={"Retry-After": "2"})

    # -- scenario resolution (the one validation path) ---------------------------------------
    def resolve(spec: s.ScenarioSpec, where: list[str | int]) -> Scenario:
        if spec.preset not in presets():
            raise ApiError([*where, "preset"], f"unknown preset {spec.preset!r}; allowed: {', '.join(presets())}")
        try:
            sc = load(_preset_scenario(spec.preset), dict(spec.overrides))
            if spec.seed is not None:
                sc = load(sc, {"seed": spec.seed})
        except ScenarioError as exc:
            raise _scenario_error(exc, where) from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # odd override shapes
            raise ApiError([*where, "overrides"], f"cannot apply overrides: {exc}") from None
        if sc.scale > max_scale:
            raise ApiError([*where, "overrides", "scale"],
                           f"scale: {sc.scale} is above this server's limit {max_scale} "
                           "(set overrides.scale lower, or start the server with a larger --max-scale)")
        if sc.steps > max_steps:
            raise ApiError([*where, "overrides", "time.end_year"],
                           f"time.end_year: {sc.steps} quarters is above this server's limit of {max_steps} "
                           f"(end year ≤ {sc.time.start_year + max_steps // 4 - 1})")
        return sc

    def check_replications(n: int) -> None:
        if n > max_replications:
            raise ApiError(["body", "replications"], f"replications: {n} is above this server's limit {max_replications}")

    def job_or_404(job_id: str) -> Job:
        job = manager.get(job_id)
        if job is None:
            raise HTTPException(404, f"job {job_id!r} not found (finished jobs are kept for a while only)")
        return job

    def submit(kind: str, labels: list[str], scenarios: list[Scenario], replications: int, pace_ms_: int) -> Job:
        try:
            return manager.submit(kind, labels, scenarios, replications, pace_s=pace_ms_ / 1000.0)
        except QueueFull as exc:
            raise HTTPException(429, str(exc)) from None

    def label_of(spec: s.ScenarioSpec, default: str) -> str:
        if spec.label:
            return spec.label
        return f"{default}{spec.preset}" + (" (modified)" if spec.overrides else "")

    # -- page and docs -------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="hardtech dashboard — API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # -- catalogue -------------------------------------------------------------------------------
    @app.get("/api/health", tags=["meta"], responses=_ERRORS)
    async def health() -> dict[str, Any]:
        """Server version, limits and queue state."""
        jobs = manager.jobs()
        return {"status": "ok", "version": hardtech.__version__, "limits": limits.model_dump(),
                "queued": sum(j.status == "queued" for j in jobs), "running": sum(j.status == "running" for j in jobs)}

    @app.get("/api/presets", tags=["scenarios"], responses=_ERRORS)
    async def list_presets() -> list[s.PresetInfo]:
        """The scenarios shipped with hardtech."""
        return [s.PresetInfo(name=n, description=_preset_scenario(n).description) for n in presets()]

    @app.get("/api/controls", tags=["scenarios"], responses=_ERRORS)
    async def get_controls(
        preset: Annotated[str, Query(max_length=64, json_schema_extra={"enum": presets()})] = "hangzhou",
    ) -> s.ControlsResponse:
        """The page's controls for a preset: labels, units, ranges, defaults from the scenario schema; values from the preset."""
        if preset not in presets():
            raise ApiError(["query", "preset"], f"unknown preset {preset!r}; allowed: {', '.join(presets())}")
        data = build_controls(preset, max_scale=max_scale, max_steps=max_steps)
        return s.ControlsResponse(limits=limits, **data)

    @app.post("/api/validate", tags=["scenarios"], responses=_ERRORS)
    async def validate_scenario(body: s.ValidateRequest) -> s.ValidateResponse:
        """Resolve a preset plus overrides (as `hardtech show`), without running it."""
        sc = resolve(body, ["body"])
        return s.ValidateResponse(ok=True, name=sc.name, seed=sc.seed, scale=sc.scale, steps=sc.steps, toml=to_toml(sc))

    # -- jobs --------------------------------------------------------------------------------------
    @app.post("/api/jobs/run", status_code=202, tags=["jobs"], responses=_ERRORS | {429: {"model": s.MessageResponse}})
    async def start_run(body: s.RunRequest) -> s.JobInfo:
        """Queue a run (replication 0 streams per step; further replications give 95% intervals)."""
        sc = resolve(body, ["body"])
        check_replications(body.replications)
        pace = limits.default_pace_ms if body.pace_ms is None else body.pace_ms
        job = submit("run", [label_of(body, "")], [sc], body.replications, pace)
        return s.JobInfo(**job.info(manager.queue_position(job)))

    @app.post("/api/jobs/compare", status_code=202, tags=["jobs"],
              responses=_ERRORS | {429: {"model": s.MessageResponse}})
    async def start_compare(body: s.CompareRequest) -> s.JobInfo:
        """Queue a comparison of scenarios A and B over replications (mean and 95% interval of outcomes)."""
        a = resolve(body.a, ["body", "a"])
        b = resolve(body.b, ["body", "b"])
        check_replications(body.replications)
        job = submit("compare", [label_of(body.a, "A: "), label_of(body.b, "B: ")], [a, b], body.replications, 0)
        return s.JobInfo(**job.info(manager.queue_position(job)))

    @app.get("/api/jobs", tags=["jobs"], responses=_ERRORS)
    async def list_jobs() -> list[s.JobInfo]:
        """Recent jobs, oldest first (without their results)."""
        return [s.JobInfo(**j.info(manager.queue_position(j), with_result=False)) for j in manager.jobs()]

    @app.get("/api/jobs/{job_id}", tags=["jobs"], responses=_ERRORS | _NOT_FOUND)
    async def get_job(job_id: JobId) -> s.JobInfo:
        """A job's status, progress and (when done) result."""
        job = job_or_404(job_id)
        return s.JobInfo(**job.info(manager.queue_position(job)))

    @app.post("/api/jobs/{job_id}/cancel", tags=["jobs"], responses=_ERRORS | _NOT_FOUND)
    async def cancel_job(job_id: JobId) -> s.JobInfo:
        """Stop a job: a queued one never starts, a running one stops after the current quarter; nothing is stored."""
        job = manager.cancel(job_or_404(job_id))
        return s.JobInfo(**job.info(manager.queue_position(job)))

    @app.get(
        "/api/jobs/{job_id}/events", tags=["jobs"], responses=_ERRORS | _NOT_FOUND | {
            200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                  "description": "Server-Sent Events: queued, started, replication, step, progress, stored, result, end."}},
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
            index, idle = start, 0.0
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
                    if await request.is_disconnected():
                        return
                    idle += 0.05
                    if idle >= 15:
                        idle = 0.0
                        yield ": keep-alive\n\n"
                    await asyncio.sleep(0.05)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # -- stored runs ---------------------------------------------------------------------------------
    @app.get("/api/runs", tags=["runs"], responses=_ERRORS)
    async def list_runs() -> s.RunsResponse:
        """Runs in the results folder's stores, newest first."""
        runs, unavailable = await asyncio.to_thread(folder.list_runs)
        return s.RunsResponse(runs=[s.RunInfo(**r) for r in runs], unavailable=unavailable)

    @app.get("/api/runs/{run_id}", tags=["runs"], responses=_ERRORS | _NOT_FOUND)
    async def get_run(run_id: RunIdParam) -> s.RunDetail:
        """A stored run's plot series (one entry per step), dragons and outcomes."""
        detail = await asyncio.to_thread(folder.detail, run_id)
        return s.RunDetail(**detail)

    @app.get(
        "/api/runs/{run_id}/data", tags=["runs"], responses=_ERRORS | _NOT_FOUND | {
            200: {"content": {"text/csv": {"schema": {"type": "string"}},
                              "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}},
                  "description": "The table as CSV or Parquet."}},
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
        return Response(data, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{run_id}-{table}.{format}"'})

    @app.get(
        "/api/runs/{run_id}/scenario.toml", tags=["runs"], responses=_ERRORS | _NOT_FOUND | {
            200: {"content": {"application/toml": {"schema": {"type": "string"}}}, "description": "The resolved scenario."}},
        response_class=Response,
    )
    async def download_scenario(run_id: RunIdParam) -> Response:
        """The run's fully resolved scenario as TOML (re-run it with `hardtech run FILE.toml`)."""
        text = await asyncio.to_thread(folder.scenario_toml, run_id)
        return Response(text, media_type="application/toml; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{run_id}.toml"'})

    return app
