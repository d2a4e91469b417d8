"""`cstool agent ...`: the people at the desk."""

import typer

from . import crud

app = typer.Typer(help="Agents: the people at the desk.", no_args_is_help=True)
crud.register(
    app,
    "agents",
    [
        ("handle", lambda r: r["handle"]),
        ("name", lambda r: r["name"]),
        ("role", lambda r: r["role"]),
        ("level", lambda r: r["level"]),
        ("max", lambda r: r["max_chats"]),
        ("status", lambda r: r["status"]),
        ("shops", lambda r: r.get("shops")),
        ("groups", lambda r: r.get("groups")),
    ],
)
