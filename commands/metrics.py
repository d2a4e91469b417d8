"""`cstool metrics ...`: service figures (docs/DESIGN.md §9) for a period, grouped, as a table,
JSON or CSV; one agent's figures."""

from __future__ import annotations

import csv
import sys
from typing import Annotated, Any

import typer

from cstool.errors import UsageError
from cstool.i18n import t, value
from cstool.services.metrics import check_period
from cstool.values import display_zone_name, yuan

from . import qa
from .context import state, wants_json
from .crud import JsonOpt
from .output import Header, counted, info, print_json, print_table

app = typer.Typer(help="Service metrics: response and answer rates, bot resolution, CSAT, "
                  "conversion, agents.", no_args_is_help=True)

FromOpt = Annotated[str | None, typer.Option(
    "--from", help="Conversations created from this time (ISO 8601 or a date, display zone).")]
ToOpt = Annotated[str | None, typer.Option(
    "--to", help="... and before this time (default: no end).")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV (the rows) for spreadsheets.")]


def _pct(v: Any) -> str:
    return "" if v is None else f"{v * 100:.1f}%"


def _secs(v: Any) -> str:
    if v is None:
        return ""
    if v < 60:
        return f"{v:.1f}s"
    m, s = divmod(round(v), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def _money(v: Any) -> str:
    return "" if v is None else yuan(round(v * 100))


def _plain(v: Any) -> str:
    return "" if v is None else str(v)


# (field, label, formatter): the figures people read, in the order they read them
SHOWN = [
    ("conversations", "conversations", _plain),
    ("customers", "customers", _plain),
    ("customer_messages", "customer messages", _plain),
    ("agent_messages", "agent messages", _plain),
    ("bot_messages", "bot messages", _plain),
    ("human_conversations", "needed a human", _plain),
    ("answered_conversations", "answered by an agent", _plain),
    ("first_response_avg_s", "first response (mean)", _secs),
    ("response_rate", "response rate (3 min)", _pct),
    ("turns", "customer turns", _plain),
    ("answer_rate", "answer rate (30 s)", _pct),
    ("avg_response_s", "response time (mean)", _secs),
    ("bot_conversations", "bot-engaged", _plain),
    ("handoff_rate", "handoff rate", _pct),
    ("bot_resolution_rate", "bot resolution rate", _pct),
    ("abandoned", "abandoned", _plain),
    ("abandonment_rate", "abandonment rate", _pct),
    ("queued", "waited in queue", _plain),
    ("queue_wait_avg_s", "queue wait (mean)", _secs),
    ("queue_wait_max_s", "queue wait (max)", _secs),
    ("closed", "closed", _plain),
    ("rating_response_rate", "rating response rate", _pct),
    ("csat", "CSAT (4-5)", _pct),
    ("rating_avg", "rating (mean)", _plain),
    ("consulting_customers", "consulting customers", _plain),
    ("inquiry_conversion", "inquiry conversion", _pct),
    ("paid_conversion", "paid conversion", _pct),
    ("attributed_orders", "orders via agents", _plain),
    ("attributed_sales", "sales via agents", _money),
    ("chats", "chats", _plain),
    ("transfers", "transfers", _plain),
    ("handle_time_avg_s", "handle time (mean)", _secs),
    ("online_s", "online time", _secs),
    ("concurrency_avg", "concurrency (mean)", _plain),
    ("concurrency_peak", "concurrency (peak)", _plain),
]
# the columns of a grouped table (a row per group)
WIDE = [
    ("conversations", "conv", _plain),
    ("first_response_avg_s", "FRT", _secs),
    ("response_rate", "3-min", _pct),
    ("answer_rate", "30-s", _pct),
    ("avg_response_s", "resp", _secs),
    ("bot_resolution_rate", "bot res", _pct),
    ("abandonment_rate", "aband", _pct),
    ("queue_wait_avg_s", "queue", _secs),
    ("csat", "CSAT", _pct),
    ("inquiry_conversion", "conv %", _pct),
    ("attributed_sales", "sales", _money),
]
AGENT_WIDE = [
    ("status", "status", _plain),
    ("conversations", "chats", _plain),
    ("agent_messages", "msgs", _plain),
    ("first_response_avg_s", "FRT", _secs),
    ("response_rate", "3-min", _pct),
    ("answer_rate", "30-s", _pct),
    ("avg_response_s", "resp", _secs),
    ("csat", "CSAT", _pct),
    ("inquiry_conversion", "conv %", _pct),
    ("attributed_sales", "sales", _money),
    ("online_s", "online", _secs),
    ("handle_time_avg_s", Header("handle", "col.handle_time"), _secs),
    ("concurrency_avg", "conc", _plain),
]


def _vertical(figures: dict) -> None:
    rows = [{"figure": label, "value": fmt(figures[key])}
            for key, label, fmt in SHOWN if key in figures and figures[key] is not None]
    print_table(rows, [("figure", lambda r: r["figure"]), ("value", lambda r: r["value"])])


def _write_csv(columns: list[str], rows: list[dict]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])


def _output_format(ctx: typer.Context, json_: bool, csv_: bool) -> str:
    as_json = wants_json(ctx, json_)
    if as_json and csv_:
        raise UsageError("choose one of --json and --csv", key="json_or_csv")
    return "json" if as_json else "csv" if csv_ else "table"


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="Only this shop's conversations.")] = None,
    since: FromOpt = None,
    until: ToOpt = None,
    by: Annotated[str | None, typer.Option(
        help="Group by shop, agent, group, channel, hour, day, label, intent, group-kind or "
             "category; combine conversation dimensions with commas (shop,channel,hour); "
             "with --sla also type or team.")]
    = None,
    sla: Annotated[bool, typer.Option(
        "--sla", help="Also ticket SLA attainment (by type, team or agent with --by).")]
    = False,
    json_: JsonOpt = False,
    csv_: CsvOpt = False,
) -> None:
    """Service figures of the conversations created in a period (all by default)."""
    fmt = _output_format(ctx, json_, csv_)
    backend = state(ctx).backend
    # type and team group tickets only (with --sla); conversations stay in total then
    conv_by = None if sla and by in ("type", "team") else by
    check_period(since, until)
    report = backend.metrics_report(shop=shop, since=since, until=until, by=conv_by,
                                    zone=display_zone_name())
    dims = report["by"]
    if sla:
        from cstool.values import parse_time

        lo = parse_time(since) if since else None
        hi = parse_time(until) if until else None
        sla_by = by if by in ("type", "team", "agent") else None
        report["sla"] = backend.ticket_report(shop=shop, since=lo, until=hi, by=sla_by)
    if fmt == "json":
        print_json(report)
        return
    fields = list(report["total"])
    if fmt == "csv":
        if dims:
            extra = [k for k in report["rows"][0] if k not in dims and k not in fields] \
                if report["rows"] else []
            _write_csv([*dims, *extra, *fields], report["rows"])
        else:
            _write_csv(fields, [report["total"]])
        return
    period = t("cli.period", start=report["from"] or t("cli.the_start"),
               end=report["to"] or t("cli.now"))
    info(t("cli.report_period", period=period)
         + (t("cli.report_shop", shop=shop) if shop else ""))
    if sla and fmt != "csv":
        _sla_table(report["sla"])
    if not dims:
        _vertical(report["total"])
        return
    wide = AGENT_WIDE if dims == ["agent"] else WIDE
    columns = [(d, lambda r, d=d: r[d]) for d in dims]
    columns += [(label, lambda r, k=k, f=f: f(r.get(k))) for k, label, f in wide]
    total = {**{d: "" for d in dims}, **report["total"]}
    total[dims[0]] = "(all)"
    print_table([*report["rows"], total], columns)


def _sla_table(rows: list[dict]) -> None:
    """Ticket SLA attainment rows (``Backend.ticket_report``)."""
    def pct(x):
        return "" if x is None else f"{x * 100:.1f}%"

    key = next((k for k in ("type", "team", "agent", "group") if rows and k in rows[0]),
               "group")
    print_table(rows, [
        (f"tickets by {key}", lambda r: r[key]), ("tickets", lambda r: r["tickets"]),
        ("1st response met", lambda r: pct(r["first_response_met"])),
        ("resolution met", lambda r: pct(r["resolution_met"])),
        ("avg 1st response (min)", lambda r: r["first_response_avg_min"]),
        ("avg resolution (min)", lambda r: r["resolution_avg_min"]),
    ])


@app.command("agent")
def agent_cmd(
    ctx: typer.Context,
    handle: Annotated[str | None, typer.Argument(help="The agent's handle.")] = None,
    since: FromOpt = None,
    until: ToOpt = None,
    radar: Annotated[bool, typer.Option(
        "--radar", help="The agent radar of --shop (today by default): complaint rate, "
                        "attach rate, QA score, training hints.")] = False,
    shop: Annotated[str | None, typer.Option(help="The shop (with --radar).")] = None,
    json_: JsonOpt = False,
    csv_: CsvOpt = False,
) -> None:
    """One agent's figures: chats, rates, CSAT, conversion, sales, online time."""
    fmt = _output_format(ctx, json_, csv_)
    check_period(since, until)
    if radar:
        qa.radar_cmd(ctx, shop, handle, since, until, fmt == "json")
        return
    if handle is None:
        raise UsageError("name the agent (or use --radar --shop)", key="agent_handle_needed")
    out = state(ctx).backend.agent_metrics(handle, since=since, until=until,
                                           zone=display_zone_name())
    if fmt == "json":
        print_json(out)
        return
    if fmt == "csv":
        _write_csv(["agent", *out["figures"]], [{"agent": handle, **out["figures"]}])
        return
    period = t("cli.period", start=out["from"] or t("cli.the_start"),
               end=out["to"] or t("cli.now"))
    info(t("cli.agent_report", name=out["name"], handle=handle,
           status=value("status", out["status"]), shops=", ".join(out["shops"]),
           period=period))
    _vertical(out["figures"])


@app.command("qa")
def qa_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="Only this shop's chats.")] = None,
    since: FromOpt = None,
    until: ToOpt = None,
    by: Annotated[str, typer.Option(help="agent or shop.")] = "agent",
    json_: JsonOpt = False,
) -> None:
    """Quality inspection (质检) figures: QA score, flagged and reviewed chats, findings."""
    check_period(since, until)
    qa.report_cmd(ctx, shop, since, until, by, json_)


@app.command("rebuild")
def rebuild_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Fold every conversation again from its messages (reports stay current anyway)."""
    out = state(ctx).backend.metrics_rebuild()
    if wants_json(ctx, json_):
        print_json(out)
    else:
        info(t("cli.metrics_rebuilt", conversations=counted(out["conversations"],
                                                              "conversation"),
               messages=counted(out["messages"], "message")))
