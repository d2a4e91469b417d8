"""What the knowledge bot reads, over one unit of work: the knowledge with its version
(a ``KnowledgeSource`` of :mod:`cstool.bot.knowledge_bot`) and one customer's orders,
the shop's products, coupons and promotions (the ``Commerce`` of
:mod:`cstool.bot.flows`). Both read through the operation's transaction, so the bot sees
what the operation sees."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import pricing, service
from ..errors import Conflict, InvalidInput, NotFound
from ..storage.records import strip_ids
from ..storage.repos.embeddings import EntryEmbeddings
from ..storage.repos.knowledge import Knowledge
from ..storage.unit_of_work import UnitOfWork

ORDERS_SHOWN = 10
PRODUCTS_READ = 2000


@dataclass
class VersionCursor:
    """Where the knowledge version was last looked for: the newest event scanned
    (``seen``), what that event was (``mark``, to notice a rolled back transaction
    whose ids were used again) and the version found (``version``)."""

    seen: int = 0
    mark: list | None = None
    version: int = 0


class UnitKnowledge:
    """The knowledge in the file, read through a unit of work (a KnowledgeSource)."""

    def __init__(self, uow: UnitOfWork, cursor: VersionCursor) -> None:
        """Read through ``uow``; ``cursor`` is kept by the caller between reads."""
        self.repo = uow.repo(Knowledge)
        self.cursor = cursor
        self.uow = uow
        #: Entry embeddings computed in a read transaction, to store after it.
        self.pending: dict[str, dict[str, bytes]] = {}

    def version(self) -> int:
        """The id of the newest event that changed a knowledge entry or a shop.

        Only the events added since the last look are scanned (the cursor). The cursor
        remembers the event it stopped at: if that event is gone or different (a
        transaction we looked into rolled back and its ids were used again), everything
        is scanned once more.
        """
        st = self.cursor
        if st.seen and self.repo.event_mark(st.seen) != st.mark:
            st.seen, st.mark = 0, None
        top = self.repo.top_event()
        if top > st.seen:
            found = self.repo.newest_knowledge_event(st.seen, top)
            if found:
                st.version = found
            st.seen, st.mark = top, self.repo.event_mark(top)
        return st.version

    def entries(self) -> list[dict]:
        """Every enabled entry, platform-wide ones with shop None."""
        return self.repo.enabled_entries()

    def stored_embeddings(self, model: str, keys: list[str]) -> dict[str, bytes]:
        """Entry embeddings of ``model`` stored in the file (by text fingerprint)."""
        found = self.uow.repo(EntryEmbeddings).get(model, keys)
        for k in keys:
            if k not in found and k in self.pending.get(model, {}):
                found[k] = self.pending[model][k]
        return found

    def keep_embeddings(self, model: str, rows: dict[str, bytes]) -> None:
        """Store new entry embeddings: at once in a write transaction, else after the
        read (:meth:`save_pending` through a write unit)."""
        if self.uow.writable:
            self.uow.repo(EntryEmbeddings).put(model, rows)
        else:
            self.pending.setdefault(model, {}).update(rows)

    def save_pending(self, uow: UnitOfWork) -> int:
        """Write the embeddings kept during a read through the write unit ``uow``."""
        n = sum(uow.repo(EntryEmbeddings).put(m, rows) for m, rows in self.pending.items())
        self.pending = {}
        return n

    def bot_settings(self) -> dict[str, dict]:
        """The ``bot_*`` settings of every shop that has some."""
        out = {}
        for key, settings in self.repo.shop_settings():
            bot = {k: v for k, v in settings.items() if k.startswith("bot_")}
            if bot:
                out[key] = bot
        return out


class UnitCommerce:
    """One customer's orders and coupons and the shop's products and promotions, read
    lazily through a unit of work (the ``Commerce`` of ``cstool.bot.flows``)."""

    def __init__(self, uow: UnitOfWork, shop: dict, customer_id: int | None,
                 customer: str | None, now_ms: int, product: str | None = None,
                 entry_page: str | None = None) -> None:
        """``shop`` is the desk's shop row (id, key, timezone)."""
        self.repo = uow.repo(Knowledge)
        self.store = uow.records
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
        self._for_sale: list[dict] | None = None
        self._pricing: tuple | None = None

    def when(self, ms: int) -> str:
        """``MM-DD HH:MM`` in the shop's zone."""
        return service.local_datetime(ms, self.shop["timezone"]).strftime("%m-%d %H:%M")

    def orders(self) -> list[dict]:
        """The customer's newest orders in the shop, with items and logistics."""
        if self._orders is None:
            self._orders = [] if self.customer_id is None else self.repo.orders_of(
                self.customer_id, self.shop["id"], ORDERS_SHOWN)
        return self._orders

    def order(self, key: str) -> dict | None:
        """One of the customer's orders in the shop by key, however old (None: no such
        order of theirs)."""
        if self.customer_id is None or not key:
            return None
        found = self.repo.orders_of(self.customer_id, self.shop["id"], 1, key=key)
        return found[0] if found else None

    def _all_products(self) -> dict[str, dict]:
        if self._products is None:
            self._products = {p["key"]: p for p in self.repo.products_of(self.shop["id"],
                                                                         PRODUCTS_READ)}
        return self._products

    def products(self) -> list[dict]:
        """The shop's products on sale."""
        return [p for p in self._all_products().values() if p["status"] == "on_sale"]

    def for_sale(self) -> list[dict]:
        """The shop's products on sale and in stock (what a recommendation may name)."""
        if self._for_sale is None:
            self._for_sale = self.repo.products_for_sale(self.shop["id"], PRODUCTS_READ)
        return self._for_sale

    def product(self, key: str | None) -> dict | None:
        """A product of the shop by key."""
        return self._all_products().get(key) if key else None

    def entry_product(self) -> str | None:
        """The product page the chat started on."""
        return self._entry_product

    def _held(self) -> list[dict]:
        if self.customer_id is None:
            return []
        return self.repo.held_coupons(self.customer_id, self.shop["id"])

    def coupons(self) -> list[dict]:
        """Coupons the customer holds here, unused and valid now."""
        keys = sorted({h["coupon"] for h in self._held() if h["used_at"] is None})
        out = []
        for key in keys:
            c = self.store.read("coupons", key)
            if ((c["valid_from"] is None or c["valid_from"] <= self.now)
                    and (c["valid_to"] is None or c["valid_to"] >= self.now)):
                out.append(strip_ids(c))
        return out

    def promotions(self) -> list[dict]:
        """The shop's promotions running now."""
        return [strip_ids(p) for p in self.repo.promotions_of(self.shop["id"])
                if pricing.promotion_active(p, self.now)]

    def _pricing_inputs(self) -> tuple:
        """What pricing reads, once per turn: promotions, products (with the gifts),
        the coupons held and their records."""
        if self._pricing is None:
            promos = [strip_ids(p) for p in self.repo.promotions_of(self.shop["id"])]
            if self._products is None and self._for_sale is not None:
                products = {p["key"]: p for p in self._for_sale}  # a recommendation's
            else:
                products = dict(self._all_products())
            for p in promos:
                gift = (p.get("gift") or {}).get("product")
                if gift and gift not in products:
                    rec = self.store.read("products", gift)
                    if rec is not None:
                        products[gift] = strip_ids(rec)
            held = self._held() if self.customer_id is not None else None
            coupons = {}
            for h in held or ():
                rec = self.store.read("coupons", h["coupon"])
                if rec is not None:
                    coupons[h["coupon"]] = strip_ids(rec)
            self._pricing = (promos, products, held, coupons)
        return self._pricing

    def quote(self, product: str) -> dict | None:
        """One unit of ``product`` after promotions and the customer's best coupon."""
        promos, products, held, coupons = self._pricing_inputs()
        if product not in products:
            products[product] = self.product(product) or {}
            if not products[product]:
                del products[product]
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
