"""The InfraMind REST API as a FastAPI app, with `inframind` in-process.

This is the service our users run today, with scikit-learn replaced by the `inframind` wheel:
the request bodies are passed to inframind as they come (the core's field names are the API's),
and every decision (validation, features, the suggestion, the failure classification, the
tool's environment variables) is the core's.

Run it (from this folder)::

    INFRAMIND_TOKEN=secret INFRAMIND_DEMO=1 uvicorn fastapi_service:app --port 8080

Environment:

* ``INFRAMIND_TOKEN``: the shared secret every request sends in ``X-IM-Token`` (except
  ``/healthz``, ``/readyz``, ``/metrics``). Without it every other request is refused (401).
* ``INFRAMIND_DEMO=1``: seeds 300 demo runs (cmake) for pipeline ``demo/example-app`` and
  trains its model at start-up.
* ``INFRAMIND_STORE_DIR``: where trained models are kept (a ``ModelStore``); default: a
  temporary folder. Runs live in memory.

Routes and bodies follow the REST contract (``POST /builds/start``, ``/builds/step``,
``/builds/complete``, ``/optimize``, ``GET /features/{run_id}``); errors always have the shape
``{"error": {"code": ..., "message": ..., "field": ...}}``.

A pipeline's model is (re)trained when the core's ``RetrainPolicy`` says so: the first one as
soon as two runs succeeded, later ones after 5% of the history is new, and at once after a
surprise (an OOM kill, or a success far from the model's prediction). Training happens on the
next ``/optimize`` of the pipeline, once for however many runs completed since.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

import inframind as im

log = logging.getLogger("inframind.fastapi")

MAX_BODY_BYTES = 1 << 20
OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}
# The core's status names; a run is started as RUNNING and completed with any other.
RUNNING, SUCCESS, FAILURE = "running", "success", "failure"
assert {RUNNING, SUCCESS, FAILURE} <= set(im.RUN_STATUSES), im.RUN_STATUSES
FINAL_STATUSES = frozenset(im.RUN_STATUSES) - {RUNNING}
DEMO_PIPELINE = "demo/example-app"
CODES = {401: "unauthorized", 404: "not_found", 409: "conflict", 413: "payload_too_large",
         422: "invalid_input", 503: "unavailable", 504: "timeout"}


# --- errors -------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
        self.code = code or CODES.get(status, "internal" if status >= 500 else "invalid_input")


def error_body(status: int, message: str, field: Optional[str] = None, code: Optional[str] = None) -> Dict[str, Any]:
    return {"error": {"code": code or CODES.get(status, "internal" if status >= 500 else "invalid_input"),
                      "message": message, "field": field}}


def error_response(status: int, message: str, field: Optional[str] = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, field), status_code=status)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(413, f"request body larger than {MAX_BODY_BYTES} bytes")


class Guard:
    """ASGI middleware: the token check (before anything reads the body) and the body limit."""

    def __init__(self, app: Any, token: Optional[str]) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if scope["path"] not in OPEN_PATHS:
            given = headers.get(b"x-im-token", b"")
            if self.token is None:
                await self._reply(send, 401, "the server has no INFRAMIND_TOKEN set, so it refuses every request")
                return
            if not hmac.compare_digest(given, self.token):
                await self._reply(send, 401, "missing or wrong X-IM-Token header")
                return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            await self._reply(send, 413, f"request body larger than {MAX_BODY_BYTES} bytes")
            return
        seen = 0

        async def limited() -> Dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited, send)

    @staticmethod
    async def _reply(send: Any, status: int, message: str) -> None:
        response = error_response(status, message)
        await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


def body_field(loc: Any) -> Optional[str]:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or None


def input_error(e: im.InvalidInputError, strip_steps: bool = False) -> ApiError:
    field = e.field
    if strip_steps and field:
        # A step request's fields are the step's own: `steps[3].duration_s` -> `duration_s`.
        field = re.sub(r"^steps\[\d+\]\.", "", field)
    return ApiError(422, str(e), field)


# --- request bodies (shape only: the values are checked by inframind) ------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StartRequest(Body):
    pipeline: str
    tool: str
    config: Optional[Dict[str, Any]] = None
    labels: Optional[Dict[str, str]] = None
    run_id: Optional[str] = None


class StepRequest(Body):
    run_id: str
    name: str
    duration_s: float
    status: Optional[str] = None
    max_rss_bytes: Optional[int] = None
    cpu_seconds: Optional[float] = None
    io_read_bytes: Optional[int] = None
    io_write_bytes: Optional[int] = None
    cache_hits: Optional[int] = None
    cache_misses: Optional[int] = None


class CompleteRequest(Body):
    run_id: str
    status: str
    duration_s: float
    log_tail: Optional[str] = None


class OptimizeRequest(Body):
    pipeline: str
    context: Dict[str, Any]
    seed: Optional[int] = None


# --- state ----------------------------------------------------------------------------------


@dataclass
class Progress:
    """What the service knows of a pipeline's runs and its last training: the counts
    ``RetrainPolicy.is_due`` decides on."""

    completed: int = 0  # runs in the pipeline's history (any final status)
    successes: int = 0
    trained_at: Optional[int] = None  # `completed` at the last training attempt
    has_model: bool = False
    surprise: bool = False  # a run since that attempt was a surprise

    def due(self, policy: im.RetrainPolicy) -> Optional[str]:
        return policy.is_due(self.completed, self.successes, self.trained_at, self.has_model, self.surprise)


class Service:
    """Runs in memory, models in a ModelStore. One lock guards the run state; training and
    suggesting run outside it (inframind releases the GIL, so requests proceed in parallel)."""

    def __init__(self, store_dir: Optional[str] = None, n_trees: int = 100,
                 policy: Optional[im.RetrainPolicy] = None) -> None:
        self.lock = threading.Lock()
        self.runs: Dict[str, Dict[str, Any]] = {}
        self.start_requests: Dict[str, Dict[str, Any]] = {}
        self.completions: Dict[str, tuple] = {}
        # Completed runs per pipeline, converted once (inframind.History), oldest first.
        self.history: Dict[str, im.History] = {}
        self.positions: Dict[str, int] = {}  # run_id -> index in its pipeline's history
        self.progress: Dict[str, Progress] = {}
        self.models: Dict[str, im.DurationModel] = {}  # pipeline -> the model it is served
        self.train_locks: Dict[str, threading.Lock] = {}
        self.store = im.ModelStore(store_dir or tempfile.mkdtemp(prefix="inframind-models-"))
        self.n_trees = n_trees
        self.policy = policy or im.RetrainPolicy()

    # runs

    def start(self, req: StartRequest) -> tuple:
        body = req.model_dump(exclude_none=True)
        run_id = req.run_id if req.run_id is not None else uuid.uuid4().hex
        record: Dict[str, Any] = {
            "run_id": run_id, "pipeline": req.pipeline, "tool": req.tool, "status": RUNNING,
            "duration_s": 0.0, "config": req.config, "steps": [], "labels": req.labels or {},
            "started_at": time.time(),
        }
        if req.config is not None:
            try:
                record = im.validate_run(record)
            except im.InvalidInputError as e:
                raise input_error(e) from None
        else:
            # Without a config there is no run to validate yet, but its names follow the rule.
            try:
                im.check_name("run_id", run_id)
                im.check_name("pipeline", req.pipeline)
                im.check_name("tool", req.tool)
            except im.InvalidInputError as e:
                raise input_error(e) from None
        answer = {"run_id": run_id, "pipeline": req.pipeline, "status": RUNNING}
        with self.lock:
            if run_id in self.runs:
                if self.start_requests.get(run_id) == body:
                    return 200, answer
                raise ApiError(409, f"run {run_id!r} was already started with a different body")
            self.runs[run_id] = record
            self.start_requests[run_id] = body
        return 201, answer

    def step(self, req: StepRequest) -> Dict[str, Any]:
        step = req.model_dump(exclude_none=True)
        step.pop("run_id")
        with self.lock:
            run = self.runs.get(req.run_id)
            if run is None:
                raise ApiError(404, f"unknown run {req.run_id!r}: start it with POST /builds/start", "run_id")
            if run["status"] != RUNNING:
                raise ApiError(409, f"run {req.run_id!r} is already completed ({run['status']})")
            candidate = {**run, "steps": run["steps"] + [step]}
            if candidate["config"] is None:
                candidate["config"] = {"concurrency": 1, "cpu_cores": 1.0, "memory_bytes": 1}
            try:
                checked = im.validate_run(candidate)
            except im.InvalidInputError as e:
                raise input_error(e, strip_steps=True) from None
            run["steps"].append(checked["steps"][-1])
            return {"run_id": req.run_id, "step_index": len(run["steps"]) - 1}

    def complete(self, req: CompleteRequest) -> Dict[str, Any]:
        if req.status not in FINAL_STATUSES:
            raise ApiError(422, f"invalid status = {req.status!r}: must be one of {', '.join(sorted(FINAL_STATUSES))}", "status")
        body = req.model_dump()
        with self.lock:
            run = self.runs.get(req.run_id)
            if run is None:
                raise ApiError(404, f"unknown run {req.run_id!r}: start it with POST /builds/start", "run_id")
            done = self.completions.get(req.run_id)
            if done is not None:
                if done[0] == body:
                    return done[1]
                raise ApiError(409, f"run {req.run_id!r} was already completed with a different body")
            if run["status"] != RUNNING:
                raise ApiError(409, f"run {req.run_id!r} is already completed ({run['status']})")
        # The core decides the recorded status: a failed run's log is classified (an OOM or
        # a time limit rewrites "failure"); cancelled and successful runs are kept as sent.
        status, verdict = im.final_status(req.status, req.log_tail)
        classification = verdict.to_dict() if verdict is not None else None
        with self.lock:
            if req.run_id in self.completions:  # a concurrent identical completion won
                done = self.completions[req.run_id]
                if done[0] == body:
                    return done[1]
                raise ApiError(409, f"run {req.run_id!r} was already completed with a different body")
            final = {**run, "status": status, "duration_s": req.duration_s}
            if final["config"] is not None:
                try:
                    final = im.validate_run(final)
                except im.InvalidInputError as e:
                    raise input_error(e) from None
                h = self.history.setdefault(run["pipeline"], im.History())
                # Before the append, `h` is exactly the history the run's features come from.
                surprise = self.is_surprise(run["pipeline"], final, h)
                h.append(final)
                self.positions[req.run_id] = len(h) - 1
                p = self.progress.setdefault(run["pipeline"], Progress())
                p.completed += 1
                p.successes += status == SUCCESS
                p.surprise = p.surprise or surprise
            run.update(status=status, duration_s=req.duration_s)
            answer = {"run_id": req.run_id, "status": status, "classification": classification}
            self.completions[req.run_id] = (body, answer)
            return answer

    # models

    def is_surprise(self, pipeline: str, run: Dict[str, Any], prior: im.History) -> bool:
        """Whether a completed run (not yet in `prior`, its pipeline's history) should make the
        model retrain at once. Called under the lock: one prediction is cheap."""
        model = self.models.get(pipeline)
        mean = spread = None
        if model is not None and run["status"] == SUCCESS:
            try:
                p = model.predict(run, prior)
                mean, spread = p.mean, p.spread
            except im.InframindError:
                # The run is stored either way; without a prediction it is just not a surprise.
                log.exception("cannot predict run %s of %s", run["run_id"], pipeline)
        return self.policy.is_surprise(run["status"], run["duration_s"], mean, spread)

    def model_for(self, pipeline: str) -> Optional[im.DurationModel]:
        """The pipeline's model, trained first when the core's RetrainPolicy says it is due."""
        with self.lock:
            p = self.progress.get(pipeline)
            if p is None or p.due(self.policy) is None:
                return self.models.get(pipeline)
        lock = self.train_locks.setdefault(pipeline, threading.Lock())
        with lock:
            with self.lock:  # another request may have trained while this one waited
                if p.due(self.policy) is None:
                    return self.models.get(pipeline)
                completed, history = p.completed, self.history[pipeline]
            # The history only grows, so its first `completed` runs are those the counts saw.
            runs = history[:completed]
            try:
                model: Optional[im.DurationModel] = im.DurationModel.train(runs, n_trees=self.n_trees, seed=0)
            except im.NotEnoughDataError:
                model = None  # e.g. too few usable rows yet; the policy retries on the next run
            if model is not None:
                version = self.store.save(pipeline, model)
                model = self.store.load(pipeline, version)
            with self.lock:
                p.trained_at = completed
                if model is not None:
                    self.models[pipeline] = model
                    p.has_model = True
                # A surprise among runs that came in during training still asks for a new model.
                if p.completed == completed:
                    p.surprise = False
                return self.models.get(pipeline)

    def optimize(self, req: OptimizeRequest) -> Dict[str, Any]:
        try:
            im.check_name("pipeline", req.pipeline)
        except im.InvalidInputError as e:
            raise input_error(e) from None
        model = self.model_for(req.pipeline)
        with self.lock:
            # Each inframind call works on the runs as they were when it started.
            history = self.history.get(req.pipeline) or im.History()
        try:
            s = im.Optimizer(model).suggest(history, req.context, seed=req.seed)
            env = im.tool_env(req.context.get("tool", ""), s.config)
        except im.InvalidInputError as e:
            raise input_error(e) from None
        return {"pipeline": req.pipeline, **s.to_dict(), "env": env}

    def features(self, run_id: str) -> Dict[str, Any]:
        with self.lock:
            run = self.runs.get(run_id)
            if run is None:
                raise ApiError(404, f"unknown run {run_id!r}", "run_id")
            if run["config"] is None:
                raise ApiError(409, f"run {run_id!r} was started without a config, so it has no features")
            history = self.history.get(run["pipeline"], im.History())
            # The runs before this one: those completed before it (or all, while it runs).
            prior = history[: self.positions.get(run_id, len(history))]
            candidate = dict(run)
        values = im.features(candidate, prior)
        return {"run_id": run_id, "schema": im.feature_schema()["fingerprint"], "features": values}

    def seed_demo(self, pipeline: str = DEMO_PIPELINE, n: int = 300) -> None:
        runs = im.demo_history("cmake", n, 1)
        for r in runs:
            r["pipeline"] = pipeline
            r["run_id"] = f"demo-{r['run_id']}"
        with self.lock:
            h = self.history.setdefault(pipeline, im.History())
            first = len(h)
            for i, r in enumerate(runs):
                self.runs[r["run_id"]] = r
                self.positions[r["run_id"]] = first + i
            h.extend(runs)
            p = self.progress.setdefault(pipeline, Progress())
            p.completed += len(runs)
            p.successes += sum(r["status"] == SUCCESS for r in runs)
        self.model_for(pipeline)


# --- the app --------------------------------------------------------------------------------


def create_app(token: Optional[str] = None, demo: Optional[bool] = None, store_dir: Optional[str] = None,
               n_trees: int = 100) -> FastAPI:
    token = token if token is not None else os.environ.get("INFRAMIND_TOKEN") or None
    demo = demo if demo is not None else os.environ.get("INFRAMIND_DEMO", "") not in ("", "0", "false")
    service = Service(store_dir or os.environ.get("INFRAMIND_STORE_DIR"), n_trees=n_trees)
    if token is None:
        log.warning("INFRAMIND_TOKEN is not set: every request except /healthz, /readyz, /metrics is refused")
    if demo:
        service.seed_demo()

    app = FastAPI(title="InfraMind", version=im.__version__)
    app.state.service = service
    app.add_middleware(Guard, token=token)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(error_body(e.status, e.message, e.field, e.code), status_code=e.status)

    @app.exception_handler(im.InvalidInputError)
    async def _invalid(_: Request, e: im.InvalidInputError) -> JSONResponse:
        return error_response(422, str(e), e.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            return error_response(422, f"the body is not valid JSON: {first.get('ctx', {}).get('error', first['msg'])}")
        field = body_field(first.get("loc", ()))
        if field is None and first.get("type") in ("model_attributes_type", "dict_type"):
            return error_response(422, "the body must be a JSON object")
        return error_response(422, f"{field}: {first['msg']}" if field else first["msg"], field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return error_response(e.status_code, str(e.detail))

    @app.exception_handler(Exception)
    async def _internal(_: Request, e: Exception) -> JSONResponse:
        log.exception("internal error")
        return error_response(500, f"internal error: {type(e).__name__}: {e}")

    @app.get("/healthz")
    def healthz() -> Dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Dict[str, str]:
        return {"status": "ready"}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        with service.lock:
            runs, pipelines, models = len(service.runs), len(service.history), len(service.models)
        return (
            "# HELP im_api_runs Runs the service holds.\n# TYPE im_api_runs gauge\n"
            f"im_api_runs {runs}\n"
            "# HELP im_api_pipelines Pipelines with completed runs.\n# TYPE im_api_pipelines gauge\n"
            f"im_api_pipelines {pipelines}\n"
            "# HELP im_api_models Pipelines with a trained model.\n# TYPE im_api_models gauge\n"
            f"im_api_models {models}\n"
        )

    @app.post("/builds/start", status_code=201)
    def builds_start(req: StartRequest) -> JSONResponse:
        status, answer = service.start(req)
        return JSONResponse(answer, status_code=status)

    @app.post("/builds/step", status_code=201)
    def builds_step(req: StepRequest) -> Dict[str, Any]:
        return service.step(req)

    @app.post("/builds/complete")
    def builds_complete(req: CompleteRequest) -> Dict[str, Any]:
        return service.complete(req)

    @app.post("/optimize")
    def optimize(req: OptimizeRequest) -> Dict[str, Any]:
        return service.optimize(req)

    @app.get("/features/{run_id}")
    def features(run_id: str) -> Dict[str, Any]:
        return service.features(run_id)

    return app


app = create_app()
