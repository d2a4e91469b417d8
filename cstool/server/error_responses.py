"""JSON responses and errors as JSON with codes: the body ``{"error": {"code",
"message"}}`` for every error the app answers with (cstool errors, HTTP and validation
errors, storage and internal errors), and the error responses the OpenAPI document lists."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..api.operations import Operation
from ..errors import CstoolError
from ..storage.errors import DatabaseError
from ..validation import FieldError

log = logging.getLogger("cstool.server")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON (Chinese as it is)."""
    return _encode(data).encode("utf-8")


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response without FastAPI's encoder pass (our results are JSON already)."""
    return Response(dumps(data), status_code=status, media_type="application/json",
                    headers=headers)


def error_response(status: int, code: str, message: str, *, headers: dict | None = None,
                   **extra: Any) -> Response:
    """``{"error": {"code", "message", ...}}`` with ``status``."""
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return json_response({"error": {"code": code, "message": message, **extra}}, status,
                         headers or None)


def _cstool_error(request: Request, exc: CstoolError) -> Response:
    return _cstool_error_response(exc)


def _cstool_error_response(exc: CstoolError) -> Response:
    extra: dict[str, Any] = {}
    if isinstance(exc, FieldError):
        extra = {"path": exc.path, "reason": exc.reason, "line": exc.line,
                 "key": exc.key, "params": exc.params}
    elif exc.key != exc.code:  # the exact refusal, for clients that show it in their language
        extra = {"key": exc.key, "params": exc.params}
    return error_response(exc.http_status, exc.code, exc.message, **extra)


def _plain(msg: str | None) -> str:
    """pydantic's message without its wrapper ("Value error, …" of a ValueError raised
    while validating): the reason alone."""
    msg = str(msg or "invalid")
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def _not_json(body: bytes | None) -> bool:
    if not body:
        return False
    try:
        json.loads(body)
        return False
    except ValueError:
        return True


def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404:
        return error_response(404, "not_found", f"no route {request.method} {request.url.path}")
    if exc.status_code == 405:
        return error_response(405, "method_not_allowed",
                              f"{request.method} is not allowed on {request.url.path}",
                              headers=exc.headers)
    return error_response(exc.status_code, "http_error", str(exc.detail), headers=exc.headers)


def _storage_error(request: Request, exc: DatabaseError) -> Response:
    return error_response(503, "storage", f"database: {exc}")


# Every error an operation may answer with, for the OpenAPI document (the body is
# always {"error": {"code", "message"}}).


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed JSON, JSON nested too deeply or a usage error (code "
               "malformed_json / too_deep / usage)"},
    401: {"description": "no valid token"},
    403: {"description": "the token's rights do not cover this"},
    404: {"description": "not found"},
    409: {"description": "conflicts with the current state (code conflict)"},
    413: {"description": "request body or message payload too large (code too_large)"},
    422: {"description": "invalid"},
}


def _no_content(op: Operation) -> dict[int, dict[str, Any]]:
    """204 where an operation may answer nothing: always (result "none") or when there is
    nothing to give (accept_next with no waiting chat)."""
    if op.result == "none":
        return {}
    if op.name == "accept_next":
        return {204: {"description": "no chat is waiting"}}
    return {}


def _bad_text(request: Request, exc: Exception) -> Response:
    # a JSON string with a lone surrogate escape ("\ud800") reaches storage as text
    # SQLite cannot take; the write it was in rolled back
    return error_response(422, "invalid", "text is not valid UTF-8 (a lone surrogate); "
                          "nothing was changed")


def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error; the server log has the details")

