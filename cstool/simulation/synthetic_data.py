"""Large deterministic synthetic data: the same seed always gives the same rows.

Small kinds (shops, groups, agents, products) come as external records for
``Backend.apply``; customers and orders come as internal-form records for the fast
``Backend.bulk_load`` path, in a stream so memory stays flat.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬辉鑫宇浩然子涵欣"
    "怡梓轩诗琪晨阳思远雨萱佳琪一诺博文"
)
REGIONS = [
    "浙江杭州",
    "浙江宁波",
    "江苏南京",
    "江苏苏州",
    "上海",
    "北京",
    "广东广州",
    "广东深圳",
    "四川成都",
    "湖北武汉",
    "湖南长沙",
    "福建厦门",
    "山东青岛",
    "河南郑州",
    "陕西西安",
    "重庆",
    "天津",
    "辽宁沈阳",
    "安徽合肥",
    "云南昆明",
    "江西南昌",
    "广西南宁",
]
CHANNELS = ["app", "app", "app", "mini_program", "mini_program", "h5", "pc", "web"]
TAGS = ["new", "returning", "vip", "price_sensitive", "risk", "complained", "student"]
CATEGORIES = {
    "fashion": ["连衣裙", "T恤", "卫衣", "牛仔裤", "羽绒服", "针织衫", "半身裙", "风衣"],
    "baby": ["奶粉", "纸尿裤", "湿巾", "婴儿推车", "奶瓶", "辅食", "童装", "玩具"],
    "digital": ["手机", "耳机", "充电宝", "平板", "智能手表", "数据线", "键盘", "音箱"],
}
ADJECTIVES = ["新款", "爆款", "旗舰", "轻薄", "加厚", "经典", "升级版", "限定", "官方正品", "热卖"]
CARRIERS = ["顺丰速运", "中通快递", "圆通速递", "韵达快递", "京东物流", "申通快递", "极兔速递"]
STATUSES = [
    ("delivered", 46),
    ("shipped", 14),
    ("paid", 12),
    ("created", 10),
    ("cancelled", 8),
    ("refund_requested", 4),
    ("refunded", 6),
]
START_MS = 1_754_006_400_000  # 2025-08-01T00:00:00Z
SPAN_MS = 110 * 86_400_000
HOUR = 3_600_000


@dataclass(frozen=True)
class Plan:
    """What to generate."""

    shops: int = 3
    customers: int = 1000
    orders: int = 2000
    seed: int = 1
    prefix: str = ""
    products_per_shop: int = 40
    agents_per_shop: int = 8

    @property
    def p(self) -> str:
        """The key prefix (default ``g<seed>``)."""
        return self.prefix or f"g{self.seed}"

    def shop_key(self, i: int) -> str:
        """Key of shop ``i``."""
        return f"{self.p}-shop-{i:03d}"

    def home_shop(self, customer: int) -> int:
        """The shop a customer first dealt with (and orders from)."""
        return customer % self.shops

    def customer_key(self, i: int) -> str:
        """Key of customer ``i``."""
        return f"{self.p}-c{i:08d}"

    def product_key(self, shop: int, i: int) -> str:
        """Key of product ``i`` of shop ``shop``."""
        return f"{self.p}-s{shop:03d}-p{i:05d}"


def base_document(plan: Plan) -> dict[str, list[dict]]:
    """Shops, groups, agents and products (external form, for ``apply``)."""
    rnd = random.Random(f"{plan.seed}-base")
    kinds = list(CATEGORIES)
    doc: dict[str, list[dict]] = {"shops": [], "groups": [], "agents": [], "products": []}
    for s in range(plan.shops):
        key = plan.shop_key(s)
        family = kinds[s % len(kinds)]
        doc["shops"].append(
            {
                "key": key,
                "name": f"{rnd.choice(SURNAMES)}氏{['服饰', '母婴', '数码'][s % 3]}旗舰店{s + 1}号",
                "service_mode": rnd.choice(["bot_first", "human_first"]),
            }
        )
        groups = []
        teams = [
            ("presale", "售前组"),
            ("aftersale", "售后组"),
            ("logistics", "物流组"),
            ("vip", "VIP组"),
        ]
        for g, (kind, label) in enumerate(teams):
            gkey = f"{key}-g{g}"
            groups.append(gkey)
            doc["groups"].append({"key": gkey, "shop": key, "name": label, "kind": kind})
        for a in range(plan.agents_per_shop):
            doc["agents"].append(
                {
                    "handle": f"{key}-a{a:03d}",
                    "name": _name(rnd),
                    "level": rnd.choice(["junior", "junior", "senior", "expert"]),
                    "max_chats": rnd.choice([4, 5, 6, 8]),
                    "shops": [key],
                    "groups": [groups[a % len(groups)]],
                }
            )
        for i in range(plan.products_per_shop):
            cat = rnd.choice(CATEGORIES[family])
            doc["products"].append(
                {
                    "key": plan.product_key(s, i),
                    "shop": key,
                    "title": f"{rnd.choice(ADJECTIVES)}{cat}{rnd.randint(100, 999)}",
                    "category": cat,
                    "price": round(rnd.uniform(9.9, 2999), 1),
                    "stock": rnd.randint(0, 5000),
                }
            )
    return doc


def _name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice([1, 2])))


def customers(plan: Plan) -> Iterator[dict]:
    """Customers with one or two shop profiles (internal form)."""
    rnd = random.Random(f"{plan.seed}-customers")
    for i in range(plan.customers):
        first = plan.home_shop(i)
        shops = [first]
        if plan.shops > 1 and rnd.random() < 0.15:
            shops.append((first + 1) % plan.shops)
        yield {
            "key": plan.customer_key(i),
            "name": _name(rnd),
            "phone": f"1{rnd.randint(30, 99)}****{rnd.randint(0, 9999):04d}",
            "profiles": [
                {
                    "shop": plan.shop_key(s),
                    "level": min(5, int(rnd.expovariate(0.9))),
                    "tags": rnd.sample(TAGS, rnd.choice([0, 1, 1, 2])),
                    "region": rnd.choice(REGIONS),
                    "channel": rnd.choice(CHANNELS),
                }
                for s in shops
            ],
        }


def orders(plan: Plan) -> Iterator[dict]:
    """Orders in every status with consistent times and logistics (internal form),
    each in its customer's home shop."""
    rnd = random.Random(f"{plan.seed}-orders")
    statuses = [s for s, w in STATUSES for _ in range(w)]
    for i in range(plan.orders):
        c = rnd.randrange(plan.customers)
        s = plan.home_shop(c)
        status = rnd.choice(statuses)
        created = START_MS + rnd.randrange(SPAN_MS)
        n_items = 1 if rnd.random() < 0.6 else rnd.randint(2, 3)
        items = [
            {
                "product": plan.product_key(s, rnd.randrange(plan.products_per_shop)),
                "quantity": 1 if rnd.random() < 0.8 else rnd.randint(2, 4),
                "price": rnd.randrange(990, 299_900, 10),
            }
            for _ in range(n_items)
        ]
        rec = {
            "key": f"{plan.p}-o{i:09d}",
            "shop": plan.shop_key(s),
            "customer": plan.customer_key(c),
            "status": status,
            "created_at": created,
            "items": items,
            "discount": 0 if rnd.random() < 0.5 else rnd.choice([500, 1000, 2000]),
            "region": rnd.choice(REGIONS),
            "logistics": [],
        }
        rec["discount"] = min(rec["discount"], sum(x["price"] * x["quantity"] for x in items))
        if status != "created" and status != "cancelled":
            rec["paid_at"] = created + rnd.randint(30_000, 2 * HOUR)
        after_ship = status.startswith("refund") and rnd.random() < 0.5
        if status in ("shipped", "delivered") or after_ship:
            shipped = rec["paid_at"] + rnd.randint(2 * HOUR, 48 * HOUR)
            rec["shipped_at"] = shipped
            rec["carrier"] = rnd.choice(CARRIERS)
            rec["tracking_no"] = f"SF{rnd.randint(10**11, 10**12 - 1)}"
            rec["logistics"] = [
                {"at": shipped, "status": "已揽收", "detail": f"【{rec['region']}】快件已揽收"},
                {
                    "at": shipped + rnd.randint(6, 30) * HOUR,
                    "status": "运输中",
                    "detail": "快件已到达转运中心",
                },
            ]
            if status == "delivered":
                done = shipped + rnd.randint(30, 96) * HOUR
                rec["delivered_at"] = done
                rec["logistics"].append(
                    {"at": done, "status": "已签收", "detail": "您的快件已签收，感谢使用"}
                )
        yield rec
