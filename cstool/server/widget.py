"""The customer web widget: one static page per shop at ``/widget/{shop}``.

The page (``widget/index.html``, ``app.js``, ``style.css``; no build step) takes the
customer's token from the URL fragment (``#token=...``, never sent to the server) and
talks to the same /v1 API as everyone else, with live updates from ``/v1/events``.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from ..errors import NotFound

FOLDER = Path(__file__).parent / "widget"
ASSETS = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}


def add_routes(app: FastAPI) -> None:
    """``GET /widget/{shop}`` and its two assets."""

    @app.get("/widget/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response((FOLDER / name).read_bytes(), media_type=ASSETS[name],
                        headers={"Cache-Control": "no-cache"})

    @app.get("/widget/{shop}", include_in_schema=False)
    async def page(request: Request, shop: str) -> Response:
        state = request.app.state.cstool
        try:
            record = await state.run(state.backend.get, "shops", shop)
        except NotFound:
            return HTMLResponse(
                f"<!doctype html><meta charset=utf-8><title>店铺不存在</title>"
                f"<p>没有找到店铺 {html.escape(shop)}。</p>", status_code=404)
        text = (FOLDER / "index.html").read_text(encoding="utf-8")
        text = text.replace("{{SHOP}}", html.escape(shop)).replace(
            "{{SHOP_NAME}}", html.escape(record["name"]))
        return HTMLResponse(text, headers={"Cache-Control": "no-cache",
                                           "Referrer-Policy": "no-referrer"})
