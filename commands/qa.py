"""`cstool qa ...`: quality inspection (质检) — the review queue, one chat's findings, a
reviewer's verdict; `cstool metrics qa` and `cstool metrics agent --radar` print the
figures (commands/metrics.py mounts them)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cstool.errors import UsageError
from cstool.i18n import t
from cstool.values import display_zone_name

from .context import state, wants_json
from .crud import JsonOpt
from .output import info, print_json, print_table

app = typer.Typer(help="Quality inspection (质检): the review queue, findings, verdicts.",
                  no_args_is_help=True)


def _pct(v: Any) -> str:
    return "" if v is None else f"{v * 100:.1f}%"


def _plain(v: Any) -> str:
    return "" if v is None else str(v)


def rule_name(rule: str) -> str:
    """A QA rule in the interface language."""
    return t(f"qa.rule.{rule}")


def _findings(item: dict) -> None:
    print_table(item["findings"], [
        ("finding", lambda f: f["id"]), ("rule", lambda f: rule_name(f["rule"])),
        ("points", lambda f: f["points"]), ("agent", lambda f: _plain(f["agent"])),
        ("message", lambda f: _plain(f["message"])),
        ("text", lambda f: (f["text"] or "")[:40]), ("detail", lambda f: f["detail"]),
        ("verdict", lambda f: _plain(f["verdict"]))])


@app.command("queue")
def queue_cmd(
    ctx: typer.Context,
    shop: Annotated[str, typer.Argument(help="The shop.")],
    limit: Annotated[int, typer.Option(help="At most this many chats.")] = 50,
    json_: JsonOpt = False,
) -> None:
    """Chats waiting for a QA review: every flagged chat and the random sample."""
    items = state(ctx).backend.qa_queue(shop, limit=limit)
    if wants_json(ctx, json_):
        print_json(items)
        return
    print_table(items, [
        ("conversation", lambda r: r["conversation"]), ("agent", lambda r: _plain(r["agent"])),
        ("score", lambda r: r["score"]), ("findings", lambda r: len(r["findings"])),
        ("rules", lambda r: ", ".join(dict.fromkeys(rule_name(f["rule"])
                                                     for f in r["findings"]))),
        ("sampled", lambda r: "✓" if r["sampled"] and not r["flagged"] else ""),
        ("closed", lambda r: r["closed_at"])])


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    conversation: Annotated[int, typer.Argument(help="The chat.")],
    json_: JsonOpt = False,
) -> None:
    """One chat's inspection: its score and each finding at its message."""
    item = state(ctx).backend.qa_chat(conversation)
    if wants_json(ctx, json_):
        print_json(item)
        return
    info(t("cli.qa_chat", conversation=conversation, score=item["score"],
           agent=item["agent"] or "-"))
    _findings(item)


@app.command("review")
def review_cmd(
    ctx: typer.Context,
    shop: Annotated[str, typer.Argument(help="The shop.")],
    conversation: Annotated[int, typer.Argument(help="The chat.")],
    verdict: Annotated[str, typer.Argument(help="confirmed or overturned.")],
    finding: Annotated[int | None, typer.Option(
        help="One finding (default: every finding still open).")] = None,
    by: Annotated[str | None, typer.Option(help="The reviewer (a supervisor's handle).")]
    = None,
    json_: JsonOpt = False,
) -> None:
    """Confirm or overturn a chat's findings; the score counts those not overturned."""
    item = state(ctx).backend.qa_review(shop, conversation, verdict, finding=finding, by=by)
    if wants_json(ctx, json_):
        print_json(item)
        return
    info(t("cli.qa_reviewed", conversation=conversation, score=item["score"]))
    _findings(item)


def report_cmd(ctx: typer.Context, shop: str | None, since: str | None, until: str | None,
               by: str, json_: bool) -> None:
    """`cstool metrics qa`: the QA figures per agent or shop."""
    report = state(ctx).backend.qa_report(shop=shop, since=since, until=until, by=by,
                                          zone=display_zone_name())
    if wants_json(ctx, json_):
        print_json(report)
        return
    total = {**report["total"], by: "(all)"}
    print_table([*report["rows"], total], [
        (by, lambda r: r[by]), ("chats", lambda r: r["chats"]),
        ("QA score", lambda r: _plain(r["qa_score"])), ("low", lambda r: r["low"]),
        ("flagged", lambda r: r["flagged"]), ("reviewed", lambda r: r["reviewed"]),
        ("findings", lambda r: r["findings"]), ("overturned", lambda r: r["overturned"]),
        ("hints", lambda r: ", ".join(rule_name(h) for h in r["hints"]))])
    if report.get("pending_review") is not None:
        info(t("cli.qa_pending", n=report["pending_review"]))


def radar_cmd(ctx: typer.Context, shop: str | None, handle: str | None, since: str | None,
              until: str | None, json_: bool) -> None:
    """`cstool metrics agent --radar`: the agent radar of a shop (or one agent)."""
    if shop is None:
        raise UsageError("--radar needs --shop", key="radar_needs_shop")
    rows = state(ctx).backend.agent_radar(shop, since, until, agent=handle,
                                          zone=display_zone_name())
    if wants_json(ctx, json_):
        print_json(rows)
        return
    print_table(rows, [
        ("agent", lambda r: r["agent"]), ("chats", lambda r: r["conversations"]),
        ("3-min", lambda r: _pct(r["response_rate"])), ("CSAT", lambda r: _pct(r["csat"])),
        ("conv %", lambda r: _pct(r["inquiry_conversion"])),
        ("complaints", lambda r: _pct(r["complaint_rate"])),
        ("attach", lambda r: _pct(r["attach_rate"])),
        ("QA score", lambda r: _plain(r["qa_score"])),
        ("hints", lambda r: ", ".join(rule_name(h) for h in r["hints"]))])
