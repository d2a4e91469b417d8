"""What the server tests share: a real uvicorn on a free loopback port over a fresh file,
tokens, an SSE reader with a deadline, and the CLI with the server's commands."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from cstool.auth import TokenStore
from cstool.backend.local import LocalBackend
from cstool.backend.remote import RemoteBackend
from cstool.server.run import ThreadedServer


@dataclass
class Served:
    """A running server, its Local backend (the same file, in-process) and an admin token."""

    url: str
    backend: LocalBackend
    admin: str
    server: ThreadedServer
    remotes: list = field(default_factory=list)

    def token(self, agent: str | None = None, role: str | None = None, **kw) -> str:
        """A new staff token (admin without an agent)."""
        return TokenStore(self.backend).create_token(agent, role or (None if agent else "admin"),
                                                     **kw)["token"]

    def customer_token(self, shop: str, customer: str, **kw) -> str:
        """A new widget token."""
        return TokenStore(self.backend).create_customer_token(shop, customer, **kw)["token"]

    def remote(self, token: str | None = None) -> RemoteBackend:
        """A RemoteBackend on this server (closed at teardown)."""
        r = RemoteBackend(self.url, token or self.admin)
        self.remotes.append(r)
        return r

    def http(self, method: str, path: str, token: str | None = None, **kw) -> httpx.Response:
        """One raw request (``token=""`` sends none)."""
        headers = dict(kw.pop("headers", {}))
        if token != "":
            headers["Authorization"] = f"Bearer {token or self.admin}"
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kw)

    def close(self) -> None:
        """Stop the server and close the file."""
        for r in self.remotes:
            r.close()
        self.server.stop()
        self.backend.close()


def serve(db_path, clock=None, *, bot=None, **options) -> Served:
    """Start a server over a fresh file (quick pings and polls for tests)."""
    backend = LocalBackend(db_path, clock=clock, bot=bot)
    admin = TokenStore(backend).create_token(None, "admin", label="tests")["token"]
    options.setdefault("ping_s", 0.2)
    options.setdefault("poll_s", 0.05)
    server = ThreadedServer(backend, **options).start()
    return Served(server.url, backend, admin, server)


def read_events(url: str, token: str, *, want: int, last_id: int | None = None,
                timeout_s: float = 5.0, params: dict | None = None,
                raw: list | None = None) -> list[dict]:
    """Read ``want`` events from ``GET /v1/events`` (or as many as come in ``timeout_s``).

    ``raw`` collects every line, pings included.
    """
    import json

    headers = {"Authorization": f"Bearer {token}"}
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    events: list[dict] = []
    deadline = time.monotonic() + timeout_s
    with httpx.stream("GET", url + "/v1/events", headers=headers, params=params,
                      timeout=httpx.Timeout(5.0, read=timeout_s)) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if raw is not None:
                raw.append(line)
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
            if len(events) >= want or time.monotonic() > deadline:
                break
    return events


def cli_app():
    """The real CLI, with serve and token added while main.py does not register them."""
    from commands import serve as serve_cmd
    from commands import token as token_cmd
    from commands.main import app

    names = {c.name for c in app.registered_commands}
    if "serve" not in names:
        app.command("serve")(serve_cmd.serve_cmd)
    if "token" not in {g.name for g in app.registered_groups}:
        app.add_typer(token_cmd.app, name="token")
    return app
