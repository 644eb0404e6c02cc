"""The FastAPI application: ``create_app(settings)`` wires endpoints, limits, logs and metrics.

``create_app_from_env`` is the factory uvicorn workers call (``moderation serve`` hands
them the settings as JSON in an environment variable).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import moderation
from moderation.service import coral, native, perspective, review
from moderation.service.auth import key_missing_or_wrong, require_metrics_token
from moderation.service.http import BodyLimit, error_response, install_error_handlers
from moderation.service.metrics import CONTENT_TYPE
from moderation.service.settings import Settings
from moderation.service.state import ServiceState

MODEL_HEADER = "X-Moderation-Model"


def create_app(settings: Settings | None = None, moderator: Any | None = None) -> FastAPI:
    """Build the app. ``moderator`` (anything with ``predict_proba``, ``labels``, ``thresholds``,
    ``name``) skips loading ``settings.model_dir``; tests pass one in."""
    settings = (settings or Settings()).validate()
    state = ServiceState(settings, moderator)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.start()
        yield
        await state.stop()  # uvicorn has already let in-flight requests finish

    app = FastAPI(title="moderation", version=moderation.__version__, lifespan=lifespan)
    app.state.service = state
    install_error_handlers(app)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        state.log.error("unhandled error", exc_info=exc, extra={"event": "error"})
        return error_response(500, "internal error (see the service log)")

    app.add_exception_handler(Exception, on_unexpected)
    for router in (native.router, perspective.router, coral.router, review.router):
        app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"status": "ok", "model": state.model_name}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: 200 while scoring works, 503 once shutdown has begun."""
        ready = state.ready
        body = {"status": "ready" if ready else "draining", "model": state.model_name, "backend": state.backend}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", dependencies=[Depends(require_metrics_token)])
    async def metrics() -> Response:
        """Prometheus metrics of every worker (see moderation.service.metrics)."""
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    # Endpoints behind the API key answer 401 before the body limit is checked.
    keyed = {route.path for router in (native.router, perspective.router) for route in router.routes}
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes,
                       unauthenticated=lambda scope: scope["path"] in keyed and key_missing_or_wrong(scope, state.api_key))
    app.add_middleware(Observe, state=state, endpoints=set(app.openapi()["paths"]))
    return app


def create_app_from_env() -> FastAPI:
    """uvicorn factory: ``uvicorn --factory moderation.service.app:create_app_from_env``."""
    return create_app(Settings.from_env())


class Observe:
    """ASGI middleware: request id, model header, request metrics and one JSON log line per request.

    The endpoint label is the route path (unknown paths count as "other") so metric
    cardinality stays bounded; the query string is never logged (it may hold ``?key=``).
    """

    def __init__(self, app: ASGIApp, state: ServiceState, endpoints: set[str]):
        self.app = app
        self.state = state
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if self.state.model_name:
                    headers.append((MODEL_HEADER.lower().encode(), self.state.model_name.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - start
            path = scope["path"]
            endpoint = path if path in self.endpoints else "other"
            metrics = self.state.metrics
            metrics.requests.labels(endpoint, str(status)).inc()
            metrics.latency.labels(endpoint).observe(seconds)
            if endpoint not in ("/healthz", "/readyz", "/metrics"):  # probes would drown the log
                self.state.log.info(
                    "request",
                    extra={"event": "request", "request_id": request_id, "method": scope["method"], "path": path,
                           "status": status, "ms": round(seconds * 1000, 1)},
                )

