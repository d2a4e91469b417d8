"""`cstool order ...`: customers' orders, items and logistics."""

import typer

from cstool.values import parse_money, parse_time, short_time, yuan

from . import crud


def _total(r: dict) -> str:
    cents = sum(parse_money(i["price"]) * i["quantity"] for i in r["items"])
    return yuan(cents - parse_money(r.get("discount", 0)))


app = typer.Typer(help="Orders: items, amounts, status and logistics.", no_args_is_help=True)
crud.register(
    app,
    "orders",
    [
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("customer", lambda r: r["customer"]),
        ("status", lambda r: r["status"]),
        ("total", _total),
        ("items", lambda r: sum(i["quantity"] for i in r["items"])),
        ("created", lambda r: short_time(parse_time(r["created_at"]))),
    ],
)
