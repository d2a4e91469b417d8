"""`cstool agent ...`: the people at the desk."""

from typing import Annotated

import typer

from cstool.i18n import t, value

from . import crud
from .context import state, wants_json
from .crud import JsonOpt
from .output import info, print_json

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


Status = crud._choices(crud.KINDS["agents"].field("status"))


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="The agent's handle.")],
    status: Annotated[Status, typer.Argument(help="online, busy, away or offline.")],
    json_: JsonOpt = False,
) -> None:
    """Set an agent's status: online takes waiting chats; offline hands chats back."""
    result = state(ctx).backend.set_agent_status(handle, status.value)
    if wants_json(ctx, json_):
        print_json(result)
        return
    info(t("cli.agent_status", handle=handle, status=value("status", result["status"])))
    if result["assigned"]:
        info(t("cli.agent_took", ids=", ".join(map(str, result["assigned"]))))
    if result["returned"]:
        info(t("cli.agent_returned", ids=", ".join(map(str, result["returned"]))))
