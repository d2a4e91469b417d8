"""Who may call what: one policy per ``right`` named in the operations table.

A policy checks the caller's Principal against the arguments (and, where the
arguments do not say, against the data: a conversation's shop, a record's shops),
then makes the call, narrowing it to the caller's shops where a read spans several.
No web framework here: policies raise ``Forbidden`` and return plain results.

The rules: admins everything; supervisors manage their shops (records whose every
shop is theirs, tokens of their agents, customer tokens of their shops); agents see
their shops and act only as themselves; customer tokens post to, read, close and rate
only their own conversations in their shop, and read their shop's catalogue.

Here: the table of policies (``POLICIES``) and the policies of shops, campaigns, the bot
and tickets; the rest in ``access.py`` (the checks every policy uses),
``conversation_policies.py``, ``record_policies.py`` and ``token_policies.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..api.operations import Operation
from ..auth import Forbidden, Principal
from ..errors import Conflict, InvalidInput
from .access import (
    Access,
    _actor,
    _acts_for,
    _admin,
    _conversation_shop,
    _manager,
    _shop,
    _shops_within,
    _staff,
    record_shops,
)
from .conversation_policies import (
    acts_in_conversation,
    close,
    conversation_list,
    conversation_read,
    conversation_staff,
    events,
    label_conversation,
    post,
    rate,
)
from .record_policies import (
    apply,
    customer_read,
    export,
    resource_list,
    resource_read,
    resource_write,
    rule_manage,
)
from .token_policies import customer_token, token_create, token_list, token_revoke


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


def webhook_manage(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the webhook's shop, and admins."""
    _manager(a.principal, f"use {op.name.replace('_', ' ')}")
    _shop(a.principal, a.backend.get("webhooks", args["name"])["shop"])
    return a.call(op, args)


def channel_manage(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the channel's shop, and admins."""
    _manager(a.principal, f"use {op.name.replace('_', ' ')}")
    _shop(a.principal, a.backend.get("channels", args["name"])["shop"])
    return a.call(op, args)


def webhook_delivery_manage(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the delivery's shop, and admins (workers run with such tokens)."""
    _manager(a.principal, f"use {op.name.replace('_', ' ')}")
    _shop(a.principal, a.backend.webhook_delivery(args["delivery"])["shop"])
    return a.call(op, args)


def webhook_claim(a: Access, op: Operation, args: dict) -> Any:
    """Admins for every shop; a supervisor for one of their shops (give shop) or the
    delivery named, if it is of their shops."""
    p = a.principal
    _manager(p, "claim webhook deliveries")
    if not p.is_admin:
        if args.get("delivery") is not None:
            _shop(p, a.backend.webhook_delivery(args["delivery"])["shop"])
        elif args.get("shop") is None:
            raise Forbidden(f"{p.describe()} claims deliveries of one shop: give shop",
                            key="forbidden_claim_needs_shop", describe=p.describe())
        else:
            _shop(p, args["shop"])
    return a.call(op, args)


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


def kb_suggest(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the shop, and admins (mining keeps the shop's proposals)."""
    p = a.principal
    _manager(p)
    _shop(p, args.get("shop"))
    return a.call(op, args)


def kb_suggestion(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the proposal's shop (``shop``, filled in for a one-shop token; a
    proposal of another shop is not found), and admins."""
    p = a.principal
    _manager(p)
    if not p.is_admin:
        if args.get("shop") is None:
            if len(p.shops or ()) != 1:
                raise Forbidden(f"{p.describe()} works in several shops: give shop",
                                key="forbidden_needs_shop", describe=p.describe())
            args["shop"] = next(iter(p.shops))
        _shop(p, args["shop"])
    _fill_by(p, op, args)
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


def order_act(a: Access, op: Operation, args: dict) -> Any:
    """Staff of the order's shop, acting as themselves (a customer asks the bot)."""
    p = a.principal
    _staff(p)
    shop = a.backend.get("orders", args["key"])["shop"]
    if not p.may_use_shop(shop):
        raise Forbidden(f"order {args['key']!r} belongs to shop {shop!r}, which "
                        f"{p.describe()} may not use", key="forbidden_order_shop",
                        order=args["key"], shop=shop, describe=p.describe())
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


def qa_review(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the shop, and admins, reviewing as themselves (a token of an agent
    records its agent as ``by``)."""
    p = a.principal
    _manager(p, "review QA findings")
    _shop(p, args["shop"])
    _acts_for(a, args.get("by"))
    if args.get("by") is None and p.agent:
        args["by"] = p.agent
    return a.call(op, args)


POLICIES: dict[str, Callable[[Access, Operation, dict], Any]] = {
    f.__name__: f for f in (
        anyone, admin, backup, bulk, shop_read, shop_manage, shop_scope, quote, acts_for, learn,
        unanswered_manage, kb_suggest, kb_suggestion, ticket_create, ticket, order_act,
        acts_in_conversation, close, rate,
        post, conversation_read, conversation_staff, conversation_list, events, resource_list,
        label_conversation, qa_review,
        resource_read, resource_write, customer_read, apply, export, rule_manage,
        token_create, customer_token, token_list, token_revoke, campaign_run, campaign_read,
        webhook_manage, webhook_delivery_manage, webhook_claim, channel_manage,
    )
}

