"""`cstool coupon ...`: coupons customers hold and use."""

import typer

from . import crud

app = typer.Typer(help="Coupons customers hold and use.", no_args_is_help=True)
crud.register(
    app,
    "coupons",
    [
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("name", lambda r: r["name"]),
        ("kind", lambda r: r["kind"]),
        ("value", lambda r: r.get("amount") if r["kind"] == "amount" else r.get("rate")),
        ("threshold", lambda r: r.get("threshold")),
        ("stackable", lambda r: r.get("stackable")),
    ],
)
