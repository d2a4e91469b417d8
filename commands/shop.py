"""`cstool shop ...`: shops, a merchant's store and its service desk."""

import typer

from . import crud

app = typer.Typer(help="Shops: a merchant's store and its service desk.", no_args_is_help=True)
crud.register(
    app,
    "shops",
    [
        ("key", lambda r: r["key"]),
        ("name", lambda r: r["name"]),
        ("mode", lambda r: r["service_mode"]),
        ("languages", lambda r: r.get("languages")),
        ("3-min target", lambda r: f"{r['settings']['response_target_s']}s"),
    ],
)
