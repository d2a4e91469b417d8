"""Knowledge suggestions: learning from what agents answer (``kb suggest``).

:meth:`KnowledgeSuggestions.suggest` mines the shop's closed human chats (of the last
``since``, e.g. ``7d``) with :mod:`cstool.bot.mining`: the customer questions and the
agent replies that answered them, grouped, each group a proposal (similar questions
for one of the shop's entries, or a new entry with the agents' answer) with its
evidence, the chats. Proposals are kept (``kb_suggestions``) so their ids hold between
runs; nothing is applied until a person accepts one (:meth:`accept`, through the
knowledge service's write path: the entry's ownership, its event). A decided proposal's
questions are never proposed again; neither are questions the bot already answers with
what the agent said (a confident answer that says something else is a miss).
"""

from __future__ import annotations

import re
from typing import Any

from ..bot import mining
from ..errors import Conflict, NotFound, UsageError
from ..storage.repos.kb_suggestions import KbSuggestions
from ..values import SLUG_RE, format_time
from .context import ServiceContext
from .knowledge import KnowledgeService

_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
LOW_RATING = 2  # a chat rated this or lower did not resolve anything


def since_ms(since: str | None, now: int) -> int | None:
    """``7d``, ``12h``, ``90m``, ``2w`` before ``now`` (ms), or None for ``all``/None."""
    if since is None or str(since).strip().lower() == "all":
        return None
    m = re.fullmatch(r"([1-9][0-9]{0,5})([mhdw])", str(since).strip().lower())
    if not m:
        raise UsageError(f"since must be like 7d, 12h, 90m, 2w or all, not {since!r}",
                         key="since_duration", since=repr(since))
    return now - int(m.group(1)) * _UNITS[m.group(2)]


def _known(idx: Any, shop: str, ex: mining.Exchange) -> bool:
    """The bot answers the question already, and says what the agent said."""
    d = idx.decide(ex.question, shop=shop)
    entry = idx.entry(d.entry, shop) if d.action == "answer" else None
    return entry is not None and mining.similarity(
        str(entry.get("answer") or ""), ex.answer) >= mining.ANSWER_LIKE


def _matcher(idx: Any, shop: str) -> mining.Match:
    def match(q: str) -> tuple[str | None, str]:
        d = idx.decide(q, shop=shop)
        return d.entry, d.action
    return match


def learnable(messages: list[dict]) -> mining.Exchange | None:
    """The last question of a chat an agent answered (what the console offers to
    propose), None when there is none."""
    found = mining.exchanges(0, messages)
    return found[-1] if found else None


def _public(row: dict, shop: str) -> dict:
    return {"id": row["id"], "shop": shop, "kind": row["kind"], "entry": row["entry"],
            "question": row["question"], "similar": row["similar"], "answer": row["answer"],
            "conversations": row["conversations"], "evidence": len(row["conversations"]),
            "status": row["status"], "decided_by": row["decided_by"],
            "result_entry": row["result_entry"], "proposed_by": row.get("proposed_by"),
            "decided_at": format_time(row["decided_at"]) if row["decided_at"] else None}


class KnowledgeSuggestions:
    """``kb suggest``: mine, list, accept and reject proposals."""

    def __init__(self, ctx: ServiceContext, knowledge: KnowledgeService) -> None:
        """Over the backend's context; accepted proposals are written by ``knowledge``."""
        self.ctx = ctx
        self.knowledge = knowledge

    def suggest(self, shop: str, since: str | None = "7d") -> list[dict]:
        """Mine the shop's closed human chats of the last ``since`` and return its open
        proposals, the best evidenced first. One transaction (the proposals are kept)."""
        with self.ctx.write() as uow:
            s = uow.shops.by_key(shop)
            after = since_ms(since, uow.now)
            repo = uow.repo(KbSuggestions)
            idx = self.knowledge.index(uow, shop)
            own = {e["key"]: e for e in idx.scope_entries(shop) if e.get("shop") == shop}
            rows = repo.of_shop(s["id"])
            decided = {k for r in rows if r["status"] != "open" for k in r["keys"]}
            pairs = []
            for cid, rating, msgs in repo.human_chats(s["id"], after):
                if rating is not None and rating <= LOW_RATING:
                    continue
                pairs += mining.exchanges(cid, msgs)
            answered = {mining.clean(ex.question) for ex in pairs if _known(idx, shop, ex)}
            groups = mining.group_questions(pairs, skip=decided | answered)
            match = _matcher(idx, shop)
            open_rows = [r for r in rows if r["status"] == "open"]
            kept: set[int] = set()
            for g in groups:
                p = mining.propose(g, match, own)
                keys = set(p["keys"])
                same = next((r for r in open_rows if r["id"] not in kept
                             and keys & set(r["keys"])), None)
                args = (p["kind"], p["entry"], p["questions"][0], p["questions"][1:],
                        p["answer"], p["conversations"], p["keys"], uow.now)
                if same is None:
                    kept.add(repo.add(s["id"], *args))
                else:
                    repo.refresh(same["id"], *args)
                    kept.add(same["id"])
            repo.drop([r["id"] for r in open_rows if r["id"] not in kept])
            out = [_public(r, shop) for r in repo.of_shop(s["id"], "open")]
            uow.event("kb.suggested", "shop", shop, s["id"],
                      {"open": len(out), "chats": len({ex.conversation for ex in pairs})})
        out.sort(key=lambda r: (-r["evidence"], r["id"]))
        return out

    def propose_from_chat(self, conversation: int, agent: str) -> dict:
        """The agent's one-key proposal: the chat's last question the agent answered
        (and the bot does not answer with that) becomes an open proposal for a
        supervisor, with the chat as its evidence (joined to an open one with the same
        question). Nothing is applied."""
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            shop = uow.shops.key_of(conv["shop_id"])
            repo = uow.repo(KbSuggestions)
            ex = mining.exchanges(conv["id"], repo.chat_messages(conv["id"]))
            if not ex:
                raise Conflict(f"conversation {conversation} has no question an agent "
                               f"answered", key="nothing_to_learn", conversation=conversation)
            last = ex[-1]
            idx = self.knowledge.index(uow, shop)
            key = mining.clean(last.question)
            rows = repo.of_shop(conv["shop_id"])
            if _known(idx, shop, last) or any(key in r["keys"] for r in rows
                                               if r["status"] != "open"):
                raise Conflict("the bot knows this question already (or it was decided)",
                               key="learned_already", conversation=conversation)
            own = {e["key"]: e for e in idx.scope_entries(shop) if e.get("shop") == shop}
            same = next((r for r in rows if r["status"] == "open" and key in r["keys"]), None)
            if same is not None:
                group = mining.Group([same["question"], *same["similar"], last.question],
                                     [same["answer"] or last.answer, last.answer],
                                     [*same["conversations"], conv["id"]])
            else:
                group = mining.Group([last.question], [last.answer], [conv["id"]])
            p = mining.propose(group, _matcher(idx, shop), own)
            args = (p["kind"], p["entry"], p["questions"][0], p["questions"][1:],
                    p["answer"], sorted(set(p["conversations"])), p["keys"], uow.now)
            if same is None:
                sid = repo.add(conv["shop_id"], *args, proposed_by=agent)
            else:
                sid = same["id"]
                repo.refresh(sid, *args)
            uow.event("kb.proposed", "conversation", str(conv["id"]), conv["shop_id"],
                      {"suggestion": sid, "agent": agent})
            return _public(repo.get(sid), shop)

    def _open(self, uow: Any, suggestion: int, shop: str | None) -> tuple[dict, str]:
        row = uow.repo(KbSuggestions).get(int(suggestion)) if 0 < int(suggestion) < 2**63 \
            else None
        owner = uow.shops.key_of(row["shop_id"]) if row is not None else None
        if row is None or (shop is not None and owner != shop):
            raise NotFound(f"no knowledge suggestion {suggestion}", key="no_kb_suggestion",
                           suggestion=suggestion)
        if row["status"] != "open":
            raise Conflict(f"knowledge suggestion {suggestion} is {row['status']} already",
                           key="kb_suggestion_decided", suggestion=suggestion,
                           status=row["status"])
        return row, owner

    def accept(self, suggestion: int, *, shop: str | None = None, key: str | None = None,
               answer: str | None = None, by: str | None = None) -> dict:
        """Apply a proposal: its questions become similar questions of its entry, or a
        new entry of the shop (``key``, default ``<shop>-learned-<id>``; ``answer`` in
        place of the agents' one). One transaction with the entry's event."""
        if key is not None and not SLUG_RE.match(key):
            raise UsageError(f"{key!r} is not a key (lower-case letters, digits, - . _)",
                             key="kb_suggestion_bad_key", record=repr(key))
        with self.ctx.write() as uow:
            row, owner = self._open(uow, suggestion, shop)
            wordings = [row["question"], *row["similar"]]
            if row["kind"] == "similar":
                entry = uow.records.read("knowledge_entries", row["entry"])
                if entry is None or entry.get("shop") != owner:
                    raise Conflict(f"knowledge entry {row['entry']!r} is no longer the "
                                   f"shop's", key="kb_suggestion_entry_gone",
                                   entry=row["entry"])
                added = self.knowledge.learn_into(uow, row["entry"], wordings)
                result, created = row["entry"], False
            else:
                result = key or f"{owner}-learned-{row['id']}"
                text = (answer if answer is not None else row["answer"] or "").strip()
                if not text:
                    raise UsageError("a new entry needs an answer", key="new_entry_needs_answer")
                self.knowledge.learn_new(uow, result, wordings, text, owner, None, ["learned"])
                added, created = wordings, True
            repo = uow.repo(KbSuggestions)
            repo.decide(row["id"], "accepted", by, result, uow.now)
            uow.event("kb.suggestion_accepted", "knowledge_entry", result, row["shop_id"],
                      {"suggestion": row["id"], "added": added, "created": created})
            return {**_public(repo.get(row["id"]), owner), "added": added, "created": created}

    def reject(self, suggestion: int, *, shop: str | None = None,
               by: str | None = None) -> dict:
        """Turn a proposal down: kept as rejected, its questions never proposed again."""
        with self.ctx.write() as uow:
            row, owner = self._open(uow, suggestion, shop)
            repo = uow.repo(KbSuggestions)
            repo.decide(row["id"], "rejected", by, None, uow.now)
            uow.event("kb.suggestion_rejected", "shop", owner, row["shop_id"],
                      {"suggestion": row["id"]})
            return _public(repo.get(row["id"]), owner)
