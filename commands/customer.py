"""`cstool customer ...`: customers and their per-shop profiles."""

import typer

from cstool.api.backend import Backend

from . import crud


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
