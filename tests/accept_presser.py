"""One agent's desk in a process of its own, pressing accept-next (the presser of
tests/test_pg_multiserver.py's eight-process test).

    python tests/accept_presser.py SERVER_URL TOKEN AGENT SHOP

Through the remote client (``RemoteBackend``) with the agent's own token: it reaches the
server once (``whoami``), prints ``ready`` and waits for a line on stdin (the start signal
every presser gets at the same moment), then presses accept-next until nothing waits.
When the agent is full (409 ``agent_at_capacity``) it closes the oldest five chats it
accepted itself and presses again; when the agent is full with the chats of its other desk (another
process pressing for the same agent), it waits a moment, unless the shop's queue is empty
(then it is done). At the end one JSON line on stdout::

    {"agent": ..., "accepted": [chat ids in order], "closed": [chat ids in order],
     "full": refusals at capacity, "empty": answers "nothing waits"}
"""

from __future__ import annotations

import json
import sys
import time

from cstool.backend.remote import RemoteBackend
from cstool.errors import Conflict

GIVE_UP_S = 120.0  # a presser that is still pressing by then reports what it has
CLOSE_WHEN_FULL = 5  # chats closed (its oldest) each time the agent is found full


def press(backend: RemoteBackend, agent: str, shop: str) -> dict:
    """Press accept-next for ``agent`` until no chat waits; what happened."""
    accepted: list[int] = []
    closed: list[int] = []
    mine: list[int] = []  # accepted here and not closed yet, oldest first
    full = empty = 0
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        try:
            got = backend.accept_next(agent)
        except Conflict as e:
            if e.key != "agent_at_capacity":
                raise
            full += 1
            if mine:
                for oldest in mine[:CLOSE_WHEN_FULL]:
                    backend.close_conversation(oldest, by=agent)
                    closed.append(oldest)
                del mine[:CLOSE_WHEN_FULL]
            elif not backend.queue(shop, limit=1):
                break  # full with the other desk's chats and nothing waits: done
            else:
                time.sleep(0.01)
            continue
        if got is None:
            empty += 1
            break
        accepted.append(got["id"])
        mine.append(got["id"])
    return {"agent": agent, "accepted": accepted, "closed": closed, "full": full,
            "empty": empty, "finished": time.monotonic() < deadline}


def main(argv: list[str]) -> int:
    """Reach the server, say ready, wait for the start line, press, print the JSON."""
    url, token, agent, shop = argv
    backend = RemoteBackend(url, token)
    try:
        backend.whoami()
        print("ready", flush=True)
        if not sys.stdin.readline():
            return 1  # the test went away before the start
        print(json.dumps(press(backend, agent, shop)), flush=True)
        return 0
    finally:
        backend.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
