"""Customers of a shop writing in at a steady pace, for the demo (and load tests).

Messages read like a real Chinese mall: questions about sizes, shipping, returns,
coupons and invoices, from the shop's own customers, about its own products.

With ``me`` and ``colleagues`` it also plays the demo agent's colleagues: they stay away
until ``me`` has a first customer (so the demo's first customer reaches you within
seconds), then come online and take their share of the shop's chats, answering and
closing each after a while like busy people, so your desk does not fill up alone.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from ..api.backend import Backend

OPENERS = ["亲，", "在吗？", "你好，", "老板，", "", "hello，"]
# Many customers want a person straight away; the rest the bot may answer.
HUMAN_OPENERS = ["转人工，", "人工客服在吗？", "找真人，"]
QUESTIONS = [
    "这款{title}还有货吗？",
    "{title}有没有M码？我平时穿M",
    "{title}今天下单什么时候发货？",
    "我的快递到哪了，好几天了还没到",
    "买了{title}尺码不合适，可以换大一码吗？",
    "{title}能便宜点吗？有没有优惠券",
    "双十一的满减还能用吗？",
    "可以开发票吗？要公司抬头的",
    "{title}是正品吗？有没有保修",
    "收到的东西有点破损，怎么办",
    "退款什么时候到账？",
    "转人工",
]
FOLLOW_UPS = [
    "好的谢谢", "那我再考虑一下", "可以再便宜点吗", "什么时候能到呢？", "嗯嗯，那我下单了",
]
# Questions that ask for a person or go to a person by the demo's routing rules
# (shipping, logistics, damage and refunds go to a group).
PERSON_QUESTIONS = ("转人工", "收到的东西有点破损，怎么办", "退款什么时候到账？",
                    "{title}今天下单什么时候发货？", "我的快递到哪了，好几天了还没到",
                    "买了{title}尺码不合适，可以换大一码吗？")
DESK_ROOM = 2  # chats the demo leaves free on the desk of the person at the keyboard
MAX_FOLLOW_UPS = 2  # follow-ups a customer writes while nobody answers them
# What a simulated colleague writes before closing a chat.
COLLEAGUE_ANSWERS = [
    "亲，已经帮您查好了，还有问题随时找我们哦", "好的亲，已为您备注，祝您购物愉快",
    "亲，这边已经处理好了，请留意短信通知", "感谢亲的耐心等待，问题已解决～",
]
# What a customer says back when an agent has answered them.
ANSWERS_TO_AGENT = [
    "好的，谢谢亲", "明白了，那我现在下单", "还有别的颜色吗？", "可以再送个小礼品吗？",
    "好的，麻烦尽快发货哈", "收到，我再看看", "那用券之后是多少钱？", "OK，谢谢！",
]


class CustomerSimulator:
    """Posts customer messages to one shop through a Backend, one every few seconds."""

    def __init__(self, backend: Backend, shop: str, *, pace_s: float = 6.0, seed: int | None = None,
                 follow_up_share: float = 0.35, human_share: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep,
                 me: str | None = None, colleagues: tuple[str, ...] = (),
                 colleague_s: float = 40.0):
        self.backend = backend
        self.shop = shop
        self.pace_s = pace_s
        self.rnd = random.Random(seed)
        self.follow_up_share = follow_up_share
        self.human_share = human_share
        self.sleep = sleep
        self.customers = [c["key"] for c in backend.list("customers", shop=shop)]
        self.products = [p["title"] for p in backend.list("products", shop=shop)] or ["宝贝"]
        self.open: list[str] = []
        self.sent = 0
        self._cursor: int | None = None  # the event log read so far (agents' replies)
        self.answered: list[int] = []  # chats an agent wrote in, waiting for the customer
        self.me = me
        self.colleagues = tuple(colleagues)
        self.colleague_s = colleague_s
        self.colleagues_in = not self.colleagues  # online and working (after my first chat)
        self._colleague_due: dict[int, float] = {}  # chat id -> when its colleague closes it
        self._clock = time.monotonic
        self._said: dict[str, list[str]] = {}  # customer -> follow-ups since last answered

    def _agent_replies(self) -> None:
        """Chats of the shop an agent wrote in since the last look (from the event log)."""
        first = self._cursor is None
        after = self._cursor or 0
        while True:
            batch = self.backend.events(after=after, limit=500, shop=self.shop)
            for e in batch:
                after = e["id"]
                p = e.get("payload") or {}
                if not first and e["type"] == "message.created" and p.get("sender") == "agent":
                    cid = int(e["key"])
                    if cid not in self.answered:
                        self.answered.append(cid)
            if len(batch) < 500:
                break
        self._cursor = after

    def message(self) -> tuple[str, str]:
        """The next (customer, text): an answer to an agent who wrote to them, a follow-up
        in an open chat, or a new question."""
        try:
            self._agent_replies()
        except Exception:  # noqa: BLE001 - the demo's customers carry on regardless
            pass
        while self.answered:
            conv = self.backend.get_conversation(self.answered.pop(0), messages=False)
            if conv["state"] == "active":
                self._said.pop(conv["customer"], None)  # answered: they may follow up again
                return conv["customer"], self.rnd.choice(ANSWERS_TO_AGENT)
        if self.open and self.rnd.random() < self.follow_up_share:
            follow_up = self._follow_up()
            if follow_up is not None:
                return follow_up
        # a new question comes from someone not already waiting in an open chat (while
        # the shop has others): a waiting customer follows up instead (above)
        fresh = [c for c in self.customers if c not in self.open]
        customer = self.rnd.choice(fresh or self.customers)
        title = self.rnd.choice(self.products)
        if len(title) > 14:
            title = title[:14]
        # the demo's first customer asks for a person at once: the desk has someone
        # to serve within seconds of opening
        human = (self.sent == 0 and self.me is not None) or self.rnd.random() < self.human_share
        questions = QUESTIONS
        if self.sent and self._my_desk_nearly_full():
            # the demo keeps the desk busy, not buried: while the person at the keyboard
            # holds nearly as many chats as they may, new questions are the bot's kind
            human = False
            questions = [q for q in QUESTIONS if q not in PERSON_QUESTIONS]
        opener = self.rnd.choice(HUMAN_OPENERS if human else OPENERS)
        text = opener + self.rnd.choice(questions).format(title=title)
        if customer not in self.open:
            self.open = (self.open + [customer])[-20:]
        return customer, text

    def _my_desk_nearly_full(self) -> bool:
        """Whether the demo agent holds at least all but DESK_ROOM of the chats they may."""
        if self.me is None:
            return False
        try:
            cap = int(self.backend.get("agents", self.me).get("max_chats") or 0)
            mine = self.backend.list_conversations(shop=self.shop, agent=self.me,
                                                   state="active", limit=cap or 1)
        except Exception:  # noqa: BLE001 - a demo customer never crashes the desk
            return False
        return bool(cap) and len(mine) >= max(1, cap - DESK_ROOM)

    def _follow_up(self) -> tuple[str, str] | None:
        """A follow-up from an open chat's customer: never a line they already said, at
        most MAX_FOLLOW_UPS while nobody answers them (a person waiting does not repeat
        "好的谢谢" three times); None when every open customer has said enough."""
        waiting = [c for c in self.open if len(self._said.get(c, ())) < MAX_FOLLOW_UPS]
        if not waiting:
            return None
        customer = self.rnd.choice(waiting)
        said = self._said.setdefault(customer, [])
        text = self.rnd.choice([f for f in FOLLOW_UPS if f not in said])
        said.append(text)
        return customer, text

    def step(self) -> dict:
        """Post one message now (and let the colleagues work, when playing them)."""
        customer, text = self.message()
        self.sent += 1
        posted = self.backend.post_message(self.shop, customer, text, channel=self.rnd.choice(
            ["app", "app", "mini_program", "h5", "pc"]))
        if self.colleagues:
            try:
                self.colleagues_work()
            except Exception:  # noqa: BLE001 - a demo colleague never crashes the desk
                pass
        return posted

    def colleagues_work(self) -> list[int]:
        """The colleagues come online once ``me`` has a chat; then each answers and closes
        the chats it holds after about ``colleague_s`` seconds. Returns the chats closed."""
        if not self.colleagues_in:
            if not self.backend.list_conversations(shop=self.shop, agent=self.me,
                                                   state="active", limit=1):
                return []
            for handle in self.colleagues:
                self.backend.set_agent_status(handle, "online")
            self.colleagues_in = True
        now = self._clock()
        closed = []
        held = self.backend.list_conversations(shop=self.shop, state="active", limit=500)
        for conv in held:
            if conv["assignee"] not in self.colleagues:
                continue
            due = self._colleague_due.setdefault(
                conv["id"], now + self.rnd.uniform(0.5, 1.5) * self.colleague_s)
            if due <= now:
                self.backend.reply(conv["assignee"], conv["id"],
                                   self.rnd.choice(COLLEAGUE_ANSWERS))
                self.backend.close_conversation(conv["id"], by=conv["assignee"])
                del self._colleague_due[conv["id"]]
                closed.append(conv["id"])
        return closed

    def run(self, keep_going: Callable[[], bool]) -> None:
        """Post messages until ``keep_going()`` is false, about one per ``pace_s`` seconds."""
        while keep_going():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a demo customer never crashes the desk
                pass
            waited = 0.0
            pause = self.rnd.uniform(0.5, 1.5) * self.pace_s
            while waited < pause and keep_going():
                self.sleep(0.2)
                waited += 0.2
