"""`cstool ticket ...`: work orders with SLA deadlines, reminders and escalation."""

from typing import Annotated

import typer

from cstool import i18n
from cstool.values import parse_time, short_time

from .context import state, wants_json
from .crud import JsonOpt
from .output import info, print_json, print_record, print_table

app = typer.Typer(help="Tickets: work orders raised from chats, with SLA deadlines.",
                  no_args_is_help=True)

TicketArg = Annotated[int, typer.Argument(metavar="ID", help="The ticket's id.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="The acting agent's handle.")]


def _t(value: str | None) -> str:
    return short_time(parse_time(value)) if value else ""


COLUMNS = [
    ("id", lambda t: t["id"]),
    ("shop", lambda t: t["shop"]),
    ("type", lambda t: t["type"]),
    ("prio", lambda t: t["priority"]),
    ("status", lambda t: t["status"]),
    ("assignee", lambda t: t["assignee"] or ""),
    ("title", lambda t: t["title"]),
    ("response due", lambda t: "" if t["first_responded_at"] else _t(t["first_response_due"])),
    ("resolution due", lambda t: _t(t["resolution_due"])),
    ("SLA", lambda t: f"{t['sla']['first_response']['state']}/{t['sla']['resolution']['state']}"),
]


def _out(ctx: typer.Context, json_: bool, ticket: dict, message: str) -> None:
    if wants_json(ctx, json_):
        print_json(ticket)
    else:
        info(message)


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    type_: Annotated[str, typer.Option("--type", help="complaint, return_refund, "
                                       "damaged_goods, delivery_delay, installation_delay, "
                                       "invoice or other.")],
    title: Annotated[str, typer.Option(help="What it is about.")],
    conv: Annotated[int | None, typer.Option(help="The conversation it is raised from.")]
    = None,
    shop: Annotated[str | None, typer.Option(help="The shop (when not from a conversation).")]
    = None,
    priority: Annotated[str, typer.Option(help="P1 (urgent) .. P4.")] = "P3",
    team: Annotated[str | None, typer.Option(
        help="aftersale, logistics, technical or management.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Who works on it.")] = None,
    order: Annotated[str | None, typer.Option(help="The order it concerns.")] = None,
    by: ByOpt = None,
    note: Annotated[str | None, typer.Option(help="An internal note.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Raise a ticket; its SLA deadlines come from the shop's policies and calendar."""
    t = state(ctx).backend.create_ticket(type=type_, title=title, shop=shop, conversation=conv,
                                         priority=priority, team=team, assignee=assignee,
                                         order=order, by=by, note=note)
    _out(ctx, json_, t, i18n.t("cli.ticket_created", id=t["id"],
                                response=_t(t["first_response_due"]),
                                resolution=_t(t["resolution_due"])))


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="Only this shop's.")] = None,
    status: Annotated[str | None, typer.Option(help="A status, or open.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Only this agent's.")] = None,
    breaching: Annotated[bool, typer.Option(help="Only those past a deadline.")] = False,
    due_within: Annotated[str | None, typer.Option(
        help="Only those due within this long: 30m, 2h, 1d.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List tickets by deadline, coloured by SLA state on a terminal."""
    seconds = _duration(due_within) if due_within else None
    rows = state(ctx).backend.list_tickets(shop=shop, status=status, assignee=assignee,
                                           breaching=breaching, due_within_s=seconds)
    if wants_json(ctx, json_):
        print_json(rows)
    else:
        print_table(rows, COLUMNS)


def _duration(text: str) -> int:
    from cstool.errors import UsageError

    units = {"m": 60, "h": 3600, "d": 86400}
    try:
        return int(float(text[:-1]) * units[text[-1]])
    except (KeyError, ValueError, IndexError):
        raise UsageError(f"--due-within: expected like 30m, 2h or 1d, got {text!r}",
                         key="due_within_format", text=text) from None


@app.command("show")
def show_cmd(ctx: typer.Context, ticket: TicketArg, json_: JsonOpt = False) -> None:
    """Show a ticket with its SLA state and timeline."""
    t = state(ctx).backend.get_ticket(ticket)
    if wants_json(ctx, json_):
        print_json(t)
    else:
        print_record(t)


@app.command("update")
def update_cmd(
    ctx: typer.Context, ticket: TicketArg, by: ByOpt = None,
    status: Annotated[str | None, typer.Option(
        help="new, open, waiting_customer (pauses the clock) or waiting_third_party.")] = None,
    priority: Annotated[str | None, typer.Option(help="P1 .. P4.")] = None,
    team: Annotated[str | None, typer.Option(help="The team.")] = None,
    title: Annotated[str | None, typer.Option(help="A new title.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Change a ticket's status, priority, team or title (deadlines are recomputed)."""
    t = state(ctx).backend.update_ticket(ticket, by=by, status=status, priority=priority,
                                         team=team, title=title)
    _out(ctx, json_, t, i18n.t("cli.ticket_updated", id=ticket))


@app.command("assign")
def assign_cmd(ctx: typer.Context, ticket: TicketArg,
               agent: Annotated[str, typer.Argument(help="The new assignee.")],
               by: ByOpt = None, json_: JsonOpt = False) -> None:
    """Give a ticket to an agent."""
    t = state(ctx).backend.assign_ticket(ticket, agent, by=by)
    _out(ctx, json_, t, i18n.t("cli.ticket_assigned", id=ticket, agent=agent))


@app.command("note")
def note_cmd(ctx: typer.Context, ticket: TicketArg,
             text: Annotated[str, typer.Argument(help="The internal note.")],
             by: ByOpt = None, json_: JsonOpt = False) -> None:
    """Add an internal note (the customer does not see it)."""
    t = state(ctx).backend.note_ticket(ticket, text, by=by)
    _out(ctx, json_, t, i18n.t("cli.ticket_noted", id=ticket))


@app.command("reply")
def reply_cmd(ctx: typer.Context, ticket: TicketArg,
              text: Annotated[str, typer.Argument(help="What the customer reads.")],
              by: Annotated[str, typer.Option("--by", help="The replying agent.")],
              json_: JsonOpt = False) -> None:
    """Reply to the customer (meets the first-response target)."""
    t = state(ctx).backend.reply_ticket(ticket, text, by=by)
    _out(ctx, json_, t, i18n.t("cli.ticket_replied", id=ticket))


@app.command("resolve")
def resolve_cmd(ctx: typer.Context, ticket: TicketArg, by: ByOpt = None,
                note: Annotated[str, typer.Option(help="What was done.")] = "",
                json_: JsonOpt = False) -> None:
    """Resolve: the customer is told and asked for a rating."""
    t = state(ctx).backend.resolve_ticket(ticket, by=by, note=note)
    _out(ctx, json_, t, i18n.t("cli.ticket_resolved", id=ticket))


@app.command("close")
def close_cmd(ctx: typer.Context, ticket: TicketArg, by: ByOpt = None,
              json_: JsonOpt = False) -> None:
    """Close a ticket for good."""
    t = state(ctx).backend.close_ticket(ticket, by=by)
    _out(ctx, json_, t, i18n.t("cli.ticket_closed", id=ticket))


@app.command("reopen")
def reopen_cmd(ctx: typer.Context, ticket: TicketArg, by: ByOpt = None,
               reason: Annotated[str, typer.Option(help="Why.")] = "",
               json_: JsonOpt = False) -> None:
    """Reopen a resolved or closed ticket."""
    t = state(ctx).backend.reopen_ticket(ticket, by=by, reason=reason)
    _out(ctx, json_, t, i18n.t("cli.ticket_reopened", id=ticket))


@app.command("scan")
def scan_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """One SLA pass: warnings at 80 % and escalations at breach, each once (the worker's job)."""
    done = state(ctx).backend.sla_scan()
    if wants_json(ctx, json_):
        print_json(done)
    else:
        info(i18n.t("cli.sla_scan", warnings=sum(d["kind"] == "sla_warning" for d in done),
                    escalations=sum(d["kind"] == "sla_breached" for d in done)))


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="Only this shop's.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Created from (ISO time).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Created before (ISO time).")] = None,
    by: Annotated[str | None, typer.Option(help="type, team or agent.")] = None,
    json_: JsonOpt = False,
) -> None:
    """SLA attainment: first response and resolution met, and mean times."""
    from cstool.errors import UsageError

    try:
        since = parse_time(from_) if from_ else None
        until = parse_time(to) if to else None
    except ValueError as e:  # cstool.values says what is wrong, with its key
        raise UsageError(str(e), key=getattr(e, "key", "time_bad"),
                         **getattr(e, "params", {"value": from_ or to})) from None
    rows = state(ctx).backend.ticket_report(shop=shop, since=since, until=until, by=by)
    if wants_json(ctx, json_):
        print_json(rows)
        return
    key = by or "group"
    print_table(rows, [
        (key, lambda r: r[key]), ("tickets", lambda r: r["tickets"]),
        ("1st response met", lambda r: _pct(r["first_response_met"])),
        ("resolution met", lambda r: _pct(r["resolution_met"])),
        ("avg 1st response (min)", lambda r: r["first_response_avg_min"]),
        ("avg resolution (min)", lambda r: r["resolution_avg_min"]),
    ])


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x * 100:.1f}%"
