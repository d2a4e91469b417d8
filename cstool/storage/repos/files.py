"""Files sent in chats (migration 17): ``chat_files`` (one row per file message, with the
file's name, type, size and SHA-256), ``file_blobs`` (the bytes by SHA-256, where the
database keeps them: PostgreSQL) and ``file_link_keys`` (the key that signs expiring
file links). ``uow.repo(ChatFiles)``."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

FILE_COLUMNS = ("message_id", "conversation_id", "shop_id", "sha256", "name", "mime",
                "category", "bytes", "width", "height", "created_at")


class ChatFiles:
    """The chat_files, file_blobs and file_link_keys tables."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def add(self, message_id: int, conversation_id: int, shop_id: int, sha256: str,
            name: str, mime: str, category: str, size: int, width: int | None,
            height: int | None, now: int) -> None:
        """Record the file of message ``message_id``."""
        self.conn.execute(
            f"INSERT INTO chat_files ({', '.join(FILE_COLUMNS)}) VALUES "
            f"({', '.join('?' * len(FILE_COLUMNS))})",
            (message_id, conversation_id, shop_id, sha256, name, mime, category, size,
             width, height, now))

    def get(self, message_id: int) -> dict | None:
        """The file of a message, or None."""
        r = self.conn.execute(f"SELECT {', '.join(FILE_COLUMNS)} FROM chat_files "
                              "WHERE message_id = ?", (message_id,)).fetchone()
        return None if r is None else dict(zip(FILE_COLUMNS, r, strict=True))

    def of_conversations(self, conversation_ids: Sequence[int]) -> list[dict]:
        """The files of these chats, oldest first."""
        out: list[dict] = []
        for i in range(0, len(conversation_ids), 500):
            chunk = list(conversation_ids[i:i + 500])
            out += [dict(zip(FILE_COLUMNS, r, strict=True)) for r in self.conn.execute(
                f"SELECT {', '.join(FILE_COLUMNS)} FROM chat_files WHERE conversation_id "
                f"IN ({', '.join('?' * len(chunk))}) ORDER BY message_id", chunk)]
        return out

    def forget(self, message_ids: Sequence[int]) -> set[str]:
        """Delete the file rows of these messages; the SHA-256s no row uses any more."""
        shas: set[str] = set()
        for i in range(0, len(message_ids), 500):
            chunk = list(message_ids[i:i + 500])
            marks = ", ".join("?" * len(chunk))
            shas.update(r[0] for r in self.conn.execute(
                f"SELECT sha256 FROM chat_files WHERE message_id IN ({marks})", chunk))
            self.conn.execute(f"DELETE FROM chat_files WHERE message_id IN ({marks})", chunk)
        return {s for s in shas if not self.in_use(s)}

    def in_use(self, sha256: str) -> bool:
        """Whether any file row still has these bytes."""
        return self.conn.execute("SELECT 1 FROM chat_files WHERE sha256 = ? LIMIT 1",
                                 (sha256,)).fetchone() is not None

    # -- bytes kept in the database (PostgreSQL) --------------------------------------------
    def put_blob(self, sha256: str, data: bytes, now: int) -> None:
        """Keep ``data`` under its SHA-256 (once)."""
        self.conn.execute("INSERT OR IGNORE INTO file_blobs (sha256, data, created_at) "
                          "VALUES (?, ?, ?)", (sha256, data, now))

    def blob(self, sha256: str) -> bytes | None:
        """The bytes kept under ``sha256``, or None."""
        r = self.conn.execute("SELECT data FROM file_blobs WHERE sha256 = ?",
                              (sha256,)).fetchone()
        return None if r is None else bytes(r[0])

    def drop_blob(self, sha256: str) -> None:
        """Delete the bytes kept under ``sha256``."""
        self.conn.execute("DELETE FROM file_blobs WHERE sha256 = ?", (sha256,))

    # -- the link-signing key ------------------------------------------------------------
    def link_key(self) -> str | None:
        """The key that signs file links, or None before the first link."""
        r = self.conn.execute("SELECT secret FROM file_link_keys WHERE id = 1").fetchone()
        return None if r is None else r[0]

    def set_link_key(self, secret: str, now: int) -> None:
        """Keep the link-signing key (a concurrent first keeps theirs)."""
        self.conn.execute("INSERT OR IGNORE INTO file_link_keys (id, secret, created_at) "
                          "VALUES (1, ?, ?)", (secret, now))
