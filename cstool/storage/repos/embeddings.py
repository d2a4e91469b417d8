"""The knowledge bot's stored entry embeddings (``entry_embeddings``): rows of float16
bytes by model name and text fingerprint (see :mod:`cstool.bot.embeddings`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence

#: Fingerprints looked up per statement (SQLite's variable limit is far above).
CHUNK = 500


class EntryEmbeddings:
    """Reads and writes ``entry_embeddings``."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """The stored vectors of ``hashes`` for ``model`` (missing ones left out)."""
        out: dict[str, bytes] = {}
        uniq = list(dict.fromkeys(hashes))
        for start in range(0, len(uniq), CHUNK):
            part = uniq[start : start + CHUNK]
            marks = ",".join("?" * len(part))
            for h, v in self.conn.execute(
                    f"SELECT text_hash, vector FROM entry_embeddings WHERE model = ? "
                    f"AND text_hash IN ({marks})", (model, *part)):
                out[h] = bytes(v)
        return out

    def put(self, model: str, rows: Mapping[str, bytes]) -> int:
        """Store ``rows`` (fingerprint → vector bytes) for ``model``; returns how many."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO entry_embeddings (model, text_hash, vector) "
            "VALUES (?, ?, ?)", [(model, h, v) for h, v in rows.items()])
        return len(rows)

    def count(self, model: str | None = None) -> int:
        """Rows stored (for ``model``, else all)."""
        if model is None:
            return self.conn.execute("SELECT COUNT(*) FROM entry_embeddings").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM entry_embeddings WHERE model = ?",
                                 (model,)).fetchone()[0]

    def keep_only(self, model: str, hashes: Iterable[str]) -> int:
        """Drop the rows of ``model`` whose fingerprint is not in ``hashes`` (texts no
        entry has any more); returns how many were dropped."""
        keep = set(hashes)
        gone = [h for (h,) in self.conn.execute(
            "SELECT text_hash FROM entry_embeddings WHERE model = ?", (model,))
            if h not in keep]
        self.conn.executemany("DELETE FROM entry_embeddings WHERE model = ? AND text_hash = ?",
                              [(model, h) for h in gone])
        return len(gone)
