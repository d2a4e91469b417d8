"""Macros (pure): a named sequence of desk actions an agent runs on a chat in one go.

A macro's ``actions`` is a list of one-key objects, run in order, each through the
operation a person would use (``services/macros.py`` runs them):

==============================================  ===========================================
``{"reply": "<quick reply key>"}``              the quick reply's text as the agent's reply
``{"label": "投诉"}``                            put a label on the chat
``{"priority": 10}``                             the chat's queue priority (-1000..1000)
``{"transfer": "<group key>"}`` or               hand the chat to a group of the shop
``{"transfer": {"group": "…", "note": "…"}}``
``{"ticket": {"type": "complaint",               raise a ticket from the chat (type, title;
  "title": "…", "priority": "P2"}}``              priority P1..P4 and team optional)
``{"close": "resolved"}`` or ``{"close": true}``  close the chat (with a reason)
==============================================  ===========================================

The order must make sense for one agent holding the chat: nothing after ``close``, and
no ``reply``, ``transfer`` or ``close`` after a ``transfer`` (the chat is no longer
theirs). No storage and no clock here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .resources import PRIORITIES, TICKET_TYPES
from .text_rules import control_char

ACTIONS = ("reply", "label", "priority", "transfer", "ticket", "close")
MAX_ACTIONS = 20
PRIORITY_RANGE = (-1000, 1000)
# actions that need the agent to hold the chat (the rest only that it is in their shop)
HOLDING = frozenset({"reply", "transfer", "close"})
# a ticket's teams (``services.tickets.TEAMS``; tests/test_macros.py keeps the two equal)
TICKET_TEAMS = ("aftersale", "logistics", "technical", "management")


class MacroError(ValueError):
    """A macro's actions are malformed: ``where`` (actions[i].name), a message and a
    stable code with its parameters."""

    def __init__(self, where: str, message: str, code: str, **params: Any):
        super().__init__(message)
        self.where, self.code, self.params = where, code, params


@dataclass(frozen=True)
class Step:
    """One action of a macro, normalized: ``kind`` and its arguments."""

    kind: str
    args: dict

    def to_dict(self) -> dict:
        """The action in the form ``apply`` takes."""
        return {self.kind: self.args.get("value", self.args)}

    def describe(self) -> str:
        """A short text of the step (for reports): ``label 投诉``."""
        v = self.args.get("value")
        if v is True:  # close without a reason
            return self.kind
        if v is None:
            v = self.args.get("group") or self.args.get("title") or self.args.get("reason")
        return f"{self.kind} {v}" if v not in (None, "") else self.kind


def _text(where: str, v: Any, what: str, max_len: int = 200) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > max_len or \
            control_char(v) is not None:
        raise MacroError(where, f"{what}: expected one line of 1-{max_len} characters, got "
                         f"{v!r}", "macro_action_text", what=what, max_len=max_len,
                         got=repr(v))
    return v


def parse_actions(actions: Any) -> list[Step]:
    """Check a macro's ``actions`` and return its steps; MacroError names the first
    problem."""
    if not isinstance(actions, list) or not actions:
        raise MacroError("actions", "a macro needs a list of at least one action",
                         "macro_actions_empty")
    if len(actions) > MAX_ACTIONS:
        raise MacroError("actions", f"a macro has at most {MAX_ACTIONS} actions",
                         "macro_actions_too_many", max=MAX_ACTIONS)
    steps: list[Step] = []
    for i, a in enumerate(actions):
        where = f"actions[{i}]"
        if not isinstance(a, dict) or len(a) != 1:
            raise MacroError(where, "an action is an object with exactly one of "
                             + ", ".join(ACTIONS), "macro_action_shape",
                             actions=", ".join(ACTIONS))
        (kind, v), = a.items()
        if kind not in ACTIONS:
            raise MacroError(where, f"unknown action {kind!r} (known: {', '.join(ACTIONS)})",
                             "macro_action_unknown", action=kind, actions=", ".join(ACTIONS))
        steps.append(Step(kind, _args(f"{where}.{kind}", kind, v)))
    _check_order(steps)
    return steps


def _args(where: str, kind: str, v: Any) -> dict:
    if kind in ("reply", "label"):
        return {"value": _text(where, v, kind, 64 if kind == "reply" else 32)}
    if kind == "priority":
        lo, hi = PRIORITY_RANGE
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise MacroError(where, f"priority: a whole number {lo}..{hi}, got {v!r}",
                             "macro_priority", lo=lo, hi=hi, got=repr(v))
        return {"value": v}
    if kind == "transfer":
        if isinstance(v, str):
            return {"value": _text(where, v, "group", 64)}
        if not isinstance(v, dict) or set(v) - {"group", "note"} or "group" not in v:
            raise MacroError(where, "transfer: a group key, or {group, note}",
                             "macro_transfer_shape")
        note = v.get("note", "")
        if not isinstance(note, str) or len(note) > 500 or \
                control_char(note, multiline=True) is not None:
            raise MacroError(where, "transfer.note: text of at most 500 characters",
                             "macro_transfer_note")
        return {"group": _text(where, v["group"], "group", 64), "note": note}
    if kind == "ticket":
        if not isinstance(v, dict) or set(v) - {"type", "title", "priority", "team"}:
            raise MacroError(where, "ticket: {type, title, priority, team}",
                             "macro_ticket_shape")
        if v.get("type") not in TICKET_TYPES:
            raise MacroError(where, f"ticket.type: one of {', '.join(TICKET_TYPES)}",
                             "macro_ticket_type", types=", ".join(TICKET_TYPES))
        out = {"type": v["type"], "title": _text(where, v.get("title"), "title")}
        if v.get("priority") is not None:
            if v["priority"] not in PRIORITIES:
                raise MacroError(where, f"ticket.priority: one of {', '.join(PRIORITIES)}",
                                 "macro_ticket_priority", priorities=", ".join(PRIORITIES))
            out["priority"] = v["priority"]
        if v.get("team") is not None:
            if v["team"] not in TICKET_TEAMS:
                raise MacroError(where, f"ticket.team: one of {', '.join(TICKET_TEAMS)}",
                                 "macro_ticket_team", teams=", ".join(TICKET_TEAMS))
            out["team"] = v["team"]
        return out
    # close
    if v is True:
        return {"value": True}
    return {"value": _text(where, v, "reason")}


def _check_order(steps: list[Step]) -> None:
    transferred = False
    for i, s in enumerate(steps):
        if i > 0 and steps[i - 1].kind == "close":
            raise MacroError(f"actions[{i}]", "nothing may follow close",
                             "macro_after_close")
        if transferred and s.kind in HOLDING:
            raise MacroError(f"actions[{i}]", f"{s.kind} after a transfer: the chat is no "
                             "longer the agent's", "macro_after_transfer", action=s.kind)
        transferred = transferred or s.kind == "transfer"


def visible_to(macro: dict, agent: str) -> bool:
    """A shop's macro is every agent's of the shop; an agent's own is theirs only."""
    return macro.get("agent") in (None, agent)


def pick(macros: list[dict], name: str, agent: str) -> dict | None:
    """The macro an agent means by ``name`` (its key or its name) among a shop's: their
    own before the shop's, a key before a name."""
    mine = [m for m in macros if visible_to(m, agent)]
    for match in (lambda m: m["key"] == name, lambda m: m["name"] == name):
        found = [m for m in mine if match(m)]
        if found:
            return sorted(found, key=lambda m: m.get("agent") is None)[0]
    return None
