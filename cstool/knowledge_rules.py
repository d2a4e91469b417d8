"""The two rules of knowledge entries' shops, one home for every front end.

* **Scope.** What a shop's bot sees: the shop's own entries and the platform-wide ones
  (no shop), a shop entry replacing a platform entry of the same key. ``visible_entries``
  (the bot's index, ``kb list --shop``, the simulator's question pool all read it here).
* **Key ownership.** Entry keys are one namespace across shops: a document (``apply``,
  ``kb import``, ``POST /v1/apply``) never moves an entry from the scope that owns it to
  another; moving one is an explicit change of its ``shop`` (``kb update --shop``,
  ``PATCH``). ``check_owner`` is called by the backend's ``apply`` for every entry it
  updates, so the CLI, a document applied locally or through ``--api``, and the REST API
  obey the same rule.

Pure functions over plain records; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from .validation import FieldError

KIND = "knowledge_entries"


def visible_entries(entries: Iterable[dict], shop: str | None) -> list[dict]:
    """The entries ``shop``'s bot sees, out of ``entries``: the shop's own first, then the
    platform-wide ones it does not replace (same key), each in the given order; every
    entry once per key when ``shop`` is None."""
    entries = list(entries)
    if shop is None:
        out: dict[str, dict] = {}
        for e in entries:
            out.setdefault(e["key"], e)
        return list(out.values())
    own = [e for e in entries if e.get("shop") == shop]
    keys = {e["key"] for e in own}
    return own + [e for e in platform_entries(entries) if e["key"] not in keys]


def platform_entries(entries: Iterable[dict]) -> list[dict]:
    """The platform-wide entries (no shop) of ``entries``."""
    return [e for e in entries if not e.get("shop")]


def owner_text(shop: str | None) -> str:
    """Who owns an entry, for messages: ``shop 's'`` or ``the platform``."""
    return f"shop {shop!r}" if shop else "the platform"


def check_owner(kind: str, stored: dict | None, record: dict, path: str,
                line: int | None = None) -> None:
    """Refuse a document's knowledge entry that would move a stored entry to another
    scope (``FieldError`` on ``path``.key, error key ``kb_key_owned``, or
    ``kb_key_platform`` for a platform-wide entry); other kinds and
    new entries pass. The stored entry's shop is ``stored["shop"]`` (None: platform)."""
    if kind != KIND or stored is None:
        return
    before, after = stored.get("shop") or None, record.get("shop") or None
    if before == after:
        return
    key = record.get("key")
    raise FieldError(
        f"{path}.key",
        f"entry {key!r} belongs to {owner_text(before)}; keys are unique across shops: "
        "give this one another key (e.g. with the shop's prefix), or move it with an "
        "update of its shop (kb update --shop)",
        line, key="kb_key_owned" if before else "kb_key_platform", entry=key, owner=before)
