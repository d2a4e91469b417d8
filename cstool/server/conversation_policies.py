"""Policies of conversations: acting in one, closing, rating, posting (customers too),
reading and listing them, and the event stream filtered to what the caller may see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..api.operations import MAX_PAGE, Operation, next_cursor, page_size
from ..auth import Forbidden
from ..errors import NotFound
from .access import (
    CUSTOMER_EVENTS,
    SCAN_PAGES,
    Access,
    Page,
    _actor,
    _acts_for,
    _conversation_shop,
    _shop,
    _staff,
    customer_view,
    merge_pages,
)


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
    if p.is_customer:  # the customer left: said so (质检 does not blame the agent for it)
        args["reason"] = "customer"
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


def label_conversation(a: Access, op: Operation, args: dict) -> Any:
    """Staff of the conversation's shop, labelling as themselves (an agent's token
    records its agent as ``by``)."""
    p = a.principal
    _staff(p)
    _conversation_shop(a, args["conversation"])
    _acts_for(a, args.get("by"))
    if args.get("by") is None and p.agent:
        args["by"] = p.agent
    return a.call(op, args)


def conversation_list(a: Access, op: Operation, args: dict) -> Any:
    """A customer: their own conversations; staff: their shops' (merged, newest first)."""
    p = a.principal
    size = page_size(args.get("limit"))
    args["limit"] = size
    if p.is_customer:
        if args.get("shop") not in (None, p.shop) or args.get("customer") not in (
                None, p.customer) or args.get("agent") is not None or args.get(
                "label") is not None:  # labels are the staff's
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

