"""SQLite storage: the connection, numbered migrations, and the default file location."""

from .database import Database, default_db_path, open_database

__all__ = ["Database", "default_db_path", "open_database"]
