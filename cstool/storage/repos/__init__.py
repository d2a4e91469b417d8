"""Repositories: the SQL of one aggregate each (tokens, metric facts, ...), as functions
over a connection that the caller's transaction (``Database.read`` / ``write``) holds."""
