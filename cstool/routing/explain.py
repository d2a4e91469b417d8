"""Render a routing decision's trace for people (``cstool route explain``).

Chinese names take two terminal columns per character, so columns are padded
by display width (:func:`display_width`), never by ``len()``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from cstool.routing.engine import Decision

__all__ = ["display_width", "explain", "pad"]


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide and fullwidth characters count 2,
    combining marks 0."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` display columns."""
    return text + " " * max(0, width - display_width(text))


def _who(handle: str | None, name: str | None) -> str:
    if not handle:
        return "nobody"
    return f"{name} ({handle})" if name and name != handle else handle


def explain(decision: Decision | Mapping[str, Any]) -> str:
    """Render the decision and its trace as plain text: the outcome first, then every
    rule in order with why it matched or not, and for matching rules the pool, the
    agents considered and why each was passed over. Accepts ``Decision.to_dict()``
    output too (as stored with a conversation)."""
    data = decision.to_dict() if isinstance(decision, Decision) else decision
    trace = data.get("trace") or []
    names: dict[str, str] = {}
    for step in trace:
        for note in step.get("agents") or ():
            names[note["handle"]] = note.get("name") or ""
    rule_words = (f"rule {data['rule']}" if data["rule"] != "fallback"
                  else "the fallback (no rule placed the chat)")
    if data.get("agent"):
        head = f"Assigned to {_who(data['agent'], names.get(data['agent']))} by {rule_words}"
    else:
        head = (f"Queued for {data.get('pool_description') or data.get('pool')} "
                f"by {rule_words}")
    lines = [head]
    rule_name = data.get("rule_name")
    if rule_name and rule_name != data["rule"] and data["rule"] != "fallback":
        lines.append(f"  rule name: {rule_name}")
    lines.append(f"  pool: {data.get('pool_description', '')}; strategy {data.get('strategy')}; "
                 f"queue priority {data.get('priority', 0)}")
    lines.append("")
    lines.append("Rules, in order:")
    for number, step in enumerate(trace, 1):
        label = step["rule"]
        if step.get("name") and step["name"] != step["rule"]:
            label += f"  {step['name']}"
        lines.append(f"{number:>3}. {label}")
        if not step.get("enabled", True):
            lines.append("       skipped: rule is disabled")
            continue
        verdict = "MATCH" if step["matched"] else "no match"
        lines.append(f"       {verdict}: {step.get('reason', '')}")
        if not step["matched"]:
            continue
        lines.append(f"       pool: {step.get('pool_description', '')}; "
                     f"strategy {step.get('strategy', '')}")
        notes = step.get("agents") or []
        if notes:
            lines.append("       agents considered:")
            who = [_who(n["handle"], n.get("name")) for n in notes]
            w_who = max(display_width(w) for w in who)
            w_status = max(display_width(n.get("status", "")) for n in notes)
            w_load = max(display_width(n.get("load", "")) for n in notes)
            for n, w in zip(notes, who, strict=True):
                mark = "*" if n.get("chosen") else "-"
                status = pad(n.get("status", ""), w_status)
                load = pad(n.get("load", ""), w_load)
                lines.append(f"         {mark} {pad(w, w_who)}  {status}  {load}  "
                             f"{n.get('note', '')}".rstrip())
        if step.get("agents_summary"):
            lines.append(f"         ({step['agents_summary']})")
        if step.get("outcome_text"):
            lines.append(f"       => {step['outcome_text']}")
    return "\n".join(lines)
