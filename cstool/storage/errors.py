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
