"""Prices after stacking a shop's promotions and one coupon (pure: no storage, no clock).

Inputs are records in the internal form of ``cstool.resources`` (money in integer
cents, times in UTC epoch ms); the result is a :class:`Quote` with the whole
breakdown. The rules, in the order they are applied:

1. **Lines.** Each item is a product of the shop that is on sale, quantity 1..100000;
   the same product named twice is one line. Subtotal = unit price x quantity, summed.
2. **Discount promotions** (单品折扣, ``rate``): per line, the best (lowest) rate among
   the active discount promotions whose scope holds the product; they do not
   multiply. The discounted *unit* price is rounded to the fen, then times the
   quantity (so the card can show a unit price the customer recognises).
3. **Full reductions** (满减, ``tiers``): the threshold is measured on the in-scope
   lines after discount promotions; the highest tier reached applies, **once**
   (满, not 每满: tiers do not repeat; a 每满300减40 is written as tiers 300/600/900).
   Several full-reduction promotions each apply to their own scope and add up.
4. **Gift promotions**: when the in-scope amount after discount promotions reaches
   the threshold, one gift line at price 0 (one per promotion).
5. **One coupon** per order, on the whole order after promotions: its threshold
   (门槛) is measured on that amount, as Taobao does, so a coupon whose threshold
   is met before promotions may not be usable after them. Kind ``amount`` takes off
   the amount; kind ``discount`` charges ``round(base x rate)``.

Scopes: a promotion with neither ``products`` nor ``categories`` covers the whole
shop; otherwise a product is in scope if it is listed or its category is (union).
Windows: a promotion runs ``starts_at <= t < ends_at`` (the data writes ends as the
next midnight); a coupon is valid ``valid_from <= t <= valid_to`` (written as
23:59:59). Stacking: with a coupon, only promotions that are
``stackable_with_coupons`` apply, and none at all if the coupon is not
``stackable``; the promotions left out are listed. With no coupon named, every
coupon the customer holds is tried (and no coupon at all): the lowest total wins,
then more gifts, then no coupon (keep it for later), then the coupon that expires
first. A named coupon is used as asked; if the order would be cheaper without it,
a note says so. Rounding: half up on the fen (0.5 fen rounds up). Nothing goes
below 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .errors import Conflict, InvalidInput, NotFound
from .values import format_money, format_time, parse_time, yuan

MAX_QUANTITY = 100_000


def apply_rate(cents: int, rate: float) -> int:
    """``cents x rate`` rounded half up to the fen (exact decimal arithmetic)."""
    value = Decimal(int(cents)) * Decimal(str(rate))
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def in_scope(promotion: Mapping, product: Mapping) -> bool:
    """True when ``product`` is covered by ``promotion``'s products / categories."""
    keys = promotion.get("products") or []
    cats = promotion.get("categories") or []
    if not keys and not cats:
        return True
    return product["key"] in keys or (product.get("category") is not None
                                      and product["category"] in cats)


def promotion_active(promotion: Mapping, now_ms: int) -> bool:
    """``starts_at <= now < ends_at`` (either end open when unset)."""
    start, end = promotion.get("starts_at"), promotion.get("ends_at")
    return (start is None or start <= now_ms) and (end is None or now_ms < end)


# -- the breakdown ------------------------------------------------------------------------

@dataclass
class Line:
    """One item of the order, with the discount promotion that applies to it."""

    product: Mapping
    quantity: int
    unit_price_after: int
    discount: Mapping | None = None  # the discount promotion applied

    @property
    def key(self) -> str:
        """The product's key."""
        return self.product["key"]

    @property
    def unit_price(self) -> int:
        """List price of one unit, in cents."""
        return self.product["price"]

    @property
    def amount(self) -> int:
        """List price x quantity."""
        return self.unit_price * self.quantity

    @property
    def amount_after(self) -> int:
        """Discounted unit price x quantity."""
        return self.unit_price_after * self.quantity


@dataclass
class AppliedPromotion:
    """A promotion that changed the order: its saving, and what it was measured on."""

    promotion: Mapping
    saving: int
    base: int  # the in-scope amount its threshold or rate was applied to
    tier: Mapping | None = None  # full reduction: the tier reached
    gift: Mapping | None = None  # gift: the gift line


@dataclass
class CouponResult:
    """A coupon tried on the order: its saving, or why it cannot be used."""

    coupon: Mapping
    base: int = 0
    saving: int = 0
    reason: str | None = None  # None = usable
    detail: str = ""


@dataclass
class Scenario:
    """The order priced with one choice of coupon (or none)."""

    lines: list[Line]
    promotions: list[AppliedPromotion]
    dropped: list[tuple[Mapping, str]]  # promotions left out because of the coupon
    after_promotions: int
    gifts: list[dict]
    hints: list[dict]
    coupon: CouponResult | None = None

    @property
    def total(self) -> int:
        """What the customer pays."""
        saving = self.coupon.saving if self.coupon and self.coupon.reason is None else 0
        return max(0, self.after_promotions - saving)


@dataclass
class Quote:
    """The price of an order after stacking, with everything that explains it."""

    shop: str
    at: int
    chosen: Scenario
    how: str  # "named" | "best" | "none": how the coupon was chosen
    not_usable: list[CouponResult] = field(default_factory=list)
    not_chosen: list[tuple[Mapping, int]] = field(default_factory=list)  # (coupon, total)
    notes: list[str] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        """List prices x quantities."""
        return sum(line.amount for line in self.chosen.lines)

    @property
    def total(self) -> int:
        """What the customer pays, in cents."""
        return self.chosen.total

    @property
    def coupon(self) -> CouponResult | None:
        """The coupon applied, if any."""
        return self.chosen.coupon

    def to_external(self) -> dict[str, Any]:
        """The breakdown in the external form (money in yuan, times ISO 8601)."""
        s = self.chosen
        c = s.coupon
        return {
            "shop": self.shop,
            "at": format_time(self.at),
            "lines": [_line_out(line) for line in s.lines],
            "subtotal": format_money(self.subtotal),
            "promotions": [_promotion_out(p) for p in s.promotions],
            "promotions_left_out": [
                {"key": p["key"], "name": p["name"], "reason": why} for p, why in s.dropped],
            "after_promotions": format_money(s.after_promotions),
            "coupon": None if c is None else {**_coupon_out(c.coupon), "base": format_money(
                c.base), "saving": format_money(c.saving), "chosen": self.how},
            "gifts": s.gifts,
            "total": format_money(self.total),
            "saving": format_money(self.subtotal - self.total),
            "coupons_not_usable": [
                {"coupon": r.coupon["key"], "name": r.coupon.get("name"), "reason": r.reason,
                 "detail": r.detail} for r in self.not_usable],
            "coupons_not_chosen": [
                {"coupon": k["key"], "name": k.get("name"), "total": format_money(t),
                 "detail": f"total {yuan(t)} with it, {yuan(self.total)} "
                           + (f"with coupon {c.coupon['key']}" if c else "without a coupon")}
                for k, t in self.not_chosen],
            "hints": s.hints,
            "notes": self.notes,
        }


def _line_out(line: Line) -> dict:
    p = line.product
    return {
        "product": p["key"], "title": p.get("title"), "category": p.get("category"),
        "quantity": line.quantity, "unit_price": format_money(line.unit_price),
        "unit_price_after": format_money(line.unit_price_after),
        "amount": format_money(line.amount), "amount_after": format_money(line.amount_after),
        "promotion": line.discount["key"] if line.discount else None,
        "rate": line.discount["rate"] if line.discount else None,
    }


def _promotion_out(a: AppliedPromotion) -> dict:
    p = a.promotion
    out = {"key": p["key"], "name": p["name"], "kind": p["kind"],
           "saving": format_money(a.saving), "base": format_money(a.base)}
    if p["kind"] == "discount":
        out["rate"] = p["rate"]
    elif p["kind"] == "full_reduction" and a.tier is not None:
        out["tier"] = {"threshold": format_money(a.tier["threshold"]),
                       "off": format_money(a.tier["off"])}
    elif p["kind"] == "gift" and a.gift is not None:
        out["gift"] = a.gift["product"]
    return out


def _coupon_out(c: Mapping) -> dict:
    out = {"key": c["key"], "name": c.get("name"), "kind": c["kind"],
           "threshold": format_money(c.get("threshold") or 0),
           "stackable": c.get("stackable", True)}
    if c["kind"] == "amount":
        out["amount"] = format_money(c.get("amount"))
    else:
        out["rate"] = c.get("rate")
    return out


# -- pricing ------------------------------------------------------------------------------

def quote(
    shop: str,
    items: Iterable[tuple[str, int]],
    products: Mapping[str, Mapping],
    promotions: Iterable[Mapping],
    coupons: Mapping[str, Mapping],
    now_ms: int,
    *,
    held: Sequence[Mapping] | None = None,
    coupon: str | None = None,
) -> Quote:
    """Price ``items`` (product key, quantity) in ``shop`` at ``now_ms``.

    ``products`` maps keys to product records (at least the items' and the gifts');
    ``promotions`` are the shop's; ``coupons`` maps keys to every coupon record named
    in ``held`` or by ``coupon``. ``held`` is the customer's held coupons
    (``{"coupon", "used_at"}``); None means no customer: no coupon is tried unless
    one is named, and a named one is priced as if held. Raises InvalidInput (bad
    quantity, no items), NotFound (unknown product or coupon), Conflict (product off
    the shelf; named coupon not held or not usable).
    """
    lines = _lines(shop, items, products)
    active = sorted((p for p in promotions
                     if p.get("shop", shop) == shop and promotion_active(p, now_ms)),
                    key=lambda p: p["key"])
    plain = _scenario(lines, active, products, None)
    held_keys = _held(held)
    tried: list[Scenario] = []
    not_usable: list[CouponResult] = []
    for key in held_keys:
        if key == coupon:
            continue
        scn, bad = _try_coupon(shop, key, coupons, held_keys, lines, active, products, now_ms)
        if bad is not None:
            not_usable.append(bad)
        else:
            tried.append(scn)
    notes: list[str] = []
    if coupon is not None:
        if coupon not in coupons:
            raise NotFound(f"no coupon {coupon!r}", key="no_coupon", coupon=coupon)
        if held is not None and coupon not in held_keys:
            raise Conflict(f"the customer does not hold coupon {coupon!r}",
                           key="coupon_not_held", coupon=coupon)
        scn, bad = _try_coupon(shop, coupon, coupons, held_keys if held is not None else None,
                               lines, active, products, now_ms)
        if bad is not None:
            raise Conflict(f"coupon {coupon!r} cannot be used: {bad.detail}",
                           key="coupon_unusable", coupon=coupon, detail=bad.detail)
        chosen, how = scn, "named"
        if plain.total < scn.total:
            left_out = ", ".join(p["key"] for p, _ in scn.dropped) or "nothing"
            notes.append(f"without coupon {coupon} the total would be {yuan(plain.total)}, "
                         f"{yuan(scn.total - plain.total)} less (with it, left out: {left_out})")
        others = tried
    else:
        chosen = min([plain, *tried], key=_rank)
        how = "none" if chosen.coupon is None else "best"
        others = [s for s in tried if s is not chosen]
        if chosen.coupon is None and tried:
            notes.append("no coupon: none of the usable coupons lowers the total")
    not_chosen = [(s.coupon.coupon, s.total) for s in others if s.coupon is not None]
    return Quote(shop, now_ms, chosen, how, not_usable, not_chosen, notes)


def _rank(s: Scenario) -> tuple:
    """Lower is better for the customer."""
    if s.coupon is None:
        return (s.total, -len(s.gifts), 0, 0, "")
    valid_to = s.coupon.coupon.get("valid_to")
    return (s.total, -len(s.gifts), 1, valid_to if valid_to is not None else float("inf"),
            s.coupon.coupon["key"])


def _held(held: Sequence[Mapping] | None) -> dict[str, bool]:
    """Held coupon keys in order -> True if at least one copy is unused."""
    out: dict[str, bool] = {}
    for h in held or ():
        out[h["coupon"]] = out.get(h["coupon"], False) or h.get("used_at") is None
    return out


def _lines(shop: str, items: Iterable[tuple[str, int]],
           products: Mapping[str, Mapping]) -> list[Line]:
    merged: dict[str, int] = {}
    for key, quantity in items:
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidInput(f"quantity of {key!r} must be a whole number, got {quantity!r}",
                               key="quantity_not_int", the_key=key, quantity=repr(quantity))
        if quantity < 1:
            raise InvalidInput(f"quantity of {key!r} must be at least 1, got {quantity}",
                               key="quantity_below_one", the_key=key, quantity=quantity)
        p = products.get(key)
        if p is None or p.get("shop", shop) != shop:
            raise NotFound(f"no product {key!r} in shop {shop!r}",
                           key="no_product_in_shop", the_key=key, shop=shop)
        if p.get("status", "on_sale") != "on_sale":
            raise Conflict(f"product {key!r} is off the shelf",
                           key="product_off_shelf", the_key=key)
        merged[key] = merged.get(key, 0) + quantity
        if merged[key] > MAX_QUANTITY:
            raise InvalidInput(f"quantity of {key!r} must be at most {MAX_QUANTITY}",
                               key="quantity_too_large", the_key=key, MAX_QUANTITY=MAX_QUANTITY)
    if not merged:
        raise InvalidInput("a quote needs at least one item", key="quote_no_items")
    return [Line(products[k], q, products[k]["price"]) for k, q in merged.items()]


def _try_coupon(shop: str, key: str, coupons: Mapping[str, Mapping], held: dict | None,
                lines: list[Line], active: list[Mapping], products: Mapping[str, Mapping],
                now_ms: int) -> tuple[Scenario | None, CouponResult | None]:
    """The order priced with coupon ``key``, or why it cannot be used."""
    c = coupons.get(key)
    if c is None:
        return None, CouponResult({"key": key}, reason="unknown", detail="no such coupon")
    bad = _coupon_unusable(shop, c, held, now_ms)
    if bad is not None:
        return None, bad
    scn = _scenario(lines, active, products, c)
    if scn.coupon.reason is not None:
        return None, scn.coupon
    return scn, None


def coupon_window(c: Mapping, now_ms: int) -> str | None:
    """Where ``now_ms`` stands in coupon ``c``'s window ``valid_from <= t <= valid_to``:
    None inside it, ``"not_started"`` before, ``"expired"`` after. The bounds are epoch
    milliseconds or ISO 8601 times (a coupon as listed); a missing one is open."""
    starts, ends = _when(c.get("valid_from")), _when(c.get("valid_to"))
    if starts is not None and now_ms < starts:
        return "not_started"
    if ends is not None and now_ms > ends:
        return "expired"
    return None


def coupon_valid_at(c: Mapping, now_ms: int) -> bool:
    """True when coupon ``c`` may be used at ``now_ms`` (its window; see
    ``coupon_window``)."""
    return coupon_window(c, now_ms) is None


def _when(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    return parse_time(value)


def _coupon_unusable(shop: str, c: Mapping, held: dict | None, now_ms: int) -> CouponResult | None:
    """Why ``c`` cannot be used whatever the order holds, or None."""
    def no(reason: str, detail: str) -> CouponResult:
        return CouponResult(c, reason=reason, detail=detail)

    if c.get("shop") != shop:
        return no("other_shop", f"a coupon of shop {c.get('shop')!r}")
    if held is not None and not held.get(c["key"], False):
        return no("used", "used already")
    when = coupon_window(c, now_ms)
    if when == "not_started":
        return no("not_started", f"valid from {format_time(c['valid_from'])}")
    if when == "expired":
        return no("expired", f"expired at {format_time(c['valid_to'])}")
    if (c["kind"] == "amount" and c.get("amount") is None) or (
            c["kind"] == "discount" and c.get("rate") is None):
        return no("invalid", f"a coupon of kind {c['kind']} without its value")
    return None


def _scenario(lines: list[Line], active: list[Mapping], products: Mapping[str, Mapping],
              coupon: Mapping | None) -> Scenario:
    """Stages 2-5 of the module rules for one choice of coupon."""
    promos: list[Mapping] = []
    dropped: list[tuple[Mapping, str]] = []
    for p in active:
        if coupon is not None and not coupon.get("stackable", True):
            why = f"coupon {coupon['key']} does not stack with promotions"
        elif coupon is not None and not p.get("stackable_with_coupons", True):
            why = "does not stack with coupons"
        else:
            promos.append(p)
            continue
        if any(in_scope(p, line.product) for line in lines):
            dropped.append((p, why))
    # 2. discount promotions: the best rate per line, on the unit price
    new_lines: list[Line] = []
    for line in lines:
        best = None
        for p in promos:
            if p["kind"] == "discount" and p.get("rate") and in_scope(p, line.product) and (
                    best is None or p["rate"] < best["rate"]):
                best = p
        after = apply_rate(line.unit_price, best["rate"]) if best else line.unit_price
        new_lines.append(Line(line.product, line.quantity, after, best))
    applied: list[AppliedPromotion] = []
    for p in promos:
        if p["kind"] == "discount":
            mine = [x for x in new_lines if x.discount is p]
            if mine:
                applied.append(AppliedPromotion(
                    p, sum(x.amount - x.amount_after for x in mine),
                    sum(x.amount for x in mine)))
    # 3. full reductions and 4. gifts, on the in-scope amount after discounts
    after = sum(x.amount_after for x in new_lines)
    reductions = 0
    gifts: list[dict] = []
    hints: list[dict] = []
    for p in promos:
        scoped = [x for x in new_lines if in_scope(p, x.product)]
        if not scoped or p["kind"] == "discount":
            continue
        base = sum(x.amount_after for x in scoped)
        if p["kind"] == "full_reduction":
            tiers = sorted(p.get("tiers") or [], key=lambda t: t["threshold"])
            reached = [t for t in tiers if base >= t["threshold"]]
            if reached:
                off = min(reached[-1]["off"], base)
                reductions += off
                applied.append(AppliedPromotion(p, off, base, tier=reached[-1]))
            nxt = [t for t in tiers if base < t["threshold"]]
            if nxt:
                hints.append(_hint(p, nxt[0]["threshold"] - base,
                                   f"{yuan(nxt[0]['off'])} off"))
        elif p["kind"] == "gift" and p.get("gift"):
            g = p["gift"]
            gp = products.get(g["product"], {})
            if base >= g["threshold"]:
                line = {"product": g["product"], "title": gp.get("title"), "quantity": 1,
                        "price": 0, "promotion": p["key"]}
                gifts.append(line)
                applied.append(AppliedPromotion(p, 0, base, gift=line))
            else:
                hints.append(_hint(p, g["threshold"] - base,
                                   f"gift {gp.get('title') or g['product']}"))
    after_promotions = max(0, after - reductions)
    scn = Scenario(new_lines, applied, dropped, after_promotions, gifts, hints)
    if coupon is not None:
        scn.coupon = _coupon_on(coupon, after_promotions, sum(x.amount for x in lines))
    return scn


def _hint(p: Mapping, missing: int, reward: str) -> dict:
    return {"promotion": p["key"], "name": p["name"], "spend_more": format_money(missing),
            "for": reward}


def _coupon_on(c: Mapping, base: int, subtotal: int) -> CouponResult:
    """Coupon ``c`` on an order worth ``base`` after promotions."""
    threshold = c.get("threshold") or 0
    if base < threshold:
        before = f" ({yuan(subtotal)} before promotions)" if subtotal != base else ""
        return CouponResult(c, base, 0, "threshold",
                            f"threshold {yuan(threshold)} not reached: {yuan(base)} after "
                            f"promotions{before}")
    if c["kind"] == "amount":
        saving = min(c["amount"], base)
    else:
        saving = base - apply_rate(base, c["rate"])
    return CouponResult(c, base, saving)
