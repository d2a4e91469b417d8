"""`cstool token ...`: API tokens for agents (with roles) and for customers (the widget)."""

from typing import TYPE_CHECKING, Annotated

import typer

from cstool.i18n import t

from .context import state, wants_json
from .crud import JsonOpt
from .output import info, print_json, print_table

if TYPE_CHECKING:
    from cstool.api.backend import Backend

app = typer.Typer(
    help="API tokens: create (shown once), list, revoke; customer tokens for the widget.",
    no_args_is_help=True,
)

ExpiresOpt = Annotated[str, typer.Option(
    "--expires", help="Lifetime: 30d, 12h, 90m, 2w, or never.")]
LabelOpt = Annotated[str | None, typer.Option("--label", help="A note, e.g. the machine.")]


def tokens(ctx: typer.Context) -> "Backend":
    """The backend whose token operations the commands call (the file's or the API's)."""
    return state(ctx).backend


def _show_created(ctx: typer.Context, record: dict, json_: bool, hint: str) -> None:
    if wants_json(ctx, json_):
        print_json(record)
        return
    typer.echo(record["token"])
    expires = record["expires_at"] or t("cli.never")
    info(t("cli.token_created", id=record["id"], role=record["role"], hint=hint,
           expires=expires))


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option(
        "--agent", "-a", help="The agent the token acts as (an admin token may have none).")
    ] = None,
    role: Annotated[str | None, typer.Option(
        "--role", help="admin, supervisor or agent (default: the agent's own role; never "
                       "more).")] = None,
    expires: ExpiresOpt = "30d",
    label: LabelOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create a staff token; the secret is printed once (stdout), details go to stderr."""
    record = tokens(ctx).create_token(agent, role, expires, label)
    _show_created(ctx, record, json_, t("cli.token_for_agent", agent=agent) if agent else "")


@app.command("customer")
def customer_cmd(
    ctx: typer.Context,
    shop: Annotated[str, typer.Option("--shop", "-s", help="The shop of the widget.")],
    customer: Annotated[str, typer.Option(
        "--customer", "-c", help="The customer key (a new key makes the customer).")],
    expires: ExpiresOpt = "7d",
    label: LabelOpt = None,
    url: Annotated[str | None, typer.Option(
        "--url", help="The server's address, to print the widget link "
                      "(e.g. http://127.0.0.1:8765).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a widget token for one customer in one shop (printed once)."""
    record = tokens(ctx).create_customer_token(shop, customer, expires, label)
    _show_created(ctx, record, json_, t("cli.token_for_customer", customer=customer,
                                        shop=shop))
    if url and not wants_json(ctx, json_):
        info(t("cli.token_widget", url=f"{url.rstrip('/')}/widget/{shop}#token="
                                       f"{record['token']}"))


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Only this agent's.")
                     ] = None,
    shop: Annotated[str | None, typer.Option(
        "--shop", "-s", help="Only this shop's (its agents' and customers').")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked and expired ones.")
                    ] = False,
    json_: JsonOpt = False,
) -> None:
    """List tokens, newest first (never their secrets)."""
    rows = tokens(ctx).list_tokens(agent=agent, shop=shop, include_inactive=all_)
    if wants_json(ctx, json_):
        print_json(rows)
        return
    print_table(rows, [
        ("id", lambda r: r["id"]),
        ("token", lambda r: r["prefix"] + "…"),
        ("role", lambda r: r["role"]),
        ("for", lambda r: r["agent"] or (f"{r['customer']}@{r['shop']}" if r["customer"]
                                         else "-")),
        ("label", lambda r: r["label"] or ""),
        ("created", lambda r: r["created_at"]),
        ("expires", lambda r: r["expires_at"] or "never"),
        ("last used", lambda r: r["last_used_at"] or ""),
        ("state", lambda r: r["state"]),
    ])


@app.command("revoke")
def revoke_cmd(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(help="The token's id (see token list).")],
    json_: JsonOpt = False,
) -> None:
    """Revoke a token at once."""
    record = tokens(ctx).revoke_token(token_id)
    if wants_json(ctx, json_):
        print_json(record)
    else:
        info(t("cli.token_revoked", id=token_id))
