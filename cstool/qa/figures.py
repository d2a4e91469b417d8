"""QA figures (pure): inspections and finding counts into a report's rows per agent or
per shop, and an agent's training hints.

* **QA score** of a chat: 100 minus the points of its findings that a reviewer has not
  overturned (at least 0). A row's ``qa_score`` is the mean over its chats.
* ``chats``: inspected chats (closed, created in the period); per agent, those whose
  chat agent they are (who wrote most of the agent messages). ``low``: chats scoring
  below the shop's ``low_score``; ``flagged``: chats with a finding; ``sampled``: chats
  in the random review sample; ``reviewed``: chats a reviewer finished.
* ``findings``: findings not overturned (per agent: those counting against them), by
  rule in ``by_rule``; ``confirmed`` / ``overturned``: reviewers' verdicts.
* **Training hints**: an agent's rules with the most findings not overturned (most
  first, at most three; ties in rule order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .rules import RULES


def _row() -> dict:
    return {"chats": 0, "score_sum": 0, "low": 0, "flagged": 0, "sampled": 0,
            "reviewed": 0, "findings": 0, "confirmed": 0, "overturned": 0,
            "by_rule": {r: 0 for r in RULES}}


def _finish(r: dict) -> dict:
    chats = r.pop("score_sum")
    r["qa_score"] = round(chats / r["chats"], 1) if r["chats"] else None
    r["hints"] = hints(r["by_rule"])
    return r


def hints(by_rule: Mapping[str, int], n: int = 3) -> list[str]:
    """The rules broken most (at least once), most first, at most ``n``."""
    ranked = sorted((r for r in RULES if by_rule.get(r, 0) > 0),
                    key=lambda r: (-by_rule[r], RULES.index(r)))
    return ranked[:n]


def rows(inspections: Iterable[tuple], counts: Iterable[tuple], *, by: str,
         low_score: Callable[[int], int], name: Callable[[int | None], str]) -> dict:
    """``{"total", "rows"}``: inspections ``(shop_id, agent_id, score, flagged, sampled,
    reviewed)`` and counts ``(shop_id, agent_id, rule, verdict, n)`` grouped ``by``
    ``agent`` or ``shop`` (``name`` names a group's id; ``low_score`` gives a shop's
    threshold)."""
    groups: dict = {}
    total = _row()
    pick = 1 if by == "agent" else 0
    for ins in inspections:
        shop_id, _, score, flagged, sampled, reviewed = ins
        for r in (total, groups.setdefault(ins[pick], _row())):
            r["chats"] += 1
            r["score_sum"] += score
            r["low"] += score < low_score(shop_id)
            r["flagged"] += bool(flagged)
            r["sampled"] += bool(sampled)
            r["reviewed"] += bool(reviewed)
    for c in counts:
        rule, verdict, n = c[2], c[3], c[4]
        for r in (total, groups.setdefault(c[pick], _row())):
            if verdict == "overturned":
                r["overturned"] += n
                continue
            r["findings"] += n
            r["confirmed"] += n if verdict == "confirmed" else 0
            r["by_rule"][rule] = r["by_rule"].get(rule, 0) + n
    out = [{by: name(k), **_finish(v)} for k, v in groups.items()
           if not (by == "agent" and k is None)]
    out.sort(key=lambda r: r[by])
    return {"total": _finish(total), "rows": out}
