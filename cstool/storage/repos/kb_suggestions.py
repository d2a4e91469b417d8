"""Knowledge suggestions: the closed human chats they are mined from, and the
``kb_suggestions`` rows (open proposals and the decisions on them)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

CHATS_READ = 5000  # the newest closed human chats mined at once
_COLUMNS = ("id, shop_id, kind, entry_key, question, similar, answer, evidence, keys, status, "
            "created_at, updated_at, decided_at, decided_by, result_entry, proposed_by")


def _row(r: tuple) -> dict:
    return {"id": r[0], "shop_id": r[1], "kind": r[2], "entry": r[3], "question": r[4],
            "similar": json.loads(r[5]), "answer": r[6], "conversations": json.loads(r[7]),
            "keys": json.loads(r[8]), "status": r[9], "created_at": r[10],
            "updated_at": r[11], "decided_at": r[12], "decided_by": r[13],
            "result_entry": r[14], "proposed_by": r[15]}


class KbSuggestions:
    """Reads of human chats for mining; the suggestions table."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def human_chats(self, shop_id: int, since: int | None,
                    limit: int = CHATS_READ) -> list[tuple[int, int | None, list[dict]]]:
        """The shop's newest closed chats an agent answered in (closed at or after
        ``since``), each (id, rating, messages oldest first: sender, kind, body)."""
        where, params = "", [shop_id]
        if since is not None:
            where, params = " AND closed_at >= ?", [shop_id, since]
        convs = self.conn.execute(
            "SELECT id, rating FROM conversations WHERE shop_id = ? AND state = 'closed' "
            f"AND first_agent_reply_at IS NOT NULL{where} ORDER BY closed_at DESC, id DESC "
            "LIMIT ?", (*params, int(limit))).fetchall()
        out = []
        for cid, rating in convs:
            msgs = [{"sender": s, "kind": k, "body": b} for s, k, b in self.conn.execute(
                "SELECT sender, kind, body FROM messages WHERE conversation_id = ? "
                "ORDER BY id", (cid,))]
            out.append((cid, rating, msgs))
        return out

    def of_shop(self, shop_id: int, status: str | None = None) -> list[dict]:
        """The shop's suggestions (of one status when given), oldest first."""
        where, params = "WHERE shop_id = ?", [shop_id]
        if status is not None:
            where += " AND status = ?"
            params.append(status)
        return [_row(r) for r in self.conn.execute(
            f"SELECT {_COLUMNS} FROM kb_suggestions {where} ORDER BY id", params)]

    def get(self, suggestion_id: int) -> dict | None:
        """One suggestion by id (None when there is none)."""
        r = self.conn.execute(f"SELECT {_COLUMNS} FROM kb_suggestions WHERE id = ?",
                              (suggestion_id,)).fetchone()
        return None if r is None else _row(r)

    def add(self, shop_id: int, kind: str, entry: str | None, question: str,
            similar: Sequence[str], answer: str | None, conversations: Sequence[int],
            keys: Sequence[str], now: int, proposed_by: str | None = None) -> int:
        """A new open suggestion (``proposed_by``: the agent who proposed it from a chat;
        None: mined); returns its id."""
        return self.conn.execute(
            "INSERT INTO kb_suggestions (shop_id, kind, entry_key, question, similar, answer, "
            "evidence, keys, status, created_at, updated_at, proposed_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
            (shop_id, kind, entry, question, json.dumps(list(similar), ensure_ascii=False),
             answer, json.dumps(list(conversations)), json.dumps(list(keys),
                                                                ensure_ascii=False),
             now, now, proposed_by)).lastrowid

    def refresh(self, suggestion_id: int, kind: str, entry: str | None, question: str,
                similar: Sequence[str], answer: str | None, conversations: Sequence[int],
                keys: Sequence[str], now: int) -> None:
        """An open suggestion mined again: its wordings, answer and evidence now."""
        self.conn.execute(
            "UPDATE kb_suggestions SET kind = ?, entry_key = ?, question = ?, similar = ?, "
            "answer = ?, evidence = ?, keys = ?, updated_at = ? WHERE id = ? AND status = 'open'",
            (kind, entry, question, json.dumps(list(similar), ensure_ascii=False), answer,
             json.dumps(list(conversations)), json.dumps(list(keys), ensure_ascii=False), now,
             suggestion_id))

    def drop(self, ids: Sequence[int]) -> None:
        """Remove open mined suggestions that mining no longer finds (an agent's own
        proposal stays until it is decided)."""
        if ids:
            self.conn.execute(f"DELETE FROM kb_suggestions WHERE status = 'open' AND "
                              f"proposed_by IS NULL AND id IN "
                              f"({', '.join('?' for _ in ids)})", list(ids))

    def chat_messages(self, conversation_id: int) -> list[dict]:
        """One chat's messages, oldest first: sender, kind, body."""
        return [{"sender": s, "kind": k, "body": b} for s, k, b in self.conn.execute(
            "SELECT sender, kind, body FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,))]

    def decide(self, suggestion_id: int, status: str, by: str | None, entry: str | None,
               now: int) -> None:
        """Mark a suggestion accepted or rejected (who, when, the entry it became)."""
        self.conn.execute(
            "UPDATE kb_suggestions SET status = ?, decided_at = ?, decided_by = ?, "
            "result_entry = ?, updated_at = ? WHERE id = ?",
            (status, now, by, entry, now, suggestion_id))
