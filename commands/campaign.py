"""`cstool campaign ...`: conversion campaigns (催拍, 催付, notices, reply codes, 追单),
their run-due pass and their stats."""

from typing import Annotated

import typer

from cstool.i18n import t, value
from cstool.values import money

from .context import state, wants_json
from .crud import JsonOpt, register
from .output import counted, info, print_json, print_record, print_table

app = typer.Typer(help="Conversion campaigns: triggers, audience, guards, stats.",
                  no_args_is_help=True)
register(
    app,
    "campaigns",
    [
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("name", lambda r: r["name"]),
        ("trigger", lambda r: r["trigger"]),
        ("status", lambda r: r["status"]),
        ("delay", lambda r: None if r.get("delay_min") is None else f"{r['delay_min']}m"),
        ("coupon", lambda r: r.get("coupon")),
        ("holdout", lambda r: f"{r['holdout']:.0%}" if r.get("holdout") else ""),
    ],
    delete_name="remove",
)

KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="The campaign's key.")]


def _set_status(ctx: typer.Context, key: str, status: str, json_: bool) -> None:
    rec = state(ctx).backend.update("campaigns", key, {"status": status})
    if wants_json(ctx, json_):
        print_json(rec)
    else:
        info(t("cli.campaign_status", key=key, status=value("campaign_status", status)))


@app.command("pause")
def pause_cmd(ctx: typer.Context, key: KeyArg, json_: JsonOpt = False) -> None:
    """Stop sending (triggers that fall due while paused are not sent later)."""
    _set_status(ctx, key, "paused", json_)


@app.command("resume")
def resume_cmd(ctx: typer.Context, key: KeyArg, json_: JsonOpt = False) -> None:
    """Send again, for triggers falling due from now on (none from the pause)."""
    _set_status(ctx, key, "active", json_)


@app.command("run-due")
def run_due_cmd(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option(
        "--now", help="Run as if it were this time (ISO 8601), e.g. to replay a day.")] = None,
    shop: Annotated[str | None, typer.Option(help="Only this shop's campaigns.")] = None,
    json_: JsonOpt = False,
) -> None:
    """One pass: decide every due trigger exactly once (send, hold out or suppress).
    Safe to run from cron while `cstool worker` runs too."""
    out = state(ctx).backend.run_due_campaigns(now, shop=shop)
    if wants_json(ctx, json_):
        print_json(out)
        return
    supp = t("cli.list_sep").join(f"{value('suppressed', k)} {v}"
                                  for k, v in out["suppressed"].items()) or t("cli.nothing")
    info(t("cli.campaign_run", at=out["at"], campaigns=counted(out["campaigns"], "campaign"),
           due=out["due"], sent=out["sent"], holdout=out["holdout"], suppressed=supp,
           deferred=out["deferred"], undeliverable=out["undeliverable"]))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


@app.command("stats")
def stats_cmd(
    ctx: typer.Context,
    key: KeyArg,
    since: Annotated[str | None, typer.Option(help="Sends from (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Sends before (ISO 8601).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Sends, suppressions by guard, conversions, sales and the lift against the
    holdout with a 95 % interval."""
    s = state(ctx).backend.campaign_stats(key, since=since, until=until)
    if wants_json(ctx, json_):
        print_json(s)
        return
    if s["lift"] is not None:
        rel = s.get("relative_lift")
        lift = (f"{s['lift'] * 100:+.1f} pts (95% CI {s['lift_low'] * 100:+.1f} to "
                f"{s['lift_high'] * 100:+.1f})"
                + (f", {rel * 100:+.0f}% relative" if rel is not None else "")
                + ("" if s["significant"] else ", not significant"))
    elif not s["sent"]:
        lift = "n/a (nothing sent yet)"
    elif not s["holdout_share"]:
        lift = "n/a (no holdout)"
    else:
        lift = "n/a (nobody held out yet)"
    print_record({
        "campaign": f"{s['campaign']} ({s['name']}, {s['trigger']}, {s['status']})",
        "shop": s["shop"],
        "sent": s["sent"],
        "delivered / read / failed": f"{s['delivered']} / {s['read']} / {s['failed']}",
        "undeliverable": s["undeliverable"],
        "held out": (f"{s['holdout']} of {s['holdout'] + s['sent']} "
                     f"({_pct(s['holdout'] / (s['holdout'] + s['sent']))}; "
                     f"set share {s['holdout_share']:.0%})" if s['holdout'] + s['sent']
                     else f"0 (set share {s['holdout_share']:.0%})"),
        "suppressed": ", ".join(f"{k} {v}" for k, v in s["suppressed_by"].items()) or 0,
        "conversions": f"{s['conversions']} ({_pct(s['conversion_rate'])}) within "
                       f"{s['attribution_h']} h",
        "holdout conversions": f"{s['holdout_conversions']} "
                               f"({_pct(s['holdout_conversion_rate'])})",
        "orders / sales": f"{s['orders']} / {money(s['sales'])}",
        "lift": lift,
    })


@app.command("sends")
def sends_cmd(
    ctx: typer.Context,
    key: KeyArg,
    outcome: Annotated[str | None, typer.Option(
        help="Only sent, holdout, suppressed, redeemed or undeliverable.")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many.")] = 100,
    after: Annotated[int | None, typer.Option(help="After this decision id (paging).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Who got what and when, who was held out or suppressed and why."""
    rows = state(ctx).backend.campaign_sends(key, outcome=outcome, customer=customer,
                                             limit=limit, after=after)
    if wants_json(ctx, json_):
        print_json(rows)
        return
    print_table(rows, [
        ("id", lambda r: r["id"]), ("at", lambda r: r["at"]),
        ("customer", lambda r: f"{r['customer_name']} ({r['customer']})"),
        ("trigger", lambda r: r["order"] or r["trigger"]),
        ("outcome", lambda r: r["outcome"] + (f": {r['reason']}" if r["reason"] else "")),
        ("coupon", lambda r: r["coupon"]), ("message", lambda r: r["body"]),
    ])
