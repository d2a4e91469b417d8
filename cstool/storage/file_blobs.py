"""Where the bytes of chat files live, content-addressed by SHA-256.

- SQLite: a folder beside the data file, ``<data file>.files/ab/abcdef…`` (the first two
  hex digits name a sub-folder). A file is written to a temporary name and renamed into
  place, so a reader never sees half a file; the same bytes are written once.
- PostgreSQL (and an in-memory SQLite): the ``file_blobs`` table (bytea), written in the
  same transaction as the message that carries the file.

Paths are never taken from a request: a file is reached by its message, and the SHA-256
(64 hex digits, checked here) is the only thing that names the bytes.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from .database import Database
from .repos.files import ChatFiles
from .unit_of_work import UnitOfWork

SHA_RE = re.compile(r"^[0-9a-f]{64}\Z")


def _check(sha256: str) -> str:
    if not SHA_RE.match(sha256):
        raise ValueError("not a SHA-256 in hex")
    return sha256


class FileBlobs:
    """The bytes of chat files by SHA-256, in a folder or in the database."""

    def __init__(self, database: Database):
        path = str(database.path)
        self.folder: Path | None = None
        if database.engine is None and path not in ("", ":memory:") \
                and not path.startswith("file:"):
            self.folder = Path(path + ".files")

    @property
    def where(self) -> str:
        """Where the bytes are kept, as the README and ``db info`` say it."""
        return str(self.folder) if self.folder is not None else "the file_blobs table"

    def _path(self, sha256: str) -> Path:
        assert self.folder is not None
        return self.folder / sha256[:2] / _check(sha256)

    def put(self, uow: UnitOfWork, sha256: str, data: bytes) -> None:
        """Keep ``data`` under ``sha256`` (inside ``uow`` when kept in the database; a
        file in the folder is in place before the transaction commits)."""
        _check(sha256)
        if self.folder is None:
            uow.repo(ChatFiles).put_blob(sha256, data, uow.now)
            return
        target = self._path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, uow: UnitOfWork, sha256: str) -> bytes | None:
        """The bytes under ``sha256``, or None when gone."""
        if self.folder is None:
            return uow.repo(ChatFiles).blob(_check(sha256))
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def drop(self, uow: UnitOfWork, sha256: str) -> None:
        """Delete the bytes under ``sha256`` (the caller checked nothing uses them)."""
        if self.folder is None:
            uow.repo(ChatFiles).drop_blob(_check(sha256))
            return
        self._path(sha256).unlink(missing_ok=True)
