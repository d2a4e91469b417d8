"""Validation of records against the resource spec, with errors that name the field
(and, for fixture files, the file and line).

``to_internal`` turns an external record (fixture / JSON form) into the internal form;
``to_external`` does the reverse. ``check_refs`` checks references through a lookup
callback so the same rules serve the Local backend, ``apply`` and the server.

The package: ``errors.py`` (``FieldError`` and its helpers), ``field_values.py`` (each
field's value, shop settings), ``kind_rules.py`` (rules across one record's fields),
``references.py`` (``check_refs``); this module joins them into ``to_internal`` and
``to_external``.
"""

from __future__ import annotations

from typing import Any

from ..resources import Field, Kind
from ..values import format_money, format_time
from .errors import FieldError, line_of
from .field_values import _record
from .kind_rules import _check_kind_rules
from .references import Lookup, check_refs

__all__ = ["FieldError", "Lookup", "check_refs", "line_of", "to_external", "to_internal"]


def to_internal(kind: Kind, record: Any, path: str = "") -> dict:
    """Validate an external record and return its internal form.

    Raises FieldError naming the field (and the line when the record came from a file).
    """
    zone = None
    if kind.name == "shops" and isinstance(record, dict):
        tz = record.get("timezone")
        zone = tz if isinstance(tz, str) else None
    rec = _record(kind.fields, record, path, zone)
    _check_kind_rules(kind, rec, record, path)
    return rec


def to_external(kind: Kind, rec: dict) -> dict:
    """The external (fixture / JSON) form of an internal record, empty optionals left out."""
    return _external_fields(kind.fields, rec)


def _external_fields(fields: tuple[Field, ...], rec: dict) -> dict:
    out: dict[str, Any] = {}
    for f in fields:
        if f.write_only:  # a secret: stored, never shown
            continue
        value = rec.get(f.name)
        if (
            value is None
            or (value == [] and not f.required)
            or (value == {} and f.type != "settings")
        ):
            continue
        if f.type == "money":
            value = format_money(value)
        elif f.type == "time":
            value = format_time(value)
        elif f.type == "records":
            value = [_external_fields(f.fields, item) for item in value]
        elif f.type == "record":
            value = _external_fields(f.fields, value)
        out[f.name] = value
    return out
