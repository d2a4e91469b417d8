"""Who may call what: one policy per ``right`` named in the operations table.

A policy checks the caller's Principal against the arguments (and, where the
arguments do not say, against the data: a conversation's shop, a record's shops),
then makes the call, narrowing it to the caller's shops where a read spans several.
No web framework here: policies raise ``Forbidden`` and return plain results.

The rules: admins everything; supervisors manage their shops (records whose every
shop is theirs, tokens of their agents, customer tokens of their shops); agents see
their shops and act only as themselves; customer tokens post to, read, close and rate
only their own conversations in their shop, and read their shop's catalogue.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api.backend import Backend
from ..api.operations import MAX_PAGE, Operation, next_cursor, page_size
from ..auth import Forbidden, Principal, TokenStore
from ..errors import Conflict, InvalidInput, NotFound
from ..resources import KINDS, ORDER_BY
from ..resources import kind as kind_named
from . import record_rights as rights

PUBLIC_KINDS = ("shops", "products", "coupons", "promotions")  # a customer's shop catalogue
CUSTOMER_EVENTS = ("conversation.created", "message.created", "conversation.queued",
                   "conversation.assigned", "conversation.closed", "conversation.rated")
INTERNAL_CONVERSATION_FIELDS = frozenset({"pool", "rule", "priority", "classification",
                                          "intent", "group", "source", "search_keyword",
                                          "entry_page"})
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


# -- checks -------------------------------------------------------------------------------
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
    """A conversation as its customer sees it: no routing internals, no transfer notes."""
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


# -- policies ---------------------------------------------------------------------------------
def anyone(a: Access, op: Operation, args: dict) -> Any:
    """Any valid token (``GET /v1/me``)."""
    return a.principal.to_dict()


def admin(a: Access, op: Operation, args: dict) -> Any:
    """Admins only."""
    _admin(a.principal)
    return a.call(op, args)


def backup(a: Access, op: Operation, args: dict) -> Any:
    """Admins; the copy is a file name in the server's backup folder, never a path."""
    _admin(a.principal)
    name = args["target"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise InvalidInput("target: a file name (letters, digits, . _ -), not a path; the "
                           f"copy goes to the server's backup folder {a.backup_dir}",
                           key="backup_target_not_name", backup_dir=str(a.backup_dir))
    if a.backup_dir is None:
        raise Forbidden("this server takes no backups", key="no_backups")
    a.backup_dir.mkdir(parents=True, exist_ok=True)
    target = a.backup_dir / name
    if target.exists():
        raise Conflict(f"backup {name} exists already; choose a new name",
                       key="backup_exists", name=name)
    return a.call(op, {**args, "target": str(target)})


def bulk(a: Access, op: Operation, args: dict) -> Any:
    """Admins; records that break the trusted form are refused by the core (the load
    rolls back: ``RecordsService.bulk_load``)."""
    _admin(a.principal)
    return a.call(op, args)


def shop_read(a: Access, op: Operation, args: dict) -> Any:
    """Staff of the shop named in the arguments."""
    _staff(a.principal)
    _shop(a.principal, args["shop"])
    return a.call(op, args)


def shop_manage(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the shop named in the arguments, and admins."""
    _manager(a.principal, f"use {op.name.replace('_', ' ')}")
    _shop(a.principal, args["shop"])
    return a.call(op, args)


def quote(a: Access, op: Operation, args: dict) -> Any:
    """Staff of the shop; a customer token for itself in its shop."""
    p = a.principal
    if p.is_customer:
        if args["shop"] != p.shop or args.get("customer") not in (None, p.customer):
            raise Forbidden(f"{p.describe()} may price only for itself in its shop",
                            key="forbidden_price_self_only", describe=p.describe())
        args["customer"] = p.customer
        return a.call(op, args)
    return shop_read(a, op, args)


def campaign_run(a: Access, op: Operation, args: dict) -> Any:
    """Admins for every shop; a supervisor for one of their shops (give shop)."""
    p = a.principal
    _manager(p)
    if not p.is_admin:
        if args.get("shop") is None:
            raise Forbidden(f"{p.describe()} runs campaigns of one shop: give shop",
                            key="forbidden_campaign_needs_shop", describe=p.describe())
        _shop(p, args["shop"])
    return a.call(op, args)


def campaign_read(a: Access, op: Operation, args: dict) -> Any:
    """Staff of the campaign's shop."""
    _staff(a.principal)
    _shop(a.principal, a.backend.get("campaigns", args["key"])["shop"])
    return a.call(op, args)


def _actor(args: dict) -> str | None:
    for name in ("agent", "handle", "by"):
        if args.get(name) is not None:
            return args[name]
    return None


def acts_for(a: Access, op: Operation, args: dict) -> Any:
    """The agent named in the arguments, their supervisor, or an admin."""
    _acts_for(a, _actor(args))
    return a.call(op, args)


def shop_scope(a: Access, op: Operation, args: dict) -> Any:
    """An optional ``shop``: staff of it; left out, an admin means every shop and a
    one-shop token means its shop."""
    p = a.principal
    _staff(p)
    if args.get("shop") is None and p.shops is not None:
        if len(p.shops) != 1:
            raise Forbidden(f"{p.describe()} works in several shops: give shop",
                            key="forbidden_needs_shop", describe=p.describe())
        args["shop"] = next(iter(p.shops))
    _shop(p, args.get("shop"))
    return a.call(op, args)


def learn(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of one of their shops: the unanswered questions learned are that shop's
    (``shop``, filled in for a one-shop token) and the entry, if one is named, is of their
    shops (a platform-wide entry is an admin's); admins anything."""
    p = a.principal
    _manager(p)
    if p.is_admin:
        return a.call(op, args)
    if args.get("shop") is None:
        if len(p.shops or ()) != 1:
            raise Forbidden(f"{p.describe()} works in several shops: give shop",
                            key="forbidden_needs_shop", describe=p.describe())
        args["shop"] = next(iter(p.shops))
    _shop(p, args["shop"])
    if args.get("entry") is not None:
        entry = a.backend.get("knowledge_entries", args["entry"])
        _shops_within(p, record_shops(a, "knowledge_entries", entry),
                      f"knowledge entry {args['entry']!r}")
    return a.call(op, args)


def unanswered_manage(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the group's shop, and admins."""
    p = a.principal
    _manager(p)
    if not p.is_admin:
        group = str(args["group"]).strip()
        if not any(g["group"] == group for s in sorted(p.shops or ())
                   for g in a.backend.unanswered_questions(shop=s, limit=100_000)):
            raise Forbidden(f"group {group} is not among the unanswered questions of the "
                            f"shops of {p.describe()}",
                            key="forbidden_question_group", group=group, describe=p.describe())
    return a.call(op, args)


def _fill_by(p: Principal, op: Operation, args: dict) -> None:
    """An agent's token acts as its agent where the operation records who did it."""
    if any(arg.name == "by" for arg in op.args) and args.get("by") is None and p.agent:
        args["by"] = p.agent


def ticket_create(a: Access, op: Operation, args: dict) -> Any:
    """Staff of the ticket's shop (the conversation's, or the one named)."""
    p = a.principal
    _staff(p)
    shop = args.get("shop")
    if args.get("conversation") is not None:
        shop = _conversation_shop(a, args["conversation"])["shop"]
    if not p.is_admin:
        if shop is None:
            raise Forbidden(f"{p.describe()}: give the ticket's shop or conversation",
                            key="forbidden_ticket_needs_shop", describe=p.describe())
        _shop(p, shop)
    _acts_for(a, args.get("by"))
    _fill_by(p, op, args)
    return a.call(op, args)


def ticket(a: Access, op: Operation, args: dict) -> Any:
    """Staff of the ticket's shop, acting as themselves."""
    p = a.principal
    _staff(p)
    t = a.backend.get_ticket(args["ticket"])
    if not p.may_use_shop(t["shop"]):
        raise Forbidden(f"ticket {args['ticket']} belongs to shop {t['shop']!r}, which "
                        f"{p.describe()} may not use",
                        key="forbidden_ticket_shop", ticket=args['ticket'], shop=t['shop'],
                        describe=p.describe())
    if op.name == "get_ticket":
        return t
    _acts_for(a, args.get("by"))
    _fill_by(p, op, args)
    return a.call(op, args)


def acts_in_conversation(a: Access, op: Operation, args: dict) -> Any:
    """As ``acts_for``, and the conversation must be in the caller's shops."""
    _acts_for(a, _actor(args))
    _conversation_shop(a, args["conversation"])
    return a.call(op, args)


def close(a: Access, op: Operation, args: dict) -> Any:
    """An agent closing as themselves; a supervisor or admin of the shop; or the customer."""
    p = a.principal
    if args.get("by") is not None:
        return acts_in_conversation(a, op, args)
    _conversation_shop(a, args["conversation"])
    if not p.is_customer and not p.manages:
        raise Forbidden(f"{p.describe()} closes as themselves: give by={p.agent!r}",
                        key="forbidden_close_as_self", describe=p.describe(), agent=p.agent)
    result = a.call(op, args)
    return customer_view(result) if p.is_customer else result


def rate(a: Access, op: Operation, args: dict) -> Any:
    """The conversation's customer, or a supervisor or admin of its shop (integrations)."""
    p = a.principal
    _conversation_shop(a, args["conversation"])
    if not p.is_customer and not p.manages:
        raise Forbidden("only the customer rates a conversation",
                        key="forbidden_rate_customer_only")
    result = a.call(op, args)
    return customer_view(result) if p.is_customer else result


CUSTOMER_KINDS = ("text", "image")


def post(a: Access, op: Operation, args: dict) -> Any:
    """A customer token in its own shop as itself; or a supervisor or admin of the shop
    posting for a customer (a channel integration)."""
    p = a.principal
    if p.is_customer:
        if args["shop"] != p.shop:
            raise Forbidden(f"{p.describe()} may not write to shop {args['shop']!r}",
                            key="forbidden_write_shop", describe=p.describe(), shop=args['shop'])
        if args.get("customer") not in (None, p.customer):
            raise Forbidden(f"{p.describe()} may write only as itself",
                            key="forbidden_write_as_self_only", describe=p.describe())
        if args.get("kind", "text") not in CUSTOMER_KINDS:
            # a coupon, product or invitation card comes from the shop, never a customer
            raise Forbidden(f"{p.describe()} may send text or images, not "
                            f"{args.get('kind')!r} cards",
                            key="forbidden_card_kind", describe=p.describe(),
                            get=args.get('kind'))
        args["customer"] = p.customer
        result = a.call(op, args)
        return {**result, "conversation": customer_view(result["conversation"])}
    _staff(p)
    if not p.manages:
        raise Forbidden(f"{p.describe()} may not write as a customer; that takes a customer "
                        "token (or a supervisor's, for an integration)",
                        key="forbidden_write_as_customer", describe=p.describe())
    _shop(p, args["shop"])
    if args.get("customer") is None:
        # who calls decides: a customer token posts as itself, a staff token must name
        # the customer it speaks for (403: this token may not post without naming one)
        raise Forbidden(f"{p.describe()} posts for a named customer only: give customer",
                        key="forbidden_post_needs_customer", describe=p.describe())
    _shop_customer(a, args["shop"], args["customer"])
    return a.call(op, args)


def _shop_customer(a: Access, shop: str, customer: Any) -> None:
    """A supervisor speaks for (or makes a token for) a customer of ``shop`` only: one
    with a profile there, or a new key; a customer of other shops only is not theirs
    (the platform, an admin token, brings a customer to a new shop)."""
    if a.principal.is_admin or not isinstance(customer, str):
        return
    try:
        record = a.backend.get("customers", customer)
    except NotFound:
        return  # a new customer: the post or the token makes them, with this shop's profile
    if shop not in {pr.get("shop") for pr in record.get("profiles") or []}:
        raise Forbidden(f"customer {customer!r} has no profile in shop {shop!r}; "
                        f"{a.principal.describe()} acts only for the shop's customers",
                        key="forbidden_customer_not_in_shop", customer=customer, shop=shop,
                        describe=a.principal.describe())


def customer_token(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the shop, for the shop's customers (a profile there, or a new key);
    admins for any customer."""
    _manager(a.principal, "make customer tokens")
    _shop(a.principal, args["shop"])
    _shop_customer(a, args["shop"], args.get("customer"))
    return a.call(op, args)


def conversation_read(a: Access, op: Operation, args: dict) -> Any:
    """Staff of the conversation's shop, or its customer (who sees the customer view)."""
    _conversation_shop(a, args["conversation"])
    result = a.call(op, args)
    return customer_view(result) if a.principal.is_customer else result


def conversation_staff(a: Access, op: Operation, args: dict) -> Any:
    """Staff of the conversation's shop."""
    _staff(a.principal)
    _conversation_shop(a, args["conversation"])
    return a.call(op, args)


def conversation_list(a: Access, op: Operation, args: dict) -> Any:
    """A customer: their own conversations; staff: their shops' (merged, newest first)."""
    p = a.principal
    size = page_size(args.get("limit"))
    args["limit"] = size
    if p.is_customer:
        if args.get("shop") not in (None, p.shop) or args.get("customer") not in (
                None, p.customer) or args.get("agent") is not None:
            raise Forbidden(f"{p.describe()} may list only its own conversations",
                            key="forbidden_list_own_only", describe=p.describe())
        args.update(shop=p.shop, customer=p.customer)
        items = [customer_view(c) for c in a.call(op, args)]
        return Page(items, next_cursor(op, args, items, size))
    if args.get("shop") is not None or p.shops is None:
        _shop(p, args.get("shop"))
        items = a.call(op, args)
    else:
        items = merge_pages((a.call(op, {**args, "shop": s}) for s in sorted(p.shops)),
                            key=lambda c: c["id"], size=size, reverse=True)
    return Page(items, next_cursor(op, args, items, size))


def events(a: Access, op: Operation, args: dict) -> Any:
    """Events the caller may see: their shops' (admins: all), a customer their own
    conversations'. A filtered page scans a bounded number of raw pages."""
    p = a.principal
    size = page_size(args.get("limit"))
    if p.is_customer and args.get("shop") not in (None, p.shop):
        raise Forbidden(f"{p.describe()} may not use shop {args['shop']!r}",
                        key="forbidden_shop", describe=p.describe(), shop=args['shop'])
    if p.shops is None or (args.get("shop") is not None and not p.is_customer):
        _staff(p)
        _shop(p, args.get("shop"))
        items = a.call(op, {**args, "limit": size})
        return Page(items, next_cursor(op, args, items, size))
    keep = event_filter(a)
    cursor, items = int(args.get("after") or 0), []
    for _ in range(SCAN_PAGES):
        raw = a.backend.events(after=cursor, limit=MAX_PAGE)
        for e in raw:
            cursor = e["id"]
            if keep(e):
                items.append(e)
                if len(items) == size:
                    return Page(items, cursor)
        if len(raw) < MAX_PAGE:
            return Page(items, None)
    return Page(items, cursor)


def event_filter(a: Access) -> Callable[[dict], bool]:
    """A predicate on events for this caller (stateful for customers: it learns their
    new conversations from ``conversation.created``)."""
    p = a.principal
    if p.shops is None:
        return lambda e: True
    if not p.is_customer:
        shops = p.shops
        return lambda e: e["shop"] in shops
    own = {str(c["id"]) for c in a.backend.list_conversations(
        shop=p.shop, customer=p.customer, limit=1000)}

    def keep(e: dict) -> bool:
        if e["shop"] != p.shop or e["entity"] != "conversation":
            return False
        if e["type"] == "conversation.created" and (e.get("payload") or {}).get(
                "customer") == p.customer:
            own.add(e["key"])
        return e["key"] in own and e["type"] in CUSTOMER_EVENTS

    return keep


def resource_list(a: Access, op: Operation, args: dict) -> Any:
    """Records of the caller's shops; a customer: their shop's catalogue."""
    p = a.principal
    k = kind_named(args["kind"]) if _known(args["kind"]) else None
    size = page_size(args.get("limit"))
    args["limit"] = size
    if k is None:  # the backend names the unknown kind
        return a.call(op, args)
    if p.is_customer:
        if k.name not in PUBLIC_KINDS or args.get("shop") not in (None, p.shop):
            raise Forbidden(f"{p.describe()} may read only its shop's catalogue",
                            key="forbidden_catalogue_own_shop", describe=p.describe())
        args["shop"] = p.shop
        items = a.call(op, args)
    elif args.get("shop") is not None or p.shops is None:
        _shop(p, args.get("shop"))
        items = a.call(op, args)
    elif k.name in ORDER_BY:  # ordered by shop first: one shop after another
        items = [r for s in sorted(p.shops) for r in a.call(op, {**args, "shop": s})][:size]
    else:
        items = merge_pages((a.call(op, {**args, "shop": s}) for s in sorted(p.shops)),
                            key=lambda r: r[k.key], size=size)
    if k.name == "customers":
        items = [_trim_customer(p, a, c) for c in items]
    return Page(items, next_cursor(op, args, items, size))


def _known(kind: str) -> bool:
    try:
        kind_named(kind)
        return True
    except KeyError:
        return False


def resource_read(a: Access, op: Operation, args: dict) -> Any:
    """One record the caller may see (it shares a shop with them)."""
    p = a.principal
    if not _known(args["kind"]):
        return a.call(op, args)
    k = kind_named(args["kind"])
    record = a.call(op, args)
    shops = record_shops(a, k.name, record)
    if p.is_customer:
        allowed = (k.name in PUBLIC_KINDS and shops == {p.shop}) or (
            k.name == "customers" and record["key"] == p.customer)
        if not allowed:
            raise Forbidden(f"{p.describe()} may not read {k.singular} {args['key']!r}",
                            key="forbidden_read_record", describe=p.describe(),
                            singular=k.singular, the_key=args['key'])
        return _trim_customer(p, a, record) if k.name == "customers" else record
    platform_wide = bool(k.shop_field) and record.get(k.shop_field) is None  # e.g. knowledge
    if p.shops is not None and not shops & p.shops and not platform_wide:
        raise Forbidden(f"{k.singular} {args['key']!r} is not in the shops of {p.describe()}",
                        key="forbidden_record_not_in_shops", singular=k.singular,
                        the_key=args['key'], describe=p.describe())
    return _trim_customer(p, a, record) if k.name == "customers" else record


def resource_write(a: Access, op: Operation, args: dict) -> Any:
    """Create, update or delete: the kind's rule (``record_rights``) decides on the record
    as stored and as the change leaves it; shops are created and deleted by admins."""
    p = a.principal
    _manager(p)
    if not _known(args["kind"]) or p.is_admin:
        return a.call(op, args)
    k = kind_named(args["kind"])
    lookup = rights.backend_lookup(a.backend)
    if op.name == "create":
        record = args["record"] if isinstance(args["record"], dict) else {}
        what = f"{k.singular} {record.get(k.key)!r}"
        rights.check_write(p, lookup, k.name, None, record, what)
        result = a.call(op, args)
        return _trim_customer(p, a, result) if k.name == "customers" else result
    before = a.backend.get(k.name, args["key"])
    what = f"{k.singular} {args['key']!r}"
    after = None
    if op.name == "update":
        changes = args["changes"] if isinstance(args["changes"], dict) else {}
        after = dict(before)
        for name, value in changes.items():  # as the backend does: None clears a field
            if value is None:
                after.pop(name, None)
            else:
                after[name] = value
        if k.name == "customers" and ("profiles" in changes or "coupons" in changes):
            # a shop sends its own part of a shared customer: the other shops' stays
            after = rights.keep_other_shops(p, lookup, before, after)
            args["changes"] = {**changes, "profiles": after.get("profiles") or [],
                               "coupons": after.get("coupons") or []}
    rights.check_write(p, lookup, k.name, before, after, what)
    result = a.call(op, args)
    return _trim_customer(p, a, result) if k.name == "customers" and result else result


def _applied(p: Principal, lookup: rights.Lookup, name: str, before: dict, rec: dict,
             spoken: set[str]) -> dict:
    """A record of an applied document as ``apply`` will store it: a customer's or an
    agent's part in the shops the document does not speak for stays as stored."""
    if name == "customers":
        mine = spoken | {pr.get("shop") for pr in rec.get("profiles") or []
                         if isinstance(pr, dict)}
        kept = [pr for pr in before.get("profiles") or [] if pr.get("shop") not in mine]
        coupons = [c for c in before.get("coupons") or []
                   if rights.coupon_shop(lookup, c.get("coupon")) not in mine]
        return {**rec, "profiles": kept + list(rec.get("profiles") or []),
                "coupons": coupons + list(rec.get("coupons") or [])}
    if name == "agents":
        mine = spoken | {s for s in rec.get("shops") or [] if isinstance(s, str)}
        kept = [s for s in before.get("shops") or [] if s not in mine]
        return {**rec, "shops": kept + list(rec.get("shops") or [])}
    return rec


def customer_read(a: Access, op: Operation, args: dict) -> Any:
    """A customer's stats, limited to the caller's shops."""
    p = a.principal
    _staff(p)
    try:
        record = a.backend.get("customers", args["key"])
    except NotFound:  # the core names the missing customer itself (no_customer)
        return a.call(op, args)
    if p.shops is not None and not record_shops(a, "customers", record) & p.shops:
        raise Forbidden(f"customer {args['key']!r} is not in the shops of {p.describe()}",
                        key="forbidden_customer_not_in_shops", the_key=args['key'],
                        describe=p.describe())
    return [s for s in a.call(op, args) if p.may_use_shop(s["shop"])]


def apply(a: Access, op: Operation, args: dict) -> Any:
    """Admins; supervisors when the kind's rule allows every record of the document, on
    the record as stored and as the document leaves it (``record_rights``)."""
    p = a.principal
    _manager(p)
    document = args["document"]
    if p.is_admin or not isinstance(document, dict):
        return a.call(op, args)
    lookup = rights.document_lookup(a.backend, document)
    stored = rights.backend_lookup(a.backend)
    spoken = {rec.get("key") for rec in document.get("shops") or []
              if isinstance(rec, dict) and isinstance(rec.get("key"), str)}
    for name, records in document.items():
        if name not in KINDS or not isinstance(records, list):
            continue  # the backend refuses these with the path
        k = KINDS[name]
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                continue
            key = rec.get(k.key)
            before = stored(name, key) if isinstance(key, str) else None
            after = rec if before is None else _applied(p, lookup, name, before, rec, spoken)
            rights.check_write(p, lookup, name, before, after, f"{name}[{i}]")
    return a.call(op, args)


def export(a: Access, op: Operation, args: dict) -> Any:
    """Admins everything; supervisors one of their shops."""
    p = a.principal
    _manager(p, "export records")
    if not p.is_admin:
        if args.get("shop") is None:
            raise Forbidden(f"{p.describe()} exports one of its shops: give shop",
                            key="forbidden_export_needs_shop", describe=p.describe())
        _shop(p, args["shop"])
    return a.call(op, args)


def rule_manage(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the rule's shop, and admins."""
    _manager(a.principal)
    rule = a.backend.get("routing_rules", args["key"])
    _shop(a.principal, rule["shop"])
    return a.call(op, args)


def token_create(a: Access, op: Operation, args: dict) -> Any:
    """Admins any token; supervisors agent tokens for their agents and their own; agents
    their own."""
    p = a.principal
    _staff(p)
    if p.is_admin:
        return a.call(op, args)
    handle = args.get("agent")
    if handle is None:
        raise Forbidden("only an admin makes a token bound to no agent",
                        key="forbidden_unbound_token")
    role = args.get("role")
    if handle != p.agent:
        _acts_for(a, handle)
        if role not in (None, "agent") or a.backend.get("agents", handle)["role"] != "agent":
            raise Forbidden(f"{p.describe()} makes agent tokens only for its agents",
                            key="forbidden_token_own_agents", describe=p.describe())
        args["role"] = "agent"
    elif rights.outranks(role, p):
        raise Forbidden(f"{p.describe()} may not make an {role} token",
                        key="forbidden_token_role", describe=p.describe(), role=role)
    elif role is None:
        args["role"] = p.role
    return a.call(op, args)


def token_list(a: Access, op: Operation, args: dict) -> Any:
    """Admins all; supervisors their shops' tokens; agents their own."""
    p = a.principal
    _staff(p)
    if p.is_admin:
        return a.call(op, args)
    if p.role == "agent":
        if args.get("agent") not in (None, p.agent) or args.get("shop") is not None:
            raise Forbidden(f"{p.describe()} lists only its own tokens",
                            key="forbidden_tokens_list_own", describe=p.describe())
        return a.call(op, {**args, "agent": p.agent})
    if args.get("shop") is not None:
        _shop(p, args["shop"])
        return a.call(op, args)
    return merge_pages((a.call(op, {**args, "shop": s}) for s in sorted(p.shops or ())),
                       key=lambda t: t["id"], size=10**9, reverse=True)


def token_revoke(a: Access, op: Operation, args: dict) -> Any:
    """Admins any; supervisors tokens of their agents and shops; anyone their own."""
    p = a.principal
    _staff(p)
    if not p.is_admin and args["token_id"] != p.token_id:
        token = a.tokens.get_token(args["token_id"])
        if token["agent"] == p.agent and token["agent"] is not None:
            pass
        elif p.role != "supervisor":
            raise Forbidden(f"{p.describe()} may revoke only its own tokens",
                            key="forbidden_tokens_revoke_own", describe=p.describe())
        elif token["customer"] is not None:
            _shop(p, token["shop"])
        elif token["agent"] is None:
            raise Forbidden("only an admin revokes an admin token", key="forbidden_revoke_admin")
        elif rights.outranks(token["role"], p):
            raise Forbidden(f"{p.describe()} may not revoke an {token['role']} token",
                            key="forbidden_revoke_role", describe=p.describe(),
                            role=token['role'])
        else:
            _acts_for(a, token["agent"])
    return a.call(op, args)


POLICIES: dict[str, Callable[[Access, Operation, dict], Any]] = {
    f.__name__: f for f in (
        anyone, admin, backup, bulk, shop_read, shop_manage, shop_scope, quote, acts_for, learn,
        unanswered_manage, ticket_create, ticket, acts_in_conversation, close, rate,
        post, conversation_read, conversation_staff, conversation_list, events, resource_list,
        resource_read, resource_write, customer_read, apply, export, rule_manage,
        token_create, customer_token, token_list, token_revoke, campaign_run, campaign_read,
    )
}
