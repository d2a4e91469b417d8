"""Errors a user can cause, as domain exceptions.

Each front end turns them into its own form: the CLI into a one-line message and an
exit code, the server into a JSON error with a status, the TUI into a notice.

Every error has a category ``code`` (``invalid``, ``not_found`` ...: the server's JSON
``code``) and a stable ``key`` naming the exact refusal (``reply_too_long``), with the
``params`` it is about (``length``, ``max``). The English ``message`` stays the default
text (the API's ``message``); front ends show an error in the interface language by its
key and params (``cstool.i18n.error_text``, catalog id ``err.<key>``), never by its text.
An error raised without a key has its category as key.
"""

from __future__ import annotations


class CstoolError(Exception):
    """Base class of every error a user can cause. ``code`` is a stable machine name."""

    code = "error"
    exit_code = 1
    http_status = 400

    def __init__(self, message: str, *, key: str | None = None, **params: object):
        super().__init__(message)
        self.message = message
        self.key = key or self.code
        self.params = params

    def __str__(self) -> str:
        return self.message


class InvalidInput(CstoolError):
    """A record, file or argument that does not fit the format."""

    code = "invalid"
    http_status = 422


class InvalidValue(InvalidInput, ValueError):
    """A value that does not parse (an amount, a time): a ``ValueError`` for the pure
    code that catches those, and a keyed error for whoever shows it."""


class UsageError(CstoolError):
    """The command was called wrongly (bad option combination, missing argument)."""

    code = "usage"
    exit_code = 2
    http_status = 400


class NotFound(CstoolError):
    """Something named by key does not exist."""

    code = "not_found"
    http_status = 404


class Conflict(CstoolError):
    """The operation is refused because of the current state (duplicate, still in use...)."""

    code = "conflict"
    http_status = 409


class StorageError(CstoolError):
    """The storage could not do what was asked (locked past the timeout, wrong file...)."""

    code = "storage"
    http_status = 503


class TooDeep(CstoolError):
    """A JSON or YAML input nested deeper than ``MAX_JSON_DEPTH`` (refused before parsing)."""

    code = "too_deep"
    http_status = 400


class TooLarge(InvalidInput):
    """An input (a request body, a message payload, a file) over its size limit: an
    invalid input with its own code and status."""

    code = "too_large"
    http_status = 413


class NoDataFile(StorageError):
    """A command that only reads (or changes what exists) named a data file that does not
    exist: nothing is created, not even its folder."""

    code = "no_data_file"
    http_status = 404

    def __init__(self, path):
        super().__init__(f"no data file at {path}; `cstool db init` or `apply` creates one",
                         path=str(path))
        self.path = str(path)
