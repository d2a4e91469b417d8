"""Reference checks: a record's references to other records, through a lookup callback
so the same rules serve the local backend, ``apply`` and the server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..resources import Kind
from ..values import format_money
from .errors import FieldError, line_of

Lookup = Callable[[str, str], dict | None]


def check_refs(kind: Kind, rec: dict, lookup: Lookup, raw: Any = None, path: str = "") -> None:
    """Check every reference of an internal record through ``lookup(kind, key)``.

    ``lookup`` returns a small dict (with ``shop`` for shop-scoped kinds) or None.
    Also checks that shop-scoped references stay inside the record's shop.
    """
    p = f"{path}." if path else ""

    def missing(fpath: str, ref_kind: str, key: str, line: int | None) -> FieldError:
        return FieldError(fpath, f"unknown {ref_kind[:-1]} {key!r}", line,
                          key="field_unknown_ref", kind=ref_kind[:-1], record=key)

    def need(ref_kind: str, key: str, fpath: str, line: int | None) -> dict:
        found = lookup(ref_kind, key)
        if found is None:
            raise missing(fpath, ref_kind, key, line)
        return found

    def works_for(found: dict, key: str, in_shop: str | None, fpath: str,
                  line: int | None, admin_ok: bool = False) -> None:
        """A shop's record names only agents of that shop (an escalation may go to an
        admin, who works for every shop): never another shop's agent."""
        if in_shop is None or in_shop in (found.get("shops") or []):
            return
        if admin_ok and found.get("role") == "admin":
            return
        raise FieldError(fpath, f"agent {key!r} does not work for shop {in_shop!r}", line,
                         key="field_agent_not_in_shop", the_key=key, in_shop=in_shop)

    shop = rec.get("shop") if kind.shop_field else None
    for f in kind.fields:
        value = rec.get(f.name)
        if value is None:
            continue
        line = line_of(raw, f.name)
        if f.type == "ref":
            found = need(f.ref, value, f"{p}{f.name}", line)
            if f.ref == "agents":
                works_for(found, value, shop, f"{p}{f.name}", line,
                          admin_ok=f.name == "escalate_to")
        elif f.type == "reflist":
            for i, key in enumerate(value):
                found = need(f.ref, key, f"{p}{f.name}[{i}]", line)
                if shop and found.get("shop") and found["shop"] != shop:
                    raise FieldError(
                        f"{p}{f.name}[{i}]", f"{key!r} belongs to shop {found['shop']!r}", line,
                                     key="field_key_other_shop", the_key=key, shop=found['shop'])
        elif f.type in ("records", "record"):
            items = value if f.type == "records" else [value]
            for i, item in enumerate(items):
                ipath = f"{p}{f.name}[{i}]" if f.type == "records" else f"{p}{f.name}"
                for sub in f.fields:
                    if sub.type == "ref" and item.get(sub.name) is not None:
                        found = need(sub.ref, item[sub.name], f"{ipath}.{sub.name}", line)
                        item_shop = shop or item.get("shop")
                        if sub.ref == "agents":
                            works_for(found, item[sub.name], item_shop, f"{ipath}.{sub.name}",
                                      line)
                        if item_shop and found.get("shop") and found["shop"] != item_shop:
                            raise FieldError(
                                f"{ipath}.{sub.name}",
                                f"{item[sub.name]!r} belongs to shop {found['shop']!r}",
                                line,
                                             key="field_value_other_shop", value=item[sub.name],
                                             shop=found['shop'])
    if kind.name == "agents":
        for i, g in enumerate(rec["groups"]):
            gshop = lookup("groups", g)["shop"]
            if gshop not in rec["shops"]:
                raise FieldError(
                    f"{p}groups[{i}]",
                    f"group {g!r} belongs to shop {gshop!r}, which is not among the agent's shops",
                    line_of(raw, "groups"), key="field_group_other_shop", g=g, gshop=gshop)
    if kind.name == "routing_rules":
        target = rec["target"]
        line = line_of(raw, "target")
        group = target.get("group")
        if group is not None:
            found = need("groups", group, f"{p}target.group", line)
            if found.get("shop") != shop:
                raise FieldError(f"{p}target.group",
                                 f"group {group!r} belongs to shop {found.get('shop')!r}", line,
                                 key="field_group_shop", group=group, get=found.get('shop'))
        agent = target.get("agent")
        if isinstance(agent, str) and not agent.startswith("$"):
            found = need("agents", agent, f"{p}target.agent", line)
            if shop not in (found.get("shops") or []):
                raise FieldError(f"{p}target.agent",
                                 f"agent {agent!r} does not work for shop {shop!r}", line,
                                 key="field_agent_not_in_shop2", agent=agent, shop=shop)
    if kind.name == "quick_replies" and rec.get("agent"):
        found = need("agents", rec["agent"], f"{p}agent", line_of(raw, "agent"))
        if shop not in (found.get("shops") or []):
            raise FieldError(f"{p}agent", f"agent {rec['agent']!r} does not work for shop "
                             f"{shop!r}", line_of(raw, "agent"),
                             key="field_agent_not_in_shop2", agent=rec['agent'], shop=shop)
    if kind.name == "macros":
        _macro_refs(rec, shop, need, p, line_of(raw, "actions"))
    if kind.name == "customers":
        shops = {pr["shop"] for pr in rec["profiles"]}
        for i, c in enumerate(rec["coupons"]):
            cshop = lookup("coupons", c["coupon"])["shop"]
            if cshop not in shops:
                raise FieldError(
                    f"{p}coupons[{i}].coupon",
                    f"coupon {c['coupon']!r} is of shop {cshop!r}, where the customer has no "
                    "profile",
                    line_of(raw, "coupons"),
                                 key="field_coupon_other_shop", coupon=c['coupon'], cshop=cshop)
    if kind.name in ("campaigns", "cart_items"):
        for name in ("coupon", "product"):
            key = rec.get(name)
            if key is not None:
                found = lookup(f"{name}s", key)
                if found.get("shop") != shop:
                    raise FieldError(f"{p}{name}", f"{name} {key!r} belongs to shop "
                                     f"{found.get('shop')!r}", line_of(raw, name),
                                     key="field_record_other_shop", name=name, the_key=key,
                                     get=found.get('shop'))
        if kind.name == "cart_items" and rec["price"] is None:
            rec["price"] = lookup("products", rec["product"]).get("price", 0)
    if kind.name == "orders":
        total = 0
        for item in rec["items"]:
            if item["price"] is None:
                item["price"] = lookup("products", item["product"]).get("price", 0)
            total += item["price"] * item["quantity"]
        if rec["discount"] > total:
            raise FieldError(
                f"{p}discount",
                f"discount {format_money(rec['discount'])} exceeds the items' total "
                f"{format_money(total)}",
                line_of(raw, "discount"),
                             key="field_discount_over_total",
                             format_money=format_money(rec['discount']),
                             format_money2=format_money(total))


def _macro_refs(rec: dict, shop: str, need: Callable[..., dict], p: str,
                line: int | None) -> None:
    """A macro names its shop's quick replies and groups only (an agent's macro may use
    the agent's own quick replies too)."""
    from ..macros import parse_actions

    for i, step in enumerate(parse_actions(rec["actions"])):
        if step.kind == "reply":
            key, what = step.args["value"], "quick_replies"
        elif step.kind == "transfer":
            key, what = step.args.get("group") or step.args["value"], "groups"
        else:
            continue
        fpath = f"{p}actions[{i}].{step.kind}"
        found = need(what, key, fpath, line)
        if found.get("shop") != shop:
            raise FieldError(fpath, f"{key!r} belongs to shop {found.get('shop')!r}", line,
                             key="field_key_other_shop", the_key=key, shop=found.get("shop"))
        owner = found.get("agent")
        if what == "quick_replies" and owner is not None and owner != rec.get("agent"):
            raise FieldError(fpath, f"quick reply {key!r} is agent {owner!r}'s own", line,
                             key="field_macro_reply_not_shared", the_key=key, agent=owner)
