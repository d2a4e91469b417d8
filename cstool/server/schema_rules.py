"""What the server refuses, said in the OpenAPI document too, so the document and the
server agree (a client generated from the document, or schemathesis, sends nothing
the document allows and the server then refuses for its form).

``constraints(op, arg)`` gives the pydantic ``Field`` arguments of one operation
argument: a minimum length of 1 for text the server refuses empty, the choices of
an argument that takes a fixed set of values (documented as ``enum``; the backend
still checks them, with its own message), and bounds for numbers such as ``limit``.
"""

from __future__ import annotations

from typing import Any

from ..backend.campaign_ops import OUTCOMES
from ..backend.ticket_ops import OPEN, PRIORITIES, STATUSES, TEAMS, TICKET_TYPES
from ..message_payloads import KINDS as MESSAGE_KINDS
from ..metrics import figures
from ..resources import AGENT_STATUSES, CHANNELS, KINDS, ROLES
from ..routing.fields import INTENTS
from .operations import Arg, Operation

# arguments that may be empty text (a note, a reason, a comment: "" means none)
MAY_BE_EMPTY = {"note", "reason", "comment", "label"}

# choices by argument name, and where one operation differs, by (operation, name)
CHOICES: dict[Any, tuple] = {
    "channel": CHANNELS,
    "intent": tuple(INTENTS),
    "priority": PRIORITIES,
    "team": TEAMS,
    "type": TICKET_TYPES,
    "role": ROLES,
    "outcome": OUTCOMES,
    ("set_agent_status", "status"): AGENT_STATUSES,
    ("list_tickets", "status"): STATUSES,
    ("update_ticket", "status"): OPEN,
    ("list_conversations", "state"): ("bot", "queued", "active", "closed", "open"),
    ("post_message", "kind"): MESSAGE_KINDS,
    ("reply", "kind"): MESSAGE_KINDS,
    ("send_card", "kind"): ("product", "coupon"),
    ("ticket_report", "by"): ("type", "team", "agent"),
}
# path kinds: the record routes take a record kind
KIND_PATHS = {"list", "create", "get", "update", "delete", "bulk_load"}
# whole numbers with a floor (the server refuses below it)
MINIMUM = {"limit": 1, "k": 1, "quantity": 1, "bucket_min": 1, "rating": 1, "position": 1,
           "due_within_s": 0, "after": 0, "time_on_site_s": 0, "pages_viewed": 0}


def choices(op: Operation, arg: Arg) -> tuple | None:
    """The fixed values ``arg`` of ``op`` takes (None: any)."""
    if arg.name == "kind" and op.name in KIND_PATHS:
        return tuple(KINDS)
    if op.name == "metrics_report" and arg.name == "by":
        return None  # a list of dimensions: documented on the items
    if (op.name, arg.name) in CHOICES:
        return CHOICES[(op.name, arg.name)]
    return CHOICES.get(arg.name)


MAXIMUM = {"rating": 5}


def constraints(op: Operation, arg: Arg) -> dict[str, Any]:
    """The ``Field`` keyword arguments that state what the server takes for ``arg``."""
    out: dict[str, Any] = {}
    if arg.type is str:
        allowed = choices(op, arg)
        if allowed is not None:
            values = list(allowed) + ([None] if _nullable(arg) else [])
            out["json_schema_extra"] = {"enum": values}
        elif arg.name not in MAY_BE_EMPTY:
            out["min_length"] = 1
    elif arg.type is int and arg.name == "limit" and op.result == "page":
        # pages refuse it themselves (page_size: 400 usage, as on a file): stated only
        out["json_schema_extra"] = {"minimum": MINIMUM["limit"]}
    elif arg.type is int:
        if arg.name in MINIMUM:
            out["ge"] = MINIMUM[arg.name]
        if arg.name in MAXIMUM:
            out["le"] = MAXIMUM[arg.name]
    elif arg.type is list and op.name == "metrics_report" and arg.name == "by":
        out["json_schema_extra"] = {"items": {"enum": list(figures.DIMENSIONS)}}
    return out


def _nullable(arg: Arg) -> bool:
    return arg.default is None or arg.http_optional
