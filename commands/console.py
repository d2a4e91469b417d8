"""`cstool console`: the agent's keyboard-only chat desk (Textual)."""

import os
from typing import Annotated

import typer

from cstool.api.backend import Backend
from cstool.errors import UsageError

from .context import state


def run_console(backend: Backend, agent: str, *, poll_s: float = 1.0, simulator=None) -> None:
    """Open the console for ``agent`` on ``backend`` until the agent quits."""
    from tui.console import ConsoleApp, default_keys
    from tui.keys import load_keymap

    backend.get("agents", agent)  # a clear error before the screen opens
    keymap = load_keymap(defaults=default_keys())  # a bad key file is refused here
    ConsoleApp(backend, agent, poll_s=poll_s, keymap=keymap, simulator=simulator).run()


def console_cmd(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option(
        "--agent", "-a", envvar="CSTOOL_AGENT", show_envvar=True,
        help="Your agent handle.")] = None,
    poll: Annotated[float, typer.Option(min=0.2, max=60, help="Seconds between polls.")] = 1.0,
) -> None:
    """Open the agent console: chats, queue, transcript, customer context (keys: F1)."""
    if not agent:
        raise UsageError("give your agent handle: --agent HANDLE (or set CSTOOL_AGENT)",
                         key="console_needs_agent")
    if not os.isatty(1):
        raise UsageError("the console needs a terminal (stdout is not a tty)",
                         key="console_needs_tty")
    backend = state(ctx).backend
    me = backend.get("agents", agent)
    if me.get("status") == "offline" and me.get("role") == "agent":
        # opening the desk is coming to work (quitting set you offline); away and busy,
        # chosen on purpose, stay as they are
        backend.set_agent_status(agent, "online")
    run_console(backend, agent, poll_s=poll)
