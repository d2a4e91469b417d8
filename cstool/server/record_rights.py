"""Who may write which record: one rule per kind, deciding on the record as stored
(``before``), the record as the change would leave it (``after``) and the records the
change names. ``PATCH``, ``POST``, ``DELETE /v1/{kind}`` and every record of ``apply``
go through :func:`check_write`, so a path cannot reach what another refuses.

The rules (admins pass every one; agents and customers write no records):

- a record of one shop (products, groups, knowledge entries ...): the shop before and
  after the change is one of the caller's (a platform-wide record, no shop, is an
  admin's);
- a shop: only its settings, and only of the caller's shops (admins create and delete);
- an agent: every shop before and after is the caller's, and the agent's role before and
  after is not above the caller's;
- a customer (platform-wide, a profile per shop): the caller writes the profiles and
  held coupons of its shops and nothing of another shop's; the customer's name, phone
  and e-mail only while every shop of the customer is the caller's; a customer who has no
  profile in the caller's shops is not theirs to change (a new key may be created);
- orders and cart items name a customer: the customer has a profile in the record's
  shop (stored, or made by the same document).

No web framework here: rules raise ``Forbidden``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..api.backend import Backend
from ..auth import STAFF_ROLES, Forbidden, Principal
from ..backend.local import merge_shop_parts
from ..errors import NotFound
from ..resources import kind as kind_named

IDENTITY_FIELDS = ("name", "phone", "email")  # a customer's, shared by every shop

# kind, key -> the record as stored or as the document makes it (None: unknown)
Lookup = Callable[[str, str], "dict | None"]


def outranks(role: str | None, p: Principal) -> bool:
    """True when ``role`` is above the caller's own (nobody acts on or as such an agent)."""
    return (role in STAFF_ROLES and p.role in STAFF_ROLES
            and STAFF_ROLES.index(role) > STAFF_ROLES.index(p.role))


def shops_within(p: Principal, shops: Iterable[str], what: str) -> None:
    """Every shop of ``shops`` is the caller's, and there is at least one."""
    shops = set(shops)
    if p.shops is None:
        return
    if not shops:
        raise Forbidden(f"{what} belongs to no shop; only an admin may change it",
                        key="forbidden_no_shop_admin_only", what=what)
    outside = sorted(shops - p.shops)
    if outside:
        raise Forbidden(f"{what} involves shop {outside[0]!r}, which {p.describe()} "
                        "may not use",
                        key="forbidden_record_other_shop", what=what, value=outside[0],
                        describe=p.describe())


def coupon_shop(lookup: Lookup, key: Any) -> str | None:
    """The shop of coupon ``key`` (None when unknown: validation names it)."""
    found = lookup("coupons", key) if isinstance(key, str) else None
    return found.get("shop") if found else None


def customer_shops(lookup: Lookup, record: dict) -> set[str]:
    """The shops of a customer: their profiles' and their held coupons' shops."""
    shops = {pr.get("shop") for pr in record.get("profiles") or [] if isinstance(pr, dict)}
    for held in record.get("coupons") or []:
        if isinstance(held, dict):
            shops.add(coupon_shop(lookup, held.get("coupon")))
    return {s for s in shops if isinstance(s, str)}


def record_shops(lookup: Lookup, kind: str, record: dict) -> set[str]:
    """The shops a record belongs to (a customer: their profiles' and coupons' shops)."""
    k = kind_named(kind)
    if k.name == "shops":
        return {record["key"]} if isinstance(record.get("key"), str) else set()
    if k.name == "agents":
        return {s for s in record.get("shops") or [] if isinstance(s, str)}
    if k.name == "customers":
        return customer_shops(lookup, record)
    shop = record.get(k.shop_field) if k.shop_field else None
    return {shop} if isinstance(shop, str) else set()


def _other_shops_part(p: Principal, lookup: Lookup, record: dict) -> tuple[list, list]:
    """A customer's profiles and held coupons in shops that are not the caller's."""
    mine = p.shops or frozenset()
    profiles = [pr for pr in record.get("profiles") or []
                if not (isinstance(pr, dict) and pr.get("shop") in mine)]
    coupons = [c for c in record.get("coupons") or []
               if not (isinstance(c, dict) and coupon_shop(lookup, c.get("coupon")) in mine)]
    return profiles, coupons


def keep_other_shops(p: Principal, lookup: Lookup, before: dict, after: dict) -> dict:
    """``after`` with the customer's profiles and coupons of other shops as stored (in
    their stored places): a shop writes its own part of a shared customer, as ``apply``
    merges. A part of another shop given in ``after`` is left as given (the rule names
    the shop)."""
    if p.shops is None:
        return after
    mine = p.shops

    def merge(old: list, new: list, key: Callable, shop_of: Callable) -> list:
        if any(shop_of(x) not in mine for x in new):
            return new  # names a shop not theirs: left as asked, for the check to refuse
        return merge_shop_parts(old, new, key, shop_of, mine)

    def profile_shop(pr: Any) -> Any:
        return pr.get("shop") if isinstance(pr, dict) else None

    def held_shop(c: Any) -> Any:
        return coupon_shop(lookup, c.get("coupon")) if isinstance(c, dict) else None

    profiles = merge(before.get("profiles") or [], after.get("profiles") or [],
                     lambda pr: repr(profile_shop(pr)), profile_shop)
    coupons = merge(before.get("coupons") or [], after.get("coupons") or [],
                    lambda c: repr(c.get("coupon") if isinstance(c, dict) else c), held_shop)
    return {**after, "profiles": profiles, "coupons": coupons}


# -- one rule per kind ------------------------------------------------------------------------
def _shop_rule(p: Principal, lookup: Lookup, before: dict | None, after: dict | None,
               what: str) -> None:
    if before is None:
        raise Forbidden(f"{what}: only an admin creates shops",
                        key="forbidden_create_shop", what=what)
    if after is None:
        raise Forbidden(f"{what}: only an admin deletes shops",
                        key="forbidden_delete_shop", what=what)
    shops_within(p, {before["key"]}, what)


def _agent_rule(p: Principal, lookup: Lookup, before: dict | None, after: dict | None,
                what: str) -> None:
    for rec in (before, after):
        if rec is None:
            continue
        role = rec.get("role") or "agent"
        if outranks(role, p):
            verb = "act on" if rec is before else "make"
            raise Forbidden(f"{p.describe()} may not {verb} an {role} ({what})",
                            key="forbidden_verb_role", describe=p.describe(), verb=verb,
                            role=role, what=what)
        shops_within(p, record_shops(lookup, "agents", rec), what)


def _customer_rule(p: Principal, lookup: Lookup, before: dict | None, after: dict | None,
                   what: str) -> None:
    if before is None:  # a new customer: only of the caller's shops
        shops_within(p, customer_shops(lookup, after or {}), what)
        return
    stored = customer_shops(lookup, before)
    if not {pr.get("shop") for pr in before.get("profiles") or []} & set(p.shops or ()):
        raise Forbidden(f"{what} has no profile in the shops of {p.describe()}; a shop "
                        "changes only its own customers (an admin may change any)",
                        key="forbidden_customer_other_shops", what=what, describe=p.describe())
    if after is None:
        shops_within(p, stored, what)  # deleting touches every shop of the customer
        return
    if _other_shops_part(p, lookup, before) != _other_shops_part(p, lookup, after):
        changed = sorted((stored | customer_shops(lookup, after)) - set(p.shops or ()))
        raise Forbidden(f"{what}: {p.describe()} may change only the profiles and coupons "
                        f"of its shops, not those of shop {changed[0] if changed else '?'!r}",
                        key="forbidden_profile_other_shop", what=what, describe=p.describe(),
                        value=changed[0] if changed else '?')
    others = sorted(stored - set(p.shops or ()))
    if others:
        moved = [f for f in IDENTITY_FIELDS if (before.get(f) or None) != (after.get(f) or None)]
        if moved:
            raise Forbidden(f"{what} is a customer of shop {others[0]!r} too: its "
                            f"{', '.join(moved)} may be changed by an admin only",
                            key="forbidden_shared_customer", what=what, value=others[0],
                            join=', '.join(moved))


def _named_customer(p: Principal, lookup: Lookup, kind: str, record: dict | None,
                    what: str) -> None:
    """An order or cart item names a customer who must be the shop's (have a profile)."""
    if record is None or not isinstance(record.get("customer"), str):
        return
    customer = lookup("customers", record["customer"])
    if customer is None:
        return  # validation names the unknown customer
    if record.get("shop") not in {pr.get("shop") for pr in customer.get("profiles") or []}:
        raise Forbidden(f"{what} names customer {record['customer']!r}, who has no profile "
                        f"in shop {record.get('shop')!r}",
                        key="forbidden_customer_no_profile", what=what,
                        customer=record['customer'], get=record.get('shop'))


def _shop_record_rule(p: Principal, lookup: Lookup, before: dict | None, after: dict | None,
                      what: str, kind: str) -> None:
    for rec in (before, after):
        if rec is not None:
            shops_within(p, record_shops(lookup, kind, rec), what)
    if kind in ("orders", "cart_items"):
        _named_customer(p, lookup, kind, after, what)


RULES = {"shops": _shop_rule, "agents": _agent_rule, "customers": _customer_rule}


def check_write(p: Principal, lookup: Lookup, kind: str, before: dict | None,
                after: dict | None, what: str) -> None:
    """Refuse (Forbidden) a write of ``kind`` by ``p`` from ``before`` (None: a create) to
    ``after`` (None: a delete), both in the external form."""
    if p.is_admin:
        return
    if p.is_customer or not p.manages:
        raise Forbidden(f"{p.describe()} may not change records; that needs a supervisor",
                        key="forbidden_change_records", describe=p.describe())
    k = kind_named(kind)
    rule = RULES.get(k.name)
    if rule is not None:
        rule(p, lookup, before, after, what)
    else:
        _shop_record_rule(p, lookup, before, after, what, k.name)


def backend_lookup(backend: Backend) -> Lookup:
    """A Lookup over the stored records."""

    def lookup(kind: str, key: str) -> dict | None:
        try:
            return backend.get(kind, key)
        except (NotFound, TypeError):
            return None

    return lookup


def document_lookup(backend: Backend, document: dict) -> Lookup:
    """A Lookup that sees a document's records before the stored ones (apply)."""
    stored = backend_lookup(backend)
    index: dict[tuple[str, str], dict] = {}
    for name, records in document.items():
        if not isinstance(records, list):
            continue
        try:
            key_field = kind_named(name).key
        except KeyError:
            continue
        for rec in records:
            if isinstance(rec, dict) and isinstance(rec.get(key_field), str):
                index[(kind_named(name).name, rec[key_field])] = rec

    def lookup(kind: str, key: str) -> dict | None:
        k = kind_named(kind).name
        found = index.get((k, key))
        if k == "customers" and found is not None:  # the document's profiles and the stored
            before = stored(k, key)
            if before is not None:
                profiles = [*(before.get("profiles") or []), *(found.get("profiles") or [])]
                return {**found, "profiles": profiles}
        return found if found is not None else stored(k, key)

    return lookup
