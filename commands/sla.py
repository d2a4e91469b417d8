"""`cstool sla ...`: a shop's SLA policies for tickets."""

import typer

from . import crud

app = typer.Typer(help="SLA policies: ticket targets counted in business hours.",
                  no_args_is_help=True)
crud.register(
    app,
    "sla_policies",
    [
        ("#", lambda r: r.get("position")),
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("conditions", lambda r: ", ".join(f"{k}={v}" for k, v in
                                           (r.get("conditions") or {}).items()) or "(all)"),
        ("1st response", lambda r: f"{r['first_response_min']}m"),
        ("resolution", lambda r: f"{r['resolution_min']}m"),
        ("clock", lambda r: r["clock"]),
        ("at breach", lambda r: r["on_breach"]),
    ],
    create_name="add",
    delete_name="remove",
)
