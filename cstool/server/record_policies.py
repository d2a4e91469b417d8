"""Policies of records: listing, reading and writing resources (each record's shops
checked), customers, ``apply``, export and routing rules."""

from __future__ import annotations

from typing import Any

from ..api.operations import Operation, next_cursor, page_size
from ..auth import Forbidden, Principal
from ..errors import NotFound
from ..resources import KINDS, ORDER_BY
from ..resources import kind as kind_named
from . import record_rights as rights
from .access import (
    PUBLIC_KINDS,
    Access,
    Page,
    _manager,
    _shop,
    _staff,
    _trim_customer,
    merge_pages,
    record_shops,
)

# Kinds only supervisors (of the record's shop) and admins see: a webhook tells where
# the shop's events go.
MANAGED_KINDS = frozenset({"webhooks", "channels"})


def resource_list(a: Access, op: Operation, args: dict) -> Any:
    """Records of the caller's shops; a customer: their shop's catalogue."""
    p = a.principal
    k = kind_named(args["kind"]) if _known(args["kind"]) else None
    size = page_size(args.get("limit"))
    args["limit"] = size
    if k is None:  # the backend names the unknown kind
        return a.call(op, args)
    if k.name in MANAGED_KINDS:
        _manager(p, f"list {k.name}")
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
    if k.name in MANAGED_KINDS:
        _manager(p, f"read {k.name}")
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

