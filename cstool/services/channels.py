"""Channel connectors: the messages to a customer whose chat came through a shop's
``http`` channel, delivered to the merchant's messaging gateway (an app, a 小程序, SMS,
e-mail) with the webhooks' machinery (signature, delivery ids equal on retries,
backoff, dead letter, order per chat: ``cstool.services.webhooks``), and the gateway's
delivery receipts (``delivered``, ``read``, ``failed``).

Each http channel keeps a cursor in the event log: a claim turns the channel's new
``message.created`` events into deliveries, one per message to the customer (agents'
replies, bot answers, system and campaign notices; never the customer's own words, and
private notes are not messages at all). A message's ``delivery`` goes ``queued`` (a
delivery exists), ``sent`` (the gateway answered 2xx), then ``delivered`` / ``read`` /
``failed`` as the gateway reports (or ``failed`` when the delivery is dead-lettered);
it never moves back. Every change of it is a ``message.delivery`` event, so consoles
and streams update live.
"""

from __future__ import annotations

import json

from ..errors import InvalidInput, NotFound
from ..storage.repos.webhooks import DELIVERY_RANK, ChannelDeliveries
from ..storage.unit_of_work import UnitOfWork
from ..values import format_time

RECEIPTS = ("delivered", "read", "failed")
MESSAGE_EVENT = "channel.message"
FAN_OUT = 1000  # events read per channel per claim


def connected_channel(uow: UnitOfWork, shop_id: int, name: str) -> dict:
    """The shop's channel connector ``name`` a message is posted through (a gateway
    posting for its customers): id, kind, client; refused when the shop has none."""
    from ..resources import CHANNELS

    ch = uow.repo(ChannelDeliveries).channel_of(shop_id, name)
    if ch is None:
        raise InvalidInput(
            f"unknown channel {name!r} (one of {', '.join(CHANNELS)}, or a channel "
            "connector of the shop: cstool channel list)", key="unknown_channel_connector",
            channel=name, known=", ".join(CHANNELS))
    return ch


def connect_chat(uow: UnitOfWork, conv_id: int, channel_id: int) -> None:
    """The customer wrote through this connector: the chat's answers go there."""
    uow.conversations.update(conv_id, channel_id=channel_id)


def preferred_for(uow: UnitOfWork, shop_id: int, customer_id: int) -> dict | None:
    """How to reach a customer with no chat in the shop: the shop's active http channel
    for the client their profile prefers (its id and client), or None."""
    return uow.repo(ChannelDeliveries).preferred_for(shop_id, customer_id)


def open_for_campaign(uow: UnitOfWork, shop_id: int, customer_id: int, customer: str,
                      via: dict, now: int) -> int:
    """A chat on channel ``via`` for a campaign's message to a customer who never
    chatted, closed at once as a 退订's is (no agent's queue, not in the metrics)."""
    conv = uow.conversations.insert({
        "shop_id": shop_id, "customer_id": customer_id, "channel": via["client"],
        "channel_id": via["id"], "state": "closed", "created_at": now,
        "last_message_at": now, "last_customer_at": None, "closed_at": now,
        "close_reason": "campaign_command"})
    uow.event("conversation.created", "conversation", str(conv), shop_id,
              {"customer": customer, "channel": via["name"]})
    return conv


def fan_out(uow: UnitOfWork) -> int:
    """Make the deliveries of the messages each active http channel has not seen yet,
    inside the caller's write transaction. Returns how many."""
    rows = uow.repo(ChannelDeliveries)
    made = 0
    for ch in rows.subscriptions():
        if not ch["active"]:  # switched off: what happens meanwhile is not sent later
            rows.move_cursor(ch["id"], rows.head())
            continue
        events = rows.message_events(ch["shop_id"], ch["cursor"], FAN_OUT)
        if not events:
            continue
        ids = {eid: json.loads(p).get("message") if p else None for eid, p in events}
        messages = rows.outbound(ch["id"], [m for m in ids.values() if m is not None])
        made_here = [_delivery_row(ch, eid, messages[mid], uow.now)
                     for eid, mid in ids.items() if mid in messages]
        rows.add_deliveries(made_here)
        for row in made_here:
            _moved(uow, ch["shop_id"], messages[row[8]], "queued", row[0])
        rows.move_cursor(ch["id"], events[-1][0])
        made += len(made_here)
    return made


def _delivery_row(ch: dict, event_id: int, m: dict, now: int) -> tuple:
    """A channel_deliveries row for message ``m`` (uid, channel id, shop id, event id,
    type, order key, body, created_at, message id)."""
    uid = f"chd_{ch['id']}_{m['id']}"
    body = json.dumps({
        "id": uid, "type": MESSAGE_EVENT, "shop": ch["shop"], "channel": ch["name"],
        "conversation": m["conversation"], "customer": m["customer"],
        "message": {"id": m["id"], "sender": m["sender"], "agent": m["agent"],
                    "kind": m["kind"], "text": m["body"], "payload": m["payload"],
                    "created_at": format_time(m["created_at"])},
    }, ensure_ascii=False, separators=(",", ":"))
    return (uid, ch["id"], ch["shop_id"], event_id, MESSAGE_EVENT,
            f"conversation:{m['conversation']}", body, now, m["id"])


def _moved(uow: UnitOfWork, shop_id: int, m: dict, state: str, delivery: str) -> None:
    uow.event("message.delivery", "conversation", str(m["conversation"]), shop_id,
              {"message": m["id"], "delivery": delivery, "status": state})


def after_attempt(uow: UnitOfWork, d: dict, uid: str, status: str) -> None:
    """A channel delivery's attempt was recorded: its message is ``sent`` when the
    gateway took it, ``failed`` when it was dead-lettered."""
    state = {"done": "sent", "failed": "failed"}.get(status)
    if state is None:
        return
    rows = uow.repo(ChannelDeliveries)
    target = rows.receipt_target(uid)
    over = ("failed",) if state == "sent" else ()  # a dead letter redelivered and taken
    if target and target["message"] is not None and rows.advance_message(
            target["message"], state, over=over):
        conv = _conversation_of(uow, target["message"])
        _moved(uow, d["shop_id"], {"id": target["message"], "conversation": conv}, state, uid)


def _conversation_of(uow: UnitOfWork, message_id: int) -> int | None:
    return uow.repo(ChannelDeliveries).conversation_of_message(message_id)


def receipt(uow: UnitOfWork, delivery: str, status: str) -> dict:
    """Record the gateway's receipt ``status`` (delivered, read, failed) of a delivery:
    the message's state moves forward (a late ``delivered`` leaves ``read``), its
    campaign send's too. Returns the delivery's id, message and the message's state."""
    if status not in RECEIPTS:
        raise InvalidInput(f"status: one of {', '.join(RECEIPTS)}", key="status_one_of",
                           known=", ".join(RECEIPTS))
    rows = uow.repo(ChannelDeliveries)
    target = rows.receipt_target(delivery)
    if target is None:
        raise NotFound(f"no channel delivery {delivery!r}", key="no_channel_delivery",
                       delivery=delivery)
    if DELIVERY_RANK.get(target["receipt"], -1) < DELIVERY_RANK[status]:
        rows.set_receipt(target["id"], status, uow.now)  # forward only, as the message
    mid = target["message"]
    if mid is not None and rows.advance_message(mid, status):
        _moved(uow, target["shop_id"], {"id": mid, "conversation": _conversation_of(uow, mid)},
               status, delivery)
    return {"delivery": delivery, "channel": target["channel"], "shop": target["shop"],
            "message": mid, "receipt": status,
            "message_delivery": rows.message_state(mid) if mid is not None else None}


def target_shop(uow: UnitOfWork, delivery: str) -> str:
    """The shop of a channel delivery (for the server's policy), or NotFound."""
    target = uow.repo(ChannelDeliveries).receipt_target(delivery)
    if target is None:
        raise NotFound(f"no channel delivery {delivery!r}", key="no_channel_delivery",
                       delivery=delivery)
    return target["shop"]
