"""`cstool group ...`: teams inside a shop (pre-sale, after-sale, logistics, VIP)."""

import typer

from . import crud

app = typer.Typer(help="Groups: teams inside a shop.", no_args_is_help=True)
crud.register(
    app,
    "groups",
    [
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("name", lambda r: r["name"]),
        ("kind", lambda r: r["kind"]),
    ],
)
