"""A clock read from a data file: the time of its newest event (a replay's "now")."""

from __future__ import annotations

from ..clock import Clock, SystemClock
from .database import Database
from .repos.events import latest_at


class LatestEventClock:
    """The time of the newest event in a data file (or the real time while it has none):
    a dashboard following a replay (``fixtures generate --stream`` of a past day) sees
    the replay's "now", whatever the speed."""

    def __init__(self, database, fallback: Clock | None = None):
        self.database = database
        self.fallback = fallback or SystemClock()

    @classmethod
    def of_file(cls, path, fallback: Clock | None = None) -> LatestEventClock:
        """The clock of the data file at ``path`` over its own connection (``NoDataFile``
        when there is none), so a backend on that file is built with it from the start:
        ``LocalBackend(path, clock=LatestEventClock.of_file(path))``. Close it after."""
        return cls(Database(path, create=False), fallback)

    def close(self) -> None:
        """Close the connection to the data file."""
        self.database.close()

    def now_ms(self) -> int:
        """The newest event's time, read under the file's lock."""
        with self.database.lock:
            at = latest_at(self.database.conn)
        return at if at is not None else self.fallback.now_ms()
