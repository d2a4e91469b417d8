"""`cstool webhook ...`: a shop's events POSTed, signed and retried, to integrations."""

from typing import Annotated

import typer

from cstool.errors import UsageError
from cstool.i18n import t
from cstool.resources import WEBHOOK_EVENTS

from .context import state, wants_json
from .crud import JsonOpt, register_reads
from .deliveries import AfterOpt, LimitOpt, StatusOpt, add_delivery_command, print_deliveries
from .output import info, print_json

app = typer.Typer(help="Webhooks: a shop's events POSTed, signed and retried, to a URL.",
                  no_args_is_help=True)
register_reads(
    app,
    "webhooks",
    [
        ("name", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("url", lambda r: r["url"]),
        ("events", lambda r: ", ".join(r["events"])),
        ("active", lambda r: "yes" if r.get("active", True) else "no"),
        ("secret", lambda r: "********"),
    ],
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The webhook's name.")]
EventOpt = Annotated[list[str] | None, typer.Option(
    "--event", metavar="TYPE",
    help="An event type to send (repeat; * for all; see `cstool webhook events`).")]


def _events(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [e.strip() for v in values for e in v.split(",") if e.strip()]


def _secret_shown(ctx: typer.Context, json_: bool, stored: dict, message: str) -> None:
    if wants_json(ctx, json_):
        print_json(stored)
        return
    info(message)
    if stored.get("secret"):
        typer.echo(stored["secret"])  # on stdout, alone: `S=$(cstool webhook add ...)`
        info(t("cli.webhook_secret_once"))


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    name: NameArg,
    shop: Annotated[str, typer.Option(help="The shop whose events go out.")],
    url: Annotated[str, typer.Option(help="http(s) URL that receives the POSTs.")],
    event: EventOpt = None,
    secret: Annotated[str | None, typer.Option(
        help="Signing secret (at least 16 characters); left out, one is generated and "
             "printed once.")] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it switched off.")]
    = False,
    json_: JsonOpt = False,
) -> None:
    """Create a webhook: the shop's events of the types given are POSTed to URL."""
    events = _events(event)
    if not events:
        raise UsageError("give at least one --event TYPE (or --event '*')",
                         key="webhook_needs_event")
    rec = {"key": name, "shop": shop, "url": url, "events": events, "active": not inactive}
    if secret is not None:
        rec["secret"] = secret
    stored = state(ctx).backend.create("webhooks", rec)
    _secret_shown(ctx, json_, stored, t("cli.webhook_added", name=name))


@app.command("update")
def update_cmd(
    ctx: typer.Context,
    name: NameArg,
    url: Annotated[str | None, typer.Option(help="A new URL.")] = None,
    event: EventOpt = None,
    active: Annotated[bool | None, typer.Option(
        "--active/--inactive", help="Switch deliveries on or off.")] = None,
    secret: Annotated[str | None, typer.Option(help="A new signing secret.")] = None,
    new_secret: Annotated[bool, typer.Option(
        "--new-secret", help="Generate a new secret (printed once).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Change a webhook's URL, event types, state or secret; the rest stay."""
    if secret is not None and new_secret:
        raise UsageError("--secret and --new-secret exclude each other",
                         key="webhook_secret_twice")
    changes: dict = {}
    if url is not None:
        changes["url"] = url
    events = _events(event)
    if events is not None:
        changes["events"] = events
    if active is not None:
        changes["active"] = active
    if secret is not None:
        changes["secret"] = secret
    if new_secret:
        changes["secret"] = None
    if not changes:
        raise UsageError("nothing to change: give at least one option (see --help)",
                         key="nothing_to_change_options")
    stored = state(ctx).backend.update("webhooks", name, changes)
    _secret_shown(ctx, json_, stored, t("cli.webhook_updated", name=name))


def _outcome(ctx: typer.Context, json_: bool, delivery: dict, result: dict | None) -> None:
    backend = state(ctx).backend
    d = backend.webhook_delivery(delivery["id"])
    if wants_json(ctx, json_):
        print_json(d)
    else:
        last = d["attempt_log"][-1] if d["attempt_log"] else {}
        info(t("cli.webhook_attempt", id=d["id"], status=d["status"],
               code=last.get("status_code") or "-", error=last.get("error") or ""))
    if result is None or d["status"] != "done":
        raise typer.Exit(1)


@app.command("test")
def test_cmd(ctx: typer.Context, name: NameArg, json_: JsonOpt = False) -> None:
    """Send a webhook.test event to the webhook now (one attempt) and say how it went;
    exit 1 unless the receiver answered 2xx."""
    from cstool.webhook_sender import send_now

    backend = state(ctx).backend
    d = backend.webhook_test(name)
    _outcome(ctx, json_, d, send_now(backend, d["id"]))


@app.command("redeliver")
def redeliver_cmd(
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(metavar="DELIVERY_ID")],
    json_: JsonOpt = False,
) -> None:
    """Send a delivery again now, with the same id (a dead letter gets a new window of
    retries); exit 1 unless the receiver answered 2xx (the worker retries it then)."""
    from cstool.webhook_sender import send_now

    backend = state(ctx).backend
    d = backend.webhook_redeliver(delivery)
    _outcome(ctx, json_, d, send_now(backend, d["id"]))


@app.command("deliveries")
def deliveries_cmd(
    ctx: typer.Context,
    name: NameArg,
    status: StatusOpt = None,
    limit: LimitOpt = 50,
    after: AfterOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The webhook's deliveries, newest first: event, state, attempts, last answer."""
    rows = state(ctx).backend.webhook_deliveries(name, status=status, limit=limit,
                                                 after=after)
    print_deliveries(ctx, json_, rows, [
        ("id", lambda r: r["id"]), ("event", lambda r: r["event"]),
        ("status", lambda r: r["status"]), ("attempts", lambda r: r["attempts"]),
        ("last", lambda r: r["last_status_code"] or r["last_error"]),
        ("next attempt", lambda r: r["next_attempt_at"]),
        ("created", lambda r: r["created_at"]),
    ])


add_delivery_command(app, "One delivery: its body and every attempt.")


@app.command("events")
def events_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """The event types a webhook may subscribe to."""
    if wants_json(ctx, json_):
        print_json(list(WEBHOOK_EVENTS))
    else:
        for e in WEBHOOK_EVENTS:
            typer.echo(e)
