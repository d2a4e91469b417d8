"""Request body limits, as plain ASGI middleware (it runs before any parsing): the
size (413 ``too_large``) and the JSON nesting depth (400 ``too_deep``,
``cstool.json_limits``). A leading UTF-8 byte-order mark is dropped here, so every
route (and the message lane, which drops it too) reads the same JSON."""

from __future__ import annotations

import json
import re
from typing import Any

from ..json_limits import MAX_JSON_DEPTH, json_depth, too_deep_message
from ..services.files import max_upload_body

BOM = b"\xef\xbb\xbf"
# The routes that take a file (base64 in JSON): they may be as large as an upload needs.
UPLOAD_PATHS = re.compile(r"^/v1/(shops/[^/]+|conversations/\d+)/files\Z")


def without_bom(body: bytes) -> bytes:
    """``body`` without a leading UTF-8 byte-order mark (JSON's RFC 8259 allows a
    reader to ignore one; some Windows tools write it)."""
    return body[3:] if body.startswith(BOM) else body


def too_deep_body(body: bytes) -> bool:
    """Whether a body nests deeper than JSON may (counted before any parsing)."""
    return json_depth(body, stop_after=MAX_JSON_DEPTH) > MAX_JSON_DEPTH


def too_deep_response() -> tuple[int, bytes]:
    """The status and JSON body of the one depth error."""
    return 400, json.dumps({"error": {
        "code": "too_deep", "message": too_deep_message("the request body")}}).encode()


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, and bodies nested deeper than
    ``MAX_JSON_DEPTH`` with 400, each with a JSON error.

    A declared Content-Length over the limit is refused before reading; a chunked
    body is read up to the limit and refused as soon as it passes it.
    """

    def __init__(self, app: Any, max_bytes: int,
                 uploads: tuple[re.Pattern, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        # (paths, their limit): the file upload routes take what a file at the platform's
        # limit needs in base64 (cstool.services.files), never less than the others
        self.uploads = uploads or (UPLOAD_PATHS, max(max_bytes, max_upload_body()))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        most = self.max_bytes
        if self.uploads[0].match(scope["path"]):
            most = self.uploads[1]
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > most):
            await self._refuse(send, int(length) if length.isdigit() else None, most)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > most:
                await self._refuse(send, None, most)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = without_bom(b"".join(chunks))
        if too_deep_body(body):
            await send_json(send, *too_deep_response())
            return
        scope["cstool.body"] = body  # for the error handler (malformed JSON)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, length: int | None, most: int) -> None:
        got = f" ({length:,} bytes)" if length is not None else ""
        body = json.dumps({"error": {
            "code": "too_large",
            "message": f"request body too large{got}; at most {most:,} bytes",
        }}).encode()
        await send_json(send, 413, body, close=True)


async def send_json(send: Any, status: int, body: bytes, *, close: bool = False) -> None:
    """Answer with a JSON body from plain ASGI."""
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
