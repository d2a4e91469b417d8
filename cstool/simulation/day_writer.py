"""A simulated day written into the file as the desk writes it: conversation rows (as of any
moment), messages, orders and events, in bulk and in order."""

from __future__ import annotations

import json
from collections.abc import Callable

from ..errors import Conflict
from ..storage.connection import Connection
from ..storage.events import append_events
from ..storage.repos import simulated_days as repo
from .day_timeline import Day, SimConversation

CONV_COLUMNS = ("state", "assignee_id", "pool", "handoff_at", "queued_at", "assigned_at",
                "first_agent_reply_at", "agent_seen_at", "last_message_at", "last_customer_at",
                "closed_at", "close_reason", "rating", "rated_at")


def _row_as_of(conv: SimConversation, hi: int) -> dict:
    row = {"state": "new", "assignee_id": None, "pool": None, "handoff_at": None,
           "queued_at": None, "assigned_at": None, "first_agent_reply_at": None,
           "agent_seen_at": None, "last_message_at": conv.created_at,
           "last_customer_at": conv.created_at, "closed_at": None, "close_reason": None,
           "rating": None, "rated_at": None}
    for step in conv.steps:
        if step[0] > hi:
            break
        if step[8]:
            row.update(step[8])
    if row["state"] == "new":
        row["state"] = "bot"
    return row


def write(conn: Connection, day: Day, lo: int | None, hi: int, *,
          on_access_moved: Callable[[], None] | None = None) -> dict:
    """Write what happened in ``(lo, hi]`` (everything up to ``hi`` when ``lo`` is None):
    new conversations, messages and events, conversation rows as of ``hi``, orders, agent
    status changes. The caller holds a write transaction; ``on_access_moved`` is called
    when an event written may change who may do what (see ``storage.events``)."""
    low = -1 if lo is None else lo
    next_conv = repo.next_id(conn, "conversations")
    next_msg = repo.next_id(conn, "messages")
    new_convs, changed, steps = [], [], []
    for i, conv in enumerate(day.conversations):
        if conv.created_at > hi:
            break
        if conv.db_id is not None and conv.last_at <= low:
            continue
        touched = False
        for k, step in enumerate(conv.steps):
            if step[0] > hi:
                break
            if step[0] > low:
                steps.append((step[0], i, k))
                touched = True
        if conv.db_id is None:
            conv.db_id = next_conv
            next_conv += 1
            new_convs.append(conv)
        elif touched:
            changed.append(conv)
    steps.sort()
    repo.insert_conversations(
        conn, CONV_COLUMNS,
        [(c.db_id, c.shop_id, c.customer_id, c.channel, c.entry_page, c.source, c.intent,
          "consulted_not_ordered", c.product_key, c.created_at,
          *_row_as_of(c, hi).values()) for c in new_convs])
    repo.update_conversations(conn, CONV_COLUMNS,
                              [(*_row_as_of(c, hi).values(), c.db_id) for c in changed])
    messages, events = [], []
    for at, i, k in steps:
        conv = day.conversations[i]
        (_, sender, agent_id, kind, body, payload, event, event_payload, _) = conv.steps[k]
        if event:
            events.append((at, conv.shop_id, event, "conversation", str(conv.db_id),
                           event_payload))
        if sender:
            messages.append((next_msg, conv.db_id, sender, agent_id, kind, body, payload, at))
            events.append((at, conv.shop_id, "message.created", "conversation", str(conv.db_id),
                           f'{{"message": {next_msg}, "sender": "{sender}", "kind": "{kind}"}}'))
            next_msg += 1
    repo.insert_messages(conn, messages)
    n_orders = _write_orders(conn, day, low, hi, events)
    n_status = 0
    last_status: dict[int, tuple[str, int]] = {}
    for at, agent_id, handle, before, after in day.statuses:
        if low < at <= hi:
            events.append((at, None, "agent.status", "agent", handle,
                           json.dumps({"from": before, "to": after})))
            last_status[agent_id] = (after, at)
            n_status += 1
    repo.set_agent_statuses(conn, [(s, at, aid) for aid, (s, at) in last_status.items()])
    events.sort(key=lambda e: e[0])
    if append_events(conn, events).moves_access and on_access_moved is not None:
        on_access_moved()
    return {"conversations": len(new_convs), "updated": len(changed),
            "messages": len(messages), "orders": n_orders, "status_changes": n_status,
            "events": len(events)}


def _write_orders(conn: Connection, day: Day, low: int, hi: int, events: list) -> int:
    next_id = repo.next_id(conn, "orders")
    new, paid = [], []
    for o in day.orders:
        if o.created_at > hi:
            break
        is_paid = o.paid_at is not None and o.paid_at <= hi
        if o.db_id is None:
            o.db_id = next_id
            next_id += 1
            new.append((o, is_paid))
            events.append((o.created_at, o.shop_id, "order.created", "order", o.key, None))
            if is_paid:
                events.append((o.paid_at, o.shop_id, "order.updated", "order", o.key,
                               '{"fields": ["status", "paid_at"]}'))
        elif is_paid and o.paid_at > low:
            paid.append(o)
            events.append((o.paid_at, o.shop_id, "order.updated", "order", o.key,
                           '{"fields": ["status", "paid_at"]}'))
    repo.insert_orders(
        conn,
        [(o.db_id, o.key, o.shop_id, o.customer_id, "paid" if p else "created",
          o.price * o.quantity, o.created_at, o.paid_at if p else None,
          o.paid_at if p else o.created_at) for o, p in new],
        [(o.db_id, o.product_id, o.quantity, o.price) for o, _ in new])
    repo.mark_paid(conn, [(o.paid_at, o.db_id) for o in paid])
    return len(new)


def _check_new(conn: Connection, day: Day) -> None:
    if day.orders and repo.order_exists(conn, day.orders[0].key):
        raise Conflict(f"a day with seed and date of order {day.orders[0].key!r} exists "
                       "already in this file; use another --seed or --day, or a new file",
                       key="promo_day_exists", order=repr(day.orders[0].key))


def access_noter(uow) -> Callable[[], None]:
    """What ``write`` calls when its events may change rights: the unit of work notes it,
    and its storage moves the access epoch once the transaction has committed."""
    def note() -> None:
        uow.moved_access = True

    return note

