"""`cstool customer ...`: customers and their per-shop profiles."""

import sys
from typing import Annotated

import typer

from cstool.api.backend import Backend
from cstool.errors import CstoolError
from cstool.i18n import t

from . import crud
from .context import state, wants_json
from .crud import JsonOpt
from .output import info, print_json


def _with_stats(backend: Backend, rec: dict) -> dict:
    return {**rec, "stats": backend.customer_stats(rec["key"])}


app = typer.Typer(help="Customers and their per-shop profiles.", no_args_is_help=True)
crud.register(
    app,
    "customers",
    [
        ("key", lambda r: r["key"]),
        ("name", lambda r: r["name"]),
        ("shops", lambda r: [p["shop"] for p in r.get("profiles", [])]),
        ("level", lambda r: max((p.get("level", 0) for p in r.get("profiles", [])), default=0)),
        ("tags", lambda r: sorted({t for p in r.get("profiles", []) for t in p.get("tags", [])})),
        (
            "region",
            lambda r: next((p["region"] for p in r.get("profiles", []) if p.get("region")), ""),
        ),
    ],
    show_extra=_with_stats,
)


@app.command("erase")
def erase_cmd(
    ctx: typer.Context,
    shop: Annotated[str, typer.Argument(help="The shop whose data of the customer goes.")],
    customer: Annotated[str, typer.Argument(help="The customer's key.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
    = False,
    json_: JsonOpt = False,
) -> None:
    """Erase a customer's data in one shop (PIPL/GDPR): chats, messages, private notes,
    files, queued deliveries, profile, cart and tokens; orders, campaign sends and tickets
    stay for the shop's figures with an anonymous stand-in."""
    if not yes:
        try:
            answer = typer.prompt(t("cli.customer_erase_confirm", customer=customer,
                                    shop=shop), default="n", show_default=False, err=True)
        except typer.Abort:  # no answer at all (end of input): not confirmed
            answer = ""
        if not sys.stdin.isatty():  # a piped answer is not echoed: end the prompt's line
            typer.echo("", err=True)
        if answer.strip().lower() not in ("y", "yes", "是"):
            raise CstoolError(f"customer {customer!r} was not erased (answer y, or give "
                              "--yes)", key="erase_not_confirmed", customer=customer)
    out = state(ctx).backend.erase_customer(shop, customer)
    if wants_json(ctx, json_):
        print_json(out)
    else:
        info(t("cli.customer_erased", customer=customer, shop=shop,
               conversations=out["conversations"], messages=out["messages"],
               files=out["files"], stand_in=out["stand_in"] or "-"))
