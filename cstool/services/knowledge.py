"""The knowledge service: asking the bot, searching knowledge, agent assist, the bot
step of the desk (inside the post's unit of work) and the learning loop (questions the
bot could not answer, grouped, learned into entries or dismissed).

What the bot reads from the file is in :mod:`cstool.services.knowledge_sources`; the
SQL in :mod:`cstool.storage.repos.knowledge`.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..api.bounds import check_whole
from ..bot import default_synonyms, normalise
from ..bot.knowledge_bot import IndexCache, KnowledgeBot
from ..bot.step import BotReply
from ..errors import Conflict, InvalidInput, NotFound, UsageError
from ..resources import KINDS
from ..service import MAX_MESSAGE_CHARS, asks_for_human
from ..storage.records import strip_ids
from ..storage.repos.knowledge import Knowledge
from ..storage.unit_of_work import UnitOfWork
from ..text_rules import check_text
from ..validation import check_refs, to_external, to_internal
from ..values import format_time
from .bot_actions import carry_out
from .context import ServiceContext
from .knowledge_sources import UnitCommerce, UnitKnowledge, VersionCursor

MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer

_FILLERS = default_synonyms()


def group_key(question: str) -> str:
    """How unanswered questions are grouped: normalised, with the built-in synonyms
    applied and greetings and fillers (你好, 在吗, 亲) left out, so "在吗？快递到哪了" and
    "快递到哪了" are one group."""
    key = " ".join(_FILLERS.apply(normalise(question)).split())
    key = re.sub(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])", "", key)
    return key or normalise(question)


@dataclass
class _Group:
    """One group of unanswered questions while they are counted."""

    group: str
    shop: str | None
    normalized: str
    first_at: int
    last_at: int
    count: int = 0
    texts: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    entries: Counter = field(default_factory=Counter)
    confidences: list[float] = field(default_factory=list)

    def public(self) -> dict:
        """The group as ``unanswered_questions`` returns it."""
        conf = self.confidences
        return {
            "group": self.group, "shop": self.shop,
            "question": self.texts.most_common(1)[0][0], "count": self.count,
            "wordings": [t for t, _ in self.texts.most_common()],
            "actions": dict(self.actions),
            "top_entry": self.entries.most_common(1)[0][0] if self.entries else None,
            "confidence": round(max(conf), 4) if conf else None,
            "first_at": format_time(self.first_at), "last_at": format_time(self.last_at),
            "normalized": self.normalized,
        }


def _entry_hit(idx: Any, key: str, score: float, shop: str | None) -> dict:
    e = idx.entry(key, shop) or {}
    return {"entry": key, "score": round(float(score), 4), "shop": e.get("shop"),
            "question": e.get("question"), "answer": e.get("answer"),
            "category": e.get("category") or None}


class KnowledgeService:
    """The knowledge bot's operations and the desk's bot step.

    State of its own: the knowledge version cursor (:class:`VersionCursor`, kept valid
    by checking the event it stopped at) and, when the desk runs another bot than the
    knowledge bot, an index cache of its own (the index follows the knowledge version).
    """

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx
        self.cursor = VersionCursor()
        self._own_cache: IndexCache | None = None
        self._reads: list[UnitKnowledge] = []  # read-only sources that may keep embeddings
        self._reads_lock = threading.Lock()

    # -- the index -------------------------------------------------------------------------
    def cache(self) -> IndexCache:
        """The bot's index cache (one of our own when the desk runs another bot)."""
        bot = self.ctx.bot
        if isinstance(bot, KnowledgeBot):
            return bot.cache
        if self._own_cache is None:
            self._own_cache = IndexCache()
        return self._own_cache

    def source(self, uow: UnitOfWork) -> UnitKnowledge:
        """The knowledge as the bot reads it, through ``uow``."""
        src = UnitKnowledge(uow, self.cursor)
        if not uow.writable:
            with self._reads_lock:
                self._reads.append(src)
        return src

    def _save_embeddings(self) -> None:
        """Store the entry embeddings computed during reads, in one write transaction
        (the data file keeps them: a new process does not embed the entries again)."""
        with self._reads_lock:
            pending, self._reads = [s for s in self._reads if s.pending], []
        if pending:
            try:
                with self.ctx.write() as uow:
                    for src in pending:
                        src.save_pending(uow)
            except Exception:  # noqa: BLE001 - a file we cannot write only costs a rebuild
                pass

    def index(self, uow: UnitOfWork, shop: str | None):
        """The current index, with ``shop``'s scope (None: platform-wide) ready."""
        cache = self.cache()
        src = self.source(uow)
        idx = cache.index(src)
        cache.ready(idx, shop, src)
        return idx

    def warm_knowledge(self, shop: str | None = None) -> dict:
        """Build (or load from the cache) the bot's model for ``shop`` (None: the
        platform-wide knowledge) now, so the first customer does not wait for it."""
        with self.ctx.read() as uow:
            if shop is not None:
                uow.shops.by_key(shop)
            cache = self.cache()
            src = self.source(uow)
            idx = cache.index(src)
            how = cache.ready(idx, shop, src)
            n = len(idx.scope_entries(shop))
        self._save_embeddings()
        return {"shop": shop, "entries": n, **how}

    # -- asking ------------------------------------------------------------------------------
    def _bot_context(self, uow: UnitOfWork, shop: dict | None, customer_id: int | None,
                     customer: str | None, conv: dict | None) -> dict:
        commerce = None
        if shop is not None:
            commerce = UnitCommerce(uow, shop, customer_id, customer, uow.now,
                                    product=(conv or {}).get("product_key"),
                                    entry_page=(conv or {}).get("entry_page"))
        memory = None
        if conv is not None and conv.get("flow"):
            try:
                memory = json.loads(conv["flow"])
            except ValueError:
                memory = None
        return {"conversation": None if conv is None else conv["id"], "customer": customer,
                "knowledge": self.source(uow), "commerce": commerce, "memory": memory,
                "languages": (shop or {}).get("languages")}

    def ask_bot(self, text: str, *, shop: str | None = None,
                customer: str | None = None) -> dict:
        """What the bot would reply to ``text`` in ``shop`` (None: all knowledge), for
        ``customer`` when given (flows read their orders and coupons). Nothing is
        written: no conversation, no memory, nothing recorded."""
        if not isinstance(text, str):
            raise InvalidInput("the question must be text", key="question_not_text")
        check_text(text, "question", multiline=True)  # blank: the bot hands off
        if len(text) > MAX_MESSAGE_CHARS:  # a customer's message is no longer either
            raise InvalidInput(
                f"question too long ({len(text)} characters, at most {MAX_MESSAGE_CHARS})",
                key="text_too_long", what="question", length=len(text), max=MAX_MESSAGE_CHARS)
        with self.ctx.read() as uow:
            shop_row = uow.shops.by_key(shop) if shop is not None else None
            cid = None
            if customer is not None:
                if shop is None:
                    raise UsageError("--customer needs --shop", key="customer_needs_shop")
                cid = uow.customers.id_of(customer)
                if cid is None:
                    raise NotFound(f"no customer {customer!r}", key="no_customer",
                                   customer=customer)
            context = self._bot_context(uow, shop_row, cid, customer, None)
            reply = self.ctx.bot.reply(shop, text, context)
            reply.payload.pop("do", None)  # a dry run acts on nothing
        self._save_embeddings()
        return reply.to_dict(text)

    def search_knowledge(self, text: str, *, shop: str | None = None, k: int = 5) -> list[dict]:
        """The ``k`` best entries for ``text`` as ``shop`` sees them, with scores."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("search text is empty", key="search_empty")
        check_text(text, "search text", multiline=True)
        check_whole("k", k)
        with self.ctx.read() as uow:
            if shop is not None:
                uow.shops.by_key(shop)
            idx = self.index(uow, shop)
            ranked = idx.search(text, int(k), shop=shop)
        self._save_embeddings()
        return [_entry_hit(idx, key, score, shop) for key, score in ranked]

    def suggest_answers(self, conversation: int, k: int = 3) -> list[dict]:
        """Agent assist: the ``k`` best entries for the conversation's last customer
        message (a bare request for a human is skipped for the message before it)."""
        with self.ctx.read() as uow:
            conv = uow.conversations.get(conversation)
            check_whole("k", k)
            shop = uow.shops.key_of(conv["shop_id"])
            text = None
            for body in uow.repo(Knowledge).last_customer_bodies(conv["id"], 5):
                if asks_for_human(body) and len(normalise(body)) <= 8:
                    continue
                if normalise(body):
                    text = body
                    break
            if text is None:
                return []
            idx = self.index(uow, shop)
            ranked = idx.search(text, int(k), shop=shop)
        self._save_embeddings()
        return [{**_entry_hit(idx, key, score, shop), "for": text} for key, score in ranked]

    # -- the bot step of the desk (inside post_message's unit of work) ----------------------
    def bot_turn(self, uow: UnitOfWork, shop: dict, conv: dict, customer_id: int,
                 text: str) -> BotReply:
        """Ask the bot (with the chat's memory), keep its memory on the conversation,
        record what it could not answer for the learning loop."""
        customer = uow.customers.key_of(customer_id)
        context = self._bot_context(uow, shop, customer_id, customer, conv)
        reply = self.ctx.bot.reply(shop["key"], text, context)
        carry_out(self.ctx, uow, shop, conv, customer_id, reply)  # what the customer confirmed
        if reply.memory is not None:
            uow.conversations.update(conv["id"],
                                     flow=json.dumps(reply.memory, ensure_ascii=False))
        if reply.record:
            self._record_unanswered(uow, shop["id"], conv["id"], reply.record,
                                    reply.action, reply.entry, reply.confidence)
        return reply

    def _record_unanswered(self, uow: UnitOfWork, shop_id: int | None, conv_id: int | None,
                           question: str, action: str, entry: str | None,
                           confidence: float) -> None:
        norm = group_key(question)
        if not norm:
            return
        row_id = uow.repo(Knowledge).add_unanswered(
            shop_id, conv_id, question[:1000], norm[:1000], action, entry,
            round(float(confidence), 4), uow.now)
        uow.event("bot.unanswered", "conversation", None if conv_id is None else str(conv_id),
                  shop_id, {"question": row_id, "action": action, "entry": entry})

    # -- the learning loop ---------------------------------------------------------------------
    def unanswered_questions(self, *, shop: str | None = None, limit: int = 50) -> list[dict]:
        """Questions the bot could not answer (handed off or only suggested), grouped per
        shop by :func:`group_key`, most asked first."""
        with self.ctx.read() as uow:
            shop_id = uow.shops.by_key(shop)["id"] if shop is not None else None
            check_whole("limit", limit)
            rows = uow.repo(Knowledge).unanswered(shop_id)
        groups: dict[tuple, _Group] = {}
        for rid, skey, question, norm, action, entry, conf, at in rows:
            g = groups.get((skey, norm))
            if g is None:
                g = groups[(skey, norm)] = _Group(f"#{rid}", skey, norm, at, at)
            g.count += 1
            g.texts[question] += 1
            g.actions[action] += 1
            if entry:
                g.entries[entry] += 1
            g.last_at = max(g.last_at, at)
            g.confidences.append(conf or 0.0)
        out = [g.public() for g in groups.values()]
        out.sort(key=lambda g: (g["count"], g["last_at"] or ""), reverse=True)
        return out[: int(limit)]

    def _unanswered_group(self, uow: UnitOfWork, question: str,
                          shop_id: int | None) -> tuple[list[tuple], int | None]:
        """Rows of the group named ``#id`` or by a question's normalised text; with
        ``shop_id``, only that shop's (another shop's group is not found)."""
        repo = uow.repo(Knowledge)
        m = re.fullmatch(r"#(\d+)", question.strip())
        if m:
            gid = int(m.group(1))  # past SQLite's 64-bit ids it names no group
            head = None if gid > MAX_ROW_ID else repo.unanswered_head(gid)
            if head is None or (shop_id is not None and head[0] != shop_id):
                name = question.strip()
                if shop_id is None:
                    raise NotFound(f"no unanswered question group {name}",
                                   key="no_unanswered_group", group=name)
                raise NotFound(f"no unanswered question group {name} in this shop",
                               key="no_unanswered_group_here", group=name)
            gshop, norm = head
        else:
            gshop, norm = shop_id, group_key(question)
        if gshop is None and not m:
            rows = repo.unanswered_like(norm, any_shop=True)
        else:
            rows = repo.unanswered_like(norm, shop_id=gshop)
        return rows, gshop

    def learn_question(self, question: str, *, entry: str | None = None,
                       new: str | None = None, answer: str | None = None,
                       shop: str | None = None, category: str | None = None,
                       tags: list[str] | None = None) -> dict:
        """Teach the bot a question: as a similar question of ``entry``, or as a new
        entry ``new`` (with ``answer``). ``question`` is text or ``#id`` of a group from
        ``unanswered_questions``; every wording of the group is learned and the group is
        resolved (removed from the list). One transaction."""
        if (entry is None) == (new is None):
            raise UsageError("learn into exactly one of an existing entry or a new one",
                             key="learn_one_target")
        if not isinstance(question, str) or not question.strip():
            raise InvalidInput("the question is empty", key="question_empty")
        if new is not None and not (answer or "").strip():
            raise UsageError("a new entry needs an answer", key="new_entry_needs_answer")
        with self.ctx.write() as uow:
            shop_id = uow.shops.by_key(shop)["id"] if shop is not None else None
            rows, gshop = self._unanswered_group(uow, question, shop_id)
            wordings: list[str] = []
            for _, text, _ in rows:
                if text not in wordings:
                    wordings.append(text)
            if not re.fullmatch(r"#\d+", question.strip()) and question.strip() not in wordings:
                wordings.insert(0, question.strip())
            if entry is not None:
                key, created, added = entry, False, self.learn_into(uow, entry, wordings)
            else:
                if shop is None and gshop is not None:
                    shop = uow.shops.key_of(gshop)
                self.learn_new(uow, new, wordings, answer, shop, category, tags)
                key, created, added = new, True, wordings
            ids = [r[0] for r in rows]
            if ids:
                uow.repo(Knowledge).delete_unanswered(ids)
                uow.event("bot.learned", "knowledge_entry", key, gshop, {"resolved": len(ids)})
            k = KINDS["knowledge_entries"]
            return {"entry": key, "created": created, "added": added, "resolved": len(ids),
                    "record": to_external(k, strip_ids(uow.records.read(k.name, key)))}

    def learn_into(self, uow: UnitOfWork, entry: str, wordings: list[str]) -> list[str]:
        """Add the wordings ``entry`` does not know yet as its similar questions; returns
        those added."""
        k = KINDS["knowledge_entries"]
        store = uow.records
        current = store.read(k.name, entry)
        if current is None:
            raise NotFound(f"no knowledge entry {entry!r}", key="no_record",
                           kind="knowledge_entry", record=entry)
        rec = strip_ids(current)
        known = {normalise(t) for t in [rec["question"], *rec["similar"]]}
        added = []
        for t in wordings:
            if normalise(t) not in known:
                known.add(normalise(t))
                added.append(t)
        rec["similar"] = [*rec["similar"], *added]
        rec = to_internal(k, to_external(k, rec))
        if added:
            store.write(k.name, rec, uow.now)
            uow.event("knowledge_entry.updated", "knowledge_entry", entry,
                      store.id_of("shops", rec["shop"]) if rec["shop"] else None,
                      {"fields": ["similar"], "via": "learn", "added": added})
        return added

    def learn_new(self, uow: UnitOfWork, new: str, wordings: list[str], answer: str | None,
                   shop: str | None, category: str | None, tags: list[str] | None) -> None:
        """A new entry ``new``: the first wording its question, the others similar."""
        k = KINDS["knowledge_entries"]
        store = uow.records
        if store.id_of(k.name, new) is not None:
            raise Conflict(f"knowledge entry {new!r} exists already",
                           key="exists_already", kind="knowledge_entry", record=new)
        raw = {"key": new, "question": wordings[0], "similar": wordings[1:],
               "answer": answer, "shop": shop, "category": category, "tags": tags or []}
        rec = to_internal(k, {n: v for n, v in raw.items() if v is not None})
        check_refs(k, rec, self.ctx.records.db_lookup(store))
        store.write(k.name, rec, uow.now)
        uow.event("knowledge_entry.created", "knowledge_entry", new,
                  store.id_of("shops", shop) if shop else None, {"via": "learn"})

    def dismiss_unanswered(self, group: str) -> int:
        """Remove a group (``#id``) of unanswered questions without learning it."""
        with self.ctx.write() as uow:
            if not re.fullmatch(r"#\d+", group.strip()):
                raise UsageError("name a group by its id, like #12 (see kb unanswered)",
                                 key="group_needs_id")
            rows, gshop = self._unanswered_group(uow, group, None)
            ids = [r[0] for r in rows]
            uow.repo(Knowledge).delete_unanswered(ids)
            uow.event("bot.dismissed", None, group.strip(), gshop, {"count": len(ids)})
            return len(ids)
