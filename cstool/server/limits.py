"""A request body size limit, as plain ASGI middleware (it runs before any parsing)."""

from __future__ import annotations

import json
from typing import Any


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 and a JSON error.

    A declared Content-Length over the limit is refused before reading; a chunked
    body is read up to the limit and refused as soon as it passes it.
    """

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send, int(length) if length.isdigit() else None)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, None)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        scope["cstool.body"] = body  # for the error handler (malformed JSON)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, length: int | None) -> None:
        got = f" ({length:,} bytes)" if length is not None else ""
        body = json.dumps({"error": {
            "code": "too_large",
            "message": f"request body too large{got}; at most {self.max_bytes:,} bytes",
        }}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
