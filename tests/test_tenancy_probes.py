"""The probes of issue 16 as regression cases, against a real server over the suite's
two-shop mall (``tenancy_support``): cross-shop writes through ``apply`` (D1), a shop
entry made platform-wide (D2), role order (D3, N6), hostile bodies (D4, D5: deep and
huge JSON, poison payloads), the second round (N1-N9) and the method answers of D7.

Each test says what it probes; a failure shows the request and the answer.
"""

from __future__ import annotations

import json

import pytest

from tests.tenancy_support import SHOP_A, SHOP_B, UNANSWERED_B, build_mall, diff, leaks


@pytest.fixture(scope="module")
def mall(tmp_path_factory):
    """The mall, plus a supervisor token of shop B and an agent of B to move (N5)."""
    m = build_mall(tmp_path_factory.mktemp("probes"))
    m.tokens["supervisor_b"] = m.served.token("mb-hongjie")
    yield m
    m.close()


@pytest.fixture
def guard(mall):
    """Shop B's rows before the test; after it they must be the same (then the mall is
    put back for the next test whatever happened)."""
    before = mall.snapshot()
    yield before
    after = mall.snapshot()
    mall.restore()
    assert not diff(before, after), "shop B changed:\n" + "\n".join(diff(before, after))


def record(mall, kind: str, key: str) -> dict:
    """A record as the admin reads it now."""
    return mall.admin_ok("GET", f"/v1/{kind}/{key}")


def refused(r, *statuses: int) -> None:
    """The answer is a refusal (default 401/403/404) in JSON, never a 2xx or 5xx."""
    statuses = statuses or (401, 403, 404)
    assert r.status_code in statuses, (r.request.method, str(r.request.url), r.status_code,
                                       r.text[:400])
    assert r.json()["error"]["code"], r.text


# -- D1: apply with another shop's records ----------------------------------------------------
D1 = {
    "product": ("products", "mb-bib-001", {"key": "mb-bib-001", "shop": SHOP_A,
                                           "title": "pwned", "price": 0.01}),
    "group": ("groups", "mb-pre", {"key": "mb-pre", "shop": SHOP_A, "name": "pwned"}),
    "quick reply": ("quick_replies", "mb-qr-hello", {
        "key": "mb-qr-hello", "shop": SHOP_A, "title": "pwned", "body": "pwned"}),
    "knowledge entry": ("knowledge_entries", "size_guide", {
        "key": "size_guide", "shop": SHOP_A, "question": "pwned", "answer": "pwned"}),
    "platform knowledge entry": ("knowledge_entries", "ship_track", {
        "key": "ship_track", "shop": SHOP_A, "question": "pwned", "answer": "pwned"}),
    "campaign": ("campaigns", "mb-camp-nudge", {
        "key": "mb-camp-nudge", "shop": SHOP_A, "name": "pwned", "trigger": "order_nudge",
        "template": "pwned"}),
    "order": ("orders", "mb-order-7001", {
        "key": "mb-order-7001", "shop": SHOP_A, "customer": "c-a-wangli", "status": "created",
        "created_at": "2026-11-11T00:00:00+08:00",
        "items": [{"product": "lf-dress-01", "quantity": 1}]}),
    "agent": ("agents", "mb-ajun", {"handle": "mb-ajun", "name": "阿俊", "role": "supervisor",
                                    "shops": [SHOP_A, SHOP_B], "status": "offline"}),
    "customer": ("customers", "c00002", {"key": "c00002", "name": "pwned", "phone": "000",
                                         "profiles": [{"shop": SHOP_A}]}),
}


@pytest.mark.parametrize("what", list(D1))
def test_d1_apply_cannot_take_or_change_another_shops_record(mall, guard, what):
    kind, key, rec = D1[what]
    before = record(mall, kind, key)
    r = mall.call("POST", "/v1/apply", "supervisor_a", json={"document": {kind: [rec]}})
    refused(r)
    assert record(mall, kind, key) == before


@pytest.mark.parametrize("what", list(D1))
def test_d1_dry_run_apply_refuses_the_same(mall, guard, what):
    kind, _, rec = D1[what]
    r = mall.call("POST", "/v1/apply", "supervisor_a",
                  json={"document": {kind: [rec]}, "dry_run": True})
    refused(r)


# -- D2 / D3 -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "key"), [("supervisor_a", "lf-return"),
                                           ("supervisor_b", "size_guide")])
def test_d2_a_supervisor_cannot_make_their_entry_platform_wide(mall, guard, role, key):
    shop = record(mall, "knowledge_entries", key)["shop"]
    r = mall.call("PATCH", f"/v1/knowledge_entries/{key}", role, json={"shop": None})
    refused(r)
    assert record(mall, "knowledge_entries", key)["shop"] == shop


def test_d3_a_supervisor_cannot_delete_revoke_or_set_an_admin_agent(mall, guard):
    admin_token = mall.ids["token_admin_agent"]
    refused(mall.call("DELETE", "/v1/agents/lf-zhouting", "supervisor_a"))
    refused(mall.call("DELETE", f"/v1/tokens/{admin_token}", "supervisor_a"))
    refused(mall.call("PUT", "/v1/agents/lf-zhouting/status", "supervisor_a",
                      json={"status": "offline"}))
    refused(mall.call("PATCH", "/v1/agents/lf-zhouting", "supervisor_a", json={"name": "x"}))
    assert record(mall, "agents", "lf-zhouting")["status"] == "online"
    tokens = mall.admin_ok("GET", "/v1/tokens", params={"agent": "lf-zhouting"})["items"]
    assert any(t["id"] == admin_token and t["state"] == "active" for t in tokens), tokens


def test_d3_an_agent_cannot_act_as_their_supervisor(mall, guard):
    refused(mall.call("PUT", "/v1/agents/lf-lina/status", "agent_a", json={"status": "away"}))
    refused(mall.call("DELETE", f"/v1/tokens/{mall.ids['token_supervisor_a_other']}",
                      "agent_a"))
    refused(mall.call("POST", "/v1/tokens", "agent_a", json={"agent": "lf-lina"}))


# -- D4 / D5: hostile bodies ---------------------------------------------------------------
DEEP = "[" * 1000


@pytest.mark.parametrize("path", [f"/v1/shops/{SHOP_A}/messages", "/v1/apply",
                                  "/v1/tickets", "/v1/products"])
@pytest.mark.parametrize("role", ["no_token", "customer_a"])
def test_d4_a_deeply_nested_body_is_a_clean_refusal(mall, path, role):
    r = mall.call("POST", path, role, content=DEEP.encode(),
                  headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (path, role, r.status_code, r.text[:300])
    assert r.json()["error"]["code"], r.text
    assert "Traceback" not in r.text and "RecursionError" not in r.text


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [960, 990, 5000])
def test_d5_a_deep_payload_is_refused_or_stays_readable(mall, depth):
    body = f'{{"text":"看图","kind":"image","payload":{_nested(depth)}}}'
    r = mall.call("POST", f"/v1/shops/{SHOP_A}/messages", "customer_a",
                  content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code < 500, (depth, r.status_code, r.text[:300])
    conv = mall.ids["conv_a"]
    for role in ("admin", "customer_a"):
        g = mall.call("GET", f"/v1/conversations/{conv}", role)
        assert g.status_code == 200, (depth, role, g.status_code, g.text[:300])
    if r.status_code < 300:  # stored: then it must be a payload the server can serve
        pytest.fail(f"a {depth}-deep payload was stored ({r.status_code}); payloads are "
                    "validated by kind")


def test_d5_a_huge_payload_is_refused(mall):
    payload = {"url": "https://img.example/x.png", "pad": "x" * 900_000}
    r = mall.call("POST", f"/v1/shops/{SHOP_A}/messages", "customer_a",
                  json={"text": "看图", "kind": "image", "payload": payload})
    assert r.status_code in (400, 413, 422), (r.status_code, r.text[:300])
    assert r.json()["error"]["code"]


@pytest.mark.parametrize("body", [
    {"text": "x", "kind": "image", "payload": {"nested": [[[[{"a": [1, 2, {"b": None}]}]]]]}},
    {"text": "x", "kind": "image", "payload": "javascript:alert(1)"},
    {"text": "x", "kind": "coupon", "payload": {"coupon": "lf-c-20"}},
    {"text": "x", "kind": "no-such-kind"},
    b'{"text": "\\ud800"}',
    {"text": "x" * 200_000},
], ids=["odd-image", "script-url", "coupon-card", "unknown-kind", "lone-surrogate", "long"])
def test_poison_payloads_are_refused_cleanly_and_the_chat_stays_readable(mall, body):
    kw = {"content": body, "headers": {"Content-Type": "application/json"}} if isinstance(
        body, bytes) else {"json": body}
    r = mall.call("POST", f"/v1/shops/{SHOP_A}/messages", "customer_a", **kw)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.json()["error"]["code"]
    g = mall.call("GET", f"/v1/conversations/{mall.ids['conv_a']}", "customer_a")
    assert g.status_code == 200, g.text[:300]


def test_a_body_with_a_byte_order_mark_is_answered_alike_on_every_path(mall):
    body = "\ufeff" + json.dumps({"customer": "c-a-wangli", "text": "你好"})
    lane = mall.call("POST", f"/v1/shops/{SHOP_A}/messages", "admin",
                     content=body.encode(), headers={"Content-Type": "application/json"})
    other = mall.call("POST", "/v1/apply", "admin", content=("\ufeff" + json.dumps(
        {"document": {}})).encode(), headers={"Content-Type": "application/json"})
    assert (lane.status_code < 300) == (other.status_code < 300), (lane.text, other.text)


# -- N1 - N9 -------------------------------------------------------------------------------
@pytest.mark.parametrize("customer", ["c-both-zhao", "c00002"])
def test_n1_a_quote_shows_no_coupon_of_another_shop(mall, customer):
    r = mall.call("POST", f"/v1/shops/{SHOP_A}/quote", "agent_a", json={
        "items": [{"product": "lf-dress-01", "quantity": 3}], "customer": customer})
    assert r.status_code in (200, 403, 404), r.text[:300]
    assert not leaks(r.text), (leaks(r.text), r.text[:500])


def _unanswered_b(mall) -> list:
    return mall.admin_ok("GET", "/v1/knowledge/unanswered", params={"shop": SHOP_B})["items"]


def test_n2_learning_another_shops_group_is_refused(mall, guard):
    group = mall.ids["unanswered_b"]
    r = mall.call("POST", "/v1/knowledge/learn", "supervisor_a",
                  json={"question": group, "entry": "lf-return"})
    refused(r)
    assert not leaks(r.text, group)
    assert any(g["group"] == group for g in _unanswered_b(mall))


def test_n2_learning_another_shops_question_text_leaves_that_shop_alone(mall, guard):
    r = mall.call("POST", "/v1/knowledge/learn", "supervisor_a",
                  json={"question": UNANSWERED_B, "entry": "lf-return"})
    assert r.status_code < 500, r.text[:300]
    assert any(UNANSWERED_B in json.dumps(g, ensure_ascii=False) for g in _unanswered_b(mall))


def test_n3_a_supervisor_cannot_teach_a_platform_wide_entry(mall, guard):
    before = record(mall, "knowledge_entries", "ship_track")
    refused(mall.call("POST", "/v1/knowledge/learn", "supervisor_a",
                      json={"question": "快递几天能到", "entry": "ship_track"}))
    assert record(mall, "knowledge_entries", "ship_track") == before


def test_n4_customer_tokens_only_for_the_shops_own_customers(mall, guard):
    r = mall.call("POST", f"/v1/shops/{SHOP_A}/customer-tokens", "supervisor_a",
                  json={"customer": "c00002"})
    if r.status_code < 300:  # what the token would reveal
        token = r.json()["token"]
        g = mall.client.get("/v1/customers/c00002", headers={"Authorization": f"Bearer {token}"})
        pytest.fail(f"a shop-A token for shop B's customer was made; with it GET "
                    f"/v1/customers/c00002 -> {g.status_code} {g.text[:200]}")
    refused(r)


def test_n5_an_agent_moved_out_of_a_shop_loses_its_chats(tmp_path):
    from tests.server_support import serve
    from tests.tenancy_support import MALL

    s = serve(tmp_path / "n5.db")
    try:
        s.backend.apply({**{k: MALL[k] for k in ("shops", "groups", "agents")}, "customers": [
            {k: v for k, v in c.items() if k != "coupons"} for c in MALL["customers"]]})
        s.backend.apply({"agents": [{"handle": "mb-ajun", "name": "阿俊", "shops": [SHOP_B],
                                     "groups": ["mb-pre"], "status": "online"}]})
        token = s.token("mb-ajun")
        out = s.backend.post_message(SHOP_B, "c00002", "转人工")
        s.backend.post_message(SHOP_B, "c00002", "宝宝红屁屁秘密求助")
        conv = s.backend.get_conversation(out["conversation"]["id"], messages=False)
        assert conv["assignee"] == "mb-ajun", conv
        moved = s.http("PATCH", "/v1/agents/mb-ajun", json={"shops": [SHOP_A], "groups": []})
        assert moved.status_code == 200, moved.text
        h = s.http("GET", "/v1/agents/mb-ajun/history", token, params={"text": "红屁屁"})
        assert h.status_code in (200, 403), h.text
        assert "红屁屁" not in h.text, h.text[:300]
        d = s.http("GET", "/v1/agents/mb-ajun/desk", token)
        assert d.status_code in (200, 403), d.text
        assert "红屁屁" not in d.text and "孟秘宝妈" not in d.text, d.text[:400]
        c = s.http("GET", f"/v1/conversations/{conv['id']}", token)
        assert c.status_code in (403, 404), c.text[:300]
    finally:
        s.close()


def test_n6_nobody_acts_in_the_name_of_a_higher_role(mall, guard):
    r = mall.call("POST", "/v1/tickets", "supervisor_a", json={
        "type": "complaint", "title": "代管理员建单", "shop": SHOP_A, "by": "lf-zhouting"})
    refused(r)
    r = mall.call("POST", "/v1/tickets", "agent_a", json={
        "type": "complaint", "title": "代主管建单", "shop": SHOP_A, "by": "lf-lina"})
    refused(r)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/v1/sla_policies", {"key": "lf-sla-n7", "shop": SHOP_A, "first_response_min": 5,
                                  "resolution_min": 60, "on_breach": "reassign",
                                  "escalate_to": "mb-hongjie"}),
    ("PATCH", "/v1/sla_policies/lf-sla", {"escalate_to": "mb-hongjie",
                                          "on_breach": "reassign"}),
    ("PATCH", "/v1/customers/c-a-wangli", {"profiles": [{"shop": SHOP_A,
                                                         "dedicated_agent": "mb-hongjie"}]}),
    ("POST", "/v1/quick_replies", {"key": "lf-qr-n7", "shop": SHOP_A, "agent": "mb-ajun",
                                   "title": "x", "body": "x"}),
    ("POST", "/v1/routing_rules", {"key": "lf-rule-n7", "shop": SHOP_A,
                                   "target": {"agent": "mb-ajun"}}),
], ids=["sla-escalate-to", "sla-patch", "dedicated-agent", "quick-reply-agent", "rule-target"])
def test_n7_a_shops_records_never_point_at_another_shops_agents(mall, guard, method, path, body):
    r = mall.call(method, path, "supervisor_a", json=body)
    refused(r, 403, 404, 409, 422)


LOOK_ALIKES = {"newline": lambda k: k + "\n", "trailing-space": lambda k: k + " ",
               "leading-space": lambda k: " " + k, "tab": lambda k: k[:3] + "\t" + k[3:],
               "nul": lambda k: k + "\u0000", "carriage-return": lambda k: k + "\r"}


@pytest.mark.parametrize("deform", list(LOOK_ALIKES))
def test_n8_keys_with_control_characters_or_surrounding_space_are_refused(mall, deform):
    bad = LOOK_ALIKES[deform]
    for method, path, body in (
            ("POST", "/v1/products", {"key": bad("mb-bib-001"), "shop": SHOP_B, "title": "x",
                                      "price": 1}),
            ("POST", "/v1/apply", {"document": {"products": [
                {"key": bad("mb-bib-001"), "shop": SHOP_B, "title": "x", "price": 1}]}}),
            ("POST", "/v1/apply", {"document": {"customers": [
                {"key": bad("c00002"), "name": "x"}]}}),
            ("POST", f"/v1/shops/{SHOP_B}/messages", {"customer": bad("c00002"),
                                                      "text": "你好"})):
        r = mall.call(method, path, "admin", json=body)
        assert r.status_code in (400, 404, 422), (method, path, deform, r.status_code,
                                                  r.text[:300])
    keys = [p["key"] for p in mall.admin_ok("GET", "/v1/products", params={"limit": 500})[
        "items"]]
    assert all(k == k.strip() and k.isprintable() for k in keys), keys


def test_n9_the_queue_listing_is_paged(mall):
    for i in range(3):
        mall.admin_ok("POST", f"/v1/shops/{SHOP_B}/messages",
                      json={"customer": f"c-q{i}", "text": "转人工"})
    r = mall.call("GET", f"/v1/shops/{SHOP_B}/queue", "admin", params={"limit": 2})
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["items"]) == 2 and page.get("next") is not None, page
    rest = mall.call("GET", f"/v1/shops/{SHOP_B}/queue", "admin",
                     params={"limit": 2, "after": page["next"]}).json()
    ids = [c["id"] for c in page["items"]] + [c["id"] for c in rest["items"]]
    assert len(ids) == len(set(ids)) >= 3, (page, rest)


# -- D7: the methods a path does not take ---------------------------------------------------
@pytest.mark.parametrize(("method", "path"), [("TRACE", "/v1/me"),
                                              ("PATCH", "/v1/agents/lf-lina/desk"),
                                              ("PUT", "/v1/health")])
def test_d7_a_method_a_path_does_not_take_is_405_with_allow(mall, method, path):
    r = mall.call(method, path, "admin", json={} if method in ("PATCH", "PUT") else None)
    assert r.status_code == 405, (method, path, r.status_code, r.text[:200])
    assert r.headers.get("allow"), r.headers


@pytest.mark.parametrize(("path", "body"), [
    (f"/v1/shops/{SHOP_A}/messages", {"customer": "c-a-wangli", "text": "你好",
                                      "time_on_site_s": 35.0}),
    ("/v1/tickets", {"type": "invoice", "title": "整数值的小数", "shop": SHOP_A,
                     "conversation": "$conv_a"}),
], ids=["message-lane", "ticket"])
def test_d7_an_integer_valued_float_is_an_integer(mall, path, body):
    """JSON Schema's integer takes 35.0; the server must too (the schema says integer)."""
    body = {k: (float(mall.ids["conv_a"]) if v == "$conv_a" else v) for k, v in body.items()}
    r = mall.call("POST", path, "admin", json=body)
    assert r.status_code in (200, 201), (path, r.status_code, r.text[:300])
    halves = {k: (v + 0.5 if isinstance(v, float) else v) for k, v in body.items()}
    r = mall.call("POST", path, "admin", json=halves)
    assert r.status_code == 422, (path, r.status_code, r.text[:300])


def test_d7_the_event_stream_documents_every_status_it_answers(mall):
    documented = mall.admin_ok("GET", "/openapi.json")["paths"]["/v1/events"]["get"][
        "responses"]
    answers = {
        mall.call("GET", "/v1/events", "no_token").status_code,
        mall.call("GET", "/v1/events", "agent_a", params={"shop": SHOP_B}).status_code,
        mall.call("GET", "/v1/events", "admin", headers={"Last-Event-ID": "x"}).status_code,
        mall.call("GET", "/v1/events", "admin", params={"after": -1}).status_code,
    }
    assert answers <= {int(s) for s in documented if s.isdigit()}, (answers, sorted(documented))
