"""Running macros on a chat (``ctx.macros``), and a chat's queue priority.

A macro (``cstool.macros``: the actions and their order) runs as the agent who asks,
each action through the service method of the operation a person would use, with its
guards and its own transaction and event: ``reply`` is ``DeskService.reply`` with the
quick reply's text, ``label`` ``LabelsNotesService.label``, ``priority``
:meth:`MacroService.set_priority`, ``transfer`` ``DeskService.transfer`` to the group,
``ticket`` ``TicketService.create_ticket`` from the chat, ``close``
``DeskService.close_conversation``.

All or nothing where it can be known beforehand, a clear partial result where it
cannot: every action is first checked against the chat as it stands (the agent holds
it when an action needs that, the quick reply and the group exist in the shop, the
label is one of the shop's), and a problem refuses the whole macro with nothing done.
Then the actions run in order; one refused meanwhile (another agent took the chat
between two steps ...) stops the run: the result lists each step as ``done``,
``failed`` (with the refusal's key and text) or ``skipped``, and ``complete`` is false.
Steps already done stay done (each was a whole change with its event, as if the agent
had done it by hand).
"""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, CstoolError, InvalidInput, NotFound
from ..macros import HOLDING, PRIORITY_RANGE, MacroError, Step, parse_actions, pick
from ..storage.repos.macros import Macros
from ..storage.unit_of_work import UnitOfWork
from ..text_rules import check_label
from .context import ServiceContext


class MacroService:
    """Macros run on chats; the chat's queue priority."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    # -- the chat's priority ----------------------------------------------------------------
    def set_priority(self, conversation: int, priority: int, *, by: str | None = None) -> dict:
        """Set the chat's queue priority (-1000..1000, higher served first; kept through a
        transfer). ``by``: the staff member (of the chat's shop) who does it."""
        lo, hi = PRIORITY_RANGE
        if isinstance(priority, bool) or not isinstance(priority, int) or \
                not lo <= priority <= hi:
            raise InvalidInput(f"priority: a whole number {lo}..{hi}, got {priority!r}",
                               key="priority_bad", lo=lo, hi=hi, got=repr(priority))
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            self.ctx.labels.check_staff(uow, by, conv["shop_id"])
            changed = conv["priority"] != priority
            if changed:
                uow.conversations.update(conv["id"], priority=priority)
                uow.event("conversation.priority", "conversation", str(conv["id"]),
                          conv["shop_id"], {"from": conv["priority"], "to": priority,
                                            "by": by})
            return {"conversation": conv["id"], "priority": priority, "changed": changed}

    # -- macros -----------------------------------------------------------------------------
    def run_macro(self, conversation: int, agent: str, macro: str) -> dict:
        """Run the macro ``macro`` (its key or its name; the agent's own before the shop's)
        on the chat as ``agent``: see the module's docstring for all-or-nothing and the
        partial result. Returns ``{macro, name, conversation, complete, steps}``."""
        with self.ctx.read() as uow:
            conv = uow.conversations.get(conversation)
            a = uow.agents.by_handle(agent)
            self.ctx.labels.check_staff(uow, agent, conv["shop_id"])
            shop = uow.shops.by_id(conv["shop_id"])
            found = pick(uow.repo(Macros).of_shop(shop["id"]), macro, agent)
            if found is None:
                raise NotFound(f"no macro {macro!r} for agent {agent!r} in shop "
                               f"{shop['key']!r}", key="no_macro", macro=macro, agent=agent,
                               shop=shop["key"])
            try:
                steps = parse_actions(found["actions"])
            except MacroError as e:  # written before a rule changed: refused as it stands
                raise InvalidInput(f"macro {found['key']!r}: {e.where}: {e}",
                                   key="macro_broken", macro=found["key"],
                                   reason=str(e)) from None
            texts = self._check(uow, conv, a, shop, steps)
        out: list[dict[str, Any]] = []
        failed = False
        for i, step in enumerate(steps):
            entry: dict[str, Any] = {"action": step.kind, "what": step.describe()}
            if failed:
                out.append({**entry, "status": "skipped"})
                continue
            try:
                entry["result"] = self._run(conversation, agent, step, texts.get(i))
                entry["status"] = "done"
            except CstoolError as e:
                failed = True
                entry.update(status="failed", error={"code": e.code, "key": e.key,
                                                     "message": str(e),
                                                     "params": _plain(e.params)})
            out.append(entry)
        return {"macro": found["key"], "name": found["name"], "conversation": conversation,
                "agent": agent, "complete": not failed, "steps": out}

    def _check(self, uow: UnitOfWork, conv: dict, a: dict, shop: dict,
               steps: list[Step]) -> dict[int, str]:
        """Refuse the macro (nothing done) when an action cannot be done on the chat as it
        stands; returns the quick replies' texts by step."""
        texts: dict[int, str] = {}
        if any(s.kind in HOLDING for s in steps):
            self.ctx.desk.must_hold(conv, a, "run a macro in")
        for i, s in enumerate(steps):
            if s.kind == "reply":
                qr = uow.records.read("quick_replies", s.args["value"])
                if qr is None or qr["shop"] != shop["key"] or \
                        qr.get("agent") not in (None, a["handle"]):
                    raise NotFound(f"no quick reply {s.args['value']!r} for agent "
                                   f"{a['handle']!r} in shop {shop['key']!r}",
                                   key="no_quick_reply", quick_reply=s.args["value"],
                                   shop=shop["key"])
                texts[i] = qr["body"]
            elif s.kind == "label":
                self.ctx.labels.shop_allows(uow, shop["id"], check_label(s.args["value"]))
            elif s.kind == "transfer":
                group = s.args.get("group") or s.args["value"]
                g = uow.shops.group(group)
                if g is None or g[1] != shop["id"]:
                    raise Conflict(f"group {group!r} is not in shop {shop['key']!r}",
                                   key="group_not_in_shop", group=group, shop=shop["key"])
        return texts

    def _run(self, conversation: int, agent: str, step: Step, text: str | None) -> Any:
        """One action through the service of its operation."""
        ctx, v = self.ctx, step.args.get("value")
        if step.kind == "reply":
            assert text is not None
            return ctx.desk.reply(agent, conversation, text)
        if step.kind == "label":
            return ctx.labels.label(conversation, v, by=agent)
        if step.kind == "priority":
            return self.set_priority(conversation, v, by=agent)
        if step.kind == "transfer":
            return ctx.desk.transfer(conversation, by=agent,
                                     to_group=step.args.get("group") or v,
                                     note=step.args.get("note", ""))
        if step.kind == "ticket":
            return ctx.tickets.create_ticket(
                type=step.args["type"], title=step.args["title"], conversation=conversation,
                priority=step.args.get("priority", "P3"), team=step.args.get("team"),
                by=agent)
        # close
        return ctx.desk.close_conversation(conversation, by=agent,
                                           reason="resolved" if v is True else v)


def _plain(params: dict) -> dict:
    """An error's parameters as JSON values."""
    return {k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
            for k, v in params.items()}
