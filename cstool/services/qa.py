"""Quality inspection (质检) over the data file (``ctx.qa``): every closed chat scored by
its shop's rules (``cstool.qa``), the supervisor's review queue, verdicts, and the QA
figures per agent and shop.

Chats are inspected when they close, caught up from the event log before anything reads
the inspections (as the metrics are): a ``conversation.closed`` after the cursor inspects
the chat with its shop's rules of that moment; a ``conversation.reopened`` drops its
inspection (its next close inspects it again). Changing the rules does not inspect old
chats again. A review writes ``qa.reviewed`` (one transaction with its event).
"""

from __future__ import annotations

from ..api.bounds import check_whole
from ..errors import Conflict, InvalidInput, NotFound
from ..qa import Chat, Message, inspect, normalise, rules_of
from ..qa import figures as qa_figures
from ..qa.engine import score_of
from ..qa.rules import BY, NUMBERS, VERDICTS, Rules
from ..resources import SHOP_SETTINGS_DEFAULTS
from ..storage.repos.qa import Quality
from ..values import format_time
from .context import ServiceContext
from .metrics import period, zone_of

BATCH = 500  # chats inspected per read of their messages


def shop_rules(settings: dict) -> Rules:
    """A shop's QA rules from its settings (its ``qa`` setting, its response target)."""
    s = {**SHOP_SETTINGS_DEFAULTS, **(settings or {})}
    return rules_of(s.get("qa"), response_target_s=int(s["response_target_s"]),
                    normalise=normalise)


def low_score_of(settings: dict) -> int:
    """The shop's low-score threshold (``qa.low_score``)."""
    return int(((settings or {}).get("qa") or {}).get("low_score", NUMBERS["low_score"][2]))


class QaService:
    """Inspections, the review queue and the QA figures."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    # -- inspecting -------------------------------------------------------------------------
    def catch_up(self) -> dict:
        """Inspect the chats closed since the last catch-up (all closed chats the first
        time); returns how many were inspected."""
        self.ctx.metrics.catch_up()  # the need for a human, as the metrics fold it
        with self.ctx.read() as uow:
            q = uow.repo(Quality)
            at, top = q.cursor(), q.head()
            if at is not None and at >= top:
                return {"inspected": 0}
        with self.ctx.write() as uow:
            q = uow.repo(Quality)
            at, top = q.cursor(), q.head()
            if at is not None and at >= top:
                return {"inspected": 0}
            ids = q.touched(at, top)
            q.forget(ids)
            settings = q.shop_settings()
            rules: dict[int, Rules] = {}
            n = 0
            for i in range(0, len(ids), BATCH):
                chunk = ids[i:i + BATCH]
                chats = q.chats(chunk)
                msgs = q.messages([c[0] for c in chats])
                rows, found = [], []
                for cid, shop_id, created, closed, reason, _, needs, last in chats:
                    r = rules.get(shop_id)
                    if r is None:
                        r = rules[shop_id] = shop_rules(settings.get(shop_id, {}))
                    chat = Chat(cid, [Message(m[0], m[1], m[2] or "", m[3], m[4], m[5])
                                      for m in msgs.get(cid, ())],
                                closed_at=closed, needs_human_at=needs, last_agent_id=last,
                                close_reason=reason)
                    ins = inspect(chat, r)
                    rows.append((cid, shop_id, ins.agent_id, created, closed, ins.score,
                                 int(ins.flagged), int(ins.sampled), uow.now))
                    found += [(cid, shop_id, f.agent_id, f.rule, f.message_id, f.points,
                               f.detail) for f in ins.findings]
                q.save(rows, found)
                n += len(rows)
            q.set_cursor(top)
            return {"inspected": n}

    # -- the review ---------------------------------------------------------------------------
    def _shop(self, uow, shop: str) -> dict:
        return uow.shops.by_key(shop)

    def _item(self, uow, row: tuple, found: list[tuple]) -> dict:
        handles = uow.repo(Quality).agent_handles()

        def handle(agent_id):
            return None if agent_id is None else handles.get(agent_id, str(agent_id))

        cid, agent_id, score, flagged, sampled, closed = row[:6]
        return {"conversation": cid, "agent": handle(agent_id), "score": score,
                "flagged": bool(flagged), "sampled": bool(sampled),
                "closed_at": format_time(closed),
                "findings": [{"id": f[0], "agent": handle(f[1]), "rule": f[2],
                              "message": f[3], "points": f[4], "detail": f[5],
                              "verdict": f[6], "reviewed_by": f[7], "text": f[8],
                              "sender": f[9]} for f in found]}

    def queue(self, shop: str, limit: int = 50, after: int | None = None) -> list[dict]:
        """The shop's chats waiting for review (flagged or in the sample), oldest close
        first, each with its findings and the messages they point at."""
        with self.ctx.read() as uow:
            self._shop(uow, shop)
        limit = min(check_whole("limit", limit), 500)
        if after is not None:
            check_whole("after", after)
        self.catch_up()
        with self.ctx.read() as uow:
            s = self._shop(uow, shop)
            q = uow.repo(Quality)
            rows = q.queue(s["id"], limit, after)
            found = q.findings([r[0] for r in rows])
            return [self._item(uow, r, found.get(r[0], [])) for r in rows]

    def chat(self, conversation: int) -> dict:
        """One chat's inspection with its findings (``review`` answers the same)."""
        self.catch_up()
        with self.ctx.read() as uow:
            return self._one(uow, conversation)

    def _one(self, uow, conversation: int) -> dict:
        q = uow.repo(Quality)
        ins = q.inspection(conversation)
        if ins is None:
            raise NotFound(f"conversation {conversation} has no inspection (not closed, or "
                           "no such chat)", key="qa_no_inspection", conversation=conversation)
        row = (ins[0], ins[2], ins[3], ins[4], ins[5], ins[6])
        out = self._item(uow, row, q.findings([conversation]).get(conversation, []))
        out["shop"] = uow.shops.by_id(ins[1])["key"]
        out["reviewed_at"], out["reviewed_by"] = format_time(ins[7]), ins[8]
        return out

    def review(self, shop: str, conversation: int, verdict: str, *,
               finding: int | None = None, by: str | None = None) -> dict:
        """A reviewer's verdict (``confirmed`` or ``overturned``) on one finding of a chat
        of ``shop``, or on all its findings still open (``finding`` None: also how a
        sampled chat without findings is passed). The chat's score counts the findings
        not overturned; it is reviewed once every finding has a verdict."""
        if verdict not in VERDICTS:
            raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}, got "
                               f"{str(verdict)[:32]!r}", key="qa_bad_verdict",
                               verdict=str(verdict)[:32], verdicts=", ".join(VERDICTS))
        self.catch_up()
        with self.ctx.write() as uow:
            s = self._shop(uow, shop)
            if by is not None:
                uow.agents.by_handle(by)
            q = uow.repo(Quality)
            ins = q.inspection(conversation)
            if ins is None or ins[1] != s["id"]:
                raise NotFound(f"shop {shop!r} has no inspected chat {conversation}",
                               key="qa_no_chat", shop=shop, conversation=conversation)
            found = q.findings([conversation]).get(conversation, [])
            if finding is not None:
                if not any(f[0] == finding for f in found):
                    raise NotFound(f"chat {conversation} has no finding {finding}",
                                   key="qa_no_finding", conversation=conversation,
                                   finding=finding)
                targets = [finding]
            else:
                targets = [f[0] for f in found if f[6] is None]
                if not targets and ins[7] is not None:
                    raise Conflict(f"chat {conversation} is reviewed already",
                                   key="qa_reviewed_already", conversation=conversation)
            for fid in targets:
                q.set_verdict(fid, verdict, by, uow.now)
            found = q.findings([conversation]).get(conversation, [])
            kept = [f for f in found if f[6] != "overturned"]
            done = all(f[6] is not None for f in found)
            score = max(0, 100 - sum(f[4] for f in kept))
            q.settle(conversation, score, done, by, uow.now)
            uow.event("qa.reviewed", "conversation", str(conversation), s["id"],
                      {"verdict": verdict, "findings": targets, "by": by, "score": score})
            return self._one(uow, conversation)

    # -- figures ------------------------------------------------------------------------------
    def report(self, shop: str | None = None, since: str | int | None = None,
               until: str | int | None = None, by: str = "agent",
               zone: str | None = None) -> dict:
        """QA figures of the chats created in ``[since, until)``, per ``agent`` or
        ``shop`` (``cstool.qa.figures``), and in total."""
        if by not in BY:
            raise InvalidInput(f"--by must be agent or shop, got {str(by)[:32]!r}",
                               key="qa_bad_by", by=str(by)[:32])
        z = zone_of(zone)
        lo, hi = period(since, until, z)
        self.catch_up()
        with self.ctx.read() as uow:
            q = uow.repo(Quality)
            shop_id = None if shop is None else self._shop(uow, shop)["id"]
            settings = q.shop_settings()
            ids = q.agent_handles() if by == "agent" else q.shop_keys()

            def names(key):
                return "-" if key is None else ids.get(key, str(key))
            out = qa_figures.rows(
                q.inspected(shop_id, lo, hi), q.finding_counts(shop_id, lo, hi), by=by,
                low_score=lambda sid: low_score_of(settings.get(sid, {})), name=names)
            pending = (q.pending(shop_id) if shop_id is not None else None)
        return {"shop": shop, "from": format_time(lo, z), "to": format_time(hi, z),
                "by": by, "pending_review": pending, **out}

    def today(self, shop: str, since: int, until: int) -> dict:
        """The dashboard's 质检 of one shop's chats created in ``[since, until)``: the
        mean score, the chats inspected and low, the shop's ``low_score``, the agents
        whose mean is below it, and the chats waiting for review."""
        report = self.report(shop, since, until, "agent")
        with self.ctx.read() as uow:
            low = low_score_of(uow.shops.by_key(shop).get("settings") or {})
        total = report["total"]
        return {"score": total["qa_score"], "chats": total["chats"], "low": total["low"],
                "low_score": low, "pending_review": report["pending_review"],
                "low_agents": [{"agent": r["agent"], "score": r["qa_score"]}
                               for r in report["rows"]
                               if r["qa_score"] is not None and r["qa_score"] < low]}

    def agent_figures(self, agent_id: int, since: int | None, until: int | None,
                      shop_id: int | None = None) -> dict:
        """One agent's QA row (score, findings by rule, hints) over chats created in
        ``[since, until)`` (of one shop; the radar's part; the inspections must be
        current)."""
        with self.ctx.read() as uow:
            q = uow.repo(Quality)
            settings = q.shop_settings()
            out = qa_figures.rows(
                q.inspected(shop_id, since, until, agent_id=agent_id),
                q.finding_counts(shop_id, since, until, agent_id=agent_id), by="agent",
                low_score=lambda sid: low_score_of(settings.get(sid, {})), name=str)
        return out["total"]


__all__ = ["QaService", "low_score_of", "score_of", "shop_rules"]
