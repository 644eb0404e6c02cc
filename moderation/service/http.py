"""HTTP conventions shared by every endpoint: the error envelope, body parsing, the body limit.

All errors use Google's JSON error envelope ``{"error": {"code", "message", "status"}}``
(what Perspective answers), so Perspective clients and native clients read one shape.
Bodies are parsed here rather than by FastAPI so that the 422 messages, the tolerance of a
missing Content-Type (some Perspective clients omit it) and the byte limit are the same on
every FastAPI version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: HTTP status -> Google RPC status name, as Perspective reports it.
RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    413: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

M = TypeVar("M", bound=BaseModel)


#: ``@type`` of the error details Perspective attaches, e.g. ``{"errorType": "COMMENT_EMPTY"}``.
PERSPECTIVE_ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
#: An empty (or all-whitespace) comment: 400 on every endpoint, as Perspective and ``moderation score`` refuse it.
COMMENT_EMPTY = "COMMENT_EMPTY"


class ApiError(Exception):
    """An error answered to the client (never a bug): status code, message, extra headers and,
    for the errors Perspective names, its ``errorType`` (sent in ``details`` as Perspective does)."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None, error_type: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.error_type = error_type


def error_response(code: int, message: str, headers: dict[str, str] | None = None, error_type: str | None = None) -> JSONResponse:
    error = {"code": code, "message": message, "status": RPC_STATUS.get(code, "UNKNOWN")}
    if error_type:
        error["details"] = [{"@type": PERSPECTIVE_ERROR_TYPE, "errorType": error_type}]
    return JSONResponse({"error": error}, status_code=code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Render ApiError and Starlette's own errors (404, 405) in the envelope."""

    async def on_api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.code, exc.message, exc.headers, exc.error_type)

    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


def describe_validation(exc: ValidationError) -> str:
    """One line naming each bad field, e.g. ``comments.0.text: Field required``."""
    parts = []
    for err in exc.errors():
        if err["type"] == "json_invalid":
            return f"malformed JSON: {err.get('ctx', {}).get('error', err['msg'])}"
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "invalid request: " + "; ".join(parts)


async def parse_body(request: Request, model: type[M]) -> M:
    """Read the (size-limited) body and validate it; 422 with a readable message if it does not fit."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(422, "invalid request: empty body, expected a JSON object")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ApiError(422, describe_validation(exc)) from None


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"request body over the limit of {limit} bytes (max_body_bytes)")


class BodyLimit:
    """ASGI middleware: 413 for bodies over ``limit`` bytes, declared or streamed.

    A declared Content-Length is refused before anything is read; a chunked body is
    counted as it arrives, so memory per request never exceeds the limit. A request that
    ``unauthenticated(scope)`` says lacks its key is passed on unchecked: the endpoint answers
    401 without reading the body, so a client without the key learns nothing about the limit.
    """

    def __init__(self, app: ASGIApp, limit: int, unauthenticated: Callable[[Scope], bool] = lambda scope: False):
        self.app = app
        self.limit = limit
        self.unauthenticated = unauthenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if self.unauthenticated(scope):
            pass  # the streamed limit below still bounds whatever is read
        elif declared is not None and declared.isdigit() and int(declared) > self.limit:
            exc = BodyTooLarge(self.limit)
            await error_response(413, exc.detail, {"Connection": "close"})(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                # Raised inside the endpoint's body read; the HTTPException handler renders it.
                raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)
