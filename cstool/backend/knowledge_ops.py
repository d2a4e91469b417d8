"""The knowledge bot on the Local backend (mixed into LocalBackend): asking the bot,
searching knowledge, agent assist, the learning loop, and what the bot reads from the
file (knowledge with its version, the customer's orders, products and coupons).

The bot step itself runs inside ``post_message``'s transaction (see ``DeskOps``); here
are the sources it reads through that same connection.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from typing import Any

from .. import pricing, service
from ..bot import default_synonyms, normalise
from ..bot.knowledge_bot import IndexCache, KnowledgeBot
from ..bot.step import BotReply
from ..errors import Conflict, InvalidInput, NotFound, UsageError
from ..resources import KINDS
from ..storage.records import RecordStore, strip_ids
from ..text_rules import check_text
from ..validation import check_refs, to_external, to_internal
from ..values import format_time

ORDERS_SHOWN = 10
PRODUCTS_READ = 2000


class LocalKnowledge:
    """The knowledge in the file, read through an open connection (a KnowledgeSource)."""

    def __init__(self, backend: Any, conn: sqlite3.Connection) -> None:
        """Read through ``conn``; ``backend`` keeps the version cursor between reads."""
        self.backend = backend
        self.conn = conn

    def version(self) -> int:
        """The id of the newest event that changed a knowledge entry or a shop.

        Only the events added since the last look are scanned (a cursor kept on the
        backend). The cursor remembers the event it stopped at: if that event is gone
        or different (a transaction we looked into rolled back and its ids were used
        again), everything is scanned once more.
        """
        st = self.backend.__dict__.setdefault("_kb_version",
                                              {"seen": 0, "mark": None, "version": 0})
        if st["seen"] and self._mark(st["seen"]) != st["mark"]:
            st.update(seen=0, mark=None)
        top = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        if top > st["seen"]:
            found = self.conn.execute(
                "SELECT MAX(id) FROM events WHERE id > ? AND id <= ? AND (entity = "
                "'knowledge_entry' OR (entity = 'shop' AND type IN ('shop.created', "
                "'shop.updated', 'shop.deleted', 'bulk.loaded')))",
                (st["seen"], top)).fetchone()[0]
            if found:
                st["version"] = found
            st.update(seen=top, mark=self._mark(top))
        return st["version"]

    def _mark(self, event_id: int) -> list | None:
        row = self.conn.execute("SELECT type, entity, entity_key, at, payload FROM events "
                                "WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else list(row)

    def entries(self) -> list[dict]:
        """Every enabled entry, platform-wide ones with shop None."""
        rows = self.conn.execute(
            "SELECT k.key, s.key, k.question, k.similar, k.answer, k.category, k.tags "
            "FROM knowledge_entries k LEFT JOIN shops s ON s.id = k.shop_id "
            "WHERE k.enabled = 1 ORDER BY k.id").fetchall()
        return [{"key": r[0], "shop": r[1], "question": r[2], "similar": json.loads(r[3]),
                 "answer": r[4], "category": r[5] or "", "tags": json.loads(r[6]),
                 "enabled": True} for r in rows]

    def bot_settings(self) -> dict[str, dict]:
        """The ``bot_*`` settings of every shop that has some."""
        out = {}
        for key, settings in self.conn.execute("SELECT key, settings FROM shops"):
            bot = {k: v for k, v in json.loads(settings).items() if k.startswith("bot_")}
            if bot:
                out[key] = bot
        return out


class LocalCommerce:
    """One customer's orders and coupons and the shop's products and promotions, read
    lazily through an open connection (the ``Commerce`` of ``cstool.bot.flows``)."""

    def __init__(self, conn: sqlite3.Connection, shop: dict, customer_id: int | None,
                 customer: str | None, now_ms: int, product: str | None = None,
                 entry_page: str | None = None) -> None:
        """``shop`` is the desk's shop row (id, key, timezone)."""
        self.conn = conn
        self.shop = shop
        self.customer_id = customer_id
        self.customer = customer
        self.now = now_ms
        self._entry_product = product
        if product is None and entry_page:
            m = re.search(r"/(?:item|product|p)/([a-z0-9][a-z0-9_.-]*)", entry_page)
            self._entry_product = m.group(1) if m else None
        self._orders: list[dict] | None = None
        self._products: dict[str, dict] | None = None

    def when(self, ms: int) -> str:
        """``MM-DD HH:MM`` in the shop's zone."""
        return service.local_datetime(ms, self.shop["timezone"]).strftime("%m-%d %H:%M")

    def orders(self) -> list[dict]:
        """The customer's newest orders in the shop, with items and logistics."""
        if self._orders is not None:
            return self._orders
        if self.customer_id is None:
            self._orders = []
            return self._orders
        c = self.conn
        out = []
        for r in c.execute(
                "SELECT id, key, status, created_at, delivered_at, total, carrier, tracking_no "
                "FROM orders WHERE customer_id = ? AND shop_id = ? ORDER BY created_at DESC, "
                "id DESC LIMIT ?", (self.customer_id, self.shop["id"], ORDERS_SHOWN)):
            items = [{"product": i[0], "title": i[1], "quantity": i[2]} for i in c.execute(
                "SELECT p.key, p.title, i.quantity FROM order_items i JOIN products p "
                "ON p.id = i.product_id WHERE i.order_id = ? ORDER BY i.id", (r[0],))]
            track = [{"at": e[0], "status": e[1], "detail": e[2]} for e in c.execute(
                "SELECT at, status, detail FROM logistics_events WHERE order_id = ? "
                "ORDER BY at, id", (r[0],))]
            out.append({"key": r[1], "status": r[2], "created_at": r[3], "delivered_at": r[4],
                        "total": r[5], "carrier": r[6], "tracking_no": r[7], "items": items,
                        "logistics": track})
        self._orders = out
        return out

    def _all_products(self) -> dict[str, dict]:
        if self._products is None:
            store = RecordStore(self.conn)
            self._products = {p["key"]: strip_ids(p) for p in store.read_where(
                "products", "WHERE t.shop_id = ?", (self.shop["id"],), limit=PRODUCTS_READ)}
        return self._products

    def products(self) -> list[dict]:
        """The shop's products on sale."""
        return [p for p in self._all_products().values() if p["status"] == "on_sale"]

    def product(self, key: str | None) -> dict | None:
        """A product of the shop by key."""
        return self._all_products().get(key) if key else None

    def entry_product(self) -> str | None:
        """The product page the chat started on."""
        return self._entry_product

    def _held(self) -> list[dict]:
        if self.customer_id is None:
            return []
        return [{"coupon": r[0], "issued_at": r[1], "used_at": r[2]} for r in self.conn.execute(
            "SELECT cp.key, cc.issued_at, cc.used_at FROM customer_coupons cc JOIN coupons cp "
            "ON cp.id = cc.coupon_id WHERE cc.customer_id = ? AND cp.shop_id = ? "
            "ORDER BY cc.position, cc.id", (self.customer_id, self.shop["id"]))]

    def coupons(self) -> list[dict]:
        """Coupons the customer holds here, unused and valid now."""
        keys = sorted({h["coupon"] for h in self._held() if h["used_at"] is None})
        out = []
        for key in keys:
            c = RecordStore(self.conn).read("coupons", key)
            if ((c["valid_from"] is None or c["valid_from"] <= self.now)
                    and (c["valid_to"] is None or c["valid_to"] >= self.now)):
                out.append(strip_ids(c))
        return out

    def promotions(self) -> list[dict]:
        """The shop's promotions running now."""
        return [strip_ids(p) for p in RecordStore(self.conn).read_where(
            "promotions", "WHERE t.shop_id = ?", (self.shop["id"],))
            if pricing.promotion_active(p, self.now)]

    def quote(self, product: str) -> dict | None:
        """One unit of ``product`` after promotions and the customer's best coupon."""
        store = RecordStore(self.conn)
        promos = [strip_ids(p) for p in store.read_where(
            "promotions", "WHERE t.shop_id = ?", (self.shop["id"],))]
        products = dict(self._all_products())
        for p in promos:
            gift = (p.get("gift") or {}).get("product")
            if gift and gift not in products:
                rec = store.read("products", gift)
                if rec is not None:
                    products[gift] = strip_ids(rec)
        held = self._held() if self.customer_id is not None else None
        coupons = {}
        for h in held or ():
            rec = store.read("coupons", h["coupon"])
            if rec is not None:
                coupons[h["coupon"]] = strip_ids(rec)
        try:
            q = pricing.quote(self.shop["key"], [(product, 1)], products, promos, coupons,
                              self.now, held=held)
        except (InvalidInput, NotFound, Conflict):
            return None
        return {"subtotal": q.subtotal, "total": q.total,
                "promotions": [a.promotion["name"] for a in q.chosen.promotions
                               if a.promotion["kind"] != "gift"],
                "coupon": q.coupon.coupon["name"] if q.coupon else None,
                "gifts": [g.get("title") or g.get("product") for g in q.chosen.gifts]}


MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer


def _group_id(row_id: int) -> str:
    return f"#{row_id}"


_FILLERS = default_synonyms()


def group_key(question: str) -> str:
    """How unanswered questions are grouped: normalised, with the built-in synonyms
    applied and greetings and fillers (你好, 在吗, 亲) left out, so "在吗？快递到哪了" and
    "快递到哪了" are one group."""
    key = " ".join(_FILLERS.apply(normalise(question)).split())
    key = re.sub(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])", "", key)
    return key or normalise(question)


class KnowledgeOps:
    """Knowledge-bot operations of the Local backend."""

    bot: Any

    # -- the index -------------------------------------------------------------------------
    def _kb_cache(self) -> IndexCache:
        """The bot's index cache (one of our own when the desk runs another bot)."""
        if isinstance(self.bot, KnowledgeBot):
            return self.bot.cache
        cache = self.__dict__.get("_own_kb_cache")
        if cache is None:
            cache = self.__dict__["_own_kb_cache"] = IndexCache()
        return cache

    def _kb_index(self, conn: sqlite3.Connection, shop: str | None):
        cache = self._kb_cache()
        idx = cache.index(LocalKnowledge(self, conn))
        cache.ready(idx, shop)
        return idx

    def warm_knowledge(self, shop: str | None = None) -> dict:
        """Build (or load from the cache) the bot's model for ``shop`` (None: the
        platform-wide knowledge) now, so the first customer does not wait for it."""
        with self.database.read() as conn:
            if shop is not None:
                self._shop_row(conn, shop)
            cache = self._kb_cache()
            idx = cache.index(LocalKnowledge(self, conn))
            how = cache.ready(idx, shop)
            n = len(idx.scope_entries(shop))
        return {"shop": shop, "entries": n, **how}

    # -- asking ------------------------------------------------------------------------------
    def _bot_context(self, conn: sqlite3.Connection, shop: dict | None, customer_id: int | None,
                     customer: str | None, conv: dict | None) -> dict:
        commerce = None
        if shop is not None:
            commerce = LocalCommerce(conn, shop, customer_id, customer, self._now(),
                                     product=(conv or {}).get("product_key"),
                                     entry_page=(conv or {}).get("entry_page"))
        memory = None
        if conv is not None and conv.get("flow"):
            try:
                memory = json.loads(conv["flow"])
            except ValueError:
                memory = None
        return {"conversation": None if conv is None else conv["id"], "customer": customer,
                "knowledge": LocalKnowledge(self, conn), "commerce": commerce, "memory": memory}

    def ask_bot(self, text: str, *, shop: str | None = None,
                customer: str | None = None) -> dict:
        """What the bot would reply to ``text`` in ``shop`` (None: all knowledge), for
        ``customer`` when given (flows read their orders and coupons). Nothing is
        written: no conversation, no memory, nothing recorded."""
        if not isinstance(text, str):
            raise InvalidInput("the question must be text", key="question_not_text")
        check_text(text, "question", multiline=True)  # blank: the bot hands off
        with self.database.read() as conn:
            shop_row = self._shop_row(conn, shop) if shop is not None else None
            cid = None
            if customer is not None:
                if shop is None:
                    raise UsageError("--customer needs --shop", key="customer_needs_shop")
                row = conn.execute("SELECT id FROM customers WHERE key = ?",
                                   (customer,)).fetchone()
                if row is None:
                    raise NotFound(f"no customer {customer!r}", key="no_customer",
                                   customer=customer)
                cid = row[0]
            context = self._bot_context(conn, shop_row, cid, customer, None)
            reply = self.bot.reply(shop, text, context)
        return reply.to_dict(text)

    def search_knowledge(self, text: str, *, shop: str | None = None, k: int = 5) -> list[dict]:
        """The ``k`` best entries for ``text`` as ``shop`` sees them, with scores."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("search text is empty", key="search_empty")
        check_text(text, "search text", multiline=True)
        if not 1 <= int(k) <= 100:
            raise UsageError("k must be from 1 to 100", key="k_range")
        with self.database.read() as conn:
            if shop is not None:
                self._shop_row(conn, shop)
            idx = self._kb_index(conn, shop)
            ranked = idx.search(text, int(k), shop=shop)
        return [self._entry_hit(idx, key, score, shop) for key, score in ranked]

    @staticmethod
    def _entry_hit(idx: Any, key: str, score: float, shop: str | None) -> dict:
        e = idx.entry(key, shop) or {}
        return {"entry": key, "score": round(float(score), 4), "shop": e.get("shop"),
                "question": e.get("question"), "answer": e.get("answer"),
                "category": e.get("category") or None}

    def suggest_answers(self, conversation: int, k: int = 3) -> list[dict]:
        """Agent assist: the ``k`` best entries for the conversation's last customer
        message (a bare request for a human is skipped for the message before it)."""
        with self.database.read() as conn:
            conv = self._conv_row(conn, conversation)
            shop = conn.execute("SELECT key FROM shops WHERE id = ?",
                                (conv["shop_id"],)).fetchone()[0]
            text = None
            for (body,) in conn.execute(
                    "SELECT body FROM messages WHERE conversation_id = ? AND sender = 'customer' "
                    "ORDER BY id DESC LIMIT 5", (conv["id"],)):
                if service.asks_for_human(body) and len(normalise(body)) <= 8:
                    continue
                if normalise(body):
                    text = body
                    break
            if text is None:
                return []
            idx = self._kb_index(conn, shop)
            ranked = idx.search(text, int(k), shop=shop)
        return [{**self._entry_hit(idx, key, score, shop), "for": text} for key, score in ranked]

    # -- the bot step of the desk (inside post_message's transaction) ------------------------
    def _bot_turn(self, conn: sqlite3.Connection, shop: dict, conv: dict, cust_id: int,
                  text: str) -> BotReply:
        """Ask the bot, keep its memory on the conversation, record what it could not
        answer for the learning loop."""
        customer = conn.execute("SELECT key FROM customers WHERE id = ?",
                                (cust_id,)).fetchone()[0]
        context = self._bot_context(conn, shop, cust_id, customer, conv)
        reply = self.bot.reply(shop["key"], text, context)
        if reply.memory is not None:
            conn.execute("UPDATE conversations SET flow = ? WHERE id = ?",
                         (json.dumps(reply.memory, ensure_ascii=False), conv["id"]))
        if reply.record:
            self._record_unanswered(conn, shop["id"], conv["id"], reply.record,
                                    reply.action, reply.entry, reply.confidence)
        return reply

    def _record_unanswered(self, conn: sqlite3.Connection, shop_id: int | None,
                           conv_id: int | None, question: str, action: str,
                           entry: str | None, confidence: float) -> None:
        norm = group_key(question)
        if not norm:
            return
        cur = conn.execute(
            "INSERT INTO unanswered_questions (shop_id, conversation_id, question, normalized, "
            "action, top_entry, confidence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (shop_id, conv_id, question[:1000], norm[:1000], action, entry,
             round(float(confidence), 4), self._now()))
        self._event(conn, "bot.unanswered", "conversation",
                    None if conv_id is None else str(conv_id), shop_id,
                    {"question": cur.lastrowid, "action": action, "entry": entry})

    # -- the learning loop ---------------------------------------------------------------------
    def unanswered_questions(self, *, shop: str | None = None, limit: int = 50) -> list[dict]:
        """Questions the bot could not answer (handed off or only suggested), grouped per
        shop by :func:`group_key`, most asked first."""
        with self.database.read() as conn:
            where, params = "", []
            if shop is not None:
                where = "WHERE u.shop_id = ?"
                params.append(self._shop_row(conn, shop)["id"])
            rows = conn.execute(
                "SELECT u.id, s.key, u.question, u.normalized, u.action, u.top_entry, "
                "u.confidence, u.created_at FROM unanswered_questions u LEFT JOIN shops s "
                f"ON s.id = u.shop_id {where} ORDER BY u.id", params).fetchall()
        groups: dict[tuple, dict] = {}
        for rid, skey, question, norm, action, entry, conf, at in rows:
            g = groups.get((skey, norm))
            if g is None:
                g = groups[(skey, norm)] = {
                    "group": _group_id(rid), "shop": skey, "normalized": norm, "count": 0,
                    "_texts": Counter(), "_actions": Counter(), "_entries": Counter(),
                    "first_at": at, "last_at": at, "conversations": set(), "_conf": []}
            g["count"] += 1
            g["_texts"][question] += 1
            g["_actions"][action] += 1
            if entry:
                g["_entries"][entry] += 1
            g["last_at"] = max(g["last_at"], at)
            g["_conf"].append(conf or 0.0)
        out = []
        for g in groups.values():
            texts = g.pop("_texts")
            entries = g.pop("_entries")
            conf = g.pop("_conf")
            out.append({
                "group": g["group"], "shop": g["shop"], "question": texts.most_common(1)[0][0],
                "count": g["count"], "wordings": [t for t, _ in texts.most_common()],
                "actions": dict(g.pop("_actions")),
                "top_entry": entries.most_common(1)[0][0] if entries else None,
                "confidence": round(max(conf), 4) if conf else None,
                "first_at": format_time(g["first_at"]), "last_at": format_time(g["last_at"]),
                "normalized": g["normalized"],
            })
        out.sort(key=lambda g: (g["count"], g["last_at"] or ""), reverse=True)
        return out[: int(limit)]

    def _unanswered_group(self, conn: sqlite3.Connection, question: str,
                          shop_id: int | None) -> tuple[list[tuple], int | None]:
        """Rows of the group named ``#id`` or by a question's normalised text; with
        ``shop_id``, only that shop's (another shop's group is not found)."""
        m = re.fullmatch(r"#(\d+)", question.strip())
        if m:
            gid = int(m.group(1))  # past SQLite's 64-bit ids it names no group
            row = None if gid > MAX_ROW_ID else conn.execute(
                "SELECT shop_id, normalized FROM unanswered_questions WHERE id = ?",
                (gid,)).fetchone()
            if row is None or (shop_id is not None and row[0] != shop_id):
                where = "" if shop_id is None else " in this shop"
                raise NotFound(f"no unanswered question group {question.strip()}{where}")
            gshop, norm = row
        else:
            gshop, norm = shop_id, group_key(question)
        if gshop is None and not m:
            rows = conn.execute("SELECT id, question, shop_id FROM unanswered_questions "
                                "WHERE normalized = ? ORDER BY id", (norm,)).fetchall()
        else:
            rows = conn.execute("SELECT id, question, shop_id FROM unanswered_questions "
                                "WHERE normalized = ? AND shop_id IS ? ORDER BY id",
                                (norm, gshop)).fetchall()
        return rows, gshop

    def learn_question(self, question: str, *, entry: str | None = None,
                       new: str | None = None, answer: str | None = None,
                       shop: str | None = None, category: str | None = None,
                       tags: list[str] | None = None) -> dict:
        """Teach the bot a question: as a similar question of ``entry``, or as a new
        entry ``new`` (with ``answer``). ``question`` is text or ``#id`` of a group from
        ``unanswered_questions``; every wording of the group is learned and the group is
        resolved (removed from the list). One transaction."""
        if (entry is None) == (new is None):
            raise UsageError("learn into exactly one of an existing entry or a new one")
        if not isinstance(question, str) or not question.strip():
            raise InvalidInput("the question is empty", key="question_empty")
        if new is not None and not (answer or "").strip():
            raise UsageError("a new entry needs an answer", key="new_entry_needs_answer")
        k = KINDS["knowledge_entries"]
        with self.database.write() as conn:
            store = RecordStore(conn)
            shop_id = None
            if shop is not None:
                shop_id = self._shop_row(conn, shop)["id"]
            rows, gshop = self._unanswered_group(conn, question, shop_id)
            wordings: list[str] = []
            for _, text, _ in rows:
                if text not in wordings:
                    wordings.append(text)
            if not re.fullmatch(r"#\d+", question.strip()) and question.strip() not in wordings:
                wordings.insert(0, question.strip())
            if entry is not None:
                current = store.read(k.name, entry)
                if current is None:
                    raise NotFound(f"no knowledge entry {entry!r}", key="no_record",
                                   kind="knowledge_entry", record=entry)
                rec = strip_ids(current)
                known = {normalise(t) for t in [rec["question"], *rec["similar"]]}
                added = []
                for t in wordings:
                    if normalise(t) not in known:
                        known.add(normalise(t))
                        added.append(t)
                rec["similar"] = [*rec["similar"], *added]
                rec = to_internal(k, to_external(k, rec))
                if added:
                    store.write(k.name, rec, self._now())
                    self._event(conn, "knowledge_entry.updated", "knowledge_entry", entry,
                                store.id_of("shops", rec["shop"]) if rec["shop"] else None,
                                {"fields": ["similar"], "via": "learn", "added": added})
                key, created = entry, False
            else:
                if store.id_of(k.name, new) is not None:
                    raise Conflict(f"knowledge entry {new!r} exists already",
                                   key="exists_already", kind="knowledge_entry", record=new)
                if shop is None and gshop is not None:
                    shop = conn.execute("SELECT key FROM shops WHERE id = ?",
                                        (gshop,)).fetchone()[0]
                raw = {"key": new, "question": wordings[0], "similar": wordings[1:],
                       "answer": answer, "shop": shop, "category": category,
                       "tags": tags or []}
                rec = to_internal(k, {n: v for n, v in raw.items() if v is not None})
                check_refs(k, rec, self._db_lookup(store))
                store.write(k.name, rec, self._now())
                added = wordings
                self._event(conn, "knowledge_entry.created", "knowledge_entry", new,
                            store.id_of("shops", shop) if shop else None,
                            {"via": "learn"})
                key, created = new, True
            ids = [r[0] for r in rows]
            if ids:
                conn.execute(f"DELETE FROM unanswered_questions WHERE id IN "
                             f"({', '.join('?' for _ in ids)})", ids)
                self._event(conn, "bot.learned", "knowledge_entry", key, gshop,
                            {"resolved": len(ids)})
            return {"entry": key, "created": created, "added": added, "resolved": len(ids),
                    "record": to_external(k, strip_ids(store.read(k.name, key)))}

    def dismiss_unanswered(self, group: str) -> int:
        """Remove a group (``#id``) of unanswered questions without learning it."""
        with self.database.write() as conn:
            if not re.fullmatch(r"#\d+", group.strip()):
                raise UsageError("name a group by its id, like #12 (see kb unanswered)")
            rows, gshop = self._unanswered_group(conn, group, None)
            ids = [r[0] for r in rows]
            conn.execute(f"DELETE FROM unanswered_questions WHERE id IN "
                         f"({', '.join('?' for _ in ids)})", ids)
            self._event(conn, "bot.dismissed", None, group.strip(), gshop, {"count": len(ids)})
            return len(ids)

