"""The adversarial tenancy suite's world: a small mall of two shops built through the
public API (a real server on loopback), the attackers' tokens, shop B's secrets, and a
snapshot of everything that belongs to shop B (or to agents above the attackers) read
straight from the SQLite file, so a test can say exactly what a refused write changed.

Shop A (翎衣女装, ``lingyi-fashion``) is the attacker's shop; shop B (萌宝母婴,
``mengbao-baby``) is the victim. Every record of B carries a distinctive text (its
"secrets"); a response to a shop-A caller that contains one of them is a leak.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from cstool.resources import KINDS
from tests.file_support import b64, png
from tests.server_support import Served, serve

SHOP_A, SHOP_B = "lingyi-fashion", "mengbao-baby"

# The two shops' records (external form, as apply takes them). Keys and texts of B are
# distinctive so that a scan of a response body finds them.
MALL: dict[str, list[dict]] = {
    "shops": [
        {"key": SHOP_A, "name": "翎衣女装", "service_mode": "human_first"},
        {"key": SHOP_B, "name": "萌宝母婴", "service_mode": "bot_first"},
    ],
    "groups": [
        {"key": "lf-pre", "shop": SHOP_A, "name": "售前", "kind": "presale"},
        {"key": "mb-pre", "shop": SHOP_B, "name": "孕婴售前组", "kind": "presale"},
    ],
    "agents": [
        {"handle": "lf-zhouting", "name": "周婷", "role": "admin", "shops": [SHOP_A],
         "level": "expert", "status": "online"},
        {"handle": "lf-lina", "name": "李娜", "role": "supervisor", "shops": [SHOP_A],
         "groups": ["lf-pre"], "level": "senior", "status": "online"},
        {"handle": "lf-xiaomei", "name": "小美", "shops": [SHOP_A], "groups": ["lf-pre"],
         "status": "online"},
        {"handle": "mb-hongjie", "name": "红姐", "role": "supervisor", "shops": [SHOP_B],
         "groups": ["mb-pre"], "level": "expert", "status": "online"},
        {"handle": "mb-ajun", "name": "阿俊", "shops": [SHOP_B], "groups": ["mb-pre"],
         "level": "senior", "max_chats": 1, "status": "online"},
    ],
    "routing_rules": [
        {"key": "mb-rule-vip", "shop": SHOP_B, "name": "孕婴VIP规则",
         "conditions": {"field": "customer.level", "op": "ge", "value": 3},
         "target": {"group": "mb-pre"}},
        {"key": "mb-rule-all", "shop": SHOP_B, "name": "孕婴默认",
         "target": {"group": "mb-pre"}},
    ],
    "sla_policies": [
        {"key": "mb-sla", "shop": SHOP_B, "name": "孕婴售后时效", "first_response_min": 30,
         "resolution_min": 1440, "on_breach": "reassign", "escalate_to": "mb-hongjie"},
        {"key": "lf-sla", "shop": SHOP_A, "name": "翎衣时效", "first_response_min": 30,
         "resolution_min": 1440},
    ],
    "products": [
        {"key": "lf-dress-01", "shop": SHOP_A, "title": "法式碎花连衣裙", "price": 299,
         "stock": 20, "category": "连衣裙"},
        {"key": "mb-bib-001", "shop": SHOP_B, "title": "有机棉口水巾秘款", "price": 39.9,
         "stock": 100, "category": "口水巾"},
    ],
    "coupons": [
        {"key": "lf-c-20", "shop": SHOP_A, "name": "翎衣满200减20", "kind": "amount",
         "amount": 20, "threshold": 200},
        {"key": "mb-c-1111-599-60", "shop": SHOP_B, "name": "萌宝双十一满599减60",
         "kind": "amount", "amount": 60, "threshold": 599},
    ],
    "promotions": [
        {"key": "mb-promo-bibs", "shop": SHOP_B, "name": "萌宝口水巾第二件半价",
         "kind": "discount", "rate": 0.5, "products": ["mb-bib-001"]},
    ],
    "customers": [
        {"key": "c-a-wangli", "name": "王丽", "phone": "13800000001",
         "profiles": [{"shop": SHOP_A, "level": 2}], "coupons": [{"coupon": "lf-c-20"}]},
        {"key": "c00002", "name": "孟秘宝妈", "phone": "13977770002",
         "email": "mengmi@secret.example", "profiles": [{"shop": SHOP_B, "level": 3}],
         "coupons": [{"coupon": "mb-c-1111-599-60"}]},
        {"key": "c-both-zhao", "name": "赵两家", "phone": "13600000003",
         "profiles": [{"shop": SHOP_A}, {"shop": SHOP_B, "level": 4,
                                         "tags": ["孕婴秘标签"]}],
         "coupons": [{"coupon": "lf-c-20"}, {"coupon": "mb-c-1111-599-60"}]},
    ],
    "orders": [
        {"key": "mb-order-7001", "shop": SHOP_B, "customer": "c00002", "status": "shipped",
         "created_at": "2026-11-11T00:05:00+08:00", "paid_at": "2026-11-11T00:06:00+08:00",
         "shipped_at": "2026-11-12T09:00:00+08:00", "carrier": "顺丰",
         "tracking_no": "SF7001SECRET", "region": "上海",
         "items": [{"product": "mb-bib-001", "quantity": 2}]},
    ],
    "cart_items": [
        {"key": "mb-cart-01", "shop": SHOP_B, "customer": "c00002", "product": "mb-bib-001",
         "quantity": 1, "added_at": "2026-11-10T20:00:00+08:00"},
    ],
    "knowledge_entries": [
        {"key": "size_guide", "shop": SHOP_B, "question": "口水巾怎么选尺码？",
         "answer": "萌宝尺码秘答：按月龄选。", "category": "product"},
        {"key": "ship_track", "question": "我的快递到哪了？", "similar": ["查物流"],
         "answer": "在我的订单里可以查看物流。", "category": "shipping"},
        {"key": "lf-return", "shop": SHOP_A, "question": "怎么退货？",
         "answer": "在订单里点申请售后。", "category": "returns"},
    ],
    "quick_replies": [
        {"key": "mb-qr-hello", "shop": SHOP_B, "title": "萌宝问候",
         "body": "萌宝快捷秘语：亲，在的～"},
    ],
    "macros": [
        {"key": "mb-macro-sorry", "shop": SHOP_B, "name": "萌宝道歉秘宏",
         "actions": [{"reply": "mb-qr-hello"}, {"label": "投诉"}]},
    ],
    "campaigns": [
        {"key": "mb-camp-nudge", "shop": SHOP_B, "name": "萌宝催拍", "trigger": "order_nudge",
         "template": "萌宝催拍秘文：{name} 的宝贝还在等", "coupon": "mb-c-1111-599-60"},
    ],
    "webhooks": [
        {"key": "mb-hook", "shop": SHOP_B, "url": "https://mb-secret-erp.example/cb",
         "events": ["*"], "secret": "mb-hook-signing-secret-42"},
    ],
    "channels": [
        {"key": "mb-gateway", "shop": SHOP_B, "kind": "http", "client": "mini_program",
         "url": "https://mb-secret-gw.example/in", "secret": "mb-gateway-signing-secret-42"},
    ],
}

# Texts that only shop B (and its customers) may see.
CHAT_B = "宝宝红屁屁用哪款秘密护臀膏"
QUEUED_B = "排队中的孕婴私聊内容"
UNANSWERED_B = "婴儿推车能带上高铁吗秘问"
TICKET_B = "萌宝破损工单秘题"
SECRETS_B = (
    "孟秘宝妈", "13977770002", "mengmi@secret.example", "孕婴秘标签", "mb-bib-001",
    "有机棉口水巾秘款", "mb-c-1111-599-60", "萌宝双十一满599减60", "mb-promo-bibs",
    "mb-order-7001", "SF7001SECRET", "mb-cart-01", "萌宝尺码秘答", "萌宝快捷秘语",
    "mb-qr-hello", "萌宝催拍秘文", "mb-camp-nudge", "mb-rule-vip", "孕婴VIP规则",
    "mb-sla", "孕婴售后时效", "孕婴售前组", CHAT_B, QUEUED_B, UNANSWERED_B, TICKET_B,
    "mb-hook", "mb-secret-erp.example", "mb-hook-signing-secret-42",
    "mb-gateway", "mb-secret-gw.example", "mb-gateway-signing-secret-42",
    "mb-hook", "mb-secret-erp.example", "mb-hook-signing-secret-42", "mb-macro-sorry",
    "萌宝道歉秘宏",
)

STAFF_ROLES = ("agent_a", "supervisor_a")
ANONYMOUS_ROLES = ("no_token", "garbage", "expired", "revoked")
ROLES = (*ANONYMOUS_ROLES, "customer_a", *STAFF_ROLES)
# Who stands above each attacker (role escalation): an admin agent above a
# supervisor, a supervisor above an agent.
ABOVE = {"supervisor_a": "lf-zhouting", "agent_a": "lf-lina"}


@dataclass
class Mall:
    """The running world of the suite."""

    served: Served
    client: httpx.Client
    tokens: dict[str, str | None]
    ids: dict[str, Any] = field(default_factory=dict)
    initial: dict = field(default_factory=dict)  # the full export right after building
    _watch: sqlite3.Connection | None = None
    _known: tuple[int, dict] | None = None  # (data_version, snapshot) last taken

    def call(self, method: str, path: str, role: str | None = "admin", **kw) -> httpx.Response:
        """One request as ``role`` (``admin`` by default; a role of ROLES otherwise)."""
        token = self.served.admin if role == "admin" else self.tokens[role]
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.request(method, path, headers=headers, **kw)

    def admin_ok(self, method: str, path: str, **kw) -> Any:
        """An admin request that must succeed; its JSON (None for 204)."""
        r = self.call(method, path, **kw)
        assert r.status_code < 300, (method, path, r.status_code, r.text[:500])
        return r.json() if r.content else None

    def restore(self) -> None:
        """Put the mall's records back as they were built, and delete the records made
        since (after an attack got through)."""
        self.call("POST", "/v1/apply", json={"document": self.initial})
        now = self.admin_ok("GET", "/v1/export")
        for kind in reversed(list(KINDS)):
            key = KINDS[kind].key
            had = {r[key] for r in self.initial.get(kind, [])}
            for rec in now.get(kind, []):
                if rec[key] not in had:
                    self.call("DELETE", f"/v1/{kind}/{quote(rec[key], safe='')}")

    def snapshot(self) -> dict[str, list]:
        """Every row that belongs to shop B or to the agents above the attackers."""
        return snapshot_b(self.served.backend.path, self.ids)

    def _version(self) -> int:
        if self._watch is None:
            self._watch = sqlite3.connect(f"file:{self.served.backend.path}?mode=ro", uri=True,
                                          check_same_thread=False)
        return self._watch.execute("PRAGMA data_version").fetchone()[0]

    def state(self) -> dict[str, list]:
        """The snapshot of now, taken again only when something was committed since the
        last one (SQLite's data_version tells)."""
        version = self._version()
        if self._known is None or self._known[0] != version:
            self._known = (version, self.snapshot())
        return self._known[1]

    def close(self) -> None:
        """Stop the client, the watcher and the server."""
        if self._watch is not None:
            self._watch.close()
        self.client.close()
        self.served.close()


def build_mall(tmp_path) -> Mall:
    """Start a server, build the mall through the API as the admin, and mint tokens."""
    served = serve(tmp_path / "tenancy.db")
    client = httpx.Client(base_url=served.url, timeout=30)
    mall = Mall(served, client, {})
    mall.admin_ok("POST", "/v1/apply", json={"document": MALL})
    ids = mall.ids

    def post(shop: str, customer: str, text: str) -> dict:
        return mall.admin_ok("POST", f"/v1/shops/{shop}/messages",
                             json={"customer": customer, "text": text})

    # B: a chat the bot hands to mb-ajun (who then holds it), one left in the queue, and
    # a question the bot could not answer.
    out = post(SHOP_B, "c00002", "转人工")
    ids["conv_b"] = out["conversation"]["id"]
    post(SHOP_B, "c00002", CHAT_B)
    conv = mall.admin_ok("GET", f"/v1/conversations/{ids['conv_b']}")
    assert conv["assignee"] == "mb-ajun", conv
    mall.admin_ok("POST", f"/v1/conversations/{ids['conv_b']}/replies",
                  json={"agent": "mb-ajun", "text": "亲，推荐萌宝秘密护臀膏"})
    ids["file_b"] = mall.admin_ok(  # a picture in B's chat (get_file, file_link)
        "POST", f"/v1/conversations/{ids['conv_b']}/files",
        json={"agent": "mb-ajun", "name": "尺码表.png", "data": b64(png())})["id"]
    mall.admin_ok("PUT", "/v1/agents/mb-hongjie/status", json={"status": "offline"})
    out = post(SHOP_B, "c-both-zhao", UNANSWERED_B)
    ids["conv_b_queued"] = out["conversation"]["id"]
    post(SHOP_B, "c-both-zhao", "转人工")
    post(SHOP_B, "c-both-zhao", QUEUED_B)
    conv = mall.admin_ok("GET", f"/v1/conversations/{ids['conv_b_queued']}")
    assert conv["state"] == "queued", conv
    groups = mall.admin_ok("GET", "/v1/knowledge/unanswered", params={"shop": SHOP_B})
    assert groups["items"], "the bot recorded no unanswered question of shop B"
    ids["unanswered_b"] = groups["items"][0]["group"]
    ticket = mall.admin_ok("POST", "/v1/tickets", json={
        "type": "complaint", "title": TICKET_B, "shop": SHOP_B,
        "conversation": ids["conv_b"], "order": "mb-order-7001", "by": "mb-hongjie",
        "assignee": "mb-ajun"})
    ids["ticket_b"] = ticket["id"]
    # A: a chat of the attacking customer
    out = post(SHOP_A, "c-a-wangli", "这条裙子有M码吗")
    ids["conv_a"] = out["conversation"]["id"]
    ids["ticket_a"] = mall.admin_ok("POST", "/v1/tickets", json={
        "type": "invoice", "title": "翎衣发票", "shop": SHOP_A, "by": "lf-lina"})["id"]

    # tokens: the attackers', and the victims' (their ids are attack targets)
    tokens = mall.tokens
    tokens["no_token"] = None
    tokens["garbage"] = "cst_" + "x" * 40
    tokens["agent_a"] = served.token("lf-xiaomei")
    tokens["supervisor_a"] = served.token("lf-lina")
    tokens["customer_a"] = served.customer_token(SHOP_A, "c-a-wangli")
    revoked = mall.admin_ok("POST", "/v1/tokens", json={"agent": "lf-lina", "label": "revoked"})
    mall.admin_ok("DELETE", f"/v1/tokens/{revoked['id']}")
    tokens["revoked"] = revoked["token"]
    expiring = mall.admin_ok("POST", "/v1/tokens", json={"agent": "lf-lina", "expires": "1m"})
    with sqlite3.connect(served.backend.path) as conn:  # make it expired (an hour ago)
        conn.execute("UPDATE tokens SET expires_at = ? WHERE id = ?",
                     (int(time.time() * 1000) - 3_600_000, expiring["id"]))
    tokens["expired"] = expiring["token"]
    for name, args in (("token_b_agent", {"agent": "mb-ajun"}),
                       ("token_b_supervisor", {"agent": "mb-hongjie"}),
                       ("token_admin_agent", {"agent": "lf-zhouting"}),
                       ("token_supervisor_a_other", {"agent": "lf-lina", "label": "other"}),
                       ("token_admin", {"role": "admin", "label": "platform"})):
        ids[name] = mall.admin_ok("POST", "/v1/tokens", json=args)["id"]
    ids["token_b_customer"] = mall.admin_ok(
        "POST", f"/v1/shops/{SHOP_B}/customer-tokens", json={"customer": "c00002"})["id"]
    # a delivery of shop B's channel connector: a customer writes through the gateway,
    # what the shop answers is claimed (and taken) until one of the channel's appears
    mall.admin_ok("POST", f"/v1/shops/{SHOP_B}/messages",
                  json={"customer": "c-mb-gw", "text": "小程序里问一句", "channel": "mb-gateway"})
    for _ in range(50):
        claimed = served.backend.claim_webhook_deliveries("setup", shop=SHOP_B, limit=500)
        for d in claimed:
            served.backend.finish_webhook_delivery(d["id"], d["attempt"], "setup",
                                                   status_code=200)
        ids["channel_delivery_b"] = next(
            (d["id"] for d in claimed if d["id"].startswith("chd_")), None)
        if ids["channel_delivery_b"]:
            break
    assert ids["channel_delivery_b"], "no delivery of shop B's channel"
    # a delivery of shop B's webhook (its events made into deliveries by a claim)
    ids["delivery_b"] = mall.admin_ok("POST", "/v1/webhooks/mb-hook/test")["id"]
    # an open knowledge proposal of shop B (as kb suggest would have mined it)
    with sqlite3.connect(served.backend.path) as conn:
        shop_b = conn.execute("SELECT id FROM shops WHERE key = ?", (SHOP_B,)).fetchone()[0]
        now = int(time.time() * 1000)
        ids["suggestion_b"] = conn.execute(
            "INSERT INTO kb_suggestions (shop_id, kind, question, answer, created_at, "
            "updated_at) VALUES (?, 'new', '能开发票吗', '可以开电子发票', ?, ?)",
            (shop_b, now, now)).lastrowid
    mall.admin_ok("GET", "/v1/metrics/qa")  # 质检 caught up: later reads add no B rows
    mall.initial = mall.admin_ok("GET", "/v1/export")
    ids["events_head"] = mall.admin_ok("GET", "/v1/events/page",
                                       params={"after": 0, "limit": 500})["items"][-1]["id"]
    return mall


# -- what belongs to shop B ------------------------------------------------------------------
SKIP_TABLES = ("sqlite_sequence", "schema_migrations", "metric_state", "metric_conversations",
               "metric_turns", "metric_legs", "metric_agent_status", "routing_rulesets",
               "qa_state")
VOLATILE = {"tokens": ("last_used_at",)}


def snapshot_b(path: str, ids: dict) -> dict[str, list]:
    """The rows of every table that belong to shop B, to B's agents, customers,
    conversations, orders, coupons and tickets, to the agents above the attackers, or
    to the whole platform (knowledge without a shop), read from the file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        one = conn.execute
        shop = one("SELECT id FROM shops WHERE key = ?", (SHOP_B,)).fetchone()[0]
        sets = {
            "agent_id": {r[0] for r in one(
                "SELECT agent_id FROM agent_shops WHERE shop_id = ? UNION SELECT id FROM agents "
                "WHERE handle IN (?, ?, 'mb-ajun', 'mb-hongjie')", (shop, *ABOVE.values()))},
            "customer_id": {r[0] for r in one(
                "SELECT customer_id FROM customer_profiles WHERE shop_id = ?", (shop,))},
            "conversation_id": {r[0] for r in one(
                "SELECT id FROM conversations WHERE shop_id = ?", (shop,))},
            "order_id": {r[0] for r in one("SELECT id FROM orders WHERE shop_id = ?", (shop,))},
            "coupon_id": {r[0] for r in one("SELECT id FROM coupons WHERE shop_id = ?", (shop,))},
            "ticket_id": {r[0] for r in one("SELECT id FROM tickets WHERE shop_id = ?", (shop,))},
            "group_id": {r[0] for r in one("SELECT id FROM groups WHERE shop_id = ?", (shop,))},
            "campaign_id": {r[0] for r in one(
                "SELECT id FROM campaigns WHERE shop_id = ?", (shop,))},
        }
        own = {"agents": "agent_id", "customers": "customer_id", "conversations":
               "conversation_id", "orders": "order_id", "coupons": "coupon_id",
               "tickets": "ticket_id", "groups": "group_id", "campaigns": "campaign_id"}
        out: dict[str, list] = {}
        tables = [r[0] for r in one("SELECT name FROM sqlite_master WHERE type = 'table' "
                                    "ORDER BY name")]
        for table in tables:
            if table in SKIP_TABLES:
                continue
            cols = [r[1] for r in one(f"PRAGMA table_info({table})")]
            keep_cols = [c for c in cols if c not in VOLATILE.get(table, ())]
            rows = one(f"SELECT {', '.join(keep_cols)} FROM {table}").fetchall()
            kept = []
            for row in rows:
                rec = dict(zip(keep_cols, row, strict=True))
                if _belongs(table, rec, shop, sets, own):
                    kept.append(json.dumps(rec, ensure_ascii=False, sort_keys=True))
            out[table] = sorted(kept)
        return out
    finally:
        conn.close()


def _belongs(table: str, rec: dict, shop: int, sets: dict, own: dict) -> bool:
    if table == "shops":
        return rec["id"] == shop
    if table in own and rec["id"] in sets[own[table]]:
        return True
    if "shop_id" in rec:
        if rec["shop_id"] == shop:
            return True
        if rec["shop_id"] is None and table == "knowledge_entries":
            return True  # platform-wide: only an admin changes it
        if table == "tokens":  # of B's or higher agents, or a platform admin's
            return rec["agent_id"] in sets["agent_id"] or (
                rec["agent_id"] is None and rec["customer_id"] is None)
        if table == "customer_profiles":
            return False  # a customer's profile in another shop is that shop's
        return any(rec.get(c) in s for c, s in sets.items() if c in rec and c != "customer_id")
    if table == "customer_coupons":  # a B customer's coupons of other shops are theirs
        return rec["coupon_id"] in sets["coupon_id"]
    return any(rec.get(c) in s for c, s in sets.items() if c in rec)


def diff(before: dict[str, list], after: dict[str, list], limit: int = 6) -> list[str]:
    """What changed between two snapshots, one line per row (at most ``limit``)."""
    lines = []
    for table in sorted(set(before) | set(after)):
        b, a = set(before.get(table, ())), set(after.get(table, ()))
        for row in sorted(b - a):
            lines.append(f"{table}: - {row[:300]}")
        for row in sorted(a - b):
            lines.append(f"{table}: + {row[:300]}")
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


def leaks(text: str, request_text: str = "") -> list[str]:
    """Shop B's secrets found in ``text`` (leaving out those the request itself named)."""
    return [s for s in SECRETS_B if s in text and s not in request_text]
