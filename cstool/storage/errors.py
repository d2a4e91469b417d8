"""The storage's error types, one set for both engines.

SQLite raises ``sqlite3``'s exceptions natively (its connection is used as it is, on the
hot path); the PostgreSQL connection (``storage/postgres.py``) raises subclasses of the
same types. Code above the storage catches these names, never an engine's module:

* :data:`DatabaseError`: any error of the database (the base of the others);
* :data:`IntegrityError`: a constraint refused the change (unique key, foreign key, check);
* :data:`OperationalError`: the database could not run the statement (locked, gone, a
  statement it does not understand).
"""

from __future__ import annotations

import sqlite3

DatabaseError = sqlite3.DatabaseError
IntegrityError = sqlite3.IntegrityError
OperationalError = sqlite3.OperationalError
DataError = sqlite3.DataError


class PgIntegrityError(IntegrityError):
    """PostgreSQL refused a change by a constraint."""


class PgOperationalError(OperationalError):
    """PostgreSQL could not run a statement (or was not reachable)."""


class PgDataError(DataError):
    """PostgreSQL refused a value (out of range, malformed)."""


# PostgreSQL's states of a statement that waited (or would have waited) on another
# transaction's lock: lock_not_available (NOWAIT), deadlock_detected,
# serialization_failure. A concurrent post that meets one is run again under the write
# lock (``NeedsWriteLock``) instead of failing.
LOCK_STATES = frozenset({"55P03", "40P01", "40001"})


class NeedsWriteLock(BaseException):  # noqa: N818 (a signal, not an error of the caller)
    """A write running beside others (PostgreSQL's concurrent posts, ``pg_engine``) found
    it needs the database's write lock after all: a change it may not make beside other
    writes (a new customer or chat, routing, a ticket, a token's use ...), or a row
    another transaction holds. Its savepoint is rolled back and the server's storage
    worker runs the call again under the write lock. A BaseException so that no
    ``except Exception`` on the way swallows it; it never reaches a client."""
