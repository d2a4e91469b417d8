"""The storage (SQLite by default, PostgreSQL by URL): the connection, numbered
migrations, the default file location and the storage's error types."""

from .database import (
    Database,
    database_exists,
    default_db_path,
    is_postgres_url,
    open_database,
)
from .errors import DatabaseError, IntegrityError, OperationalError

__all__ = ["Database", "DatabaseError", "IntegrityError", "OperationalError",
           "database_exists", "default_db_path", "is_postgres_url", "open_database"]
