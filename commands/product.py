"""`cstool product ...`: what shops sell."""

import typer

from cstool.values import parse_money, yuan

from . import crud

app = typer.Typer(help="Products: what shops sell.", no_args_is_help=True)
crud.register(
    app,
    "products",
    [
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("title", lambda r: r["title"]),
        ("category", lambda r: r.get("category")),
        ("price", lambda r: yuan(parse_money(r["price"]))),
        ("stock", lambda r: r["stock"]),
        ("status", lambda r: r["status"]),
    ],
)
