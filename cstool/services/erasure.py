"""Erasing a customer in one shop: the data subject's right under PIPL and GDPR
(``ctx.erasure``; ``cstool customer erase SHOP CUSTOMER``).

What goes, in one write transaction with its event ``customer.erased``:

- the customer's chats in the shop, open ones too, with every message, private note,
  label, presence mark, quality finding, unanswered question, follow-up invitation and
  open knowledge proposal drawn from them; the files of those messages (bytes that no
  other message uses go too: on PostgreSQL the ``file_blobs`` row in the same
  transaction, on SQLite the file of the folder beside the data file right after the
  commit, under the write lock);
- deliveries queued (or sent) for them: channel deliveries of their messages, webhook
  deliveries of the events of their chats and of the events that name them, with the
  attempts' log;
- the events of their chats and those naming them keep their type, time and shop (the
  log's counts and order hold) but lose their payload (``{"erased": true}``);
- their profile, cart, held coupons and widget tokens in the shop; their own row (name,
  phone, e-mail) when no other shop keeps anything of them, and then the platform's
  events of that row lose their key and payload too.

On SQLite the newest chat and message of the store, when erased, stay as empty shells
(a closed chat of the stand-in, ``close_reason`` ``erased``, with one blank system
message): SQLite gives a new row the highest id plus one, and an id must never name two
customers' chats (gateways ignore a delivery id they saw; integrations file chats by id).

What stays, without the person: the shop's orders, campaign sends, tickets and stored
metric rows move to a **stand-in** customer (``erased-<12 hex>``, named 已删除的顾客,
opted out of campaigns, a profile in the shop and nothing else). Orders lose receiver,
phone, address and region, logistics steps their free text, sends their text, tickets
their title and their timeline's words. So sales, campaign figures (sent, undeliverable,
lift) and service metrics stay what they were, and nothing in them points at the person.
The ``customer.erased`` event names the stand-in and counts, never the customer's key.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from ..errors import NotFound
from ..storage.repos import metrics as metric_store
from ..storage.repos.erasure import ERASED, Erasure
from ..storage.repos.files import ChatFiles
from .context import ServiceContext

STAND_IN_NAME = "已删除的顾客"


class ErasureService:
    """A customer's erasure in one shop."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def erase_customer(self, shop: str, customer: str) -> dict:
        """Erase everything of ``customer`` in ``shop`` (see the module's doc); returns
        what went and the stand-in that keeps the shop's records. NotFound when the
        customer has nothing in the shop (another shop's customer included; a key that
        names no customer at all is simply not found)."""
        with self.ctx.write() as uow:
            shop_row = uow.shops.by_key(shop)
            sid = shop_row["id"]
            repo = uow.repo(Erasure)
            cid = uow.customers.id_of(customer)
            chats = [] if cid is None else repo.conversations(cid, sid)
            orders = [] if cid is None else repo.orders(cid, sid)
            if cid is None or not (repo.has_profile(cid, sid) or chats or orders):
                raise NotFound(f"no customer {customer!r} in shop {shop!r}",
                               key="no_customer_in_shop", customer=customer, shop=shop)
            # the metrics fold the event log: fold what is there before it loses payloads
            metric_store.refresh(uow.conn)
            messages = repo.messages(chats)
            tickets = repo.tickets(cid, sid, chats)
            shell_chat, shell_message = self._shells(repo, chats, messages)
            keep = bool(orders or tickets or repo.sends(cid, sid)
                        or repo.metric_rows(cid, sid) or shell_chat)
            stand_in = f"erased-{secrets.token_hex(6)}" if keep else None
            # files: rows now, bytes no other message uses (in the database: now)
            files = len(uow.repo(ChatFiles).of_conversations(chats))
            shas = uow.repo(ChatFiles).forget(messages)
            in_db = self.ctx.files.blobs.folder is None
            if in_db:
                for sha in shas:
                    self.ctx.files.blobs.drop(uow, sha)
            channel_deliveries = repo.drop_channel_deliveries(messages)
            chat_events = repo.conversation_events(sid, chats)
            named = repo.customer_events(sid, customer)
            webhook_deliveries = repo.drop_webhook_deliveries(
                chat_events + [e[0] for e in named])
            repo.blank_events(chat_events)
            self._rename(repo, named, stand_in)
            suggestions = repo.drop_open_suggestions(sid, chats)
            repo.unlink_chats(chats)
            to = None if stand_in is None else repo.stand_in(stand_in, STAND_IN_NAME, sid,
                                                             uow.now)
            message_count = repo.drop_chats(chats, shell_chat=shell_chat,
                                            shell_message=shell_message, stand_in=to)
            if to is not None:
                repo.move_records(cid, sid, to, orders, tickets)
            gone = repo.drop_shop_part(cid, sid)
            whole = repo.drop_customer_if_unused(cid)
            if whole:  # the record itself is gone: so is its key in the platform's log
                own = repo.platform_customer_events(customer)
                webhook_deliveries += repo.drop_webhook_deliveries(own)
                repo.blank_events(own)
                repo.rename_customer_events(own, "erased")
            result = {
                "shop": shop, "customer": customer, "conversations": len(chats),
                "messages": message_count, "files": files, "blobs_deleted": len(shas),
                "channel_deliveries": channel_deliveries, "kb_suggestions": suggestions,
                "webhook_deliveries": webhook_deliveries,
                "events_blanked": len(chat_events) + len(named), "orders_kept": len(orders),
                "tickets_kept": len(tickets), "stand_in": stand_in,
                "customer_deleted": whole, **gone,
            }
            uow.event("customer.erased", "customer", stand_in, sid, {
                k: v for k, v in result.items() if k not in ("customer", "shop")})
        if not in_db:
            self._drop_files(shas)
        return result

    def _shells(self, repo: Erasure, chats: list[int], messages: list[int]
                ) -> tuple[int | None, int | None]:
        """On SQLite, the newest chat and message of the store, when they are erased, stay
        as empty shells so that their ids are never given again (PostgreSQL's sequences
        never give an id twice). A kept message keeps its chat."""
        if self.ctx.database.engine is not None or not chats:
            return None, None
        top_chat, top_message = repo.top_ids()
        shell_message = top_message if top_message in set(messages) else None
        shell_chat = top_chat if top_chat in set(chats) else None
        if shell_message is not None and shell_chat is None:
            shell_chat = repo.conversation_of(shell_message)
        return shell_chat, shell_message

    @staticmethod
    def _rename(repo: Erasure, named: list[tuple[int, str, Any]], stand_in: str | None) -> None:
        """Events that name the customer: their own lose the key (to the stand-in's, or
        none) and the payload; campaign events keep their figures with the stand-in."""
        own = [e[0] for e in named if e[1] == "customer"]
        repo.blank_events(own)
        repo.rename_customer_events(own, stand_in or "erased")
        for eid, entity, payload in named:
            if entity != "campaign":
                continue
            data = json.loads(payload)
            data["customer"] = stand_in
            data.pop("conversation", None)
            data.pop("message", None)
            repo.set_event_payload(eid, json.dumps(data, ensure_ascii=False) if stand_in
                                   else ERASED)

    def _drop_files(self, shas: set[str]) -> None:
        """Delete the folder's files of these SHA-256s that no message uses, under the
        write lock (a post of the same bytes writes its file under it too)."""
        if not shas:
            return
        with self.ctx.write() as uow:
            files = uow.repo(ChatFiles)
            for sha in shas:
                if not files.in_use(sha):
                    self.ctx.files.blobs.drop(uow, sha)
