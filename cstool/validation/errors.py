"""Validation errors: ``FieldError`` naming the field (and, for fixture files, the file
and line), and the helpers that make one."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput


class FieldError(InvalidInput):
    """A record field that does not fit; carries the path and, when known, the line. Its
    error key is ``field`` (the English reason as a parameter) unless a more exact one is
    given (``field_required`` ...); path, line and source are parameters too."""

    def __init__(self, path: str, message: str, line: int | None = None, source: str = "",
                 *, key: str | None = None, **params: object):
        self.path = path
        self.reason = message
        self.line = line
        self.source = source
        self._key, self._params = key, params
        super().__init__(self._format(), key=key or "field", path=path, reason=message,
                         line=line, source=source, **params)

    def _format(self) -> str:
        where = ""
        if self.source:
            where = f"{self.source}:{self.line}: " if self.line else f"{self.source}: "
        elif self.line:
            where = f"line {self.line}: "
        return f"{where}{self.path}: {self.reason}" if self.path else f"{where}{self.reason}"

    def located(self, source: str) -> FieldError:
        """The same error, naming the file it came from."""
        return FieldError(self.path, self.reason, self.line, source, key=self._key,
                          **self._params)


def line_of(obj: Any, key: str | None = None) -> int | None:
    """The source line of a mapping (or of one of its keys), when it came from a file."""
    lines = getattr(obj, "lines", None)
    if lines is not None and key is not None and key in lines:
        return lines[key]
    return getattr(obj, "line", None)


def _err(path: str, message: str, obj: Any = None, key: str | None = None, *,
         code: str | None = None, **params: object) -> FieldError:
    return FieldError(path, message, line_of(obj, key), key=code, **params)


def _value_error(path: str, e: Exception, parent: Any, name: Any) -> FieldError:
    """A value that did not parse (``cstool.values``): its reason kept, its key as the
    field's (``field_<key>``); an unkeyed one (a time out of range) as a plain field
    error."""
    key = getattr(e, "key", None)
    if isinstance(e, InvalidInput) and key:
        return _err(path, str(e), parent, name, code=f"field_{key}", **e.params)
    return _err(path, str(e), parent, name, code="field")


def _typename(value: Any) -> str:
    if value is None:
        return "nothing"
    for kind, name in ((bool, "true/false"), (int, "a whole number"), (float, "a number"),
                       (str, "text"), (list, "a list"), (dict, "a mapping")):
        if isinstance(value, kind):  # the YAML loader's line-keeping subclasses too
            return name
    return type(value).__name__
