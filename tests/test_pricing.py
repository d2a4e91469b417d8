"""Prices after stacking, to the cent: tiers, discount before full reduction, scopes,
coupon thresholds after promotions, what does not stack, rounding, gifts, unusable
coupons, the best coupon; then quotes and invitations through the Local backend and
the CLI."""

from __future__ import annotations

import pytest

from cstool import pricing
from cstool.errors import Conflict, InvalidInput, NotFound
from cstool.values import parse_money, parse_time

NOW = parse_time("2026-11-20T10:00:00+08:00")
DAY = 86_400_000


# -- records in the internal form ------------------------------------------------------------

def product(key, price, category=None, *, shop="s", status="on_sale", title=None):
    return {"key": key, "shop": shop, "title": title or key, "category": category,
            "price": parse_money(price), "status": status, "stock": 10}


def promo(key, kind, *, products=(), categories=(), stack=True, starts=NOW - DAY,
          ends=NOW + DAY, **kw):
    return {"key": key, "shop": "s", "name": kw.pop("name", key), "kind": kind,
            "tiers": None, "rate": None, "gift": None, "products": list(products),
            "categories": list(categories), "starts_at": starts, "ends_at": ends,
            "stackable_with_coupons": stack, **kw}


def full(key, *tiers, **kw):
    return promo(key, "full_reduction", tiers=[
        {"threshold": parse_money(t), "off": parse_money(o)} for t, o in tiers], **kw)


def disc(key, rate, **kw):
    return promo(key, "discount", rate=rate, **kw)


def gift(key, threshold, item, **kw):
    return promo(key, "gift", gift={"threshold": parse_money(threshold), "product": item}, **kw)


def coupon(key, *, amount=None, rate=None, threshold=0, shop="s", stackable=True,
           valid_from=NOW - DAY, valid_to=NOW + DAY):
    return {"key": key, "shop": shop, "name": key, "kind": "amount" if rate is None else
            "discount", "amount": None if amount is None else parse_money(amount), "rate": rate,
            "threshold": parse_money(threshold), "valid_from": valid_from,
            "valid_to": valid_to, "stackable": stackable}


def price(items, products, promos=(), coupons=(), *, held=None, use=None, at=NOW):
    """Quote in shop s; ``held`` is a list of coupon keys (or dicts), ``use`` a named one."""
    if held is not None:
        held = [h if isinstance(h, dict) else {"coupon": h, "used_at": None} for h in held]
    return pricing.quote("s", items, {p["key"]: p for p in products}, list(promos),
                         {c["key"]: c for c in coupons}, at, held=held,
                         coupon=use).to_external()


def saving_of(q, key):
    return next(p["saving"] for p in q["promotions"] if p["key"] == key)


# -- promotions -------------------------------------------------------------------------------

def test_full_reduction_takes_the_highest_tier_reached_once():
    coat = product("coat", 350)
    p = full("1111", (300, 50), (600, 110), (900, 180))
    assert price([("coat", 1)], [coat], [p])["total"] == 300
    two = price([("coat", 2)], [coat], [p])
    assert (two["subtotal"], two["total"]) == (700, 590)
    assert two["promotions"][0]["tier"] == {"threshold": 600, "off": 110}
    assert two["hints"] == [{"promotion": "1111", "name": "1111", "spend_more": 200,
                             "for": "¥180.00 off"}]
    # 满, not 每满: ¥1400 gets the top tier once, not 180 + 50
    assert price([("coat", 4)], [coat], [p])["total"] == 1220
    below = price([("coat", 1)], [product("coat", 299.99)], [p])
    assert below["total"] == 299.99 and below["promotions"] == []
    assert below["hints"][0]["spend_more"] == 0.01


def test_discount_promotion_comes_before_full_reduction():
    p = [disc("autumn", 0.85, categories=["外套"]), full("m300", (300, 50))]
    q = price([("coat", 2)], [product("coat", 200, "外套")], p)
    # 400 x 0.85 = 340, which reaches 300: -50 (the other order would give 297.50)
    assert (q["subtotal"], q["after_promotions"], q["total"]) == (400, 290, 290)
    assert [(x["key"], x["saving"]) for x in q["promotions"]] == [("autumn", 60), ("m300", 50)]
    # the discount takes the order below the threshold: no reduction
    q = price([("coat", 2)], [product("coat", 175, "外套")], p)
    assert q["total"] == 297.5 and [x["key"] for x in q["promotions"]] == ["autumn"]
    assert q["hints"][0]["spend_more"] == 2.5


def test_the_best_discount_promotion_applies_they_do_not_multiply():
    p = [disc("a", 0.9), disc("b", 0.8, products=["coat"])]
    q = price([("coat", 1), ("hat", 1)], [product("coat", 100), product("hat", 100)], p)
    assert [(x["product"], x["promotion"], x["amount_after"]) for x in q["lines"]] == [
        ("coat", "b", 80), ("hat", "a", 90)]
    assert q["total"] == 170


def test_category_and_product_scopes():
    products = [product("coat", 300, "外套"), product("dress", 200, "连衣裙"),
                product("tee", 50, "T恤")]
    p = [disc("coats", 0.8, categories=["外套"]),
         full("dresses", (400, 60), categories=["连衣裙"], products=["tee"])]
    # the reduction counts only dresses and the tee: 200 + 50 < 400 although the order is 490
    q = price([("coat", 1), ("dress", 1), ("tee", 1)], products, p)
    assert (q["subtotal"], q["total"]) == (550, 490)
    assert [x["key"] for x in q["promotions"]] == ["coats"]
    q = price([("coat", 1), ("dress", 2)], products, p)
    assert (q["subtotal"], q["total"]) == (700, 240 + 400 - 60)
    assert saving_of(q, "dresses") == 60 and saving_of(q, "coats") == 60
    assert next(x for x in q["promotions"] if x["key"] == "dresses")["base"] == 400


def test_promotion_and_coupon_windows():
    coat = product("coat", 100)
    ends_now = disc("ended", 0.5, ends=NOW)
    starts_now = disc("started", 0.9, starts=NOW)
    assert price([("coat", 1)], [coat], [ends_now, starts_now])["total"] == 90
    last_second = coupon("c", amount=5, valid_to=NOW)
    q = price([("coat", 1)], [coat], [], [last_second], held=["c"])
    assert q["coupon"]["key"] == "c" and q["total"] == 95


def test_gift_line_when_the_threshold_is_reached():
    products = [product("coat", 399, "外套"), product("scarf", 129, "配饰", title="羊毛围巾")]
    g = gift("scarf-gift", 399, "scarf", categories=["外套"])
    q = price([("coat", 1)], products, [g])
    assert q["gifts"] == [{"product": "scarf", "title": "羊毛围巾", "quantity": 1, "price": 0,
                           "promotion": "scarf-gift"}]
    assert q["total"] == 399 and saving_of(q, "scarf-gift") == 0
    short = price([("coat", 1)], [product("coat", 398.99, "外套"), products[1]], [g])
    assert short["gifts"] == [] and short["hints"][0]["spend_more"] == 0.01
    # measured after the discount promotion: 450 x 0.85 = 382.50 < 399
    q = price([("coat", 1)], [product("coat", 450, "外套"), products[1]],
              [g, disc("d", 0.85)])
    assert q["gifts"] == [] and q["total"] == 382.5
    # out of scope items do not count
    assert price([("scarf", 4)], products, [g])["gifts"] == []


# -- coupons ---------------------------------------------------------------------------------

def test_coupon_threshold_is_measured_after_promotions():
    item = product("coat", 210)
    c = coupon("c200", amount=20, threshold=200)
    q = price([("coat", 1)], [item], [full("m199", (199, 20))], [c], held=["c200"])
    assert q["total"] == 190 and q["coupon"] is None
    assert q["coupons_not_usable"] == [{
        "coupon": "c200", "name": "c200", "reason": "threshold",
        "detail": "threshold ¥200.00 not reached: ¥190.00 after promotions "
                  "(¥210.00 before promotions)"}]
    with pytest.raises(Conflict, match="coupon 'c200' cannot be used: threshold ¥200.00"):
        price([("coat", 1)], [item], [full("m199", (199, 20))], [c], held=["c200"], use="c200")
    # without the promotion the threshold is met
    assert price([("coat", 1)], [item], [], [c], held=["c200"])["total"] == 190


def test_non_stackable_coupon_or_promotions_whichever_is_cheaper():
    vip = coupon("vip", rate=0.92, stackable=False)
    p = [full("m300", (300, 50))]
    # ¥350: the promotion gives 300, the coupon alone 322 -> no coupon
    q = price([("coat", 1)], [product("coat", 350)], p, [vip], held=["vip"])
    assert (q["total"], q["coupon"]) == (300, None)
    assert q["coupons_not_chosen"] == [{
        "coupon": "vip", "name": "vip", "total": 322,
        "detail": "total ¥322.00 with it, ¥300.00 without a coupon"}]
    assert q["notes"] == ["no coupon: none of the usable coupons lowers the total"]
    # ¥1000: the promotion gives 950, the coupon alone 920 -> the coupon, promotion left out
    q = price([("coat", 1)], [product("coat", 1000)], p, [vip], held=["vip"])
    assert q["total"] == 920 and q["coupon"]["key"] == "vip" and q["coupon"]["saving"] == 80
    assert q["promotions"] == []
    assert q["promotions_left_out"] == [
        {"key": "m300", "name": "m300", "reason": "coupon vip does not stack with promotions"}]
    # named, it is used as asked, and the quote says it costs more
    q = price([("coat", 1)], [product("coat", 350)], p, [vip], held=["vip"], use="vip")
    assert q["total"] == 322 and q["coupon"]["chosen"] == "named"
    assert q["notes"] == ["without coupon vip the total would be ¥300.00, ¥22.00 less "
                          "(with it, left out: m300)"]


def test_promotion_that_does_not_stack_with_coupons():
    p = [disc("flash", 0.9, stack=False)]
    item = product("coat", 200)
    q = price([("coat", 1)], [item], p, [coupon("c10", amount=10)], held=["c10"])
    assert q["total"] == 180 and q["coupon"] is None  # 180 beats 190
    q = price([("coat", 1)], [item], p, [coupon("c30", amount=30)], held=["c30"])
    assert q["total"] == 170 and q["coupon"]["key"] == "c30"
    assert q["promotions_left_out"] == [
        {"key": "flash", "name": "flash", "reason": "does not stack with coupons"}]
    # a tie keeps the coupon for later
    q = price([("coat", 1)], [item], p, [coupon("c20", amount=20)], held=["c20"])
    assert q["total"] == 180 and q["coupon"] is None


def test_discount_coupon_rounds_half_up_on_the_fen():
    assert pricing.apply_rate(9999, 0.85) == 8499  # 8499.15
    assert pricing.apply_rate(9970, 0.85) == 8475  # 8474.5: half up, not to even
    assert pricing.apply_rate(10, 0.85) == 9  # 8.5
    c = coupon("d85", rate=0.85)
    q = price([("x", 1)], [product("x", 99.99)], [], [c], held=["d85"])
    assert (q["total"], q["coupon"]["saving"]) == (84.99, 15)
    q = price([("x", 1)], [product("x", 99.70)], [], [c], held=["d85"])
    assert (q["total"], q["coupon"]["saving"]) == (84.75, 14.95)


def test_quantity_rounds_the_discounted_unit_price_then_multiplies():
    q = price([("x", 3)], [product("x", 99.70)], [disc("d", 0.85)])
    # unit 84.745 -> 84.75, x3 = 254.25 (rounding the line would give 254.24)
    assert q["lines"][0]["unit_price_after"] == 84.75
    assert (q["subtotal"], q["total"], q["saving"]) == (299.1, 254.25, 44.85)
    # the same product twice is one line
    q = price([("x", 1), ("x", 2)], [product("x", 99.70)], [disc("d", 0.85)])
    assert len(q["lines"]) == 1 and q["lines"][0]["quantity"] == 3 and q["total"] == 254.25


def test_never_below_zero():
    q = price([("x", 1)], [product("x", 30)], [], [coupon("c50", amount=50)], held=["c50"])
    assert (q["total"], q["coupon"]["saving"]) == (0, 30)
    q = price([("x", 1)], [product("x", 30)], [full("free", (0, 100))])
    assert q["total"] == 0 and q["promotions"][0]["saving"] == 30


def test_unusable_coupons_say_why():
    coupons = [coupon("old", amount=50, valid_to=NOW - 1),
               coupon("soon", amount=50, valid_from=NOW + DAY),
               coupon("theirs", amount=50, shop="other"),
               coupon("spent", amount=50), coupon("ok", amount=5)]
    held = ["old", "soon", "theirs", {"coupon": "spent", "used_at": NOW - DAY}, "ok"]
    q = price([("x", 1)], [product("x", 100)], [], coupons, held=held)
    assert q["coupon"]["key"] == "ok" and q["total"] == 95
    assert [(r["coupon"], r["reason"], r["detail"]) for r in q["coupons_not_usable"]] == [
        ("old", "expired", "expired at 2026-11-20T09:59:59.999+08:00"),
        ("soon", "not_started", "valid from 2026-11-21T10:00:00+08:00"),
        ("theirs", "other_shop", "a coupon of shop 'other'"),
        ("spent", "used", "used already"),
    ]
    for key, why in (("old", "expired"), ("theirs", "shop 'other'"), ("spent", "used already")):
        with pytest.raises(Conflict, match=f"coupon '{key}' cannot be used: .*{why}"):
            price([("x", 1)], [product("x", 100)], [], coupons, held=held, use=key)


def test_best_coupon_for_the_customer():
    coupons = [coupon("free10", amount=10), coupon("m200", amount=20, threshold=200),
               coupon("m300", amount=40, threshold=300), coupon("d90", rate=0.9),
               coupon("vip95", rate=0.95, stackable=False)]
    q = price([("x", 1)], [product("x", 250)], [], coupons, held=[c["key"] for c in coupons])
    # 240, 230, not usable, 225, 237.50 -> d90
    assert q["coupon"]["key"] == "d90" and q["coupon"]["chosen"] == "best"
    assert q["total"] == 225
    assert sorted((r["coupon"], r["total"]) for r in q["coupons_not_chosen"]) == [
        ("free10", 240), ("m200", 230), ("vip95", 237.5)]
    assert [r["coupon"] for r in q["coupons_not_usable"]] == ["m300"]
    # equal savings: the one that expires first
    twins = [coupon("late", amount=20, valid_to=NOW + 9 * DAY),
             coupon("early", amount=20, valid_to=NOW + 2 * DAY)]
    q = price([("x", 1)], [product("x", 250)], [], twins, held=["late", "early"])
    assert q["coupon"]["key"] == "early"


def test_without_a_customer_only_a_named_coupon_applies():
    c = coupon("c10", amount=10)
    assert price([("x", 1)], [product("x", 100)], [], [c])["total"] == 100
    assert price([("x", 1)], [product("x", 100)], [], [c], use="c10")["total"] == 90


def test_bad_input_is_refused_clearly():
    items = [product("x", 100), product("gone", 10, status="off_shelf"),
             product("elsewhere", 10, shop="other")]
    with pytest.raises(NotFound, match="no product 'nope' in shop 's'"):
        price([("nope", 1)], items)
    with pytest.raises(NotFound, match="no product 'elsewhere' in shop 's'"):
        price([("elsewhere", 1)], items)
    with pytest.raises(InvalidInput, match="quantity of 'x' must be at least 1, got 0"):
        price([("x", 0)], items)
    with pytest.raises(InvalidInput, match="at most 100000"):
        price([("x", 100_001)], items)
    with pytest.raises(InvalidInput, match="at least one item"):
        price([], items)
    with pytest.raises(Conflict, match="product 'gone' is off the shelf"):
        price([("gone", 1)], items)
    with pytest.raises(Conflict, match="does not hold coupon 'c10'"):
        price([("x", 1)], items, [], [coupon("c10", amount=10)], held=[], use="c10")
    with pytest.raises(NotFound, match="no coupon 'c99'"):
        price([("x", 1)], items, [], [], held=[], use="c99")


# -- through the Local backend -----------------------------------------------------------------

T = "2026-11-20T10:00:00+08:00"
SHOP = {
    "shops": [{"key": "s", "name": "翎衣女装"}, {"key": "t", "name": "别家"}],
    "agents": [{"handle": "mei", "name": "小美", "shops": ["s"]},
               {"handle": "jie", "name": "阿杰", "shops": ["s"]}],
    "products": [
        {"key": "coat", "shop": "s", "title": "羊毛大衣", "category": "外套", "price": 329},
        {"key": "scarf", "shop": "s", "title": "羊毛围巾", "category": "配饰", "price": 129},
        {"key": "other-coat", "shop": "t", "title": "别家大衣", "price": 100},
    ],
    "promotions": [
        {"key": "m300", "shop": "s", "name": "满300减50", "kind": "full_reduction",
         "tiers": [{"threshold": 300, "off": 50}, {"threshold": 600, "off": 110}],
         "starts_at": "2026-11-01T00:00:00+08:00",
         # far off: the CLI test below reads the real clock
         "ends_at": "2099-12-01T00:00:00+08:00"},
        {"key": "gift", "shop": "s", "name": "满500赠围巾", "kind": "gift",
         "gift": {"threshold": 500, "product": "scarf"}, "categories": ["外套"]},
        {"key": "old", "shop": "s", "name": "已结束8折", "kind": "discount", "rate": 0.8,
         "ends_at": "2026-11-12T00:00:00+08:00"},
    ],
    "coupons": [
        {"key": "c200", "shop": "s", "name": "满200减20", "kind": "amount", "amount": 20,
         "threshold": 200},
        {"key": "c500", "shop": "s", "name": "满500减60", "kind": "amount", "amount": 60,
         "threshold": 500},
        {"key": "vip", "shop": "s", "name": "会员92折", "kind": "discount", "rate": 0.92,
         "stackable": False},
        {"key": "t10", "shop": "t", "name": "别家10元", "kind": "amount", "amount": 10},
        {"key": "gone", "shop": "s", "name": "已过期", "kind": "amount", "amount": 100,
         "valid_to": "2026-11-11T23:59:59+08:00"},
    ],
    "customers": [{"key": "lin", "name": "林女士",
                   "profiles": [{"shop": "s"}, {"shop": "t"}], "coupons": [
        {"coupon": "c200"}, {"coupon": "c500"}, {"coupon": "vip"}, {"coupon": "t10"},
        {"coupon": "gone"}, ]}],
}


@pytest.fixture
def shop(backend):
    backend.apply(SHOP)
    return backend


def test_price_quote_through_the_backend(shop):
    q = shop.price_quote("s", [("coat", 2)], customer="lin")
    # 658 -> 满300减50 tier 600: 548 -> best: 满500减60 (488) vs 满200减20 (528)
    # vs 92折 alone (605.36) -> c500; 658 >= 500 in 外套: the scarf
    assert (q["subtotal"], q["after_promotions"], q["total"]) == (658, 548, 488)
    assert [(p["key"], p["saving"]) for p in q["promotions"]] == [("gift", 0), ("m300", 110)]
    assert q["coupon"]["key"] == "c500" and q["coupon"]["saving"] == 60
    assert q["gifts"] == [{"product": "scarf", "title": "羊毛围巾", "quantity": 1, "price": 0,
                           "promotion": "gift"}]
    # t10, held in shop t, is not this shop's to show (issue 16 N1)
    assert {r["coupon"]: r["reason"] for r in q["coupons_not_usable"]} == {"gone": "expired"}
    with pytest.raises(NotFound, match="^no coupon 't10'$"):  # not this shop's
        shop.price_quote("s", [("coat", 1)], customer="lin", coupon="t10")
    assert q["customer"] == "lin" and q["at"] == T
    # items as dicts; a time in the past when the 8折 still ran
    q = shop.price_quote("s", [{"product": "coat"}], at="2026-11-10T10:00:00+08:00")
    assert q["total"] == 263.2 and q["coupon"] is None
    assert shop.price_quote("s", [("coat", 1)], coupon="c200")["total"] == 259
    with pytest.raises(NotFound, match="no customer 'zz'"):
        shop.price_quote("s", [("coat", 1)], customer="zz")
    with pytest.raises(NotFound, match="no shop 'zz'"):
        shop.price_quote("zz", [("coat", 1)])
    with pytest.raises(NotFound, match="no product 'other-coat' in shop 's'"):
        shop.price_quote("s", [("other-coat", 1)])
    with pytest.raises(InvalidInput, match="at:"):
        shop.price_quote("s", [("coat", 1)], at="someday")


def chat(backend) -> int:
    """Lin writes to shop s; mei comes online and is assigned."""
    conv = backend.post_message("s", "lin", "这件大衣有优惠吗")["conversation"]
    assert conv["assignee"] is None
    backend.set_agent_status("mei", "online")
    assert backend.get_conversation(conv["id"], messages=False)["assignee"] == "mei"
    return conv["id"]


def test_invitation_is_stored_with_its_card(shop):
    cid = chat(shop)
    before = shop.events(limit=1000)[-1]["id"]
    msg = shop.invite(cid, "mei", "coat", 2)
    card = {
        "item": {"product": "coat", "title": "羊毛大衣", "category": "外套"},
        "quantity": 2, "unit_price": 329, "unit_price_after_discount": 329, "subtotal": 658,
        "promotions": [
            {"key": "gift", "name": "满500赠围巾", "kind": "gift", "saving": 0},
            {"key": "m300", "name": "满300减50", "kind": "full_reduction", "saving": 110}],
        "after_promotions": 548,
        "coupon": {"key": "c500", "name": "满500减60", "kind": "amount", "saving": 60},
        "gifts": [{"product": "scarf", "title": "羊毛围巾", "quantity": 1, "price": 0,
                   "promotion": "gift"}],
        "total": 488, "saving": 170, "quoted_at": T,
    }
    body = ("邀请您下单：羊毛大衣 ×2，券后价 ¥488.00（原价 ¥658.00，立省 ¥170.00；"
            "已享满300减50；用券「满500减60」；赠羊毛围巾）")
    assert (msg["kind"], msg["sender"], msg["agent"], msg["body"]) == (
        "invitation", "agent", "mei", body)
    stored = shop.get_conversation(cid)["messages"][-1]
    assert (stored["id"], stored["kind"], stored["body"], stored["payload"]) == (
        msg["id"], "invitation", body, card)
    events = [(e["type"], e["payload"]) for e in shop.events(after=before)]
    assert events == [
        ("message.created", {"message": msg["id"], "sender": "agent", "kind": "invitation"}),
        ("invitation.sent", {"message": msg["id"], "agent": "mei", "product": "coat",
                             "quantity": 2, "coupon": "c500", "total": 488}),
    ]
    assert shop.get_conversation(cid, messages=False)["first_agent_reply_at"] == T
    # a named coupon; one item without a coupon threshold met
    msg = shop.invite(cid, "mei", "coat", coupon="c200")
    assert msg["body"] == ("邀请您下单：羊毛大衣 ×1，券后价 ¥259.00（原价 ¥329.00，立省 ¥70.00；"
                           "已享满300减50；用券「满200减20」）")
    assert msg["payload"]["coupon"]["key"] == "c200"


def test_invite_refuses_bad_requests_and_stores_nothing(shop):
    cid = chat(shop)
    count = len(shop.get_conversation(cid)["messages"])
    with pytest.raises(Conflict, match="not assigned to them"):
        shop.invite(cid, "jie", "coat")
    with pytest.raises(NotFound, match="no product 'nope' in shop 's'"):
        shop.invite(cid, "mei", "nope")
    with pytest.raises(NotFound, match="no product 'other-coat' in shop 's'"):
        shop.invite(cid, "mei", "other-coat")
    with pytest.raises(InvalidInput, match="at least 1, got 0"):
        shop.invite(cid, "mei", "coat", 0)
    with pytest.raises(NotFound, match="no coupon 'nothere'"):
        shop.invite(cid, "mei", "coat", coupon="nothere")
    shop.apply({"coupons": [{"key": "c5", "shop": "s", "name": "5元", "kind": "amount",
                             "amount": 5}]})
    with pytest.raises(Conflict, match="the customer does not hold coupon 'c5'"):
        shop.invite(cid, "mei", "coat", coupon="c5")
    with pytest.raises(Conflict, match="coupon 'gone' cannot be used: expired"):
        shop.invite(cid, "mei", "coat", coupon="gone")
    with pytest.raises(NotFound, match="no conversation 999"):
        shop.invite(999, "mei", "coat")
    assert len(shop.get_conversation(cid)["messages"]) == count


def test_price_and_invite_cli(cli, backend):
    backend.apply(SHOP)
    cid = chat(backend)
    q = cli.json("price", "quote", "--shop", "s", "--item", "coat:2", "--item", "scarf",
                 "--customer", "lin")
    assert (q["subtotal"], q["total"]) == (787, 787 - 110 - 60)
    human = cli("price", "quote", "--shop", "s", "--item", "coat:2", "--customer", "lin")
    assert human.exit_code == 0, human.output
    assert "total           ¥488.00" in human.stdout and "not usable      gone" in human.stdout
    assert "t10" not in human.stdout
    msg = cli.json("conv", "invite", str(cid), "--agent", "mei", "--product", "coat",
                   "--quantity", "2")
    assert msg["kind"] == "invitation" and msg["payload"]["total"] == 488
    r = cli("price", "quote", "--shop", "s", "--item", "coat:two")
    assert r.exit_code == 2 and "PRODUCT:QUANTITY" in r.output
    r = cli("conv", "invite", str(cid), "--agent", "mei", "--product", "coat", "--quantity", "0")
    assert r.exit_code == 1 and "Error: quantity of 'coat' must be at least 1" in r.output


def test_a_coupon_card_is_refused_outside_the_coupons_validity(shop):
    cid = chat(shop)
    with pytest.raises(Conflict, match="coupon 'gone' expired at 2026-11-11"):
        shop.send_card("mei", cid, "coupon", "gone")
    shop.apply({"coupons": [{"key": "later", "shop": "s", "name": "双12券", "kind": "amount",
                             "amount": 12, "valid_from": "2026-12-12T00:00:00+08:00"}]})
    with pytest.raises(Conflict, match="valid only from 2026-12-12"):
        shop.send_card("mei", cid, "coupon", "later")
    shop.apply({"coupons": [{"key": "c5", "shop": "s", "name": "5元", "kind": "amount",
                             "amount": 5}]})
    assert shop.send_card("mei", cid, "coupon", "c5")["kind"] == "coupon"
