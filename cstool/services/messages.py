"""Writing into a chat: the one way any service adds a message (the row, the chat's
activity, the ``message.created`` event), and the public shape of a message."""

from __future__ import annotations

import json
from typing import Any

from ..message_payloads import stored_payload
from ..storage.unit_of_work import UnitOfWork
from ..values import format_time

_json = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False)


def add_message(
    uow: UnitOfWork, conv: dict, sender: str, body: str, *,
    agent_id: int | None = None, agent: str | None = None, kind: str = "text",
    payload: Any = None, client_id: str | None = None, touch: bool = True,
    reserved_id: int | None = None,
) -> dict:
    """Store a message of ``sender`` (customer, agent, bot, system) in chat ``conv``
    (a row with ``id`` and ``shop_id``) with its event; returns it in the public shape.

    Activity (for idle closing) is what the customer or an agent or the bot says;
    system notices do not keep a chat alive. ``touch=False``: the chat was opened by
    this very message (its times are the message's already). ``reserved_id``: the id
    the storage reserved for it (``Posts.lookup`` on PostgreSQL), else None."""
    now = uow.now
    mid = uow.messages.insert(conv["id"], sender, agent_id, kind, body,
                              None if payload is None else _json(payload), client_id, now,
                              reserved_id=reserved_id)
    if touch and sender != "system":
        uow.conversations.touched(conv["id"], now, by_customer=sender == "customer")
    uow.event("message.created", "conversation", str(conv["id"]), conv["shop_id"],
              {"message": mid, "sender": sender, "kind": kind})
    return {"id": mid, "conversation": conv["id"], "sender": sender, "agent": agent,
            "kind": kind, "body": body, "payload": payload, "client_id": client_id,
            "at": format_time(now), "delivery": None}


def system(uow: UnitOfWork, conv: dict, body: str, kind: str = "text",
           payload: Any = None) -> dict:
    """A system notice in the chat (it does not count as activity)."""
    return add_message(uow, conv, "system", body, kind=kind, payload=payload)


def in_shop_language(shop: dict, zh: str, en: str) -> str:
    """A customer-facing text in the shop's language (its first one): ``en`` for a shop
    that speaks English first, else ``zh`` (system messages are the shop's words)."""
    languages = shop.get("languages") or ["zh"]
    return en if languages[0] == "en" else zh


def message_dict(r: tuple) -> dict:
    """A message row (``storage.repos.messages.MESSAGE_COLUMNS``) in the public shape."""
    return {"id": r[0], "conversation": r[1], "sender": r[2], "agent": r[3], "kind": r[4],
            "body": r[5], "payload": stored_payload(r[6]),
            "client_id": r[7], "at": format_time(r[8]),
            # to a channel connector: queued, sent, delivered, read or failed (else None)
            "delivery": r[9] if len(r) > 9 else None}
