"""`cstool reply ...`: quick replies (canned answers) per shop and per agent."""

import re
from typing import Annotated

import typer

from cstool.api.backend import Backend
from cstool.errors import UsageError
from cstool.i18n import t

from .context import state, wants_json
from .crud import JsonOpt
from .output import info, print_json, print_table

app = typer.Typer(help="Quick replies agents insert in the console (/ opens them): the "
                       "shop's, and each agent's own.", no_args_is_help=True)

KIND = "quick_replies"


def _short(text: str, n: int = 50) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def _next_key(backend: Backend, shop: str) -> str:
    """``<shop>-qr-<n>``, the next free number."""
    base = re.sub(r"[^a-z0-9_.-]", "-", shop)[:50]
    taken = {r["key"] for r in backend.list(KIND, shop=shop)}
    n = len(taken) + 1
    while f"{base}-qr-{n}" in taken:
        n += 1
    return f"{base}-qr-{n}"


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="A short name agents search for.")],
    body: Annotated[str, typer.Argument(help="The text inserted into the reply.")],
    shop: Annotated[str, typer.Option(help="The shop.")],
    agent: Annotated[str | None, typer.Option(
        help="Only for this agent (absent: every agent of the shop).")] = None,
    key: Annotated[str | None, typer.Option(help="A stable key (default: <shop>-qr-<n>).")]
    = None,
    json_: JsonOpt = False,
) -> None:
    """Add a quick reply."""
    backend = state(ctx).backend
    rec = {"key": key or _next_key(backend, shop), "shop": shop, "title": title, "body": body}
    if agent is not None:
        rec["agent"] = agent
    stored = backend.create(KIND, rec)
    if wants_json(ctx, json_):
        print_json(stored)
    else:
        info(t("cli.added", key=stored["key"]))


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="Only this shop's.")] = None,
    agent: Annotated[str | None, typer.Option(
        help="What this agent sees: the shop's and their own.")] = None,
    search: Annotated[str | None, typer.Option(
        help="Only those whose title or text has these characters in order, each as "
        "itself or as a pinyin initial (fh finds 发货), as the console's search.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List quick replies."""
    if agent is not None and shop is None:
        raise UsageError("--agent needs --shop", key="reply_agent_needs_shop")
    rows = state(ctx).backend.list(KIND, shop=shop)
    if agent is not None:
        rows = [r for r in rows if r.get("agent") in (None, agent)]
    if search is not None:
        from cstool.pinyin_match import fuzzy_match

        rows = [r for r in rows if fuzzy_match(search, f"{r['title']}：{r['body']}")]
    if wants_json(ctx, json_):
        print_json(rows)
        return
    print_table(rows, [("key", lambda r: r["key"]), ("shop", lambda r: r["shop"]),
                       ("agent", lambda r: r.get("agent") or "(shop)"),
                       ("title", lambda r: r["title"]), ("body", lambda r: _short(r["body"]))])


@app.command("remove")
def remove_cmd(ctx: typer.Context,
               key: Annotated[str, typer.Argument(help="The quick reply's key.")]) -> None:
    """Remove a quick reply."""
    state(ctx).backend.delete(KIND, key)
    info(t("cli.removed", key=key))
