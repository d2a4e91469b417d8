"""`cstool promotion ...`: shop-wide price rules (full reduction, discount, gift)."""

import typer

from . import crud

app = typer.Typer(help="Promotions: full reduction, discount, gift.", no_args_is_help=True)
crud.register(
    app,
    "promotions",
    [
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("name", lambda r: r["name"]),
        ("kind", lambda r: r["kind"]),
        ("starts", lambda r: r.get("starts_at")),
        ("ends", lambda r: r.get("ends_at")),
    ],
)
