"""``GET /files/{token}``: a chat's file by a signed link that expires (``file_link``).

The widget's ``<img>`` and its download link cannot send a bearer token, so the
customer's page asks ``file_link`` (with its token, under the chat's rights) and gets a
path whose token is signed by the server's key and names one message's file and an
expiry. Nothing else is read from the request: no path, no name. The answer carries the
type sniffed at upload, ``nosniff`` and a sandboxing CSP, so a file can never run as
a page of the server."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response


def add_routes(app: FastAPI) -> None:
    """``GET /files/{token}``."""

    @app.get("/files/{token}", include_in_schema=False)
    async def file_by_link(request: Request, token: str) -> Response:
        state = request.app.state.cstool
        info, data = await state.run(state.backend.ctx.files.open_link, token)
        disposition = "inline" if info["category"] == "image" else "attachment"
        return Response(data, media_type=info["type"], headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''"
                                   f"{quote(info['name'], safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=600",
            "Referrer-Policy": "no-referrer"})
