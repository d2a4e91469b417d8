"""The bot's actions carried out: what the customer confirmed in the chat (cancel an
unpaid order, change the address or phone of an order not shipped, open an after-sale
request) done through the same services and guards as a person's, inside the bot's
turn's unit of work (the customer's message, the change with its event, the bot's reply:
one transaction). The bot is the actor (``by: "bot"`` and the conversation in the
event); it acts only on the chat's own customer's orders.

The decision and the words are the bot's (:mod:`cstool.bot.actions`); this module only
does what the reply's ``payload["do"]`` says and words the outcome.
"""

from __future__ import annotations

from ..bot import actions
from ..bot.step import BotReply
from ..errors import Conflict, CstoolError, NotFound
from ..message_payloads import stored_payload
from ..storage.unit_of_work import UnitOfWork
from .context import ServiceContext
from .orders import BOT

PHOTO_KINDS = ("image", "file")
PHOTOS_READ = 200


def carry_out(ctx: ServiceContext, uow: UnitOfWork, shop: dict, conv: dict,
              customer_id: int, reply: BotReply) -> None:
    """Do what the customer confirmed (nothing when the reply carries no action) and
    put the outcome in the reply's text: done, or refused with the reason."""
    do = reply.payload.pop("do", None)
    if not do:
        return
    try:
        rec = ctx.orders.order_for(uow, do["order"], customer_id)
        if do["action"] == "cancel":
            result = ctx.orders.cancel_in(uow, rec, by=BOT, reason="customer",
                                          conversation=conv["id"])
        elif do["action"] == "address":
            changes = ctx.orders.address_changes(**do.get("changes") or {})
            result = ctx.orders.readdress_in(uow, rec, changes, by=BOT,
                                             conversation=conv["id"])
        else:
            result = _after_sale(ctx, uow, conv, rec, do)
    except NotFound:
        reply.text = reply.answer = actions.refused_text(do, None)
        reply.payload["refused"] = "not_found"
        return
    except Conflict as e:
        status = (getattr(e, "params", {}) or {}).get("order_status")
        reply.text = reply.answer = actions.refused_text(do, status or "")
        reply.payload["refused"] = status or e.key
        return
    except CstoolError as e:  # a stored address the rules no longer take, say
        reply.text = reply.answer = actions.refused_text(do, "")
        reply.payload["refused"] = getattr(e, "key", "error")
        return
    reply.text = reply.answer = actions.done_text(do, result)
    reply.payload["done"] = do["action"]
    if do["action"] == "after_sale":
        reply.payload["ticket"] = result["ticket"]


def photos_of(uow: UnitOfWork, conv_id: int) -> list[dict]:
    """The pictures and files the customer sent in the chat: message id, kind, and the
    file's address when the message has one."""
    out = []
    for mid, kind, payload in uow.messages.customer_files(conv_id, PHOTO_KINDS, PHOTOS_READ):
        p = stored_payload(payload)
        found: dict = {"message": mid, "kind": kind}
        if isinstance(p, dict):
            found.update({k: p[k] for k in ("url", "file", "name") if p.get(k)})
        out.append(found)
    return out


def _after_sale(ctx: ServiceContext, uow: UnitOfWork, conv: dict, rec: dict,
                do: dict) -> dict:
    """The after-sale ticket: the order, the chat, the customer's photos."""
    photos = photos_of(uow, conv["id"])
    kind = do.get("kind") or "other"
    items = "、".join(str(i["product"]) for i in rec.get("items") or [])[:120]
    title = f"{actions.t('bot.act.kind.' + kind, do.get('lang') or 'zh')}：{rec['key']}"
    if items:
        title = f"{title}（{items}）"
    ticket = ctx.tickets.create_in(
        uow, type=kind, title=title[:200], conversation=conv["id"], order=rec["key"],
        team="aftersale", note=(do.get("question") or "")[:1000] or None,
        via={"by": BOT, "attachments": photos})
    return {"ticket": ticket["id"], "attachments": len(photos)}
