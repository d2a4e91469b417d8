"""Repositories: the SQL of each aggregate, as small classes over one connection.

A repository reads and writes rows and nothing else: no events (the unit of work writes
those), no clock (times come in as arguments), no rules (the services decide). Each is
reached through the unit of work (``uow.conversations``, ``uow.repo(Tickets)``) so that
every statement runs in the operation's one transaction.

``?`` placeholders throughout (they are translated for other engines); a statement that
only SQLite understands says so in a comment where it stands.
"""
