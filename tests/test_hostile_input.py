"""Hostile input at its cause: JSON nested too deep or too large on every path (the
server's message lane and FastAPI routes, ``apply -f`` with YAML or JSON), message
payloads checked by kind with a size cap, payloads stored before the checks still
readable, keys with control characters or surrounding whitespace refused for every
kind, control characters refused in text fields (CLI, apply, API) and escaped when
printed (tables, TSV, the console's transcript)."""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

from cstool.json_limits import MAX_JSON_DEPTH, json_depth
from cstool.text_rules import terminal_safe
from tests.server_support import serve

ESC_NAME = "\x1b[31mRED\x07"


@pytest.fixture
def served(db_path, clock):
    """A server (with the message lane) over a file with two shops and a chat."""
    s = serve(db_path, clock)
    s.backend.apply({
        "shops": [{"key": "lf", "name": "翎衣女装", "service_mode": "human_first"},
                  {"key": "mb", "name": "萌宝母婴", "service_mode": "human_first"}],
        "agents": [{"handle": "xm", "name": "小美", "shops": ["lf"], "status": "online"}],
        "products": [{"key": "dress", "shop": "lf", "title": "连衣裙", "price": 299}],
        "customers": [{"key": "c77", "name": "王女士", "profiles": [{"shop": "lf"}]}],
    })
    yield s
    s.close()


def _raw(served, method: str, path: str, body: bytes, token: str | None = "",
         content_type: str = "application/json") -> httpx.Response:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, served.url + path, content=body, headers=headers, timeout=10)


# -- D4: depth and size before parsing, one error on every path -----------------------------
@pytest.mark.parametrize("path", ["/v1/shops/lf/messages", "/v1/apply", "/v1/products",
                                  "/v1/tickets", "/v1/shops/lf/quote"])
@pytest.mark.parametrize("with_token", [False, True])
def test_deep_json_is_one_400_on_every_route(served, path, with_token):
    token = served.admin if with_token else None
    for body in (b"[" * 1000, b"[" * 100_000 + b"]" * 100_000,
                 b'{"text": "x", "kind": "image", "payload": ' + b"[" * 990 + b"]" * 990 + b"}"):
        r = _raw(served, "POST", path, body, token)
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "too_deep"
    # at the limit, a body is parsed as usual (then refused for what it says)
    ok = _raw(served, "POST", path, json.dumps(_nested(MAX_JSON_DEPTH)).encode(), token)
    assert ok.json()["error"]["code"] != "too_deep"


def test_too_large_body_is_413_on_the_lane_and_elsewhere(db_path, clock):
    s = serve(db_path, clock, max_body=2048)
    try:
        big = json.dumps({"text": "x" * 5000}).encode()
        for path in ("/v1/shops/lf/messages", "/v1/apply"):
            r = _raw(s, "POST", path, big)
            assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    finally:
        s.close()


def test_the_lane_still_answers_normal_posts(served):
    token = served.customer_token("lf", "c77")
    r = _raw(served, "POST", "/v1/shops/lf/messages", json.dumps({"text": "在吗"}).encode(),
             token)
    assert r.status_code == 200, r.text
    assert served.server.server.config.app.lane.served >= 1


def test_a_leading_byte_order_mark_reads_the_same_on_both_paths(served):
    token = served.customer_token("lf", "c77")
    bom = b"\xef\xbb\xbf"
    lane = _raw(served, "POST", "/v1/shops/lf/messages",
                bom + json.dumps({"text": "在吗"}).encode(), token)
    assert lane.status_code == 200, lane.text
    # the same body with a field the lane does not take: FastAPI reads it the same way
    routed = _raw(served, "POST", "/v1/shops/lf/route-test",
                  bom + json.dumps({"customer": "c77", "text": "在吗"}).encode(), served.admin)
    assert routed.status_code == 200, routed.text
    created = _raw(served, "POST", "/v1/groups",
                   bom + json.dumps({"key": "g1", "shop": "lf", "name": "售前"}).encode(),
                   served.admin)
    assert created.status_code == 201, created.text


# -- D5: payloads by kind, a cap, old poison readable ---------------------------------------
def test_payloads_are_checked_by_kind(served):
    token = served.customer_token("lf", "c77")

    def post(body):
        return _raw(served, "POST", "/v1/shops/lf/messages", json.dumps(body).encode(), token)

    image = {"url": "https://img.example.cn/a.jpg", "width": 640, "height": 480}
    assert post({"text": "[图片]", "kind": "image", "payload": image}).status_code == 200
    bad = [
        {"text": "x", "kind": "image", "payload": _nested(40)},
        {"text": "x", "kind": "image", "payload": {"url": "javascript:alert(1)"}},
        {"text": "x", "kind": "image"},
        {"text": "x", "kind": "image", "payload": {"url": "https://a.cn/x", "evil": 1}},
        {"text": "x", "payload": {"note": "a text message carries no payload"}},
        {"text": "x", "kind": "image", "payload": {"url": "https://a.cn/x", "alt": ESC_NAME}},
    ]
    for body in bad:
        r = post(body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "invalid"
    huge = post({"text": "x", "kind": "image",
                 "payload": {"url": "https://a.cn/" + "a" * 9000}})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
    assert "CSTOOL_MAX_PAYLOAD" in huge.json()["error"]["message"]


def test_payload_cap_is_a_setting(served, monkeypatch):
    token = served.customer_token("lf", "c77")
    body = json.dumps({"text": "x", "kind": "image",
                       "payload": {"url": "https://a.cn/" + "a" * 1500}}).encode()
    assert _raw(served, "POST", "/v1/shops/lf/messages", body, token).status_code == 200
    monkeypatch.setenv("CSTOOL_MAX_PAYLOAD", "1024")
    r = _raw(served, "POST", "/v1/shops/lf/messages", body, token)
    assert r.status_code == 413 and "1,024" in r.json()["error"]["message"]


def test_an_agent_reply_card_is_checked_too(served):
    conv = served.backend.post_message("lf", "c77", "你好")["conversation"]["id"]
    agent = served.backend.get_conversation(conv)["assignee"]
    token = served.token(agent)
    ok = served.http("POST", f"/v1/conversations/{conv}/replies", token, json={
        "agent": agent, "text": "这款", "kind": "product",
        "payload": {"product": "dress", "title": "连衣裙", "price": "299.00", "stock": 3}})
    assert ok.status_code == 200, ok.text
    bad = served.http("POST", f"/v1/conversations/{conv}/replies", token, json={
        "agent": agent, "text": "这款", "kind": "product", "payload": {"price": [[[1]]]}})
    assert bad.status_code == 422


def test_a_poison_payload_stored_before_the_fix_reads_without_500(served):
    token = served.customer_token("lf", "c77")
    conv = served.backend.post_message("lf", "c77", "你好")["conversation"]["id"]
    with sqlite3.connect(served.backend.path) as conn:  # as an old server stored it
        conn.execute("UPDATE messages SET kind = 'image', payload = ? WHERE conversation_id = ?"
                     " AND sender = 'customer'", ("[" * 990 + "]" * 990, conv))
    for who in (served.admin, token):
        r = served.http("GET", f"/v1/conversations/{conv}", who)
        assert r.status_code == 200, r.text
        poisoned = [m for m in r.json()["messages"] if m["sender"] == "customer"][0]
        assert "unreadable" in poisoned["payload"]


# -- N8 and control characters: one rule in the core ----------------------------------------
@pytest.mark.parametrize("kind,record", [
    ("products", {"key": "dress2\n", "shop": "lf", "title": "裙", "price": 1}),
    ("customers", {"key": "c00002\n", "name": "王"}),
    ("groups", {"key": " g1", "shop": "lf", "name": "售前"}),
    ("knowledge_entries", {"key": "size_guide\n", "question": "尺码", "answer": "看表"}),
    ("knowledge_entries", {"key": "size\x1bguide", "question": "尺码", "answer": "看表"}),
    ("knowledge_entries", {"key": "size guide ", "question": "尺码", "answer": "看表"}),
])
def test_keys_with_controls_or_surrounding_space_are_refused(served, kind, record):
    r = served.http("POST", f"/v1/{kind}", json=record)
    assert r.status_code == 422, r.text
    r = served.http("POST", "/v1/apply", json={"document": {kind: [record]}})
    assert r.status_code == 422, r.text
    assert served.backend.list(kind) == [] or record["key"] not in {
        x["key"] for x in served.backend.list(kind)}


def test_a_customer_key_with_a_newline_cannot_post(served):
    r = served.http("POST", "/v1/shops/lf/messages",
                    json={"customer": "c77\n", "text": "冒充"})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("path,body", [
    ("/v1/customers", {"key": "c78", "name": ESC_NAME}),
    ("/v1/products", {"key": "p1", "shop": "lf", "title": "裙\u009b31m", "price": 1}),
    ("/v1/products", {"key": "p2", "shop": "lf", "title": "裙\n子", "price": 1}),
    ("/v1/products", {"key": "p3", "shop": "lf", "title": "裙", "price": 1,
                      "attributes": {"颜色": ["红\x1b[0m"]}}),
    ("/v1/shops/lf/messages", {"customer": "c77", "text": "hi\x1b]0;pwned\x07"}),
    ("/v1/shops/lf/messages", {"customer": "c77", "text": "hi\r"}),
    ("/v1/tickets", {"type": "complaint", "title": "坏\x1b", "shop": "lf"}),
    ("/v1/tokens", {"role": "admin", "label": "x\x1b[2J"}),
])
def test_control_characters_are_refused_in_text_fields(served, path, body):
    r = served.http("POST", path, json=body)
    assert r.status_code == 422, r.text
    assert "control character" in r.json()["error"]["message"]


def test_newline_and_tab_stay_allowed_where_text_is_multi_line(served):
    r = served.http("POST", "/v1/shops/lf/messages",
                    json={"customer": "c77", "text": "第一行\n第二行\t完"})
    assert r.status_code == 200, r.text
    r = served.http("POST", "/v1/quick_replies", json={
        "key": "hi", "shop": "lf", "title": "问候", "body": "亲，在的\n有什么可以帮您"})
    assert r.status_code == 201, r.text


# -- the CLI: files, options, printing ------------------------------------------------------
@pytest.mark.parametrize("name,text", [
    ("deep.yaml", "- " * 10_000 + "x\n"),
    ("deep-flow.yaml", "shops: " + "[" * 10_000 + "]" * 10_000 + "\n"),
    ("deep-map.yaml", "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "x\n"),
    ("deep.json", '{"shops": ' + "[" * 10_000 + "]" * 10_000 + "}"),
    ("laughs.yaml", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a]\n"
                    "c: &c [*b, *b, *b, *b, *b]\nshops: [*c]\n"),
])
def test_apply_refuses_hostile_files_in_one_line(cli, tmp_path, name, text):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    r = cli("apply", "-f", str(f))
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and str(f) in err or name in err, err


def test_cli_json_option_too_deep_is_one_line(cli):
    cli("shop", "create", "lf", "--name", "翎衣")
    r = cli("route", "add", "r1", "--shop", "lf", "--conditions", "[" * 5000 + "]" * 5000,
            "--to-shop")
    assert r.exit_code in (1, 2), r.output
    assert "Traceback" not in r.output and len(r.stderr.strip().splitlines()) == 1


def test_cli_refuses_control_characters_and_bad_keys(cli):
    assert cli("shop", "create", "lf", "--name", "翎衣").exit_code == 0
    r = cli("customer", "create", "c77777", "--name", ESC_NAME)
    assert r.exit_code == 1 and "control character" in r.stderr
    r = cli("customer", "create", "c77777\n", "--name", "王")
    assert r.exit_code == 1
    r = cli("product", "create", "p1", "--shop", "lf", "--title", "裙\x07", "--price", "1")
    assert r.exit_code == 1
    assert cli.json("customer", "list") == [] or all(
        "\x1b" not in c["name"] for c in cli.json("customer", "list"))


def _old_file_with_escapes(cli) -> None:
    """A file written by an older cstool: a customer whose name drives the terminal."""
    assert cli("customer", "create", "c77777", "--name", "王").exit_code == 0
    with sqlite3.connect(cli.db) as conn:
        conn.execute("UPDATE customers SET name = ? WHERE key = 'c77777'", (ESC_NAME,))


def test_tsv_and_tables_escape_what_old_files_hold(cli, monkeypatch):
    _old_file_with_escapes(cli)
    tsv = cli("customer", "list")
    assert tsv.exit_code == 0
    assert "\x1b" not in tsv.stdout and "\x07" not in tsv.stdout
    assert "\\x1b[31mRED\\x07" in tsv.stdout
    import commands.output as output

    monkeypatch.setattr(output, "is_terminal", lambda: True)
    table = cli("customer", "list")
    assert table.exit_code == 0 and "\x07" not in table.stdout
    assert "\\x1b[31mRED\\x07" in table.stdout.replace("\n", "").replace("│", "").replace(" ", "")
    shown = cli("customer", "show", "c77777")
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout


def test_json_output_escapes_c1_controls(cli):
    _old_file_with_escapes(cli)
    with sqlite3.connect(cli.db) as conn:
        conn.execute("UPDATE customers SET name = ? WHERE key = 'c77777'", ("王\u009b2J",))
    r = cli("customer", "show", "c77777", "--json")
    assert r.exit_code == 0, r.output
    assert "\u009b" not in r.stdout
    assert json.loads(r.stdout)["name"] == "王\u009b2J"  # still the same JSON


def test_the_console_transcript_escapes_message_text():
    from rich.console import Console

    from tui.widgets import message_renderable

    console = Console(width=60, record=True, color_system=None)
    console.print(message_renderable({"sender": "customer", "body": "hi\x1b]0;pwned\x07!",
                                      "at": "2026-11-20T10:00:00+08:00", "kind": "text"}))
    console.print(message_renderable({"sender": "agent", "agent": "x\x1b[2J", "kind": "product",
                                      "body": "\x1b[31m裙", "payload": {},
                                      "at": "2026-11-20T10:00:00+08:00"}))
    out = console.export_text()
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07!" in out and "\\x1b[31m裙" in out


# -- the pure helpers -------------------------------------------------------------------------
def test_depth_counts_brackets_outside_strings_only():
    assert json_depth('{"a": "[[[[[[", "b": [1, [2]]}') == 3
    assert json_depth(b'["\\"[[[["]') == 1
    assert json_depth("[" * 500, stop_after=64) == 65


def test_terminal_safe_makes_every_control_visible():
    assert terminal_safe("a\x1b[31mb\x07\x9b\u202ec") == "a\\x1b[31mb\\x07\\x9b\\u202ec"
    assert terminal_safe("行一\n行二\t!", keep_lines=True) == "行一\n行二\t!"
    assert terminal_safe("行一\n行二") == "行一\\n行二"
    assert terminal_safe("中文 plain") == "中文 plain"


def _nested(depth: int):
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


# -- D7: the OpenAPI document and the server agree -----------------------------------------
def test_undeclared_methods_are_405_with_the_paths_allow(served):
    for method, path, allow in [
        ("TRACE", "/v1/products/dress", "GET, HEAD, PATCH, DELETE"),
        ("PATCH", "/v1/agents/xm/desk", "GET, HEAD"),
        ("PUT", "/v1/shops/lf/messages", "POST"),
        ("PATCH", "/v1/tickets/report", "GET, HEAD"),
        ("GET", "/v1/apply", "POST"),
        ("DELETE", "/v1/customers/c77/stats", "GET, HEAD"),
    ]:
        r = served.http(method, path)
        assert r.status_code == 405, (method, path, r.status_code, r.text)
        assert r.headers["allow"] == allow, (method, path)
        assert r.json()["error"]["code"] == "method_not_allowed"
    schema = served.http("GET", "/openapi.json").json()
    assert set(schema["paths"]["/v1/agents/{agent}/desk"]) == {"get"}
    # a record whose key holds a slash is still a record (knowledge entry keys are text)
    ok = served.http("POST", "/v1/knowledge_entries",
                     json={"key": "faq/size", "question": "尺码", "answer": "看表"})
    assert ok.status_code == 201, ok.text
    assert served.http("GET", "/v1/knowledge_entries/faq/size").status_code == 200


def test_integer_valued_floats_are_integers(served):
    r = served.http("POST", "/v1/shops/lf/messages", json={
        "customer": "c77", "text": "在吗", "time_on_site_s": 3504023.0, "pages_viewed": 2.0})
    assert r.status_code == 200, r.text
    with sqlite3.connect(served.backend.path) as conn:
        stored = conn.execute("SELECT time_on_site_s FROM conversations WHERE id = ?",
                              (r.json()["conversation"]["id"],)).fetchone()[0]
    assert stored == 3504023 and type(stored) is int
    for bad in (2.5, True, "2"):
        r = served.http("POST", "/v1/shops/lf/messages",
                        json={"customer": "c77", "text": "在吗", "pages_viewed": bad})
        assert r.status_code == 422, (bad, r.text)


def test_the_schema_states_what_the_server_refuses(served):
    schema = served.http("GET", "/openapi.json").json()
    body = schema["components"]["schemas"]["PostMessageRequest"]["properties"]
    assert body["text"]["minLength"] == 1 and "pattern" in body["text"]
    assert body["kind"]["enum"][0] == "text"
    history = {p["name"]: p["schema"]
               for p in schema["paths"]["/v1/agents/{agent}/history"]["get"]["parameters"]}
    assert history["limit"]["minimum"] == 1 and history["text"]["minLength"] == 1
    # the bounds are the core's (cstool.api.bounds): stated in the schema, refused by the
    # core with its own code and key, as the Local backend refuses them
    below = served.http("GET", "/v1/agents/xm/history?text=x&limit=-1")
    assert below.status_code == 400, below.text
    assert "limit_below_one" in below.text
    empty = served.http("GET", "/v1/agents/xm/history?text=&limit=5")
    assert empty.status_code == 422, empty.text
    events = schema["paths"]["/v1/events"]["get"]["responses"]
    assert {"200", "400", "401", "403"} <= set(events)
    assert served.http("GET", "/v1/events", "").status_code == 401
