"""What every policy checks with: the caller's ``Access`` (principal, backend, token store),
the checks of role, shop and conversation, a customer's view of a record or a
conversation, and the merge of per-shop pages into one."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api.backend import Backend
from ..api.operations import Operation
from ..auth import Forbidden, Principal, TokenStore
from . import record_rights as rights

PUBLIC_KINDS = ("shops", "products", "coupons", "promotions")  # a customer's shop catalogue
CUSTOMER_EVENTS = ("conversation.created", "message.created", "conversation.queued",
                   "conversation.assigned", "conversation.closed", "conversation.rated")


INTERNAL_CONVERSATION_FIELDS = frozenset({"pool", "rule", "priority", "classification",
                                          "intent", "group", "source", "search_keyword",
                                          "entry_page", "labels", "notes"})


SCAN_PAGES = 20  # an events page scans at most this many raw pages for a filtered caller


@dataclass
class Page:
    """One page of a list and the cursor of the next (None: the last page)."""

    items: list
    next: Any = None


@dataclass
class Access:
    """A call in progress: who calls, and what they may reach."""

    principal: Principal
    backend: Backend
    tokens: TokenStore
    backup_dir: Path | None = None

    def call(self, op: Operation, args: dict) -> Any:
        """Invoke the operation's method with ``args`` split as the table says."""
        target = {"backend": self.backend, "tokens": self.tokens}[op.target]
        positional, keywords, named = [], {}, set()
        for arg in op.args:
            named.add(arg.name)
            if arg.name not in args:
                continue
            if arg.kw_only:
                keywords[arg.name] = args[arg.name]
            else:
                positional.append(args[arg.name])
        for name, value in args.items():  # **context of post_message / route_test
            if name not in named:
                keywords[name] = value
        return getattr(target, op.name)(*positional, **keywords)


def _staff(p: Principal) -> None:
    if p.is_customer:
        raise Forbidden("a customer token may only use its own conversation",
                        key="customer_token_scope")


def _manager(p: Principal, what: str = "change records") -> None:
    _staff(p)
    if not p.manages:
        raise Forbidden(f"{p.describe()} may not {what}; that needs a supervisor",
                        key="forbidden_needs_supervisor", describe=p.describe(), what=what)


def _admin(p: Principal) -> None:
    if not p.is_admin:
        raise Forbidden("this needs an admin token", key="needs_admin")


def _shop(p: Principal, shop: str | None) -> None:
    if not p.may_use_shop(shop):
        raise Forbidden(f"{p.describe()} may not use shop {shop!r}",
                        key="forbidden_shop", describe=p.describe(), shop=shop)


def _shops_within(p: Principal, shops: Iterable[str], what: str) -> None:
    rights.shops_within(p, shops, what)


def _conversation(a: Access, conversation: int) -> dict:
    return a.backend.get_conversation(conversation, messages=False)


def _own_conversation(p: Principal, conv: dict) -> bool:
    return p.is_customer and conv["customer"] == p.customer and conv["shop"] == p.shop


def _conversation_shop(a: Access, conversation: int) -> dict:
    """The conversation's summary, if the (staff) caller may use its shop."""
    p = a.principal
    conv = _conversation(a, conversation)
    if p.is_customer:
        if not _own_conversation(p, conv):
            raise Forbidden(f"conversation {conversation} is not this customer's",
                            key="forbidden_not_your_conversation", conversation=conversation)
        return conv
    if not p.may_use_shop(conv["shop"]):
        raise Forbidden(f"conversation {conversation} belongs to shop {conv['shop']!r}, which "
                        f"{p.describe()} may not use",
                        key="forbidden_conversation_shop", conversation=conversation,
                        shop=conv['shop'], describe=p.describe())
    return conv


def _acts_for(a: Access, handle: str | None) -> None:
    """The caller may act as (or on) agent ``handle``: themselves, or a supervisor over all
    of the agent's shops when the agent's role is not above theirs, or an admin."""
    p = a.principal
    _staff(p)
    if handle is None or p.is_admin or handle == p.agent:
        return
    if p.role != "supervisor":
        raise Forbidden(f"{p.describe()} may act only as themselves, not as {handle!r}",
                        key="forbidden_act_as_other", describe=p.describe(), handle=handle)
    agent = a.backend.get("agents", handle)
    if rights.outranks(agent.get("role"), p):
        raise Forbidden(f"{p.describe()} may not act on or as {agent['role']} {handle!r}",
                        key="forbidden_act_on_role", describe=p.describe(), role=agent['role'],
                        handle=handle)
    _shops_within(p, agent["shops"], f"agent {handle!r}")


def record_shops(a: Access, kind: str, record: dict) -> set[str]:
    """The shops a record belongs to (a customer: their profiles' and coupons' shops)."""
    return rights.record_shops(rights.backend_lookup(a.backend), kind, record)


def _trim_customer(p: Principal, a: Access, record: dict) -> dict:
    """A customer record as a shop sees it: only the profiles and coupons of its shops."""
    if p.shops is None:
        return record
    profiles = [pr for pr in record.get("profiles", []) if pr.get("shop") in p.shops]
    coupons = [c for c in record.get("coupons", [])
               if record_shops(a, "customers", {"coupons": [c]}) <= p.shops]
    return {**record, "profiles": profiles, "coupons": coupons}


def customer_view(conv: dict) -> dict:
    """A conversation as its customer sees it: no routing internals, no transfer notes,
    no labels, no private notes."""
    out = {k: v for k, v in conv.items() if k not in INTERNAL_CONVERSATION_FIELDS}
    if "messages" in out:
        out["messages"] = [
            m for m in out["messages"]
            if not (m["sender"] == "system" and isinstance(m.get("payload"), dict)
                    and "transfer" in m["payload"])
        ]
    return out


def merge_pages(pages: Iterable[list[dict]], key: Callable[[dict], Any], size: int, *,
                reverse: bool = False) -> list[dict]:
    """Merge sorted pages (one per shop) into one sorted page of ``size``, each item once."""
    merged, seen = [], set()
    for item in heapq.merge(*pages, key=key, reverse=reverse):
        k = key(item)
        if k in seen:
            continue
        seen.add(k)
        merged.append(item)
        if len(merged) == size:
            break
    return merged


def _actor(args: dict) -> str | None:
    for name in ("agent", "handle", "by"):
        if args.get(name) is not None:
            return args[name]
    return None

