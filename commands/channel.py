"""`cstool channel ...`: a shop's channel connectors to its messaging gateway (an app, a
小程序, SMS, e-mail): messages to customers POSTed, signed and retried, and the
gateway's delivery receipts."""

from typing import Annotated

import typer

from cstool.errors import UsageError
from cstool.i18n import t
from cstool.resources import CHANNEL_KINDS, CHANNELS

from .context import state, wants_json
from .crud import JsonOpt, register_reads
from .deliveries import AfterOpt, LimitOpt, StatusOpt, add_delivery_command, print_deliveries
from .output import info, print_json

app = typer.Typer(help="Channel connectors: messages to a shop's customers POSTed, signed "
                       "and retried, to its messaging gateway.", no_args_is_help=True)
register_reads(
    app,
    "channels",
    [
        ("name", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("kind", lambda r: r["kind"]),
        ("url", lambda r: r.get("url") or ""),
        ("client", lambda r: r.get("client") or ""),
        ("active", lambda r: "yes" if r.get("active", True) else "no"),
        ("secret", lambda r: "********" if r["kind"] == "http" else ""),
    ],
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The channel's name.")]
ClientOpt = Annotated[str | None, typer.Option(
    help=f"The client it reaches ({', '.join(CHANNELS)}): customers whose profile "
         "prefers it are reached here when they have no chat.")]


def _shown(ctx: typer.Context, json_: bool, stored: dict, message: str) -> None:
    if wants_json(ctx, json_):
        print_json(stored)
        return
    info(message)
    if stored.get("secret"):
        typer.echo(stored["secret"])  # on stdout, alone: `S=$(cstool channel add ...)`
        info(t("cli.webhook_secret_once"))


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    name: NameArg,
    shop: Annotated[str, typer.Option(help="The shop whose customers it reaches.")],
    kind: Annotated[str, typer.Option(
        help=f"{' or '.join(CHANNEL_KINDS)}: http is a connector to a gateway.")] = "http",
    url: Annotated[str | None, typer.Option(
        help="http: the gateway's http(s) URL that receives the messages.")] = None,
    client: ClientOpt = None,
    secret: Annotated[str | None, typer.Option(
        help="Signing secret (at least 16 characters); left out, one is generated and "
             "printed once.")] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it switched off.")]
    = False,
    json_: JsonOpt = False,
) -> None:
    """Create a channel: messages to the shop's customers who write through it (or
    prefer its client) are POSTed to URL."""
    rec = {"key": name, "shop": shop, "kind": kind, "active": not inactive}
    for field, value in (("url", url), ("client", client), ("secret", secret)):
        if value is not None:
            rec[field] = value
    stored = state(ctx).backend.create("channels", rec)
    _shown(ctx, json_, stored, t("cli.channel_added", name=name))


@app.command("update")
def update_cmd(
    ctx: typer.Context,
    name: NameArg,
    url: Annotated[str | None, typer.Option(help="A new URL.")] = None,
    client: ClientOpt = None,
    active: Annotated[bool | None, typer.Option(
        "--active/--inactive", help="Switch deliveries on or off.")] = None,
    secret: Annotated[str | None, typer.Option(help="A new signing secret.")] = None,
    new_secret: Annotated[bool, typer.Option(
        "--new-secret", help="Generate a new secret (printed once).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Change a channel's URL, client, state or secret; the rest stay."""
    if secret is not None and new_secret:
        raise UsageError("--secret and --new-secret exclude each other",
                         key="webhook_secret_twice")
    changes: dict = {}
    for field, value in (("url", url), ("client", client), ("active", active),
                         ("secret", secret)):
        if value is not None:
            changes[field] = value
    if new_secret:
        changes["secret"] = None
    if not changes:
        raise UsageError("nothing to change: give at least one option (see --help)",
                         key="nothing_to_change_options")
    stored = state(ctx).backend.update("channels", name, changes)
    _shown(ctx, json_, stored, t("cli.channel_updated", name=name))


@app.command("deliveries")
def deliveries_cmd(
    ctx: typer.Context,
    name: NameArg,
    status: StatusOpt = None,
    limit: LimitOpt = 50,
    after: AfterOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The channel's deliveries, newest first: message, state, attempts, receipt."""
    rows = state(ctx).backend.channel_deliveries(name, status=status, limit=limit,
                                                 after=after)
    print_deliveries(ctx, json_, rows, [
        ("id", lambda r: r["id"]), ("message", lambda r: r["message"]),
        ("status", lambda r: r["status"]), ("attempts", lambda r: r["attempts"]),
        ("last", lambda r: r["last_status_code"] or r["last_error"]),
        ("receipt", lambda r: r["receipt"] or ""),
        ("created", lambda r: r["created_at"]),
    ])


add_delivery_command(app, "One delivery: its body, every attempt and the gateway's receipt.")


@app.command("redeliver")
def redeliver_cmd(
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(metavar="DELIVERY_ID")],
    json_: JsonOpt = False,
) -> None:
    """Send a delivery again now, with the same id (a dead letter gets a new window of
    retries); exit 1 unless the gateway answered 2xx (the worker retries it then)."""
    from cstool.webhook_sender import send_now

    backend = state(ctx).backend
    d = backend.webhook_redeliver(delivery)
    send_now(backend, d["id"])
    d = backend.webhook_delivery(d["id"])
    if wants_json(ctx, json_):
        print_json(d)
    else:
        last = d["attempt_log"][-1] if d["attempt_log"] else {}
        info(t("cli.webhook_attempt", id=d["id"], status=d["status"],
               code=last.get("status_code") or "-", error=last.get("error") or ""))
    if d["status"] != "done":
        raise typer.Exit(1)


@app.command("receipt")
def receipt_cmd(
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(metavar="DELIVERY_ID")],
    status: Annotated[str, typer.Argument(metavar="STATUS",
                                          help="delivered, read or failed.")],
    json_: JsonOpt = False,
) -> None:
    """Record a gateway's receipt of a delivered message by hand (gateways report
    through the API: POST /v1/channel-deliveries/DELIVERY_ID/receipt)."""
    r = state(ctx).backend.channel_receipt(delivery, status)
    if wants_json(ctx, json_):
        print_json(r)
    else:
        info(t("cli.channel_receipt", delivery=delivery, status=r["message_delivery"] or
               status))
