"""Product recommendations by the bot (#20 item 4): budgets read as customers write
them, up to three of the shop's own products on sale and in stock, priced after
discounts, refined by follow-ups in the same chat; an FAQ answer still wins for an FAQ
question. Through `bot ask --json`, the conversation (post_message), real HTTP and the
demo mall, on a catalogue of its own (a running shop) besides the demo's."""

from __future__ import annotations

import json

import pytest

from cstool.bot import recommend

from .kb_support import register_commands
from .server_support import serve

register_commands()

RUNNER = {
    "shops": [{"key": "runner", "name": "疾风跑步装备店", "service_mode": "bot_first"},
              {"key": "rival", "name": "别家运动店", "service_mode": "bot_first"}],
    "products": [
        {"key": "shoe-a", "shop": "runner", "title": "轻量缓震跑鞋男款", "category": "跑鞋",
         "price": 329, "stock": 50, "attributes": {"颜色": ["白色", "黑色"],
                                                   "尺码": ["40", "41", "42", "43"]}},
        {"key": "shoe-b", "shop": "runner", "title": "碳板竞速跑鞋", "category": "跑鞋",
         "price": 899, "stock": 10, "attributes": {"颜色": ["荧光绿"], "尺码": ["41", "42"]}},
        {"key": "shoe-c", "shop": "runner", "title": "入门透气跑鞋", "category": "跑鞋",
         "price": 199, "stock": 100, "attributes": {"颜色": ["黑色", "灰色"],
                                                    "尺码": ["39", "40", "41"]}},
        {"key": "shoe-d", "shop": "runner", "title": "专业马拉松跑鞋", "category": "跑鞋",
         "price": 299, "stock": 0, "attributes": {"颜色": ["白色"]}},
        {"key": "shoe-e", "shop": "runner", "title": "复古白色跑鞋", "category": "跑鞋",
         "price": 259, "stock": 100, "status": "off_shelf", "attributes": {"颜色": ["白色"]}},
        {"key": "shoe-f", "shop": "runner", "title": "女款缓震跑鞋", "category": "跑鞋",
         "price": 369, "stock": 30, "attributes": {"颜色": ["白色", "粉色"],
                                                   "尺码": ["36", "37", "38"]}},
        {"key": "tee", "shop": "runner", "title": "速干运动T恤夏季透气", "category": "运动服",
         "price": 89, "stock": 300, "attributes": {"颜色": ["白色", "蓝色"]}},
        {"key": "jacket", "shop": "runner", "title": "加绒保暖跑步外套", "category": "运动服",
         "price": 159, "stock": 40, "attributes": {"颜色": ["黑色"]}},
        {"key": "mat", "shop": "runner", "title": "TPE瑜伽垫加厚防滑", "category": "瑜伽",
         "price": 129, "stock": 60},
        {"key": "rival-shoe", "shop": "rival", "title": "缓震跑鞋白色", "category": "跑鞋",
         "price": 280, "stock": 500, "attributes": {"颜色": ["白色"]}},
    ],
    # 满300减50 on shoe-f's shop: 369 is 319 after it, inside "300左右" (240 to 360)
    "promotions": [{"key": "p-run", "shop": "runner", "name": "满300减50",
                    "kind": "full_reduction", "tiers": [{"threshold": 300, "off": 50}],
                    "products": ["shoe-f"]}],
    "customers": [{"key": "ann", "name": "安安", "profiles": [{"shop": "runner"}]},
                  {"key": "bo", "name": "小博", "profiles": [{"shop": "runner"}]}],
    "knowledge_entries": [
        {"key": "return-fee", "shop": "runner", "question": "退货运费谁出？",
         "similar": ["退货要自己付运费吗", "退货邮费谁承担"],
         "answer": "质量问题我们承担运费，七天无理由退货运费由买家承担。"},
        {"key": "ship", "shop": "runner", "question": "什么时候发货？",
         "similar": ["多久发货", "今天能发吗"], "answer": "48小时内发货。"},
    ],
}
SELLABLE = {"shoe-a", "shoe-b", "shoe-c", "shoe-f", "tee", "jacket", "mat"}


def keys(reply: dict) -> list[str]:
    """The product keys of a recommendation reply (bot ask's JSON or a message)."""
    products = reply.get("products")
    if products is None:
        products = (reply.get("payload") or {}).get("products") or []
    return [p["product"] for p in products]


@pytest.fixture
def runner_cli(cli, tmp_path):
    path = tmp_path / "runner.json"
    path.write_text(json.dumps(RUNNER, ensure_ascii=False), encoding="utf-8")
    cli.json("apply", "-f", str(path))
    return cli


# -- reading what is asked -------------------------------------------------------------------

@pytest.mark.parametrize("text, budget", [
    ("有没有适合夏天穿的裙子 200以内", (None, 20000, None)),
    ("推荐一款300左右的跑鞋", (24000, 36000, 30000)),
    ("三百左右", (24000, 36000, 30000)),
    ("預算三百左右的耳機", (24000, 36000, 30000)),
    ("100-200的", (10000, 20000, None)),
    ("一百到两百之间", (10000, 20000, None)),
    ("不超过150", (None, 15000, None)),
    ("1.5k以内", (None, 150000, None)),
    ("两千五以下的显示器", (None, 250000, None)),
    ("500元以上", (50000, None, None)),
    ("under 200", (None, 20000, None)),
    ("给一岁宝宝买什么奶粉好", (None, None, None)),
    ("37码的跑鞋", (None, None, None)),
])
def test_budgets_are_read_as_customers_write_them(text, budget):
    assert recommend.parse_budget(text)[:3] == budget


@pytest.mark.parametrize("text, months", [("给一岁宝宝买什么奶粉好", 12), ("一岁半", 18),
                                           ("8个月的宝宝", 8), ("新生儿用什么", 0),
                                           ("推荐跑鞋", None)])
def test_a_childs_age(text, months):
    assert recommend.parse_age(text) == months


@pytest.mark.parametrize("text, how", [
    ("推荐一款300左右的跑鞋", "strong"), ("降噪耳机哪个好", "strong"),
    ("有没有白色的跑鞋", "weak"), ("有白色的跑鞋吗", "weak"),
    ("这款有白色吗", None), ("退货运费谁出", None), ("我的订单到哪了", None),
])
def test_what_asks_for_products(text, how):
    assert recommend.intent(text) == how


# -- bot ask on the CLI ----------------------------------------------------------------------

def test_a_budget_recommendation_is_priced_after_discounts(runner_cli):
    r = runner_cli.json("bot", "ask", "推荐一款300左右的跑鞋", "--shop", "runner")
    assert (r["action"], r["reason"], r["flow"]["name"]) == ("answer", "recommend", "recommend")
    assert keys(r) == ["shoe-f", "shoe-a"]  # 319 after 满300减50 is nearer 300 than 329
    f = r["products"][0]
    assert (f["price"], f["price_after_discount"], f["saving"]) == (369, 319, 50)
    assert f["promotions"] == ["满300减50"]
    assert "女款缓震跑鞋 到手价¥319.00（原价¥369.00）" in r["text"]
    # Traditional characters and a written-out number ask the same
    t = runner_cli.json("bot", "ask", "推薦一款三百左右的跑鞋", "--shop", "runner")
    assert keys(t) == ["shoe-f", "shoe-a"]


@pytest.mark.parametrize("text", ["有没有白色的跑鞋", "跑鞋推荐", "有什么跑鞋 100-1000",
                                  "推荐一款不超过300的跑鞋", "推荐跑鞋 42码"])
def test_nothing_unsellable_and_nothing_of_another_shop(runner_cli, text):
    r = runner_cli.json("bot", "ask", text, "--shop", "runner")
    got = keys(r)
    assert got and set(got) <= SELLABLE and len(got) <= 3
    assert not {"shoe-d", "shoe-e", "rival-shoe"} & set(got)
    rival = runner_cli.json("bot", "ask", text, "--shop", "rival")
    assert set(keys(rival)) <= {"rival-shoe"}


def test_attributes_narrow_the_list(runner_cli):
    def ask(text):
        return keys(runner_cli.json("bot", "ask", text, "--shop", "runner"))

    assert ask("有没有白色的跑鞋") == ["shoe-a", "shoe-f"]  # in stock first
    assert ask("推荐跑鞋 42码") == ["shoe-a", "shoe-b"]
    assert ask("夏天跑步穿什么衣服好") == ["tee"]  # 夏季透气, not the fleece jacket
    assert ask("推荐一款200以内的跑鞋") == ["shoe-c"]


def test_faq_questions_still_get_their_answer(runner_cli):
    r = runner_cli.json("bot", "ask", "退货运费谁出", "--shop", "runner")
    assert r["entry"] == "return-fee" and r["reason"] != "recommend" and r["products"] == []


def test_nothing_of_the_kind_falls_to_the_knowledge_and_no_budget_fit_says_so(runner_cli):
    r = runner_cli.json("bot", "ask", "推荐一款降噪耳机", "--shop", "runner")
    assert r["reason"] != "recommend" and r["products"] == []
    r = runner_cli.json("bot", "ask", "推荐一款100以内的跑鞋", "--shop", "runner")
    assert (r["reason"], r["products"], r["flow"]["step"]) == ("recommend", [], "none")
    assert "¥100.00以内暂时没有合适的" in r["text"] and "¥199.00" in r["text"]


# -- the conversation: follow-ups refine the last list ---------------------------------------

def test_follow_ups_refine_the_last_list(backend):
    backend.apply(RUNNER)

    def say(customer, text):
        r = backend.post_message("runner", customer, text)
        return r["replies"][-1]

    first = say("ann", "推荐一款300左右的跑鞋")
    assert (first["sender"], first["kind"]) == ("bot", "product")
    assert keys(first) == ["shoe-f", "shoe-a"]
    assert first["payload"]["products"][0]["price_after_discount"] == 319
    assert keys(say("ann", "便宜点的")) == ["shoe-c"]  # below the cheapest shown (319)
    other = say("ann", "还有别的吗")
    assert keys(other) == [] and "只有这几款" in other["body"]
    faq = say("ann", "退货运费谁出")  # another question in between: the knowledge answers
    assert faq["payload"]["entry"] == "return-fee"

    assert keys(say("bo", "有没有跑鞋 不超过400")) == ["shoe-c", "shoe-a", "shoe-f"]
    assert keys(say("bo", "有白色吗")) == ["shoe-a", "shoe-f"]  # white ones of those
    assert keys(say("bo", "贵一点的")) == []  # no white one dearer than 329
    assert keys(say("bo", "1000以内的呢")) == ["shoe-a", "shoe-f"]  # a new budget, still white


# -- the API (real HTTP, a customer's token) -------------------------------------------------

def test_the_widget_api_posts_and_gets_the_cards(db_path, clock):
    served = serve(db_path, clock)
    try:
        served.backend.apply(RUNNER)
        token = served.customer_token("runner", "ann")
        res = served.http("POST", "/v1/shops/runner/messages", token,
                          json={"text": "有沒有白色的跑鞋"})
        assert res.status_code == 200, res.text
        reply = res.json()["replies"][-1]
        assert reply["kind"] == "product" and keys(reply) == ["shoe-a", "shoe-f"]
        assert reply["payload"]["products"][1]["price_after_discount"] == 319
    finally:
        served.close()


# -- the demo mall ---------------------------------------------------------------------------

def test_recommendations_on_the_demo_mall(cli):
    cli("fixtures", "load", "demo")

    def ask(text, shop):
        return cli.json("bot", "ask", text, "--shop", shop)

    r = ask("降噪耳机哪个好", "jikepai-digital")
    assert keys(r) == ["jk-earphone-001", "jk-earphone-003"]
    r = ask("给一岁宝宝买什么奶粉好", "mengbao-baby")
    assert set(keys(r)) == {"mb-formula-002", "mb-formula-004"}  # 3段 (12-36个月)
    r = ask("有没有适合夏天穿的裙子 200以内", "lingyi-fashion")
    assert keys(r) and all(k.startswith("lf-") for k in keys(r))
    assert all(p["price_after_discount"] <= 200 and "裙" in p["title"] for p in r["products"])
    r = ask("退货运费谁出", "lingyi-fashion")
    assert r["reason"] != "recommend"


# -- what kind of goods a request names (the pure ranker, on a catalogue of its own) -------------
CLOSET = [
    {"key": k, "title": title, "category": cat, "price": price, "stock": 10,
     "status": "on_sale"}
    for k, title, cat, price in [
        ("sweater", "粗针麻花套头毛衣", "针织衫", 19900),
        ("knit-dress", "针织毛衣连衣裙", "连衣裙", 25900),
        ("hoodie", "连帽卫衣", "卫衣", 15900),
        ("chiffon", "雪纺碎花连衣裙", "连衣裙", 29900),
        ("wool-coat", "羊毛呢大衣", "外套", 99900),
        ("wool-skirt", "羊毛呢半身裙", "半身裙", 19900),
        ("velvet", "丝绒长袖连衣裙礼服", "连衣裙", 45900),
        ("run-jacket", "跑步防风外套", "外套", 39900),
        ("run-tee", "跑步速干T恤夏季", "T恤", 9900),
        ("case", "磁吸手机壳", "手机配件", 5900),
        ("film", "手机钢化膜", "手机配件", 3900),
        ("cap", "棒球帽", "帽子", 7900),
    ]]


def closet(text):
    res = recommend.rank(recommend.parse(text), CLOSET, lambda key: None, limit=5)
    return sorted(p.product["key"] for p in res.picks)


@pytest.mark.parametrize(("text", "want"), [
    # a word the titles use names the kind; its 衣 is not 连衣裙's (a category's head)
    ("有没有适合秋天穿的毛衣", {"sweater", "knit-dress"}),
    # the head noun comes last: 跑步 is what the clothes are for, 衣服 the kind
    ("夏天跑步穿什么衣服好", {"run-tee"}),
    # 衣服 is every kind of clothes; the attribute picks among them
    ("有没有羊毛的衣服", {"wool-coat", "wool-skirt"}),
    # 子 of 裙子 is a suffix, not 帽子's head
    ("有没有裙子推荐", {"knit-dress", "chiffon", "velvet", "wool-skirt"}),
    # 壳 beside the category's word narrows 手机配件 to the case
    ("手机壳有什么推荐", {"case"}),
    # a word before 裙子 (its suffix) or one character before the head keeps the kind
    ("推荐约会裙子", {"knit-dress", "chiffon", "velvet", "wool-skirt"}),
    ("有没有长裙", {"knit-dress", "chiffon", "velvet", "wool-skirt"}),
])
def test_the_kind_a_request_names(text, want):
    assert set(closet(text)) == want


@pytest.mark.parametrize("text", [
    "孕妇睡觉用的枕头推荐",  # 枕头 sold nowhere: 孕妇 of a title is only what it is for
    "有没有适合夏天戴的墨镜",
    # a word ending in a category's head character is its own kind: 防晒衣 and 冲锋衣 are
    # not the 毛衣 / 外套 of the closet (衣 ends categories there)
    "有没有防晒衣",
    "冲锋衣推荐一款",
])
def test_a_kind_the_shop_does_not_sell_finds_nothing(text):
    shop = [*CLOSET, {"key": "belly", "title": "孕妇托腹打底裤", "category": "孕产",
                      "price": 7900, "stock": 5, "status": "on_sale"}]
    res = recommend.rank(recommend.parse(text), shop, lambda key: None, limit=5)
    assert res.picks == [] and res.why == "no_type"


def test_the_kind_when_the_shop_sells_it():
    shop = [*CLOSET, {"key": "sun", "title": "冰丝防晒衣女夏季", "category": "外套",
                      "price": 12900, "stock": 5, "status": "on_sale"},
            {"key": "pillow", "title": "孕妇护腰侧睡枕头", "category": "孕产",
             "price": 15900, "stock": 5, "status": "on_sale"}]

    def kinds(text):
        res = recommend.rank(recommend.parse(text), shop, lambda key: None, limit=5)
        return sorted(p.product["key"] for p in res.picks)

    assert kinds("防晒衣推荐一下") == ["sun"]
    assert kinds("孕妇睡觉用的枕头推荐") == ["pillow"]


PUMPS = [
    {"key": k, "title": title, "category": cat, "price": price, "stock": 10,
     "status": "on_sale"}
    for k, title, cat, price in [
        ("pump", "电动双边吸奶器静音", "孕产", 59900),
        ("warmer", "恒温调奶器智能冲奶机", "喂养用品", 19900),
        ("anc", "主动降噪真无线蓝牙耳机", "耳机", 39900),
        ("anc-head", "头戴式降噪耳机", "耳机", 69900),
        ("wired", "Type-C有线耳机", "耳机", 3900),
    ]]


@pytest.mark.parametrize(("first", "shown"), [
    ("吸奶器推荐一下", ["pump"]),  # 吸奶器 as a whole, not the 奶器 调奶器 shares
    ("降噪耳机哪个好", ["anc", "anc-head"]),
])
def test_cheaper_never_trades_the_kind_or_the_feature_asked(first, shown):
    ask = recommend.parse(first)
    res = recommend.rank(ask, PUMPS, lambda key: None)
    assert [p.product["key"] for p in res.picks] == shown
    prev = {**ask.to_dict(), "shown": shown, "prices": [p.total for p in res.picks]}
    cheaper = recommend.refine(prev, "便宜点的", prev["prices"])
    res = recommend.rank(cheaper, PUMPS, lambda key: None, keep_features=True)
    assert res.picks == []  # nothing cheaper of that kind with that feature
