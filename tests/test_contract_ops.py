"""The Backend contract, operation by operation: every operation of the operations table
runs on every backend through the same test code, with the same results and the same
errors.

How it is built:

- ``BACKENDS`` (tests/contract_support.py) names each backend under test and how to
  start one over a fresh store (``local``: the Local backend on a file; ``remote``: the
  Remote backend against a real uvicorn on 127.0.0.1 over its own file, with an admin
  token; ``local-pg`` and ``remote-pg``: the same over a fresh PostgreSQL database of the
  session's throwaway cluster, tests/pg_support.py). Adding a backend is one line there.
- One store per backend is shared by the whole module (starting a server per test is
  slow); each test makes its own shop, agents and customers with fresh keys, so tests
  never see each other's data and may run in any order. The clock is frozen and set
  back to ``NOW`` before every test, so times compare as values.
- ``@covers("op", ...)`` registers which operations a test exercises. The ``be`` fixture
  records every operation a test really calls and fails the test if it declared one it
  did not call; ``test_every_operation_has_a_contract_test`` fails naming any operation
  of the table without a test, and any name in the registry that is not an operation.
- ``be.same(label, value)`` records a result with its store-dependent values (ids,
  cursors, secrets: ``STORE_FIELDS``) reduced to their type; when another backend ran
  the same test, the two must be equal (keys are the same on every backend, so the
  values compare). Every refusal (``be.refused``) is compared the same way: class,
  code, key and parameter names.
- Operations that only make sense for a token principal are explicit: the token
  operations (target ``tokens`` / ``principal`` in the table) run on the remote backend
  through the API with the admin token and on the local backend through
  ``auth.TokenStore`` over the same store (``be.tokens``, ``be.whoami``); the widget's
  customer operations run on the remote backend with a customer token and on the local
  backend directly, naming the customer (``be.as_customer``).
- A behaviour that differs between backends is a bug: its test is marked
  ``@differs(backend, reason)``, an ``xfail(strict=True)`` on that backend only, so it
  fails the day the backends agree and the mark must go (``-rx`` lists them).

The file is long on purpose: it is one test, family by family, per operation of the
table, and the registry check sees every contract test because they live here.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cstool.api.backend import ApplyResult
from cstool.auth import Unauthorized
from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from cstool.errors import Conflict, CstoolError, InvalidInput, NotFound, TooLarge, UsageError
from cstool.storage.migrations import LATEST
from cstool.validation import FieldError

from . import kb_support  # noqa: F401  (built bot models go to a private cache folder)
from .conftest import NOW
from .contract_support import BACKENDS, Store, operation_names, operations_table
from .file_support import EXE, GPS_MARK, PDF, b64, jpeg_with_exif, png

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
AT = "2026-11-20T10:00:00+08:00"  # NOW as the API writes it


# -- the registry --------------------------------------------------------------------------
COVERED: dict[str, set[str]] = {}  # operation -> the tests that exercise it


def covers(*names: str) -> Callable:
    """Declare the operations a test exercises (checked: the test must call each)."""

    def mark(fn: Callable) -> Callable:
        fn.covers = names
        for name in names:
            COVERED.setdefault(name, set()).add(fn.__name__)
        return fn

    return mark


def differs(backend: str, reason: str) -> Callable:
    """A known difference: on ``backend`` the test fails for ``reason`` (a bug for the
    lead to fix); marked xfail(strict=True) there, so the day it passes the mark must go."""

    def mark(fn: Callable) -> Callable:
        fn.differs = {**getattr(fn, "differs", {}), backend: reason}
        return fn

    return mark


_STORES: dict[str, Store] = {}
_CLOCK = FrozenClock(NOW)


@pytest.fixture(scope="module", autouse=True)
def _stores_closed():
    """Close the module's stores at its end (they start lazily, in any test order)."""
    yield
    while _STORES:
        _STORES.popitem()[1].close()


class Recorded:
    """A proxy that notes the name of every operation called through it."""

    def __init__(self, target: Any, calls: set[str]):
        self._target = target
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and name in operation_names():
            def call(*args: Any, **kwargs: Any) -> Any:
                self._calls.add(name)
                result = value(*args, **kwargs)
                leaked = private_keys(result)
                assert not leaked, f"{name} answers private keys {leaked}"
                return result
            return call
        return value


def private_keys(value: Any, path: str = "") -> list[str]:
    """Keys starting with ``_`` anywhere in a result (an implementation's own fields,
    such as ``_orders`` or ``_routed_to``, are never part of an answer)."""
    if isinstance(value, ApplyResult):
        value = value.to_dict()
    if isinstance(value, dict):
        out = [f"{path}.{k}" for k in value if isinstance(k, str) and k.startswith("_")]
        for k, v in value.items():
            out += private_keys(v, f"{path}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [x for i, v in enumerate(value) for x in private_keys(v, f"{path}[{i}]")]
    return []


class Contract(Recorded):
    """What a test gets as ``be``: the backend under test (operations recorded), with
    fresh keys, the token and customer views, and the cross-backend shape check."""

    def __init__(self, store: Store, test: str, calls: set[str]):
        super().__init__(store.backend, calls)
        self.store = store
        self.kind = store.name
        self.test = test
        self.tag = base36(zlib.crc32(test.encode()) % 36**5)
        self.made = 0
        self.refusals = 0
        self.compare = True  # off in a test of a known difference (it asserts values)
        self.clock = store.clock

    def key(self, prefix: str) -> str:
        """A key no other test uses, the same on every backend (so results compare)."""
        self.made += 1
        return f"{prefix}{self.made}x{self.tag}"

    @property
    def tokens(self) -> Recorded:
        """The token operations (``create_token``, ``list_tokens`` ...)."""
        return Recorded(self.store.tokens(), self._calls)

    def whoami(self, secret: str) -> dict:
        """The ``whoami`` operation for the bearer of ``secret``."""
        self._calls.add("whoami")
        return self.store.whoami(secret)

    def as_customer(self, shop: str, customer: str) -> tuple[Recorded, str | None]:
        """(backend acting as the customer, the customer argument for post_message)."""
        backend, arg = self.store.as_customer(shop, customer)
        return Recorded(backend, self._calls), arg

    def backup_target(self, name: str) -> str:
        """backup's ``target`` for a copy named ``name``."""
        return self.store.backup_target(name)

    def same(self, label: str, value: Any, *, exact: bool = False,
             only_shape: bool = False) -> Any:
        """Check that ``value`` is what the other backends answered: the same values but
        for ids and secrets (``exact``: all values; ``only_shape``: keys, lengths and
        types only, for answers about the whole store); returns it."""
        if not self.compare:
            return value
        seen = SHAPES.setdefault((self.test, label), {})
        seen[self.kind] = (value if exact else shape(value) if only_shape
                           else comparable(value))
        for other, their in seen.items():
            assert seen[self.kind] == their, (
                f"{label}: {self.kind} and {other} answer differently")
        return value

    @contextlib.contextmanager
    def refused(self, cls: type[CstoolError], key: str | None = None,
                match: str | None = None, *, keys_differ: str | None = None) -> Iterator[Any]:
        """The block raises exactly ``cls`` (with ``key`` and a message containing
        ``match`` when given); class, code, key and parameter names are then the same on
        every backend (checked like ``same``). ``keys_differ`` names the test that pins a
        known difference of key or parameters (only class and code are compared here)."""
        with pytest.raises(CstoolError) as info:
            yield info
        err = info.value
        assert type(err) is cls, f"{type(err).__name__} ({err.code}): {err}"
        assert err.code == cls.code
        if key is not None:
            assert err.key == key, f"key {err.key!r}: {err}"
        if match is not None:
            assert match in str(err), str(err)
        self.refusals += 1
        seen = {"class": type(err).__name__, "code": err.code}
        if keys_differ is None:
            seen.update(key=err.key, params=sorted(err.params))
        else:
            assert getattr(globals().get(keys_differ), "differs", None), keys_differ
        self.same(f"refusal {self.refusals}", seen, exact=True)


SHAPES: dict[tuple[str, str], dict[str, Any]] = {}


def base36(n: int) -> str:
    """``n`` in digits and lowercase letters."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


# Fields whose values depend on the store's history (ids, cursors) or are random (secrets):
# compared by type only.
STORE_FIELDS = frozenset({"id", "conversation", "ticket", "message", "last_event", "cursor",
                          "group", "token", "prefix", "path", "size_bytes", "now_ms",
                          "assigned", "returned"})
# fields that are a row's id when they are a number (a message id in a bot event's payload;
# text elsewhere): PostgreSQL's identities also move on rolled-back inserts, SQLite's do not
STORE_IDS = frozenset({"question"})


def comparable(value: Any, field: str | None = None) -> Any:
    """A result with the values that depend on the store (STORE_FIELDS) replaced by their
    shape: what every backend must answer alike."""
    if field in STORE_FIELDS or (field in STORE_IDS and isinstance(value, int)):
        return shape(value)
    if isinstance(value, ApplyResult):
        return ("ApplyResult", comparable(value.to_dict()))
    if isinstance(value, dict):
        return {k: comparable(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [comparable(v) for v in value]
    return value


def shape(value: Any) -> Any:
    """Keys, list lengths and JSON types of a result (values left out)."""
    if isinstance(value, ApplyResult):
        return ("ApplyResult", shape(value.to_dict()))
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # a tuple is a list in JSON (differs() notes where)
        return [shape(v) for v in value]
    return type(value).__name__


@pytest.fixture(params=sorted(BACKENDS))
def be(request, tmp_path_factory) -> Iterator[Contract]:
    """Each backend in turn (module-shared store, clock at NOW); checks the test's
    ``@covers`` against the operations it called."""
    name = request.param
    if name not in _STORES:
        _STORES[name] = BACKENDS[name](tmp_path_factory.mktemp(name), _CLOCK)
    _CLOCK.set(NOW)
    reason = getattr(request.function, "differs", {}).get(name)
    if reason is not None:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))
    calls: set[str] = set()
    failed = request.session.testsfailed
    contract = Contract(_STORES[name], request.function.__name__, calls)
    contract.compare = not getattr(request.function, "differs", None)
    yield contract
    if request.session.testsfailed == failed and reason is None:  # it ran to its end
        missing = set(getattr(request.function, "covers", ())) - calls
        assert not missing, f"declared @covers but never called: {sorted(missing)}"


# -- a world per test -----------------------------------------------------------------------
class World:
    """A shop with two agents of one group, a product, a coupon and a customer; fresh
    keys. Agents start busy (they pull, routing gives them nothing) unless told."""

    def __init__(self, be: Contract, *, mode: str = "human_first", status: str = "busy",
                 shop: dict | None = None):
        self.shop = be.key("s")
        s = self.shop
        self.group, self.a, self.b = f"{s}-pre", f"{s}-a", f"{s}-b"
        self.product, self.coupon, self.customer = f"{s}-dress", f"{s}-c20", f"{s}-wl"
        be.apply({
            "shops": [{"key": s, "name": "翎衣女装", "service_mode": mode, **(shop or {})}],
            "groups": [{"key": self.group, "shop": s, "name": "售前组"}],
            "agents": [{"handle": self.a, "name": "小美", "shops": [s], "groups": [self.group],
                        "status": status, "max_chats": 5},
                       {"handle": self.b, "name": "小王", "shops": [s], "groups": [self.group],
                        "status": status, "max_chats": 5}],
            "products": [{"key": self.product, "shop": s, "title": "法式碎花连衣裙",
                          "category": "连衣裙", "price": 299, "stock": 9}],
            "coupons": [{"key": self.coupon, "shop": s, "name": "满200减20", "kind": "amount",
                         "amount": 20, "threshold": 200}],
            "customers": [{"key": self.customer, "name": "王丽",
                           "profiles": [{"shop": s, "level": 3, "tags": ["vip"]}],
                           "coupons": [{"coupon": self.coupon}]}],
        })


def chat(be: Contract, w: World, text: str = "你好，这件有M码吗") -> int:
    """A queued chat of the world's customer; its id."""
    return be.post_message(w.shop, w.customer, text)["conversation"]["id"]


def taken(be: Contract, w: World, text: str = "你好，这件有M码吗") -> int:
    """A chat agent a has accepted; its id."""
    cid = chat(be, w, text)
    assert be.accept_next(w.a)["id"] == cid
    return cid


# == the registry itself ======================================================================
def test_every_operation_has_a_contract_test():
    ops = operation_names()
    assert len(ops) == len(operations_table()), "operation names are unique"
    without = sorted(ops - set(COVERED))
    assert not without, f"operations without a contract test: {without}"
    unknown = sorted(set(COVERED) - ops)
    assert not unknown, f"@covers names that are not operations: {unknown}"
    tests = {name for names in COVERED.values() for name in names}
    alone = sorted(t for t in tests if "be" not in inspect.signature(globals()[t]).parameters)
    assert not alone, f"contract tests that do not run on every backend: {alone}"


# == the store ================================================================================
@covers("info", "upgrade")
def test_info_and_upgrade(be):
    World(be)
    info = be.info()
    assert info["schema_version"] == info["latest_schema_version"] == LATEST
    assert info["journal_mode"] == "wal"
    assert info["tables"]["shops"] >= 1 and info["tables"]["agents"] >= 2
    assert be.upgrade() == []
    assert be.info()["schema_version"] == LATEST


@covers("backup")
@differs("local-pg", "a PostgreSQL database is backed up with pg_dump (or the provider's "
         "snapshots), not by cstool: backup is refused with Conflict db_backup_postgres "
         "(tests/test_postgres_engine.py)")
@differs("remote-pg", "as 'local-pg': backup is refused on PostgreSQL")
def test_backup_copies_the_store(be):
    w = World(be)
    name = f"{w.shop}.db"
    out = be.same("backup", be.backup(be.backup_target(name)))
    assert Path(out["path"]).name == name and out["size_bytes"] > 0
    copy = LocalBackend(out["path"])
    try:
        assert copy.get("shops", w.shop)["name"] == "翎衣女装"
    finally:
        copy.close()


@covers("backup")
@differs("local-pg", "a PostgreSQL database is backed up with pg_dump (or the provider's "
         "snapshots), not by cstool: backup is refused with Conflict db_backup_postgres "
         "(tests/test_postgres_engine.py)")
@differs("remote-pg", "as 'local-pg': backup is refused on PostgreSQL")
def test_backup_refuses_an_existing_copy(be):
    w = World(be)
    target = be.backup_target(f"{w.shop}-twice.db")
    be.backup(target)
    with be.refused(Conflict):
        be.backup(target)


# == records ==================================================================================
@covers("create", "get", "list", "update", "delete")
def test_records_create_read_update_delete(be):
    w = World(be)
    made = be.same("create", be.create("products", {
        "key": f"{w.shop}-sock", "shop": w.shop, "title": "袜子", "price": "19.9"}))
    assert (made["price"], made["title"]) == (19.9, "袜子")
    assert be.same("get", be.get("products", f"{w.shop}-sock")) == made
    listed = be.same("list", be.list("products", shop=w.shop))
    assert [p["key"] for p in listed] == [w.product, f"{w.shop}-sock"]
    assert [p["key"] for p in be.list("products", shop=w.shop, limit=1,
                                      after=w.product)] == [f"{w.shop}-sock"]
    changed = be.same("update", be.update("products", f"{w.shop}-sock",
                                          {"price": 25, "category": "袜子"}))
    assert (changed["price"], changed["category"], changed["title"]) == (25, "袜子", "袜子")
    assert be.update("products", f"{w.shop}-sock", {"category": None}).get("category") is None
    assert be.delete("products", f"{w.shop}-sock") is None
    with be.refused(NotFound):
        be.get("products", f"{w.shop}-sock")


@covers("create", "get", "list", "update", "delete")
def test_records_errors(be):
    w = World(be)
    with be.refused(Conflict, "exists_already"):
        be.create("shops", {"key": w.shop, "name": "again"})
    with be.refused(FieldError, match="unknown shop"):
        be.create("products", {"key": be.key("p"), "shop": be.key("nope"), "title": "t",
                               "price": 1})
    with be.refused(NotFound):
        be.get("shops", be.key("none"))
    with be.refused(UsageError):
        be.get("spaceships", "x")
    with be.refused(NotFound):
        be.list("products", shop=be.key("nope"))
    with be.refused(UsageError):
        be.update("shops", w.shop, {"key": "other"})
    with be.refused(Conflict, match="still used by"):
        be.delete("shops", w.shop)


@covers("apply", "export")
def test_apply_and_export(be):
    s = be.key("s")
    doc = {"shops": [{"key": s, "name": "店"}],
           "products": [{"key": f"{s}-p", "shop": s, "title": "袜子", "price": 1}]}
    first = be.apply(doc)
    be.same("apply", first)
    assert [(c.kind, c.key, c.action) for c in first.changes] == [
        ("shops", s, "create"), ("products", f"{s}-p", "create")]
    assert be.apply(doc).count("unchanged") == 2
    dry = be.apply({"shops": [{"key": s, "name": "新名"}]}, dry_run=True)
    assert dry.dry_run and [(c.key, c.action, c.fields) for c in dry.changes] == [
        (s, "update", ["name"])]
    assert be.get("shops", s)["name"] == "店"
    part = be.same("export", be.export(shop=s))
    assert [r["key"] for r in part["shops"]] == [s]
    assert [(r["key"], r["price"]) for r in part["products"]] == [(f"{s}-p", 1)]
    assert s in [r["key"] for r in be.export()["shops"]]


@covers("apply", "export")
def test_apply_and_export_errors(be):
    s = be.key("s")
    with be.refused(FieldError) as info:
        be.apply({"shops": [{"key": s, "name": "店"}],
                  "products": [{"key": f"{s}-q", "shop": be.key("zz"), "title": "t",
                                "price": 1}]})
    assert info.value.path == "products[0].shop"
    with be.refused(NotFound):
        be.get("shops", s)  # all or nothing
    with be.refused(NotFound):
        be.export(shop=s)


@covers("bulk_load", "customer_stats")
def test_bulk_load_and_customer_stats(be):
    w = World(be)
    c = be.key("bc")
    assert be.bulk_load("customers", [
        {"key": f"{c}-{i}", "name": "客", "profiles": [{"shop": w.shop, "level": 1}]}
        for i in range(20)]) == 20
    assert be.bulk_load("orders", [{
        "key": f"{c}-o1", "shop": w.shop, "customer": f"{c}-7", "status": "paid",
        "created_at": NOW - DAY_MS, "paid_at": NOW - DAY_MS + 60_000,
        "items": [{"product": w.product, "quantity": 2, "price": 29900}], "discount": 1000,
    }]) == 1
    stats = be.same("customer_stats", be.customer_stats(f"{c}-7"))
    assert [(s["shop"], s["orders"], s["spend"]) for s in stats] == [(w.shop, 1, 588)]
    assert be.get("customers", f"{c}-19")["profiles"][0]["level"] == 1
    with be.refused(NotFound):
        be.customer_stats(be.key("nobody"))
    with be.refused(UsageError):
        be.bulk_load("spaceships", [{"key": "x"}])


@covers("move_rule")
def test_move_rule(be):
    w = World(be)
    be.apply({"routing_rules": [{"key": f"{w.shop}-r{i}", "shop": w.shop,
                                 "target": {"shop": True}} for i in (1, 2, 3)]})
    moved = be.same("move_rule", be.move_rule(f"{w.shop}-r3", 1))
    assert (moved["key"], moved["position"]) == (f"{w.shop}-r3", 1)
    assert [(r["key"], r["position"]) for r in be.list("routing_rules", shop=w.shop)] == [
        (f"{w.shop}-r3", 1), (f"{w.shop}-r1", 2), (f"{w.shop}-r2", 3)]
    with be.refused(NotFound):
        be.move_rule(be.key("norule"), 1)


@covers("keep_open", "post_message")
def test_keep_open(be):
    # Open only on Friday evenings: at AT (a Friday, 10:00 in Shanghai) the shop is closed.
    w = World(be, status="online", shop={"timezone": "Asia/Shanghai",
                                         "business_hours": {"fri": "20:00-23:00"},
                                         "off_hours_mode": "bot_only"})
    closed = be.post_message(w.shop, w.customer, "转人工", client_id="k1")
    assert closed["conversation"]["state"] == "bot"  # outside hours the bot serves alone
    assert be.same("keep_open", be.keep_open(w.shop)) is None
    second = be.key("c")
    be.create("customers", {"key": second, "name": "李娜"})
    opened = be.post_message(w.shop, second, "转人工", client_id="k2")
    assert opened["conversation"]["state"] in ("queued", "active")  # a person, off hours
    be.keep_open(w.shop, keep=False)  # its hours are back
    third = be.key("c")
    be.create("customers", {"key": third, "name": "张伟"})
    back = be.post_message(w.shop, third, "转人工", client_id="k3")
    assert back["conversation"]["state"] == "bot"
    with be.refused(NotFound):
        be.keep_open(be.key("noshop"))


# == the desk =================================================================================
@covers("post_message", "queue", "route_explain", "accept_next", "reply", "transfer",
        "close_conversation", "reopen_conversation", "rate", "get_conversation",
        "list_conversations", "set_agent_status")
def test_desk_flow(be):
    w = World(be)
    posted = be.same("post", be.post_message(w.shop, w.customer, "你好，这件有M码吗",
                                             channel="app", client_id="m1"))
    conv = posted["conversation"]
    cid = conv["id"]
    assert (conv["state"], conv["assignee"], conv["channel"], conv["customer_name"]) == (
        "queued", None, "app", "王丽")
    assert (conv["created_at"], conv["queue_position"]) == (AT, 1)
    assert posted["message"]["body"] == "你好，这件有M码吗" and posted["duplicate"] is False
    again = be.post_message(w.shop, w.customer, "你好，这件有M码吗", client_id="m1")
    assert again["duplicate"] is True and again["message"]["id"] == posted["message"]["id"]
    assert [c["id"] for c in be.same("queue", be.queue(w.shop))] == [cid]
    explained = be.same("route_explain", be.route_explain(cid))
    assert (explained["rule"], explained["queued"]) == ("fallback", True)

    accepted = be.same("accept", be.accept_next(w.a))
    assert (accepted["id"], accepted["state"], accepted["assignee"]) == (cid, "active", w.a)
    assert be.accept_next(w.a) is None
    assert be.queue(w.shop) == []
    said = be.same("reply", be.reply(w.a, cid, "有的，亲"))
    assert (said["sender"], said["agent"], said["body"], said["at"]) == (
        "agent", w.a, "有的，亲", AT)

    be.set_agent_status(w.b, "online")
    moved = be.same("transfer", be.transfer(cid, by=w.a, to_agent=w.b, note="交给你"))
    assert (moved["assignee"], moved["state"]) == (w.b, "active")
    closed = be.same("close", be.close_conversation(cid, by=w.b))
    assert (closed["state"], closed["close_reason"], closed["closed_at"]) == (
        "closed", "resolved", AT)
    reopened = be.same("reopen", be.reopen_conversation(cid, by=w.b))
    assert (reopened["state"], reopened["assignee"], reopened["closed_at"]) == (
        "active", w.b, None)
    be.close_conversation(cid, by=w.b)
    rated = be.same("rate", be.rate(cid, 5, "很好"))
    assert (rated["rating"], rated["state"]) == (5, "closed")

    full = be.same("get_conversation", be.get_conversation(cid))
    assert [(m["sender"], m["body"]) for m in full["messages"] if m["sender"] != "system"] == [
        ("customer", "你好，这件有M码吗"), ("agent", "有的，亲"), ("customer", "很好")]
    assert "messages" not in be.get_conversation(cid, messages=False)
    listed = be.same("list_conversations", be.list_conversations(shop=w.shop))
    assert [(c["id"], c["state"], c["rating"]) for c in listed] == [(cid, "closed", 5)]
    assert be.list_conversations(shop=w.shop, state="queued") == []
    assert [c["id"] for c in be.list_conversations(customer=w.customer)] == [cid]
    status = be.same("status", be.set_agent_status(w.a, "offline"))
    assert status == {"agent": w.a, "status": "offline", "returned": [], "assigned": []}


@covers("set_agent_status", "post_message")
def test_coming_online_takes_the_queue(be):
    w = World(be, status="offline")
    first, second = chat(be, w), chat(be, w)
    assert first == second  # the same customer writes into the same chat
    out = be.same("status", be.set_agent_status(w.a, "online"))
    assert out == {"agent": w.a, "status": "online", "returned": [], "assigned": [first]}
    gone = be.set_agent_status(w.a, "offline")
    assert gone["returned"] == [first]


@covers("post_message", "accept_next", "reply", "transfer", "close_conversation",
        "reopen_conversation", "rate", "get_conversation", "set_agent_status", "queue",
        "list_conversations", "route_explain")
def test_desk_errors(be):
    w = World(be)
    missing = 10**9
    with be.refused(NotFound):
        be.post_message(be.key("noshop"), w.customer, "你好")
    with be.refused(UsageError, "unknown_status"):
        be.set_agent_status(w.a, "sleeping")
    with be.refused(NotFound):
        be.accept_next(be.key("nobody"))
    with be.refused(NotFound):
        be.get_conversation(missing)
    with be.refused(NotFound):
        be.route_explain(missing)
    with be.refused(NotFound):
        be.queue(be.key("noshop"))
    with be.refused(NotFound):
        be.list_conversations(shop=be.key("noshop"))
    cid = chat(be, w)
    with be.refused(Conflict):
        be.reply(w.a, cid, "还没接就回")
    be.accept_next(w.a)
    with be.refused(Conflict):
        be.rate(cid, 5)  # not closed yet
    with be.refused(Conflict):
        be.transfer(cid, by=w.b, to_agent=w.a)  # not b's chat
    be.close_conversation(cid, by=w.a)
    with be.refused(Conflict):
        be.close_conversation(cid, by=w.a)
    with be.refused(InvalidInput):
        be.rate(cid, 9)
    with be.refused(Conflict):
        be.reopen_conversation(cid, by=w.b)


@covers("route_test")
def test_route_test(be):
    w = World(be, status="online")
    be.apply({"routing_rules": [{"key": f"{w.shop}-vip", "shop": w.shop,
                                 "conditions": {"field": "customer.level", "op": "ge",
                                                "value": 3},
                                 "target": {"agent": w.b}}]})
    out = be.same("route_test", be.route_test(w.shop, w.customer, "有M码吗", channel="app"))
    assert (out["agent"], out["rule"], out["queued"]) == (w.b, f"{w.shop}-vip", False)
    assert out["facts"]["customer.level"] == 3 and out["facts"]["conversation.channel"] == "app"
    assert be.list_conversations(shop=w.shop) == []  # a dry run
    with be.refused(NotFound):
        be.route_test(be.key("noshop"), w.customer, "你好")


def capacity_freed(be: Contract) -> tuple[World, int]:
    """A chat left waiting by agent a at capacity, then a's capacity raised: the queue
    waits for drain_queues (an update does not hand out chats)."""
    w = World(be, status="online")
    be.update("agents", w.b, {"status": "offline"})
    be.update("agents", w.a, {"max_chats": 1})
    chat(be, w)
    waiting = be.post_message(w.shop, be.key("c"), "还有人吗")["conversation"]
    assert waiting["state"] == "queued"
    be.update("agents", w.a, {"max_chats": 2})
    assert be.queue(w.shop)[0]["id"] == waiting["id"]
    return w, waiting["id"]


@covers("drain_queues", "close_idle")
def test_drain_queues_and_close_idle(be):
    w, cid = capacity_freed(be)
    drained = be.drain_queues()
    assert [list(p) for p in drained if p[0] == cid] == [[cid, w.a]]
    assert be.get_conversation(cid, messages=False)["assignee"] == w.a
    assert be.queue(w.shop) == []
    be.reply(w.a, cid, "在的")
    assert cid not in be.close_idle()
    be.clock.advance(3 * 3600)
    assert be.same("close_idle", [c for c in be.close_idle() if c == cid],
                   only_shape=True) == [cid]
    conv = be.get_conversation(cid, messages=False)
    assert conv["state"] == "closed"
    assert cid not in be.close_idle()


@covers("drain_queues")
def test_drain_queues_answers_lists(be):
    w, cid = capacity_freed(be)
    assert [p for p in be.drain_queues() if p[0] == cid] == [[cid, w.a]]


# == the agent console ========================================================================
@covers("agent_desk", "mark_seen", "customer_context", "search_history", "send_card")
def test_console_operations(be):
    w = World(be)
    cid = taken(be, w)
    desk = be.same("agent_desk", be.agent_desk(w.a))
    assert (desk["agent"]["handle"], desk["agent"]["status"]) == (w.a, "busy")
    assert [s["key"] for s in desk["shops"]] == [w.shop]
    assert [(c["id"], c["customer"], c["unread"]) for c in desk["chats"]] == [
        (cid, w.customer, True)]
    assert desk["waiting"] == {w.shop: 0}
    assert be.mark_seen(w.a, cid) is None
    assert be.agent_desk(w.a)["chats"][0]["unread"] is False
    ctx = be.same("customer_context", be.customer_context(cid))
    assert (ctx["customer"], ctx["name"], ctx["level"], ctx["tags"]) == (
        w.customer, "王丽", 3, ["vip"])
    assert [c["key"] for c in ctx["coupons"]] == [w.coupon]
    hits = be.same("search_history", be.search_history(w.a, "M码"))
    assert [(h["conversation"], h["sender"], h["body"]) for h in hits] == [
        (cid, "customer", "你好，这件有M码吗")]
    assert be.search_history(w.b, "M码") == []
    card = be.same("send_card", be.send_card(w.a, cid, "product", w.product))
    assert (card["kind"], card["payload"]["product"], card["payload"]["price"]) == (
        "product", w.product, 299)
    be.create("coupons", {"key": f"{w.shop}-c50", "shop": w.shop, "name": "满500减50",
                          "kind": "amount", "amount": 50, "threshold": 500})
    coupon = be.send_card(w.a, cid, "coupon", f"{w.shop}-c50")
    assert (coupon["kind"], coupon["payload"]["coupon"]) == ("coupon", f"{w.shop}-c50")
    with be.refused(Conflict):
        be.send_card(w.a, cid, "coupon", f"{w.shop}-c50")  # held already


@covers("agent_desk", "mark_seen", "customer_context", "search_history", "send_card")
def test_console_errors(be):
    w = World(be)
    cid = taken(be, w)
    with be.refused(NotFound):
        be.agent_desk(be.key("nobody"))
    with be.refused(NotFound):
        be.customer_context(10**9)
    with be.refused(NotFound):
        be.mark_seen(w.a, 10**9)
    with be.refused(NotFound):
        be.search_history(be.key("nobody"), "M码")
    with be.refused(NotFound):
        be.send_card(w.a, cid, "product", be.key("noproduct"))
    with be.refused(InvalidInput):
        be.send_card(w.a, cid, "sticker", w.product)


@covers("price_quote", "invite")
def test_price_quote_and_invite(be):
    w = World(be)
    cid = taken(be, w)
    quote = be.same("price_quote", be.price_quote(
        w.shop, [{"product": w.product, "quantity": 1}], w.customer))
    assert (quote["subtotal"], quote["total"], quote["saving"]) == (299, 279, 20)
    assert quote["coupon"]["key"] == w.coupon and quote["at"] == AT
    pairs = be.price_quote(w.shop, [[w.product, 2]])
    assert (pairs["subtotal"], pairs["total"], pairs["coupon"]) == (598, 598, None)
    card = be.same("invite", be.invite(cid, w.a, w.product, 1, w.coupon))
    assert (card["kind"], card["payload"]["total"], card["payload"]["saving"]) == (
        "invitation", 279, 20)
    with be.refused(NotFound):
        be.price_quote(w.shop, [{"product": be.key("noproduct"), "quantity": 1}])
    with be.refused(Conflict):
        be.invite(cid, w.b, w.product)  # not b's chat


# == the knowledge bot ========================================================================
def knowledge(be: Contract, w: World) -> None:
    be.apply({"knowledge_entries": [
        {"key": f"{w.shop}-invoice", "shop": w.shop, "question": "怎么开发票？",
         "similar": ["可以开发票吗", "发票怎么开", "电子发票"],
         "answer": "确认收货后在订单详情申请开票。", "category": "invoice"},
        {"key": f"{w.shop}-ship", "shop": w.shop, "question": "什么时候发货？",
         "similar": ["多久发货", "今天能发吗", "付款后多久发出"],
         "answer": "48小时内发货。", "category": "shipping"},
        {"key": f"{w.shop}-return", "shop": w.shop, "question": "怎么退货？",
         "similar": ["不想要了怎么退", "七天无理由退货", "退货流程"],
         "answer": "在订单里点申请售后。", "category": "returns"},
    ]})


@covers("warm_knowledge", "ask_bot", "search_knowledge", "suggest_answers")
def test_bot_answers(be):
    w = World(be)
    knowledge(be, w)
    warm = be.warm_knowledge(w.shop)  # its other fields tell how (built, from disk)
    assert (warm["shop"], warm["entries"]) == (w.shop, 3)
    asked = be.same("ask_bot", be.ask_bot("怎么开发票", shop=w.shop))
    assert (asked["action"], asked["entry"], asked["answer"]) == (
        "answer", f"{w.shop}-invoice", "确认收货后在订单详情申请开票。")
    hits = be.same("search_knowledge", be.search_knowledge("多久发货", shop=w.shop, k=2))
    assert len(hits) == 2 and hits[0]["entry"] == f"{w.shop}-ship"
    cid = taken(be, w, "你好")
    be.post_message(w.shop, w.customer, "请问怎么开发票呀")
    tips = be.same("suggest_answers", be.suggest_answers(cid, 2))
    assert [t["entry"] for t in tips][:1] == [f"{w.shop}-invoice"] and len(tips) == 2
    assert tips[0]["for"] == "请问怎么开发票呀"
    with be.refused(NotFound):
        be.suggest_answers(10**9)
    with be.refused(NotFound):
        be.ask_bot("你好", shop=be.key("noshop"))
    with be.refused(NotFound, "no_shop"):
        be.warm_knowledge(be.key("noshop"))
    with be.refused(NotFound, "no_shop"):
        be.search_knowledge("发票", shop=be.key("noshop"))


@covers("unanswered_questions", "learn_question", "dismiss_unanswered")
def test_bot_learning_loop(be):
    w = World(be, mode="bot_first")
    knowledge(be, w)
    c = be.key("c")
    for i, text in enumerate(("你们家衣服好看吗", "你们家衣服好看吗？", "你们老板是谁")):
        be.post_message(w.shop, f"{c}-{i}", text)
    groups = be.same("unanswered", be.unanswered_questions(shop=w.shop))
    assert [(g["question"], g["count"]) for g in groups] == [
        ("你们家衣服好看吗", 2), ("你们老板是谁", 1)]
    learned = be.same("learn", be.learn_question(groups[0]["group"], new=f"{w.shop}-quality",
                                                 answer="都是实拍", category="product"))
    assert learned["created"] and learned["resolved"] == 2
    assert (learned["record"]["question"], learned["record"]["shop"]) == (
        "你们家衣服好看吗", w.shop)
    asked = be.ask_bot("你们家衣服好看吗", shop=w.shop)
    assert (asked["action"], asked["entry"]) == ("answer", f"{w.shop}-quality")
    assert be.dismiss_unanswered(groups[1]["group"]) == 1
    assert be.unanswered_questions(shop=w.shop) == []
    with be.refused(NotFound):
        be.dismiss_unanswered("#999999999")
    with be.refused(UsageError):
        be.learn_question("你们老板是谁", shop=w.shop)  # neither entry nor new
    with be.refused(NotFound, "no_shop"):
        be.unanswered_questions(shop=be.key("noshop"))


@covers("suggest_knowledge", "accept_kb_suggestion", "reject_kb_suggestion")
def test_knowledge_suggestions_from_what_agents_answer(be):
    w = World(be)
    knowledge(be, w)

    def human_chat(customer: str, question: str, answer: str) -> int:
        cid = be.post_message(w.shop, customer, question)["conversation"]["id"]
        assert be.accept_next(w.a)["id"] == cid
        be.reply(w.a, cid, "亲，您好，请稍等~")  # a greeting answers nothing
        be.post_message(w.shop, customer, "123456789012")  # an order number: no question
        be.reply(w.a, cid, answer)
        be.close_conversation(cid, by=w.a)
        return cid

    c = be.key("c")
    one = human_chat(f"{c}-1", "可以用花呗分期吗", "支持花呗分期，结算时选择花呗即可，3期免息。")
    two = human_chat(f"{c}-2", "能用花呗分期付款吗？",
                     "支持花呗分期的，结算时选花呗就行，3期免息哦")
    boss = human_chat(f"{c}-3", "你们老板是谁呀", "我们是品牌官方旗舰店，老板是设计师本人哦")
    known = human_chat(f"{c}-4", "怎么开发票", "确认收货后在订单详情申请开票就可以啦")
    found = be.same("suggest", be.suggest_knowledge(w.shop, since="all"))
    assert [(s["kind"], s["conversations"]) for s in found] == [
        ("new", sorted([one, two])), ("new", [boss])]  # 怎么开发票: the bot answers it
    huabei = found[0]
    assert (huabei["question"], huabei["similar"], huabei["evidence"]) == (
        "可以用花呗分期吗", ["能用花呗分期付款吗？"], 2)
    assert "花呗" in huabei["answer"] and known not in huabei["conversations"]
    assert "花呗" not in (be.ask_bot("可以用花呗分期吗", shop=w.shop)["answer"] or "")
    assert be.get("knowledge_entries", f"{w.shop}-invoice")["similar"] == [
        "可以开发票吗", "发票怎么开", "电子发票"]  # nothing applied by itself
    assert [s["id"] for s in be.suggest_knowledge(w.shop, since="7d")] == [
        s["id"] for s in found]  # mined again: the same proposals, the same ids

    done = be.same("accept", be.accept_kb_suggestion(huabei["id"], shop=w.shop,
                                                      key=f"{w.shop}-huabei"))
    assert (done["status"], done["result_entry"], done["created"]) == (
        "accepted", f"{w.shop}-huabei", True)
    asked = be.ask_bot("可以用花呗分期吗", shop=w.shop)
    assert (asked["action"], asked["entry"]) == ("answer", f"{w.shop}-huabei")
    assert be.get("knowledge_entries", f"{w.shop}-huabei")["shop"] == w.shop
    rejected = be.same("reject", be.reject_kb_suggestion(found[1]["id"], shop=w.shop))
    assert rejected["status"] == "rejected"
    assert be.suggest_knowledge(w.shop, since="all") == []  # decided: never proposed again
    with be.refused(Conflict, "kb_suggestion_decided"):
        be.reject_kb_suggestion(huabei["id"], shop=w.shop)
    with be.refused(NotFound, "no_kb_suggestion"):
        be.accept_kb_suggestion(999999999, shop=w.shop)
    with be.refused(UsageError, "since_duration"):
        be.suggest_knowledge(w.shop, since="yesterday")
    with be.refused(NotFound, "no_shop"):
        be.suggest_knowledge(be.key("noshop"))


@covers("propose_knowledge")
def test_an_agent_proposes_what_they_just_answered(be):
    w = World(be)
    knowledge(be, w)
    cid = taken(be, w, "乌鲁木齐能包邮吗")
    with be.refused(Conflict, "nothing_to_learn"):
        be.propose_knowledge(cid, w.a)  # not answered yet
    be.reply(w.a, cid, "亲，新疆地区需要补15元运费哦，其他地区包邮")
    p = be.same("propose", be.propose_knowledge(cid, w.a))
    assert (p["kind"], p["question"], p["conversations"], p["status"], p["proposed_by"]) == (
        "new", "乌鲁木齐能包邮吗", [cid], "open", w.a)
    assert "15元" in p["answer"]
    # mining the shop's closed chats keeps the agent's proposal (the chat is still open)
    assert [s["id"] for s in be.suggest_knowledge(w.shop, since="all")] == [p["id"]]
    be.reject_kb_suggestion(p["id"], shop=w.shop)
    with be.refused(Conflict, "learned_already"):
        be.propose_knowledge(cid, w.a)  # decided: not again


# == tickets ==================================================================================
@covers("create_ticket", "get_ticket", "list_tickets", "update_ticket", "assign_ticket",
        "note_ticket", "reply_ticket", "resolve_ticket", "close_ticket", "reopen_ticket")
def test_ticket_lifecycle(be):
    w = World(be)
    cid = taken(be, w)
    t = be.same("create_ticket", be.create_ticket(type="complaint", title="发错货",
                                                  conversation=cid, by=w.a))
    tid = t["id"]
    assert (t["shop"], t["customer"], t["conversation"], t["status"], t["priority"]) == (
        w.shop, w.customer, cid, "new", "P3")
    assert (t["first_response_due"], t["resolution_due"]) == (
        "2026-11-20T14:00:00+08:00", "2026-11-21T10:00:00+08:00")
    assert [x["id"] for x in be.same("list_tickets", be.list_tickets(shop=w.shop))] == [tid]
    up = be.same("update_ticket", be.update_ticket(tid, priority="P1", by=w.a))
    assert (up["priority"], up["resolution_due"]) == ("P1", "2026-11-20T14:00:00+08:00")
    assigned = be.same("assign_ticket", be.assign_ticket(tid, w.b))
    assert (assigned["assignee"], assigned["status"]) == (w.b, "open")
    assert be.same("note_ticket", be.note_ticket(tid, "查一下仓库", by=w.b))["id"] == tid
    replied = be.same("reply_ticket", be.reply_ticket(tid, "已补发", by=w.b))
    assert replied["first_responded_at"] == AT
    assert replied["sla"]["first_response"]["state"] == "met"
    resolved = be.same("resolve_ticket", be.resolve_ticket(tid, by=w.b, note="补发"))
    assert (resolved["status"], resolved["resolved_at"]) == ("resolved", AT)
    assert be.same("close_ticket", be.close_ticket(tid, by=w.b))["status"] == "closed"
    back = be.same("reopen_ticket", be.reopen_ticket(tid, by=w.b, reason="还是不对"))
    assert (back["status"], back["resolved_at"]) == ("open", None)
    full = be.same("get_ticket", be.get_ticket(tid))
    assert [e["kind"] for e in full["timeline"]] == [
        "created", "priority", "assigned", "note", "reply", "resolved", "closed", "reopened"]
    assert be.list_tickets(shop=w.shop, status="closed") == []
    assert [x["id"] for x in be.list_tickets(assignee=w.b)] == [tid]


@covers("create_ticket", "get_ticket", "list_tickets", "update_ticket", "assign_ticket",
        "note_ticket", "reply_ticket", "resolve_ticket", "close_ticket", "reopen_ticket")
def test_ticket_errors(be):
    w = World(be)
    missing = 10**9
    with be.refused(NotFound):
        be.get_ticket(missing)
    with be.refused(UsageError):
        be.create_ticket(type="complaint", title="无处可挂")  # neither shop nor conversation
    with be.refused(NotFound):
        be.create_ticket(type="complaint", title="t", shop=be.key("noshop"))
    t = be.create_ticket(type="complaint", title="t", shop=w.shop)["id"]
    with be.refused(InvalidInput):
        be.update_ticket(t, priority="P9")
    with be.refused(NotFound):
        be.assign_ticket(t, be.key("nobody"))
    with be.refused(InvalidInput):
        be.note_ticket(t, "")
    with be.refused(NotFound):
        be.reply_ticket(missing, "你好", by=w.a)
    with be.refused(Conflict):
        be.reopen_ticket(t)  # not resolved or closed
    be.close_ticket(t)
    with be.refused(Conflict):
        be.resolve_ticket(t)
    with be.refused(Conflict):
        be.close_ticket(t)
    with be.refused(NotFound):
        be.list_tickets(shop=be.key("noshop"))


@covers("sla_scan", "ticket_report")
def test_sla_scan_and_report(be):
    w = World(be)
    tid = be.create_ticket(type="complaint", title="没收到货", shop=w.shop, priority="P1")["id"]
    be.clock.advance(5 * 3600)  # past the 4 h resolution target of P1
    scanned = be.same("sla_scan", [x for x in be.sla_scan() if x["ticket"] == tid])
    assert [(x["kind"], x["deadline"]) for x in scanned] == [
        ("sla_warning", "first_response"), ("sla_breached", "first_response"),
        ("sla_warning", "resolution"), ("sla_breached", "resolution")]
    assert [x for x in be.sla_scan() if x["ticket"] == tid] == []  # each exactly once
    assert [x["id"] for x in be.list_tickets(shop=w.shop, breaching=True)] == [tid]
    report = be.same("ticket_report", be.ticket_report(shop=w.shop))
    assert [(r["group"], r["tickets"], r["resolution_met"]) for r in report] == [
        ("all", 1, 0.0)]
    assert [r["type"] for r in be.ticket_report(shop=w.shop, by="type")] == ["complaint"]
    with be.refused(UsageError):
        be.ticket_report(shop=w.shop, by="colour")
    with be.refused(NotFound, "no_shop"):
        be.ticket_report(shop=be.key("noshop"))


# == labels and private notes (issue 22) ======================================================
@covers("add_label", "remove_label", "shop_labels", "list_conversations", "get_conversation")
def test_labels(be):
    w = World(be)
    cid = chat(be, w)
    other = chat(be, World(be), "我要投诉")
    out = be.same("add_label", be.add_label(cid, "售后-破损"))
    assert out == {"conversation": cid, "labels": ["售后-破损"], "changed": True}
    assert be.add_label(cid, "售后-破损")["changed"] is False  # once
    assert be.add_label(cid, " 大促 ", by=w.a)["labels"] == ["售后-破损", "大促"]
    assert be.add_label(other, "大促")["labels"] == ["大促"]
    assert [c["id"] for c in be.list_conversations(shop=w.shop, label="大促")] == [cid]
    assert be.list_conversations(shop=w.shop, label="投诉") == []
    assert be.get_conversation(cid)["labels"] == ["售后-破损", "大促"]
    assert be.same("shop_labels", be.shop_labels(w.shop)) == [
        {"label": "售后-破损", "conversations": 1, "listed": False},
        {"label": "大促", "conversations": 1, "listed": False}]
    out = be.same("remove_label", be.remove_label(cid, "售后-破损"))
    assert out == {"conversation": cid, "labels": ["大促"], "changed": True}
    assert be.remove_label(cid, "售后-破损")["changed"] is False
    assert be.add_label(cid, "退货/退款 50%")["labels"] == ["大促", "退货/退款 50%"]
    assert be.remove_label(cid, "退货/退款 50%")["labels"] == ["大促"]  # in a path, whole
    events = [e for e in be.events(shop=w.shop, limit=500)
              if e["type"] in ("conversation.labelled", "conversation.unlabelled")]
    assert [(e["type"], e["payload"]["label"], e["payload"]["by"]) for e in events] == [
        ("conversation.labelled", "售后-破损", None), ("conversation.labelled", "大促", w.a),
        ("conversation.unlabelled", "售后-破损", None),
        ("conversation.labelled", "退货/退款 50%", None),
        ("conversation.unlabelled", "退货/退款 50%", None)]


@covers("add_label", "remove_label", "shop_labels")
def test_label_refusals(be):
    w = World(be, shop={"settings": {"labels": ["投诉", "大促"]}})
    cid = chat(be, w)
    assert be.shop_labels(w.shop) == [{"label": "投诉", "conversations": 0, "listed": True},
                                      {"label": "大促", "conversations": 0, "listed": True}]
    with be.refused(Conflict, "label_not_in_shop"):
        be.add_label(cid, "售后-破损")  # the shop lists its labels: only those
    with be.refused(InvalidInput, "text_control"):
        be.add_label(cid, "投\x1b诉")
    with be.refused(InvalidInput, "label_empty"):
        be.add_label(cid, "  ")
    with be.refused(InvalidInput, "label_too_long"):
        be.remove_label(cid, "长" * 33)
    with be.refused(NotFound, "no_conversation"):
        be.add_label(10**9, "投诉")
    with be.refused(NotFound, "no_agent"):
        be.add_label(cid, "投诉", by=be.key("nobody"))
    with be.refused(NotFound, "no_shop"):
        be.shop_labels(be.key("noshop"))
    other = World(be)
    with be.refused(Conflict, "agent_not_in_shop"):
        be.add_label(cid, "投诉", by=other.a)  # another shop's agent
    assert be.get_conversation(cid)["labels"] == []


@covers("add_note", "get_conversation")
def test_private_notes(be):
    w = World(be)
    cid = taken(be, w)
    be.reply(w.a, cid, "有的")
    note = be.same("add_note", be.add_note(w.b, cid, "这位客户上次投诉过，注意语气"))
    assert (note["conversation"], note["agent"], note["agent_name"], note["body"],
            note["private"]) == (cid, w.b, "小王", "这位客户上次投诉过，注意语气", True)
    conv = be.get_conversation(cid)
    assert [n["body"] for n in conv["notes"]] == ["这位客户上次投诉过，注意语气"]
    assert all("注意语气" not in m["body"] for m in conv["messages"])  # never a message
    [e] = [e for e in be.events(shop=w.shop, limit=500) if e["type"] == "conversation.noted"]
    assert e["payload"] == {"note": note["id"], "by": w.b}  # no text in the event
    assert (note["to"], note["to_name"]) == (None, None)  # not a whisper
    with be.refused(InvalidInput, "text_empty"):
        be.add_note(w.a, cid, " ")
    with be.refused(InvalidInput, "text_control_lines"):
        be.add_note(w.a, cid, "a\x07b")
    with be.refused(NotFound, "no_conversation"):
        be.add_note(w.a, 10**9, "x")
    with be.refused(Conflict, "agent_not_in_shop"):
        be.add_note(World(be).a, cid, "x")


# == files in chats (issue 21) ==================================================================
def _bytes(b64_text: str) -> bytes:
    import base64

    return base64.b64decode(b64_text)


@covers("post_file", "reply_file", "get_file", "file_link")
def test_files_in_chats(be):
    import hashlib

    w = World(be)
    posted = be.post_file(w.shop, w.customer, "C:\\照片\\破损照片.jpg", b64(jpeg_with_exif()))
    msg = posted["message"]
    cid = posted["conversation"]["id"]
    pay = be.same("file payload", {k: v for k, v in msg["payload"].items() if k != "sha256"})
    assert (msg["kind"], msg["sender"], pay["name"], pay["type"], pay["category"],
            pay["width"], pay["height"]) == ("file", "customer", "破损照片.jpg", "image/jpeg",
                                             "image", 640, 480)
    assert msg["body"] == f"[图片 破损照片.jpg {pay['bytes']} B]"
    got = be.get_file(cid, msg["id"])
    data = _bytes(got["data"])
    assert data.startswith(b"\xff\xd8") and GPS_MARK not in data and b"Exif" not in data
    assert hashlib.sha256(data).hexdigest() == got["sha256"] == msg["payload"]["sha256"]
    assert (got["name"], got["bytes"], got["conversation"], got["message"]) == (
        "破损照片.jpg", len(data), cid, msg["id"])
    link = be.file_link(cid, msg["id"])
    assert link["url"].startswith(f"/files/{msg['id']}.") and link["expires_at"]
    # the agent sends a PDF and a picture; PNG text and EXIF chunks do not survive
    assert be.accept_next(w.a)["id"] == cid
    pdf = be.reply_file(w.a, cid, "尺码表.pdf", b64(PDF))
    assert (pdf["kind"], pdf["sender"], pdf["agent"], pdf["payload"]["category"],
            pdf["body"]) == ("file", "agent", w.a, "pdf", f"[PDF 尺码表.pdf {len(PDF)} B]")
    assert _bytes(be.get_file(cid, pdf["id"])["data"]) == PDF
    pic = be.reply_file(w.a, cid, "颜色.png", b64(png()))
    clean = _bytes(be.get_file(cid, pic["id"])["data"])
    assert clean.startswith(b"\x89PNG") and b"tEXt" not in clean and b"eXIf" not in clean
    assert GPS_MARK not in clean and (pic["payload"]["width"], pic["payload"]["height"]) == (4, 3)
    kinds = [(m["kind"], m["sender"]) for m in be.get_conversation(cid)["messages"]
             if m["kind"] == "file"]
    assert kinds == [("file", "customer"), ("file", "agent"), ("file", "agent")]


@covers("post_file", "reply_file", "get_file", "file_link")
def test_files_refused(be):
    w = World(be, shop={"settings": {"max_file_mb": 1}})
    cid = taken(be, w)
    before = len(be.get_conversation(cid)["messages"])
    with be.refused(InvalidInput, "file_type_refused"):  # a renamed executable
        be.post_file(w.shop, w.customer, "photo.jpg", b64(EXE))
    with be.refused(InvalidInput, "file_type_refused"):
        be.reply_file(w.a, cid, "size.png", b64(b"just some text, not a picture"))
    with be.refused(TooLarge, "chat_file_too_large"):  # the shop's 1 MB
        be.post_file(w.shop, w.customer, "big.png", b64(png() + b"\x00" * (1 << 20)))
    with be.refused(InvalidInput, "file_data_bad"):
        be.post_file(w.shop, w.customer, "x.png", "not base64 at all!")
    with be.refused(InvalidInput, "file_empty"):
        be.post_file(w.shop, w.customer, "x.png", "")
    with be.refused(InvalidInput, "file_broken"):
        be.post_file(w.shop, w.customer, "x.png", b64(png()[:40]))
    with be.refused(InvalidInput, "text_control"):
        be.post_file(w.shop, w.customer, "a\x1b[31m.png", b64(png()))
    with be.refused(InvalidInput, "unknown_message_kind"):  # only uploads make file messages
        be.post_message(w.shop, w.customer, "[图片]", kind="file",
                        payload={"sha256": "0" * 64})
    assert len(be.get_conversation(cid)["messages"]) == before  # nothing stored
    text = be.get_conversation(cid)["messages"][0]["id"]
    with be.refused(NotFound, "no_file"):  # a message without a file
        be.get_file(cid, text)
    other = World(be)
    theirs = be.post_file(other.shop, other.customer, "a.png", b64(png()))["message"]["id"]
    with be.refused(NotFound, "no_file"):  # another chat's file through this chat
        be.get_file(cid, theirs)
    with be.refused(NotFound, "no_file"):
        be.file_link(cid, theirs)
    with be.refused(NotFound, "no_conversation"):
        be.get_file(10**9, theirs)


# == the shop platform's order events (issue 21) ================================================
@covers("order_event")
def test_order_events(be):
    w = World(be, shop={"settings": {"quiet_hours": None}})
    order = f"{w.shop}-o1"
    be.apply({"campaigns": [{"key": f"{w.shop}-ship", "shop": w.shop, "name": "发货通知",
                             "trigger": "order_shipped",
                             "template": "{name}，订单{order}已由{carrier}发出"}]})
    be.close_conversation(chat(be, w, "在吗"))  # somewhere for the notice to go
    first = be.order_event(w.shop, "ev-1", "created", order, customer=w.customer,
                           items=[{"product": w.product, "quantity": 2}],
                           at="2026-11-20T09:00:00+08:00")
    be.same("created", first)
    assert (first["status"], first["changed"], first["duplicate"]) == (
        "created", ["created"], False)
    again = be.order_event(w.shop, "ev-1", "created", order, customer=w.customer,
                           items=[{"product": w.product, "quantity": 2}])
    assert again == {**first, "duplicate": True}  # the same event id: nothing changes
    shipped = be.order_event(w.shop, "ev-2", "shipped", order, carrier="顺丰",
                             tracking_no="SF1234567", at="2026-11-20T15:00:00+08:00")
    assert (shipped["status"], shipped["carrier"], shipped["tracking_no"]) == (
        "shipped", "顺丰", "SF1234567")
    late = be.order_event(w.shop, "ev-3", "paid", order, at="2026-11-20T09:05:00+08:00")
    assert (late["status"], late["changed"], late["paid_at"] is not None) == (
        "shipped", ["paid_at"], True)  # a late event never moves the status back
    step = be.order_event(w.shop, "ev-4", "logistics", order, status="派送中",
                          detail="快递员小李 138****", at="2026-11-21T09:00:00+08:00")
    assert step["changed"] == ["logistics"]
    record = be.get("orders", order)
    assert (record["status"], record["customer"], record["items"][0]["quantity"],
            [s["status"] for s in record["logistics"]]) == (
        "shipped", w.customer, 2, ["已发货", "派送中"])
    seen = [(e["type"], e["payload"].get("event_id")) for e in be.events(shop=w.shop, limit=500)
            if e["entity"] == "order"]
    assert seen == [("order.created", "ev-1"), ("order.updated", "ev-2"),
                    ("order.updated", "ev-3"), ("order.updated", "ev-4")]
    # the shipping notice fires from the pushed change, with no apply
    out = be.run_due_campaigns("2026-11-20T15:01:00+08:00", shop=w.shop)
    assert out["due"] == 1
    [sent] = be.campaign_sends(f"{w.shop}-ship")
    assert (sent["order"], sent["customer"]) == (order, w.customer)
    assert sent["body"] == f"王丽，订单{order}已由顺丰发出"
    # refusals: nothing changes
    with be.refused(InvalidInput, "order_event_type"):
        be.order_event(w.shop, "ev-9", "teleported", order)
    with be.refused(InvalidInput, "order_event_needs_status"):
        be.order_event(w.shop, "ev-9", "logistics", order)
    with be.refused(InvalidInput, "order_event_new_needs"):
        be.order_event(w.shop, "ev-9", "paid", f"{w.shop}-o2")
    with be.refused(InvalidInput, "order_event_no_product"):
        be.order_event(w.shop, "ev-9", "created", f"{w.shop}-o2", customer=w.customer,
                       items=[{"product": "no-such-product"}])
    other = World(be)
    with be.refused(Conflict, "order_other_shop"):
        be.order_event(other.shop, "ev-1", "refunded", order)
    with be.refused(NotFound, "no_shop"):
        be.order_event(be.key("noshop"), "ev-1", "paid", order)
    assert be.get("orders", order)["status"] == "shipped"



def _blob_kept(be: Contract, sha: str) -> bool:
    """Whether the store still holds the bytes of ``sha`` (the folder beside a file, or
    PostgreSQL's ``file_blobs`` table), read from the store itself, not the API."""
    local = getattr(be.store, "served", None)
    local = local.backend if local is not None else be.store.backend
    with local.ctx.read() as uow:
        return local.ctx.files.blobs.get(uow, sha) is not None


@covers("erase_customer")
def test_erase_customer(be):
    w = World(be)
    s = w.shop
    other = f"{s}-other"
    cid = taken(be, w, "杯子碎了，电话13800001234")
    shared = be.post_file(s, w.customer, "碎杯.png", b64(png(rgb=(1, 2, 3))))["message"]
    own = be.post_file(s, w.customer, "快递单.png", b64(png(rgb=(9, 9, 9))))["message"]
    be.add_note(w.a, cid, "客户住在上海市徐汇区")
    theirs = be.post_file(s, other, "同一张.png", b64(png(rgb=(1, 2, 3))))
    ticket = be.create_ticket(type="damaged_goods", title="王丽的杯子破损", shop=s,
                              conversation=cid)
    be.order_event(s, "ev-1", "created", f"{s}-o1", customer=w.customer,
                   items=[{"product": w.product, "quantity": 1}])
    elsewhere = World(be)  # the same customer key in another shop keeps everything there
    be.post_message(elsewhere.shop, w.customer, "另一家店")
    keys = (shared["payload"]["sha256"], own["payload"]["sha256"])
    assert keys[0] == theirs["message"]["payload"]["sha256"]
    assert all(_blob_kept(be, k) for k in keys)

    out = be.erase_customer(s, w.customer)
    be.same("erased", {k: v for k, v in out.items() if k != "stand_in"})
    assert (out["conversations"], out["files"], out["blobs_deleted"], out["orders_kept"],
            out["tickets_kept"], out["customer_deleted"]) == (1, 2, 1, 1, 1, False)
    assert out["stand_in"].startswith("erased-")
    assert not _blob_kept(be, keys[1])  # only the erased customer's bytes went
    assert _blob_kept(be, keys[0])  # the other customer's message still uses these
    tcid = theirs["conversation"]["id"]
    assert _bytes(be.get_file(tcid, theirs["message"]["id"])["data"]).startswith(b"\x89PNG")
    with be.refused(NotFound):
        be.get_conversation(cid)
    assert be.list_conversations(shop=s, customer=w.customer) == []
    order = be.get("orders", f"{s}-o1")
    assert order["customer"] == out["stand_in"]
    got = be.get_ticket(ticket["id"])
    assert got["title"] == "[已删除]" and got.get("conversation") is None
    record = be.get("customers", w.customer)
    assert [p["shop"] for p in record["profiles"]] == [elsewhere.shop]
    assert len(be.list_conversations(shop=elsewhere.shop, customer=w.customer)) == 1
    [event] = [e for e in be.events(shop=s, limit=500) if e["type"] == "customer.erased"]
    text = json.dumps(be.events(shop=s, limit=500), ensure_ascii=False)
    assert w.customer not in text and "13800001234" not in text and "徐汇" not in text
    assert event["key"] == out["stand_in"]
    # again, or another shop's customer: not found, nothing changes
    with be.refused(NotFound, "no_customer_in_shop"):
        be.erase_customer(s, w.customer)
    with be.refused(NotFound, "no_customer_in_shop"):
        be.erase_customer(s, f"{elsewhere.shop}-nobody")
    with be.refused(NotFound, "no_customer_in_shop"):  # any text may be asked for
        be.erase_customer(s, "\x0c2羱 ")
    with be.refused(NotFound, "no_shop"):
        be.erase_customer(be.key("noshop"), other)
    # the last shop: the customer's own row goes too
    gone = be.erase_customer(elsewhere.shop, w.customer)
    assert (gone["customer_deleted"], gone["conversations"]) == (True, 1)
    with be.refused(NotFound):
        be.get("customers", w.customer)

# == macros, priority, follow-up lists, presence, whispers (issue 22 items 4, 5, 10) =======
def macro_world(be: Contract) -> World:
    """A world with a quick reply, a shop macro and agent b's own one of the same name."""
    w = World(be)
    s = w.shop
    be.apply({
        "quick_replies": [{"key": f"{s}-qr", "shop": s, "title": "登记",
                           "body": "您好，已为您登记，稍后专人联系您"}],
        "macros": [
            {"key": f"{s}-m", "shop": s, "name": "投诉升级", "actions": [
                {"reply": f"{s}-qr"}, {"label": "投诉"}, {"priority": 7},
                {"ticket": {"type": "complaint", "title": "投诉跟进", "priority": "P2"}},
                {"transfer": {"group": w.group, "note": "投诉，请跟进"}}]},
            {"key": f"{s}-mb", "shop": s, "agent": w.b, "name": "投诉升级",
             "actions": [{"label": "小王的"}]},
            {"key": f"{s}-close", "shop": s, "name": "结束", "actions": [
                {"label": "已解决"}, {"close": "resolved"}]}]})
    return w


@covers("run_macro", "set_priority", "get_conversation", "list_tickets", "export")
def test_macros(be):
    w = macro_world(be)
    cid = taken(be, w, "我要投诉，衣服破了")
    out = be.same("run_macro", be.run_macro(cid, w.a, "投诉升级"))
    assert (out["macro"], out["name"], out["conversation"], out["complete"]) == (
        f"{w.shop}-m", "投诉升级", cid, True)
    assert [(s["action"], s["status"]) for s in out["steps"]] == [
        ("reply", "done"), ("label", "done"), ("priority", "done"), ("ticket", "done"),
        ("transfer", "done")]
    conv = be.get_conversation(cid)
    assert conv["labels"] == ["投诉"] and conv["priority"] == 7
    assert conv["state"] == "queued" and conv["group"] == w.group  # both agents busy
    assert "您好，已为您登记，稍后专人联系您" in [m["body"] for m in conv["messages"]
                                            if m["sender"] == "agent"]
    [ticket] = be.list_tickets(shop=w.shop)
    assert (ticket["conversation"], ticket["type"], ticket["priority"]) == (
        cid, "complaint", "P2")
    types = [e["type"] for e in be.events(shop=w.shop, limit=500)]
    for kind in ("conversation.labelled", "conversation.priority", "ticket.created",
                 "conversation.transferred"):
        assert kind in types
    # b's own macro of that name comes before the shop's, for b only
    be.set_priority(cid, -1, by=w.a)  # the transferred chat waits behind the next one
    cid2 = be.post_message(w.shop, be.key("c2"), "在吗")["conversation"]["id"]
    assert be.accept_next(w.b)["id"] == cid2
    assert be.run_macro(cid2, w.b, "投诉升级")["macro"] == f"{w.shop}-mb"
    assert be.get_conversation(cid2)["labels"] == ["小王的"]
    assert be.run_macro(cid2, w.b, f"{w.shop}-close")["complete"] is True  # by key
    assert be.get_conversation(cid2)["state"] == "closed"
    # the chat's priority on its own
    assert be.same("set_priority", be.set_priority(cid, 9, by=w.a)) == {
        "conversation": cid, "priority": 9, "changed": True}
    assert be.set_priority(cid, 9)["changed"] is False
    exported = be.export(shop=w.shop)["macros"]
    assert [m["key"] for m in exported] == [f"{w.shop}-close", f"{w.shop}-m", f"{w.shop}-mb"]
    assert exported[1]["actions"][2] == {"priority": 7}


@covers("run_macro", "set_priority", "get_conversation", "apply")
def test_macro_refusals(be):
    w = macro_world(be)
    cid = chat(be, w, "我要投诉")  # queued: nobody holds it
    with be.refused(Conflict, "not_assigned"):
        be.run_macro(cid, w.a, "投诉升级")  # a reply needs the chat: nothing done
    assert be.get_conversation(cid)["labels"] == []
    with be.refused(NotFound, "no_macro"):
        be.run_macro(cid, w.a, "没有这个宏")
    with be.refused(NotFound, "no_macro"):
        be.run_macro(cid, w.a, f"{w.shop}-mb")  # b's own, not a's
    with be.refused(Conflict, "agent_not_in_shop"):
        be.run_macro(cid, World(be).a, "投诉升级")
    with be.refused(NotFound, "no_conversation"):
        be.run_macro(10**9, w.a, "投诉升级")
    with be.refused(InvalidInput, "priority_bad"):
        be.set_priority(cid, 5000)
    with be.refused(Conflict, "agent_not_in_shop"):
        be.set_priority(cid, 1, by=World(be).a)
    # a shop that lists its labels: a macro's label outside them refuses the whole macro
    be.update("shops", w.shop, {"settings": {"labels": ["大促"]}})
    assert be.accept_next(w.a)["id"] == cid
    with be.refused(Conflict, "label_not_in_shop"):
        be.run_macro(cid, w.a, "投诉升级")
    conv = be.get_conversation(cid)
    assert conv["labels"] == [] and conv["state"] == "active"
    assert [m for m in conv["messages"] if m["sender"] == "agent"] == []
    # malformed macros never get in
    for actions, key in (([], "field_macro_actions_empty"),
                         ([{"close": True}, {"label": "x"}], "field_macro_after_close"),
                         ([{"transfer": w.group}, {"reply": f"{w.shop}-qr"}],
                          "field_macro_after_transfer"),
                         ([{"shout": "x"}], "field_macro_action_unknown"),
                         ([{"priority": "high"}], "field_macro_priority"),
                         ([{"ticket": {"type": "complaint", "title": "t", "team": "x"}}],
                          "field_macro_ticket_team"),
                         ([{"reply": "nope"}], "field_unknown_ref")):
        with be.refused(FieldError, key):
            be.apply({"macros": [{"key": be.key("bad"), "shop": w.shop, "name": "x",
                                  "actions": actions}]})


@covers("follow_ups", "follow_up_invite", "mark_sensitive", "post_message")
def test_follow_ups(be):
    w = World(be, shop={"settings": {"campaign_cap": 1, "quiet_hours": "23:00-07:00"}})
    cid = be.post_message(w.shop, w.customer, "这件有M码吗", product=w.product)[
        "conversation"]["id"]
    rows = be.same("follow_ups", be.follow_ups(w.shop, "consulted_not_ordered"))
    assert [(r["id"], r["customer"], r["classification"], r["product"], r["invited_at"])
            for r in rows] == [(cid, w.customer, "consulted_not_ordered", w.product, None)]
    assert be.follow_ups(w.shop, "ordered_not_paid") == []
    assert be.follow_ups(w.shop, "after_sale") == []
    # an order placed after the chat, not paid: ordered_not_paid (the conversion figure's)
    be.apply({"orders": [{"key": be.key("o"), "shop": w.shop, "customer": w.customer,
                          "status": "created", "created_at": AT,
                          "items": [{"product": w.product}]}]})
    [row] = be.follow_ups(w.shop, "ordered_not_paid", since="2d")
    assert row["id"] == cid and row["order"] is not None
    msg = be.same("follow_up_invite", be.follow_up_invite(cid, w.a))
    assert (msg["kind"], msg["sender"], msg["payload"]["follow_up"],
            msg["payload"]["agent"]) == ("invitation", "system", True, w.a)
    assert msg["payload"]["item"]["product"] == w.product
    assert msg["payload"]["total"] == 279  # the customer's 满200减20
    assert be.follow_ups(w.shop, "ordered_not_paid")[0]["invited_at"] == AT
    with be.refused(Conflict, "follow_up_frequency_cap"):
        be.follow_up_invite(cid, w.b)  # the shop's cap: one message a day
    other = World(be)
    with be.refused(Conflict, "agent_not_in_shop"):
        be.follow_up_invite(cid, other.a)
    with be.refused(UsageError, "follow_up_class"):
        be.follow_ups(w.shop, "rich")
    with be.refused(UsageError, "since_duration"):
        be.follow_ups(w.shop, "after_sale", since="yesterday")
    with be.refused(NotFound, "no_shop"):
        be.follow_ups(be.key("noshop"), "after_sale")
    # sensitive chats and opt-outs are refused with the reason
    c2 = be.post_message(other.shop, other.customer, "在吗")["conversation"]["id"]
    with be.refused(UsageError, "follow_up_needs_product"):
        be.follow_up_invite(c2, other.a)
    be.mark_sensitive(c2, True)
    with be.refused(Conflict, "follow_up_sensitive"):
        be.follow_up_invite(c2, other.a, other.product)
    be.mark_sensitive(c2, False)
    be.post_message(other.shop, other.customer, "退订")
    with be.refused(Conflict, "follow_up_opted_out"):
        be.follow_up_invite(c2, other.a, other.product)


@covers("follow_up_invite")
def test_follow_up_quiet_hours(be):
    w = World(be, shop={"settings": {"quiet_hours": "09:00-11:00"}})  # NOW is 10:00
    cid = be.post_message(w.shop, w.customer, "这件有M码吗", product=w.product)[
        "conversation"]["id"]
    with be.refused(Conflict, "follow_up_quiet_hours"):
        be.follow_up_invite(cid, w.a)


@covers("presence", "add_note", "get_conversation")
def test_presence_and_whispers(be):
    w = World(be)
    sup = f"{w.shop}-sup"
    be.apply({"agents": [{"handle": sup, "name": "主管李", "role": "supervisor",
                          "shops": [w.shop]}]})
    cid = taken(be, w)
    assert be.same("presence", be.presence(cid, w.a)) == {"conversation": cid, "others": []}
    be.presence(cid, sup, "typing")
    assert be.presence(cid, w.a, "viewing")["others"] == [
        {"agent": sup, "name": "主管李", "role": "supervisor", "state": "typing"}]
    assert be.presence(cid, sup)["others"] == [
        {"agent": w.a, "name": "小美", "role": "agent", "state": "viewing"}]
    be.clock.advance(21)  # a claim not renewed lapses (20 s)
    assert be.presence(cid, w.b)["others"] == []
    be.presence(cid, w.b, "left")
    be.presence(cid, sup)
    be.presence(cid, sup, "left")
    assert be.presence(cid, w.a)["others"] == []
    with be.refused(UsageError, "presence_state"):
        be.presence(cid, w.a, "dancing")
    with be.refused(Conflict, "agent_not_in_shop"):
        be.presence(cid, World(be).a)
    # a whisper: a supervisor's note to the agent
    note = be.same("add_note", be.add_note(sup, cid, "注意语气，先道歉", to=w.a))
    assert (note["to"], note["to_name"], note["private"]) == (w.a, "小美", True)
    [n] = be.get_conversation(cid)["notes"]
    assert (n["agent"], n["to"], n["to_name"]) == (sup, w.a, "小美")
    with be.refused(Conflict, "whisper_supervisors_only"):
        be.add_note(w.b, cid, "悄悄说", to=w.a)
    with be.refused(Conflict, "agent_not_in_shop"):
        be.add_note(sup, cid, "悄悄说", to=World(be).a)
# == quality inspection (质检) and the agent radar (issue 22) =================================
@covers("qa_chat", "qa_queue", "qa_review", "qa_report", "agent_radar")
def test_quality_inspection_and_radar(be):
    w = World(be, shop={"settings": {"qa": {"sample_rate": 0}}})
    clean = taken(be, w, "这件有M码吗？")
    be.reply(w.a, clean, "亲，有的～")
    be.post_message(w.shop, w.customer, "好的谢谢")
    be.close_conversation(clean, by=w.a)
    bad = taken(be, w, "是正品吗？")
    be.clock.advance(200)
    be.reply(w.a, bad, "绝对正品")
    be.post_message(w.shop, w.customer, "太慢了！！")
    be.close_conversation(bad, by=w.a)
    assert be.same("qa_chat", be.qa_chat(clean)) ["findings"] == []
    item = be.qa_chat(bad)
    assert [(f["rule"], f["agent"], f["detail"], f["points"]) for f in item["findings"]] == [
        ("slow_first_response", w.a, "200", 10), ("banned_word", w.a, "绝对", 20),
        ("negative_unacknowledged", w.a, "太慢", 10), ("closed_while_typing", w.a, "0", 15)]
    queue = be.same("qa_queue", be.qa_queue(w.shop))
    assert [i["conversation"] for i in queue] == [bad] and queue[0]["score"] == 45
    fid = item["findings"][0]["id"]
    out = be.same("qa_review", be.qa_review(w.shop, bad, "overturned", finding=fid))
    assert out["score"] == 55 and out["reviewed_at"] is None
    out = be.qa_review(w.shop, bad, "confirmed", by=w.b)
    assert out["reviewed_by"] == w.b and be.qa_queue(w.shop) == []
    report = be.same("qa_report", be.qa_report(w.shop))
    assert [(r["agent"], r["chats"], r["qa_score"], r["findings"], r["overturned"])
            for r in report["rows"]] == [(w.a, 2, 77.5, 3, 1)]
    assert report["pending_review"] == 0
    assert be.qa_report(w.shop, by="shop")["rows"][0]["shop"] == w.shop
    radar = be.same("agent_radar", be.agent_radar(w.shop))
    assert [(r["agent"], r["conversations"], r["qa_score"], r["hints"]) for r in radar] == [
        (w.a, 2, 77.5, ["banned_word", "negative_unacknowledged", "closed_while_typing"]),
        (w.b, 0, None, [])]
    assert [r["agent"] for r in be.agent_radar(w.shop, agent=w.b)] == [w.b]
    with be.refused(InvalidInput, "qa_bad_verdict"):
        be.qa_review(w.shop, bad, "maybe")
    with be.refused(Conflict, "qa_reviewed_already"):
        be.qa_review(w.shop, bad, "confirmed")
    with be.refused(NotFound, "qa_no_finding"):
        be.qa_review(w.shop, bad, "confirmed", finding=10**9)
    other = World(be)
    with be.refused(NotFound, "qa_no_chat"):
        be.qa_review(other.shop, bad, "confirmed")  # another shop's chat
    with be.refused(NotFound, "qa_no_inspection"):
        be.qa_chat(chat(be, other))  # still open
    with be.refused(NotFound, "radar_no_agent"):
        be.agent_radar(w.shop, agent=other.a)
    with be.refused(InvalidInput, "qa_bad_by"):
        be.qa_report(w.shop, by="hour")
    with be.refused(UsageError, "limit_below_one"):
        be.qa_queue(w.shop, limit=0)


# == campaigns ================================================================================
@covers("run_due_campaigns", "campaign_stats", "campaign_sends", "mark_sensitive")
def test_campaigns(be):
    w = World(be, shop={"settings": {"quiet_hours": None}})
    be.apply({
        "orders": [{"key": f"{w.shop}-o1", "shop": w.shop, "customer": w.customer,
                    "status": "created", "created_at": "2026-11-20T09:00:00+08:00",
                    "items": [{"product": w.product}]}],
        "campaigns": [{"key": f"{w.shop}-pay", "shop": w.shop, "name": "催付",
                       "trigger": "payment_reminder",
                       "template": "{name}，订单{order}的{product}待付款"}],
    })
    be.close_conversation(chat(be, w, "在吗"))  # a chat: the reminder has somewhere to go
    out = be.same("run_due", be.run_due_campaigns("2026-11-20T09:30:00+08:00", shop=w.shop))
    assert (out["campaigns"], out["due"], out["sent"], out["suppressed"]) == (1, 1, 1, {})
    assert be.run_due_campaigns("2026-11-20T09:31:00+08:00", shop=w.shop)["due"] == 0
    stats = be.same("campaign_stats", be.campaign_stats(f"{w.shop}-pay"))
    assert (stats["sent"], stats["conversions"], stats["shop"]) == (1, 0, w.shop)
    assert be.campaign_stats(f"{w.shop}-pay", since="2026-11-21T00:00:00+08:00")["sent"] == 0
    [sent] = be.campaign_sends(f"{w.shop}-pay")
    be.same("campaign_sends", {k: v for k, v in sent.items() if k != "trigger"})  # order id
    assert (sent["customer"], sent["outcome"], sent["order"], sent["body"]) == (
        w.customer, "sent", f"{w.shop}-o1", f"王丽，订单{w.shop}-o1的法式碎花连衣裙待付款")
    assert be.campaign_sends(f"{w.shop}-pay", after=sent["id"]) == []
    assert be.campaign_sends(f"{w.shop}-pay", outcome="holdout") == []
    cid = chat(be, w, "发错货了")
    assert be.same("sensitive", be.mark_sensitive(cid)) == {"conversation": cid,
                                                             "sensitive": True}
    assert be.mark_sensitive(cid, False)["sensitive"] is False


@covers("run_due_campaigns", "campaign_stats", "campaign_sends", "mark_sensitive")
def test_campaign_errors(be):
    with be.refused(NotFound):
        be.campaign_stats(be.key("nocampaign"))
    with be.refused(NotFound):
        be.campaign_sends(be.key("nocampaign"))
    with be.refused(NotFound):
        be.mark_sensitive(10**9)
    with be.refused(UsageError, match="now:"):
        be.run_due_campaigns("not a time")
    with be.refused(NotFound, "no_shop"):
        be.run_due_campaigns(None, shop=be.key("noshop"))


# == webhooks ===================================================================================
def _hook(be: Contract, w: World, **extra: Any) -> str:
    name = be.key("hook")
    be.create("webhooks", {"key": name, "shop": w.shop, "url": "http://127.0.0.1:9/hook",
                           "events": ["conversation.created"], "secret": "s" * 24, **extra})
    return name


@covers("webhook_test", "webhook_deliveries", "webhook_delivery", "webhook_redeliver",
        "claim_webhook_deliveries", "finish_webhook_delivery")
def test_webhooks(be):
    w = World(be)
    name = _hook(be, w)
    assert "secret" not in be.get("webhooks", name)
    chat(be, w)  # conversation.created: one delivery
    worker = be.key("worker")
    [d] = be.claim_webhook_deliveries(worker, shop=w.shop)
    assert (d["event"], d["attempt"], d["webhook"]) == ("conversation.created", 1, name)
    assert d["headers"]["X-Cstool-Delivery"] == d["id"]
    assert d["headers"]["X-Cstool-Signature"].startswith("t=")
    assert be.claim_webhook_deliveries(worker, shop=w.shop) == []  # leased, then not due
    out = be.finish_webhook_delivery(d["id"], 1, worker, status_code=500)
    be.same("finish_500", {k: v for k, v in out.items() if k != "next_at"})  # jitter
    assert (out["status"], out["recorded"]) == ("pending", True) and out["next_at"]
    # not the lease holder's attempt any more: nothing recorded
    assert be.finish_webhook_delivery(d["id"], 1, worker, status_code=200)["recorded"] is False
    be.clock.advance(60)
    [again] = be.claim_webhook_deliveries(worker, shop=w.shop)
    assert (again["id"], again["attempt"], again["body"]) == (d["id"], 2, d["body"])
    assert be.finish_webhook_delivery(d["id"], 2, worker, status_code=204)["status"] == "done"
    [row] = be.webhook_deliveries(name)
    assert (row["status"], row["attempts"], [a["status_code"] for a in row["attempt_log"]]) \
        == ("done", 2, [500, 204])
    assert be.webhook_delivery(d["id"])["body"] == d["body"]
    assert be.webhook_deliveries(name, status="failed") == []
    t = be.webhook_test(name)
    assert (t["event"], t["status"]) == ("webhook.test", "pending")
    [claimed] = be.claim_webhook_deliveries(worker, delivery=t["id"])
    out = be.finish_webhook_delivery(t["id"], 1, worker, error="ConnectError")
    assert out["status"] == "failed"  # a test is tried once
    again = be.webhook_redeliver(t["id"])
    be.same("redeliver", {k: v for k, v in again.items() if k != "body"})  # holds the id
    assert (again["id"], again["status"]) == (t["id"], "pending")
    assert [r["id"] for r in be.webhook_deliveries(name, limit=1)] == [t["id"]]
    assert [r["id"] for r in be.webhook_deliveries(name, after=t["id"])] == [d["id"]]


@covers("webhook_test", "webhook_deliveries", "webhook_delivery", "webhook_redeliver",
        "claim_webhook_deliveries", "finish_webhook_delivery")
def test_webhook_errors(be):
    w = World(be)
    name = _hook(be, w)
    with be.refused(NotFound):
        be.webhook_test(be.key("nohook"))
    with be.refused(NotFound):
        be.webhook_deliveries(be.key("nohook"))
    with be.refused(InvalidInput, "status_one_of"):
        be.webhook_deliveries(name, status="lost")
    with be.refused(NotFound, "no_delivery"):
        be.webhook_delivery("whd_0_0")
    with be.refused(NotFound, "no_delivery"):
        be.webhook_redeliver("whd_0_0")
    with be.refused(NotFound, "no_delivery"):
        be.claim_webhook_deliveries("w", delivery="whd_0_0")
    with be.refused(NotFound, "no_delivery"):
        be.finish_webhook_delivery("whd_0_0", 1, "w", status_code=200)
    t = be.webhook_test(name)
    with be.refused(InvalidInput, "worker_name_bad"):
        be.claim_webhook_deliveries(" w", shop=w.shop)
    assert be.finish_webhook_delivery(t["id"], 1, "w")["recorded"] is False  # not claimed
    [claimed] = be.claim_webhook_deliveries("w", delivery=t["id"])
    out = be.finish_webhook_delivery(t["id"], 1, "w")  # no outcome: a failed attempt
    assert (out["recorded"], out["status"]) == (True, "failed")
    assert be.webhook_delivery(t["id"])["last_error"] == "no outcome reported"
    with be.refused(FieldError):
        be.create("webhooks", {"key": be.key("bad"), "shop": w.shop, "url": "ftp://x/",
                               "events": ["conversation.created"]})
    with be.refused(FieldError):
        be.create("webhooks", {"key": be.key("bad"), "shop": w.shop,
                               "url": "http://user:pw@example.com/", "events": ["*"]})
    with be.refused(FieldError):
        be.create("webhooks", {"key": be.key("bad"), "shop": w.shop,
                               "url": "https://example.com/", "events": ["no.such"]})


# == channel connectors ========================================================================
def _channel(be: Contract, w: World) -> str:
    name = be.key("app")
    be.create("channels", {"key": name, "shop": w.shop, "kind": "http", "client": "app",
                           "url": "http://127.0.0.1:9/gateway", "secret": "s" * 24})
    return name


@covers("channel_deliveries", "channel_receipt", "claim_webhook_deliveries",
        "finish_webhook_delivery", "webhook_delivery")
def test_channel_deliveries_and_receipts(be):
    w = World(be)
    name = _channel(be, w)
    assert "secret" not in be.get("channels", name)
    cid = be.post_message(w.shop, w.customer, "在吗", channel=name)["conversation"]["id"]
    assert be.accept_next(w.a)["id"] == cid
    said = be.reply(w.a, cid, "在的，您说")
    be.add_note(w.a, cid, "内部备注：不发给顾客")
    worker = be.key("worker")
    claimed: list = []
    for _ in range(10):  # one chat's deliveries go one after the other, in order
        batch = be.claim_webhook_deliveries(worker, shop=w.shop, limit=50)
        assert len(batch) <= 1
        for c in batch:
            assert be.finish_webhook_delivery(c["id"], 1, worker, status_code=200)[
                "status"] == "done"
        claimed += batch
    mine = [d for d in claimed if json.loads(d["body"])["message"]["id"] == said["id"]]
    assert len(mine) == 1 and all(d["channel"] == name for d in claimed)
    assert all("内部备注" not in d["body"] for d in claimed)
    ids = [json.loads(d["body"])["message"]["id"] for d in claimed]
    assert ids == sorted(ids)  # in the chat's order
    d = mine[0]
    assert d["id"].startswith("chd_") and d["headers"]["X-Cstool-Delivery"] == d["id"]
    assert d["headers"]["X-Cstool-Event"] == "channel.message"
    rows = {r["id"]: r for r in be.channel_deliveries(name)}
    assert (rows[d["id"]]["status"], rows[d["id"]]["receipt"],
            rows[d["id"]]["message"]) == ("done", None, said["id"])
    out = be.channel_receipt(d["id"], "delivered")
    be.same("receipt", {k: v for k, v in out.items() if k != "message"})
    assert (out["message"], out["message_delivery"]) == (said["id"], "delivered")
    assert be.channel_receipt(d["id"], "read")["message_delivery"] == "read"
    assert be.channel_receipt(d["id"], "delivered")["message_delivery"] == "read"
    assert be.webhook_delivery(d["id"])["receipt"] == "read"
    states = {m["id"]: m["delivery"] for m in be.get_conversation(cid)["messages"]}
    assert states[said["id"]] == "read"
    assert [r["id"] for r in be.channel_deliveries(name, status="failed")] == []


@covers("channel_deliveries", "channel_receipt")
def test_channel_errors(be):
    w = World(be)
    name = _channel(be, w)
    with be.refused(NotFound):
        be.channel_deliveries(be.key("nochannel"))
    with be.refused(InvalidInput, "status_one_of"):
        be.channel_deliveries(name, status="lost")
    with be.refused(NotFound, "no_channel_delivery"):
        be.channel_receipt("chd_0_0", "read")
    with be.refused(InvalidInput, "unknown_channel_connector"):
        be.post_message(w.shop, w.customer, "在吗", channel=be.key("nochannel"))
    with be.refused(FieldError):
        be.create("channels", {"key": be.key("bad"), "shop": w.shop, "kind": "http"})
    with be.refused(FieldError):
        be.create("channels", {"key": be.key("bad"), "shop": w.shop, "kind": "http",
                               "url": "ftp://x/"})
    with be.refused(FieldError):
        be.create("channels", {"key": "app", "shop": w.shop, "kind": "http",
                               "url": "https://example.com/"})


# == metrics, the dashboard, staffing =========================================================
def served_day(be: Contract, w: World) -> int:
    """One chat served, closed and rated at NOW; its id."""
    cid = taken(be, w)
    be.reply(w.a, cid, "有的")
    be.close_conversation(cid, by=w.a)
    be.rate(cid, 4)
    return cid


@covers("metrics_refresh", "metrics_rebuild", "metrics_report", "agent_metrics")
def test_metrics(be):
    w = World(be)
    served_day(be, w)
    refreshed = be.metrics_refresh()  # the store's history decides its other fields
    assert refreshed["conversations"] >= 1 and refreshed["cursor"] > 0
    since, until = "2026-11-20T00:00:00+08:00", "2026-11-21T00:00:00+08:00"
    report = be.same("report", be.metrics_report(w.shop, since, until))
    total = report["total"]
    assert (total["conversations"], total["customers"], total["closed"], total["rated"]) == (
        1, 1, 1, 1)
    assert (total["rating_avg"], report["shop"]) == (4.0, w.shop)
    by = be.same("report_by", be.metrics_report(w.shop, since, until, ["agent"]))
    assert [(r["agent"], r["conversations"]) for r in by["rows"]] == [(w.a, 1), (w.b, 0)]
    mine = be.same("agent_metrics", be.agent_metrics(w.a, since, until))
    assert (mine["agent"], mine["figures"]["conversations"], mine["figures"]["chats"]) == (
        w.a, 1, 1)
    rebuilt = be.metrics_rebuild()
    assert rebuilt["rebuilt"] is True and rebuilt["conversations"] >= 1
    assert be.metrics_report(w.shop, since, until)["total"] == total
    with be.refused(NotFound):
        be.agent_metrics(be.key("nobody"))
    with be.refused(UsageError):
        be.metrics_report(w.shop, since, until, ["colour"])
    with be.refused(NotFound, "no_shop"):
        be.metrics_report(be.key("noshop"))


@covers("dashboard", "arrivals", "desk_profile")
def test_dashboard_and_staffing(be):
    w = World(be)
    served_day(be, w)
    chat(be, World(be))  # another shop's chat counts nowhere here
    dash = be.same("dashboard", be.dashboard(w.shop))
    assert (dash["shop"], dash["at_ms"], dash["local_hour"]) == (w.shop, NOW, 10)
    assert dash["agents"] == {"online": 0, "busy": 2, "away": 0, "offline": 0}
    assert dash["today"]["conversations"] == 1 and dash["hourly"][10] == 1
    # the hours in the zone asked (Kolkata: 2 h 30 behind), as the report in that zone
    # labels them; the shop's day either way
    kolkata = be.dashboard(w.shop, zone="Asia/Kolkata")
    assert sum(kolkata["hourly"]) == 1 and kolkata["hourly"][10] == 0
    assert kolkata["today"]["conversations"] == 1
    rows = be.metrics_report(w.shop, since=NOW - 10 * HOUR_MS, until=NOW + 1, by="hour",
                             zone="Asia/Kolkata")["rows"]
    assert [int(r["hour"][11:13]) for r in rows if r["conversations"]] == [
        kolkata["hourly"].index(1)]
    got = be.same("arrivals", be.arrivals(w.shop, NOW - DAY_MS, NOW + HOUR_MS, 60))
    assert (got["timezone"], got["bucket_min"]) == ("Asia/Shanghai", 60)
    assert [list(b) for b in got["buckets"]] == [[NOW, 1]]
    profile = be.same("desk_profile", be.desk_profile(w.shop, NOW - DAY_MS, NOW + HOUR_MS))
    assert (profile["shop"], profile["service_mode"], profile["concurrency"]) == (
        w.shop, "human_first", 5)
    with be.refused(NotFound):
        be.dashboard(be.key("noshop"))
    with be.refused(UsageError, "bad_zone"):
        be.dashboard(w.shop, zone="Mars/Olympus")
    with be.refused(InvalidInput):
        be.arrivals(w.shop, NOW, NOW + DAY_MS, 7)  # a bucket that does not divide a day
    with be.refused(NotFound):
        be.desk_profile(be.key("noshop"), NOW - DAY_MS, NOW)


# == events ===================================================================================
@covers("events")
def test_events(be):
    w = World(be)
    cid = chat(be, w)
    evs = be.events(shop=w.shop, limit=1000)
    be.same("events", [{k: v for k, v in e.items() if k != "key"} for e in evs])  # key: an id
    assert [e["type"] for e in evs][:2] == ["shop.created", "group.created"]
    # the chat's events last (nobody is online in the human_first shop: the bot covers the
    # queue, and notes what it could not answer)
    assert evs[-1]["type"].split(".")[0] in ("conversation", "message", "bot")
    assert str(cid) in {e["key"] for e in evs}
    assert [e["id"] for e in evs] == sorted(e["id"] for e in evs)
    assert {e["shop"] for e in evs} == {w.shop}
    assert be.events(after=evs[-1]["id"], shop=w.shop) == []
    assert len(be.events(after=evs[0]["id"], limit=2)) == 2
    assert evs[0]["at"] == AT
    with be.refused(NotFound):
        be.events(shop=be.key("noshop"))


# == tokens and the customer's operations =====================================================
@covers("create_token", "create_customer_token", "list_tokens", "revoke_token", "whoami")
def test_tokens(be):
    w = World(be)
    made = be.same("create_token", be.tokens.create_token(w.a, None, "7d", w.shop))
    assert (made["agent"], made["role"], made["label"]) == (w.a, "agent", w.shop)
    assert made["token"] and made["expires_at"] == "2026-11-27T10:00:00+08:00"
    me = be.same("whoami", be.whoami(made["token"]))
    assert (me["agent"], me["role"], me["shops"]) == (w.a, "agent", [w.shop])
    cust = be.same("create_customer_token",
                   be.tokens.create_customer_token(w.shop, w.customer, "1d", "widget"))
    assert (cust["role"], cust["shop"], cust["customer"]) == ("customer", w.shop, w.customer)
    assert be.whoami(cust["token"])["customer"] == w.customer
    listed = be.same("list_tokens", be.tokens.list_tokens(agent=w.a))
    assert [t["id"] for t in listed] == [made["id"]] and "token" not in listed[0]
    assert [t["id"] for t in be.tokens.list_tokens(shop=w.shop)] == [cust["id"], made["id"]]
    gone = be.same("revoke_token", be.tokens.revoke_token(made["id"]))
    assert gone["id"] == made["id"] and gone["revoked_at"] == AT
    assert be.tokens.list_tokens(agent=w.a) == []
    assert [t["id"] for t in be.tokens.list_tokens(agent=w.a, include_inactive=True)] == [
        made["id"]]
    # past ten years a date is no longer a date (found by the schema fuzzer: a 500)
    far = be.tokens.create_token(w.a, None, "3650d", "far")
    assert far["expires_at"] == "2036-11-17T10:00:00+08:00"
    for expires in ("500000w", "3651d", "999999h"):
        with be.refused(UsageError, "expiry_too_far"):
            be.tokens.create_token(w.a, None, expires, "x")
        with be.refused(UsageError, "expiry_too_far"):
            be.tokens.create_customer_token(w.shop, w.customer, expires, "x")


@covers("create_token", "create_customer_token", "revoke_token", "whoami")
def test_token_errors(be):
    w = World(be)
    with be.refused(NotFound):
        be.tokens.create_token(be.key("nobody"))
    with be.refused(UsageError):
        be.tokens.create_token(w.a, None, "forever")
    with be.refused(InvalidInput):
        be.tokens.create_token(w.a, "admin")  # more rights than its agent
    with be.refused(NotFound):
        be.tokens.create_customer_token(be.key("noshop"), w.customer)
    with be.refused(NotFound):
        be.tokens.revoke_token(10**9)
    secret = be.tokens.create_token(w.a)["token"]
    be.tokens.revoke_token(be.tokens.list_tokens(agent=w.a)[0]["id"])
    with be.refused(Unauthorized):
        be.whoami(secret)


@covers("post_message", "get_conversation", "close_conversation", "rate")
def test_the_customer_writes_reads_closes_and_rates(be):
    """The widget's operations: with a customer token on the server (it posts as its own
    customer), directly on the Local backend (naming the customer)."""
    w = World(be)
    me, customer = be.as_customer(w.shop, w.customer)
    posted = me.post_message(w.shop, customer, "在吗")
    conv = posted["conversation"]
    assert (conv["shop"], conv["customer"], conv["state"]) == (w.shop, w.customer, "queued")
    cid = conv["id"]
    mine = me.get_conversation(cid)
    assert [(m["sender"], m["body"]) for m in mine["messages"]][:1] == [("customer", "在吗")]
    closed = me.close_conversation(cid)
    assert (closed["state"], closed["closed_at"]) == ("closed", AT)
    rated = me.rate(cid, 3, "还行")
    assert (rated["rating"], rated["state"]) == (3, "closed")
    with be.refused(Conflict):
        me.rate(cid, 4)  # once


@covers("arrivals")
def test_arrivals_buckets_are_lists(be):
    w = World(be)
    chat(be, w)
    assert be.arrivals(w.shop, NOW - DAY_MS, NOW + HOUR_MS, 60)["buckets"] == [[NOW, 1]]


# == known differences of error keys (the console shows errors by key) =======================
@covers("create", "apply")
def test_field_errors_keep_their_key(be):
    with be.refused(FieldError, "field_required"):
        be.create("shops", {"name": "没有键"})
    s = be.key("s")
    with be.refused(FieldError, "field_unknown_ref") as info:
        be.create("products", {"key": be.key("p"), "shop": s, "title": "t", "price": 1})
    assert (info.value.path, info.value.params["record"]) == ("shop", s)
    with be.refused(FieldError, "field_unknown_ref") as info:
        be.apply({"products": [{"key": be.key("p"), "shop": s, "title": "t", "price": 1}]})
    assert info.value.path == "products[0].shop"


@covers("customer_stats")
def test_unknown_customer_stats_key(be):
    who = be.key("nobody")
    with be.refused(NotFound, "no_customer") as info:
        be.customer_stats(who)
    assert info.value.params == {"customer": who}


@covers("rate")
def test_bad_rating_key(be):
    w = World(be)
    cid = taken(be, w)
    be.close_conversation(cid, by=w.a)
    with be.refused(InvalidInput, "bad_rating") as info:
        be.rate(cid, 9)
    assert info.value.params == {"rating": 9}


# == pages, chunks and the other forms of the arguments =======================================
@covers("bulk_load", "list")
def test_long_lists_and_chunked_loads(be):
    """More records than one API page (500) and one bulk chunk (2000): the Remote backend
    pages and chunks; the answers are the Local backend's."""
    w = World(be)
    c = be.key("bc")
    n = be.bulk_load("customers", ({"key": f"{c}.{i:04d}", "name": "客",
                                    "profiles": [{"shop": w.shop, "level": 1 + i % 3}]}
                                   for i in range(2100)))
    assert n == 2100
    everyone = be.list("customers", shop=w.shop)
    assert len(everyone) == 2101 and everyone[0]["key"] == f"{c}.0000"
    assert [r["key"] for r in everyone] == sorted(r["key"] for r in everyone)
    some = be.list("customers", shop=w.shop, limit=700, after=f"{c}.0999")
    assert [r["key"] for r in some[:2]] == [f"{c}.1000", f"{c}.1001"] and len(some) == 700
    assert be.same("a record", be.get("customers", f"{c}.2099")) == everyone[2099]
    assert be.bulk_load("customers", []) == 0


@covers("list_conversations", "queue", "campaign_sends", "events")
def test_cursors(be):
    w = World(be)
    ids = [be.post_message(w.shop, be.key("c"), f"第{i}位顾客")["conversation"]["id"]
           for i in range(5)]
    newest = be.list_conversations(shop=w.shop, limit=2)
    assert [c["id"] for c in newest] == ids[::-1][:2]
    older = be.list_conversations(shop=w.shop, limit=2, after=newest[-1]["id"])
    assert [c["id"] for c in older] == ids[::-1][2:4]
    assert [c["id"] for c in be.same("queue page", be.queue(w.shop, limit=2))] == ids[:2]
    assert [c["id"] for c in be.queue(w.shop, after=ids[1])] == ids[2:]
    assert [c["queue_position"] for c in be.queue(w.shop, after=ids[2])] == [4, 5]
    evs = be.events(shop=w.shop, limit=3)
    assert len(evs) == 3 and evs[0]["type"] == "shop.created"
    nxt = be.events(shop=w.shop, after=evs[-1]["id"], limit=2)
    assert len(nxt) == 2 and nxt[0]["id"] > evs[-1]["id"]
    be.apply({"shops": [{"key": w.shop, "name": "翎衣女装", "service_mode": "human_first",
                         "settings": {"quiet_hours": None}}],
              "orders": [{"key": f"{w.shop}-o{i}", "shop": w.shop, "customer": w.customer,
                          "status": "created", "created_at": "2026-11-20T09:00:00+08:00",
                          "items": [{"product": w.product}]} for i in range(3)],
              "campaigns": [{"key": f"{w.shop}-pay", "shop": w.shop, "name": "催付",
                             "trigger": "payment_reminder", "template": "{order}待付款"}]})
    be.run_due_campaigns("2026-11-20T09:30:00+08:00", shop=w.shop)
    sends = be.campaign_sends(f"{w.shop}-pay")
    assert len(sends) >= 1
    first = be.campaign_sends(f"{w.shop}-pay", limit=1)
    assert first == sends[:1]
    assert be.campaign_sends(f"{w.shop}-pay", after=first[0]["id"]) == sends[1:]


@covers("post_message", "reply", "transfer", "close_conversation", "get_conversation")
def test_message_context_kinds_and_groups(be):
    w = World(be)
    posted = be.post_message(w.shop, w.customer, "这条裙子有货吗", channel="mini_program",
                             entry_page="/item/1", source="search", search_keyword="碎花裙",
                             time_on_site_s=120, pages_viewed=4, product=w.product,
                             intent="presale")
    conv = be.same("context", posted["conversation"])
    assert (conv["channel"], conv["entry_page"], conv["source"], conv["search_keyword"],
            conv["intent"]) == ("mini_program", "/item/1", "search", "碎花裙", "presale")
    cid = conv["id"]
    facts = be.route_explain(cid)["facts"]
    assert facts["conversation.channel"] == "mini_program"
    image = be.post_message(w.shop, w.customer, "[图片]", kind="image",
                            payload={"url": "https://img.example/1.jpg"})
    assert (image["message"]["kind"], image["message"]["payload"]) == (
        "image", {"url": "https://img.example/1.jpg"})
    be.accept_next(w.a)
    pic = be.reply(w.a, cid, "[图片]", kind="image",
                   payload={"url": "https://img.example/2.jpg"})
    assert (pic["kind"], pic["payload"]) == ("image", {"url": "https://img.example/2.jpg"})
    moved = be.same("to group", be.transfer(cid, by=w.a, to_group=w.group, note="售前问题"))
    assert moved["state"] in ("queued", "active") and moved["assignee"] != w.a
    be.accept_next(w.b)
    closed = be.close_conversation(cid, by=w.b, reason="no_reply")
    assert closed["close_reason"] == "no_reply"
    kinds = [m["kind"] for m in be.get_conversation(cid)["messages"]
             if m["sender"] != "system"]
    assert kinds == ["text", "image", "image"]


@covers("metrics_report", "agent_metrics", "campaign_stats", "run_due_campaigns",
        "price_quote", "ticket_report", "list_tickets")
def test_times_as_milliseconds_or_iso(be):
    """Times given as UTC milliseconds or ISO 8601 text answer alike on every backend."""
    w = World(be)
    served_day(be, w)
    since, until = NOW - HOUR_MS, NOW + HOUR_MS
    iso = ("2026-11-20T09:00:00+08:00", "2026-11-20T11:00:00+08:00")
    assert be.metrics_report(w.shop, since, until)["total"] == be.metrics_report(
        w.shop, *iso)["total"]
    assert be.agent_metrics(w.a, since, until)["figures"] == be.agent_metrics(
        w.a, *iso)["figures"]
    later = be.price_quote(w.shop, [[w.product, 1]], None, w.coupon,
                           at="2026-11-21T10:00:00+08:00")
    assert (later["at"], later["total"]) == ("2026-11-21T10:00:00+08:00", 279)
    assert be.price_quote(w.shop, [[w.product, 1]], None, w.coupon,
                          at=NOW + DAY_MS)["at"] == later["at"]
    be.apply({"orders": [{"key": f"{w.shop}-o1", "shop": w.shop, "customer": w.customer,
                          "status": "created", "created_at": "2026-11-20T09:00:00+08:00",
                          "items": [{"product": w.product}]}],
              "campaigns": [{"key": f"{w.shop}-pay", "shop": w.shop, "name": "催付",
                             "trigger": "payment_reminder", "template": "{order}待付款"}]})
    be.update("shops", w.shop, {"settings": {"quiet_hours": None}})
    out = be.run_due_campaigns(NOW - HOUR_MS // 2, shop=w.shop)
    assert (out["due"], out["sent"]) == (1, 1)
    assert be.campaign_stats(f"{w.shop}-pay", since=NOW - DAY_MS, until=NOW)["sent"] == 1
    assert be.campaign_stats(f"{w.shop}-pay", since=NOW)["sent"] == 0
    t = be.create_ticket(type="return_refund", title="退款", shop=w.shop, priority="P2",
                         team="aftersale", assignee=w.b, order=f"{w.shop}-o1", by=w.a)
    assert (t["team"], t["assignee"], t["order"], t["status"]) == (
        "aftersale", w.b, f"{w.shop}-o1", "new")
    assert [x["id"] for x in be.list_tickets(shop=w.shop, due_within_s=DAY_MS)] == [t["id"]]
    assert be.list_tickets(shop=w.shop, breaching=True) == []
    assert [r["tickets"] for r in be.ticket_report(shop=w.shop, since=NOW - HOUR_MS,
                                                   until=NOW + HOUR_MS)] == [1]
    assert be.ticket_report(shop=w.shop, since=NOW + HOUR_MS) == []


@covers("ask_bot", "learn_question", "unanswered_questions")
def test_bot_for_a_customer_and_similar_questions(be):
    w = World(be, mode="bot_first")
    knowledge(be, w)
    asked = be.same("ask for", be.ask_bot("什么时候发货", shop=w.shop, customer=w.customer))
    assert (asked["action"], asked["entry"]) == ("answer", f"{w.shop}-ship")
    be.post_message(w.shop, be.key("c"), "发什么快递")
    be.post_message(w.shop, be.key("c"), "你们老板是谁")
    assert len(be.unanswered_questions(shop=w.shop, limit=1)) == 1
    learned = be.same("similar", be.learn_question("发什么快递", entry=f"{w.shop}-ship",
                                                   shop=w.shop, tags=["快递"]))
    assert learned["added"] == ["发什么快递"]
    assert be.ask_bot("发什么快递", shop=w.shop)["entry"] == f"{w.shop}-ship"
    with be.refused(NotFound):
        be.learn_question("发什么快递", entry=be.key("noentry"), shop=w.shop)


@covers("search_knowledge", "move_rule", "search_history", "suggest_answers")
def test_argument_checks_answer_the_cores_own_errors(be):
    """The core checks its arguments (cstool.api.bounds, the services); the server
    only states those rules, so every backend answers the core's class and key."""
    w = World(be)
    cid = chat(be, w)
    be.apply({"routing_rules": [{"key": f"{w.shop}-r", "shop": w.shop,
                                 "target": {"shop": True}}]})
    with be.refused(UsageError, "k_range"):
        be.search_knowledge("发票", shop=w.shop, k=0)
    with be.refused(UsageError, "k_range"):
        be.search_knowledge("发票", shop=w.shop, k=101)
    with be.refused(UsageError, "k_range"):
        be.suggest_answers(cid, 101)
    with be.refused(UsageError, "position_below_one", match="at least 1"):
        be.move_rule(f"{w.shop}-r", 0)
    with be.refused(NotFound, "no_record"):  # the rule first, then the position
        be.move_rule(be.key("norule"), 0)
    with be.refused(InvalidInput, "search_empty"):
        be.search_history(w.a, "")
    with be.refused(InvalidInput, "search_empty"):
        be.search_history(w.a, "  ")


# == known differences of what is refused at all ==============================================
@covers("list", "list_conversations", "events", "queue")
def test_a_page_of_nothing_is_refused(be):
    w = World(be)
    chat(be, w)
    with be.refused(UsageError, match="at least 1"):
        be.queue(w.shop, limit=0)
    with be.refused(UsageError, match="at least 1"):
        be.list("products", shop=w.shop, limit=0)
    with be.refused(UsageError, match="at least 1"):
        be.list_conversations(shop=w.shop, limit=0)
    with be.refused(UsageError, match="at least 1"):
        be.events(shop=w.shop, limit=0)


@covers("list_tickets", "unanswered_questions", "suggest_answers", "events", "search_history",
        "list_conversations", "queue")
def test_numbers_outside_their_bounds_are_refused(be):
    """Below an argument's floor, or past what JSON carries exactly (2**53): the core's
    usage error with the bound's stable key, on every backend (cstool.api.bounds)."""
    w = World(be)
    cid = chat(be, w)
    with be.refused(UsageError, "limit_below_one"):
        be.list_tickets(shop=w.shop, limit=-1)
    with be.refused(UsageError, "due_within_negative"):
        be.list_tickets(shop=w.shop, due_within_s=-1)
    with be.refused(UsageError, "limit_below_one"):
        be.unanswered_questions(shop=w.shop, limit=0)
    with be.refused(UsageError, "limit_below_one"):
        be.search_history(w.a, "M码", limit=0)
    with be.refused(UsageError, "k_range"):
        be.suggest_answers(cid, 0)
    with be.refused(UsageError, "after_negative"):
        be.events(shop=w.shop, after=-5)
    with be.refused(UsageError, "after_negative"):
        be.list_conversations(shop=w.shop, after=-1)
    with be.refused(UsageError, "after_negative"):
        be.queue(w.shop, after=-1)
    for call in (lambda: be.list_tickets(shop=w.shop, limit=2**53 + 1),
                 lambda: be.events(shop=w.shop, after=2**64),
                 lambda: be.list_conversations(shop=w.shop, after=2**63),
                 lambda: be.queue(w.shop, after=2**70),
                 lambda: be.unanswered_questions(shop=w.shop, limit=10**20)):
        with be.refused(UsageError, "number_too_big"):
            call()
    assert be.events(shop=w.shop, after=2**53) == []  # at the bound: taken


@covers("get_conversation", "get_ticket", "mark_sensitive", "revoke_token", "update_ticket")
def test_ids_past_any_stored_id_are_not_found(be):
    """An id no row can have (past 2**53, past the storage's 2**63, zero or negative) is
    simply not found, on every backend (cstool.storage.ids)."""
    for big in (2**53 + 1, 10**18, 2**63, 2**64, 10**30):
        with be.refused(NotFound, "no_conversation"):
            be.get_conversation(big)
        with be.refused(NotFound, "no_conversation"):
            be.mark_sensitive(big)
        with be.refused(NotFound, "no_ticket"):
            be.get_ticket(big)
        with be.refused(NotFound, "no_ticket"):
            be.update_ticket(big, status="open")
    for missing in (0, -1, 2**64):
        with be.refused(NotFound, "no_token"):
            be.tokens.revoke_token(missing)


@covers("update_ticket", "campaign_sends", "campaign_stats")
def test_a_missing_record_is_not_found_whatever_the_arguments(be):
    with be.refused(NotFound):
        be.update_ticket(10**9, status="weird")
    with be.refused(NotFound):
        be.campaign_sends(be.key("nocampaign"), outcome="weird")
    with be.refused(NotFound):
        be.campaign_stats(be.key("nocampaign"), since="bad")


@covers("bulk_load")
def test_bulk_load_refuses_a_broken_record(be):
    with be.refused(InvalidInput, match="internal form"):
        be.bulk_load("customers", [{"name": "无键"}])


@covers("reply", "mark_seen", "send_card", "invite", "transfer")
def test_the_missing_conversation_is_named_first(be):
    nobody, missing = be.key("nobody"), 10**9
    with be.refused(NotFound, "no_conversation"):
        be.reply(nobody, missing, "在吗")
    with be.refused(NotFound, "no_conversation"):
        be.mark_seen(nobody, missing)
    with be.refused(NotFound, "no_conversation"):
        be.send_card(nobody, missing, "product", "p")
    with be.refused(NotFound, "no_conversation"):
        be.invite(missing, nobody, "p")
    with be.refused(NotFound, "no_conversation"):
        be.transfer(missing, by=nobody, to_agent=nobody)


# == orders: cancel and change where it goes (issue 22, the bot that acts) ======================
def _orders(be: Contract, w: World) -> tuple[str, str, str]:
    """An unpaid, a paid and a shipped order of the world's customer: their keys."""
    keys = tuple(f"{w.shop}-o{i}" for i in range(3))
    base = {"shop": w.shop, "customer": w.customer, "created_at": "2026-11-19T10:00:00+08:00",
            "items": [{"product": w.product}], "address": "杭州市西湖区文三路1号",
            "phone": "13800000000", "receiver": "王丽"}
    be.apply({"orders": [
        {**base, "key": keys[0], "status": "created"},
        {**base, "key": keys[1], "status": "paid", "paid_at": "2026-11-19T10:05:00+08:00"},
        {**base, "key": keys[2], "status": "shipped", "paid_at": "2026-11-19T10:05:00+08:00",
         "shipped_at": "2026-11-19T18:00:00+08:00"}]})
    return keys


@covers("cancel_order", "change_order_address")
def test_order_cancel_and_address(be):
    w = World(be)
    unpaid, paid, shipped = _orders(be, w)
    out = be.same("cancel_order", be.cancel_order(unpaid, by=w.a, reason="顾客来电"))
    assert (out["key"], out["status"]) == (unpaid, "cancelled")
    out = be.same("change_order_address", be.change_order_address(
        paid, address=" 上海市浦东新区 世纪大道100号 ", phone="139-1234-5678", by=w.b))
    assert (out["address"], out["phone"], out["receiver"]) == (
        "上海市浦东新区 世纪大道100号", "13912345678", "王丽")
    events = [(e["key"], e["payload"]["action"], e["payload"]["fields"], e["payload"]["by"])
              for e in be.events(shop=w.shop, limit=500) if e["type"] == "order.updated"]
    assert events == [(unpaid, "cancel", ["status"], w.a),
                      (paid, "address", ["address", "phone"], w.b)]


@covers("cancel_order", "change_order_address")
def test_order_change_refusals(be):
    w = World(be)
    unpaid, paid, shipped = _orders(be, w)
    for key in (paid, shipped):
        with be.refused(Conflict, "order_not_cancellable"):
            be.cancel_order(key)
    with be.refused(Conflict, "order_address_fixed"):
        be.change_order_address(shipped, address="北京市朝阳区建国路1号")
    with be.refused(InvalidInput, "order_phone"):
        be.change_order_address(paid, phone="12ab")
    with be.refused(InvalidInput, "order_field_length"):
        be.change_order_address(paid, address="x")
    with be.refused(UsageError, "order_address_nothing"):
        be.change_order_address(paid)
    with be.refused(NotFound, "no_record"):
        be.cancel_order(be.key("no-order"))
    with be.refused(Conflict, "agent_not_in_shop"):
        be.cancel_order(unpaid, by=World(be).a)
    be.cancel_order(unpaid)
    with be.refused(Conflict, "order_not_cancellable"):
        be.cancel_order(unpaid)  # once
    with be.refused(Conflict, "order_address_fixed"):
        be.change_order_address(unpaid, phone="13900000000")
    assert be.get("orders", paid)["status"] == "paid"
