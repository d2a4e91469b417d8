"""Quality inspection (质检): the tables of migration 19 (``uow.repo(Quality)``) — one
inspection per closed chat, its findings with the reviewers' verdicts, and the event the
inspections have caught up to."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from ..ids import row_id
from ..where import Where

CHUNK = 500


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i:i + CHUNK])


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class Quality:
    """Inspections, findings and the catch-up cursor."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- catching up with the closes ------------------------------------------------------
    def cursor(self) -> int | None:
        """The last event the inspections reflect (None: never caught up)."""
        row = self.conn.execute("SELECT cursor FROM qa_state WHERE id = 1").fetchone()
        return None if row is None else row[0]

    def set_cursor(self, at: int) -> None:
        """Record that the inspections reflect the events up to ``at``."""
        self.conn.execute("INSERT INTO qa_state (id, cursor) VALUES (1, ?) "
                          "ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor", (at,))

    def head(self) -> int:
        """The newest event id (0 when none)."""
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    def touched(self, after: int | None, upto: int) -> list[int]:
        """Chats closed or reopened by the events in ``(after, upto]`` (every closed chat
        when ``after`` is None)."""
        if after is None:
            return [r[0] for r in self.conn.execute(
                "SELECT id FROM conversations WHERE closed_at IS NOT NULL ORDER BY id")]
        return sorted({int(r[0]) for r in self.conn.execute(
            "SELECT DISTINCT entity_key FROM events WHERE id > ? AND id <= ? AND "
            "type IN ('conversation.closed', 'conversation.reopened') AND "
            "entity = 'conversation'", (after, upto))})

    def chats(self, ids: Sequence[int]) -> list[tuple]:
        """``(id, shop_id, created_at, closed_at, close_reason, assignee_id,
        needs_human_at, last_agent_id)`` of the closed chats among ``ids`` (the need for
        a human and the last agent as the metrics folded them; the handoff and the
        assignee when not folded yet)."""
        out = []
        for chunk in _chunks(ids):
            out += self.conn.execute(
                "SELECT c.id, c.shop_id, c.created_at, c.closed_at, c.close_reason, "
                "c.assignee_id, CASE WHEN m.conversation_id IS NULL THEN c.handoff_at "
                "ELSE m.needs_human_at END, COALESCE(m.last_agent_id, c.assignee_id) "
                "FROM conversations c LEFT JOIN metric_conversations m ON "
                "m.conversation_id = c.id WHERE c.closed_at IS NOT NULL AND c.id IN "
                f"({_marks(len(chunk))}) ORDER BY c.id", chunk).fetchall()
        return out

    def messages(self, ids: Sequence[int]) -> dict[int, list[tuple]]:
        """``(id, sender, body, created_at, agent_id, kind)`` of each chat's messages, in
        order."""
        out: dict[int, list[tuple]] = {}
        for chunk in _chunks(ids):
            for row in self.conn.execute(
                    "SELECT conversation_id, id, sender, body, created_at, agent_id, kind "
                    f"FROM messages WHERE conversation_id IN ({_marks(len(chunk))}) "
                    "ORDER BY conversation_id, id", chunk):
                out.setdefault(row[0], []).append(row[1:])
        return out

    def shop_settings(self) -> dict[int, dict]:
        """Every shop's settings, by id."""
        return {sid: json.loads(s or "{}") for sid, s in self.conn.execute(
            "SELECT id, settings FROM shops")}

    def agent_handles(self) -> dict[int, str]:
        """Every agent's handle, by id."""
        return dict(self.conn.execute("SELECT id, handle FROM agents").fetchall())

    def shop_keys(self) -> dict[int, str]:
        """Every shop's key, by id."""
        return dict(self.conn.execute("SELECT id, key FROM shops").fetchall())

    def forget(self, ids: Sequence[int]) -> None:
        """Drop the inspections and findings of ``ids`` (reopened, or inspected again)."""
        for chunk in _chunks(ids):
            for table in ("qa_findings", "qa_inspections"):
                self.conn.execute(f"DELETE FROM {table} WHERE conversation_id IN "
                                  f"({_marks(len(chunk))})", chunk)

    def save(self, rows: Sequence[tuple], findings: Sequence[tuple]) -> None:
        """Store inspections ``(conversation_id, shop_id, agent_id, created_at, closed_at,
        score, flagged, sampled, inspected_at)`` and findings ``(conversation_id, shop_id,
        agent_id, rule, message_id, points, detail)``."""
        self.conn.executemany(
            "INSERT INTO qa_inspections (conversation_id, shop_id, agent_id, created_at, "
            "closed_at, score, flagged, sampled, inspected_at) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.conn.executemany(
            "INSERT INTO qa_findings (conversation_id, shop_id, agent_id, rule, message_id, "
            "points, detail) VALUES (?, ?, ?, ?, ?, ?, ?)", findings)

    # -- the review -----------------------------------------------------------------------
    def queue(self, shop_id: int, limit: int, after: int | None = None) -> list[tuple]:
        """``(conversation_id, agent_id, score, flagged, sampled, closed_at)`` of the
        shop's chats waiting for review (flagged or sampled, not reviewed), oldest close
        first; ``after``: past this chat id in that order."""
        where = Where().add("q.shop_id = ?", shop_id).add("q.reviewed_at IS NULL").add(
            "(q.flagged = 1 OR q.sampled = 1)")
        if after is not None and row_id(after) is None:
            return []  # past a chat no row can be: nothing
        if after is not None:
            where.add("(q.closed_at, q.conversation_id) > (SELECT closed_at, conversation_id "
                      "FROM qa_inspections WHERE conversation_id = ?)", after)
        return self.conn.execute(
            "SELECT q.conversation_id, q.agent_id, q.score, q.flagged, q.sampled, q.closed_at "
            f"FROM qa_inspections q {where.sql()} ORDER BY q.closed_at, "
            "q.conversation_id LIMIT ?", [*where.params, limit]).fetchall()

    def pending(self, shop_id: int) -> int:
        """How many of the shop's chats wait for review."""
        return self.conn.execute(
            "SELECT COUNT(*) FROM qa_inspections WHERE shop_id = ? AND reviewed_at IS NULL "
            "AND (flagged = 1 OR sampled = 1)", (shop_id,)).fetchone()[0]

    def inspection(self, conversation_id: int) -> tuple | None:
        """``(conversation_id, shop_id, agent_id, score, flagged, sampled, closed_at,
        reviewed_at, reviewed_by)`` of one chat, or None."""
        if row_id(conversation_id) is None:
            return None
        return self.conn.execute(
            "SELECT conversation_id, shop_id, agent_id, score, flagged, sampled, closed_at, "
            "reviewed_at, reviewed_by FROM qa_inspections WHERE conversation_id = ?",
            (conversation_id,)).fetchone()

    def findings(self, ids: Sequence[int]) -> dict[int, list[tuple]]:
        """``(id, agent_id, rule, message_id, points, detail, verdict, reviewed_by,
        message body, message sender)`` of each chat's findings, in order."""
        out: dict[int, list[tuple]] = {}
        ids = [i for i in ids if row_id(i) is not None]
        for chunk in _chunks(ids):
            for row in self.conn.execute(
                    "SELECT f.conversation_id, f.id, f.agent_id, f.rule, f.message_id, "
                    "f.points, f.detail, f.verdict, f.reviewed_by, m.body, m.sender "
                    "FROM qa_findings f LEFT JOIN messages m ON m.id = f.message_id "
                    f"WHERE f.conversation_id IN ({_marks(len(chunk))}) "
                    "ORDER BY f.conversation_id, f.id", chunk):
                out.setdefault(row[0], []).append(row[1:])
        return out

    def set_verdict(self, finding_id: int, verdict: str, by: str | None, now: int) -> None:
        """Record a reviewer's verdict on a finding."""
        self.conn.execute("UPDATE qa_findings SET verdict = ?, reviewed_by = ?, "
                          "reviewed_at = ? WHERE id = ?", (verdict, by, now, finding_id))

    def settle(self, conversation_id: int, score: int, reviewed: bool, by: str | None,
               now: int) -> None:
        """Set a chat's score after the verdicts, and mark it reviewed (or not yet)."""
        self.conn.execute(
            "UPDATE qa_inspections SET score = ?, reviewed_at = ?, reviewed_by = ? "
            "WHERE conversation_id = ?",
            (score, now if reviewed else None, by if reviewed else None, conversation_id))

    # -- figures --------------------------------------------------------------------------
    def inspected(self, shop_id: int | None, since: int | None, until: int | None,
                  agent_id: int | None = None) -> list[tuple]:
        """``(shop_id, agent_id, score, flagged, sampled, reviewed)`` of the chats created
        in ``[since, until)`` (of one shop, or agent)."""
        where = (Where().add_if(shop_id, "shop_id = ?", shop_id)
                 .add_if(agent_id, "agent_id = ?", agent_id)
                 .add_if(since, "created_at >= ?", since)
                 .add_if(until, "created_at < ?", until))
        return self.conn.execute(
            "SELECT shop_id, agent_id, score, flagged, sampled, "
            "CASE WHEN reviewed_at IS NULL THEN 0 ELSE 1 END FROM qa_inspections "
            f"{where.sql()}", where.params).fetchall()

    def finding_counts(self, shop_id: int | None, since: int | None, until: int | None,
                       agent_id: int | None = None) -> list[tuple]:
        """``(shop_id, agent_id, rule, verdict, count)`` of the findings in the chats
        created in ``[since, until)`` (of one shop, or against one agent)."""
        where = (Where().add_if(shop_id, "q.shop_id = ?", shop_id)
                 .add_if(agent_id, "f.agent_id = ?", agent_id)
                 .add_if(since, "q.created_at >= ?", since)
                 .add_if(until, "q.created_at < ?", until))
        return self.conn.execute(
            "SELECT f.shop_id, f.agent_id, f.rule, f.verdict, COUNT(*) FROM qa_findings f "
            "JOIN qa_inspections q ON q.conversation_id = f.conversation_id "
            f"{where.sql()} GROUP BY f.shop_id, f.agent_id, f.rule, "
            "f.verdict", where.params).fetchall()

    def complaint_chats(self, shop_id: int, since: int | None,
                        until: int | None) -> dict[int, tuple[int, int]]:
        """Per agent, ``(chats held, of which complaints)`` among the shop's chats created
        in ``[since, until)``: a complaint carries a label 投诉 (or 投诉-…) or has a
        ``complaint`` ticket."""
        where = (Where().add("c.shop_id = ?", shop_id)
                 .add_if(since, "c.created_at >= ?", since)
                 .add_if(until, "c.created_at < ?", until))
        return {a: (n, k) for a, n, k in self.conn.execute(
            "SELECT l.agent_id, COUNT(DISTINCT l.conversation_id), COUNT(DISTINCT CASE WHEN "
            "EXISTS (SELECT 1 FROM tickets t WHERE t.conversation_id = c.id AND "
            "t.type = 'complaint') OR EXISTS (SELECT 1 FROM conversation_labels b WHERE "
            "b.conversation_id = c.id AND (b.label = '投诉' OR b.label LIKE '投诉-%')) "
            "THEN c.id END) FROM metric_legs l JOIN conversations c ON "
            f"c.id = l.conversation_id {where.sql()} GROUP BY l.agent_id", where.params)}
