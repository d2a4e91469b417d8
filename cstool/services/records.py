"""The declarative records (shops, agents, customers, products, rules ...): create, read,
list, update, delete, ``apply`` of a whole document, ``export``, bulk loads, and the
event log read back; and the store itself (info, upgrade, backup).

Each change is one unit of work with its event; what a change implies for the desk (an
agent's status or shops, an order's classification) is asked of the desk's services.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..api.backend import ApplyResult, Change
from ..api.bounds import check_whole
from ..api.operations import check_limit
from ..errors import Conflict, CstoolError, InvalidInput, NotFound, UsageError
from ..knowledge_rules import check_owner
from ..resources import KINDS, ORDER_BY, Kind
from ..resources import kind as kind_named
from ..storage import bulk
from ..storage.errors import DatabaseError, IntegrityError
from ..storage.events import read_events
from ..storage.migrations import LATEST
from ..storage.records import RecordStore, strip_ids
from ..storage.repos.resources import Resources, shop_filter
from ..storage.repos.webhooks import ChannelDeliveries, Webhooks
from ..storage.unit_of_work import UnitOfWork
from ..storage.where import Where
from ..validation import FieldError, check_refs, line_of, to_external, to_internal
from ..values import format_money, format_time
from .context import ServiceContext


def _kind(name: str) -> Kind:
    try:
        return kind_named(name)
    except KeyError:
        raise UsageError(f"unknown kind {name!r} (known: {', '.join(KINDS)})",
                         key="unknown_kind", kind=name, known=", ".join(KINDS)) from None


def _lookup_info(kind: str, rec: dict) -> dict:
    """What reference checks need to know of a record."""
    info: dict[str, Any] = {}
    if "shop" in rec:
        info["shop"] = rec["shop"]
    if kind == "products":
        info["price"] = rec["price"]
    if kind == "quick_replies":  # a macro may use an agent's own one only as theirs
        info["agent"] = rec.get("agent")
    if kind == "agents":
        info["shops"] = rec["shops"]
        info["role"] = rec.get("role")
    return info


class RecordsService:
    """Records and the store (``ctx.records``)."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def db_lookup(self, store: RecordStore):
        """Reference checks' look-up of records in the file."""
        def lookup(kind: str, key: str) -> dict | None:
            rec = store.read(kind, key)
            return None if rec is None else _lookup_info(kind, rec)

        return lookup

    def _after_write(self, uow: UnitOfWork, kind: str, rec: dict, *,
                     created: bool = False) -> None:
        """Derived state that follows a write: open chats' classification after orders;
        a reply code unique in its shop whatever the case (a customer types VIP88 or vip88);
        a new webhook's place in the event log (it gets the events from now on)."""
        if kind == "webhooks" and created:
            uow.repo(Webhooks).start_at_head(rec["key"])
        if kind == "channels" and created:
            uow.repo(ChannelDeliveries).start_at_head(rec["key"])
        if kind == "campaigns" and rec.get("trigger") == "reply_code" and rec.get("code"):
            other = uow.repo(Resources).reply_code_holder(rec["shop"], rec["code"], rec["key"])
            if other:
                raise Conflict(f"campaign {other!r} of shop {rec['shop']!r} has reply code "
                               f"{rec['code']!r} already (codes ignore case)",
                               key="reply_code_taken", campaign=other, shop=rec["shop"],
                               code=rec["code"])
        if kind == "orders":
            store = uow.records
            self.ctx.routing.refresh_classification(
                uow, store.id_of("customers", rec["customer"]), store.id_of("shops", rec["shop"]))

    def _shop_id_of(self, store: RecordStore, k: Kind, rec: dict) -> int | None:
        if k.name == "shops":
            return store.id_of("shops", rec["key"])
        if k.shop_field and rec.get("shop"):
            return store.id_of("shops", rec["shop"])
        return None

    # -- the store ---------------------------------------------------------------
    def info(self) -> dict:
        """Where the file is, its schema version, size and row counts."""
        db = self.ctx.database
        return {
            "backend": "local",
            "engine": "sqlite" if db.engine is None else db.engine.name,
            "path": str(db.path.resolve()) if db.engine is None else db.path,
            "schema_version": db.schema_version(),
            "latest_schema_version": LATEST,
            "size_bytes": db.size_bytes(),
            "journal_mode": db.journal_mode(),
            "migrations": [
                {**m, "applied_at": format_time(m["applied_at"])} for m in db.migrations()
            ],
            "tables": db.table_counts(),
        }

    def upgrade(self) -> list[int]:
        """Apply pending migrations (opening the file already does; this reports)."""
        return self.ctx.database.upgrade(self.ctx.now())

    def backup(self, target: str) -> dict:
        """Online backup to ``target``."""
        path = self.ctx.database.backup(target)
        return {"path": str(path.resolve()), "size_bytes": path.stat().st_size}

    # -- resources ---------------------------------------------------------------
    def create(self, kind: str, record: dict) -> dict:
        """Create one record; Conflict if the key exists."""
        k = _kind(kind)
        rec = to_internal(k, record)
        key = rec[k.key]
        with self.ctx.write() as uow:
            store = uow.records
            if store.id_of(k.name, key) is not None:
                raise Conflict(f"{k.singular} {key!r} exists already", key="exists_already",
                               kind=k.singular, record=key)
            check_refs(k, rec, self.db_lookup(store))
            generated = _fill_secret(k, rec, None)
            store.write(k.name, rec, uow.now)
            self._after_write(uow, k.name, rec, created=True)
            uow.event(f"{k.singular}.created", k.singular, key, self._shop_id_of(store, k, rec)
            )
            out = to_external(k, strip_ids(store.read(k.name, key)))
            if generated:  # shown this once, never again
                out["secret"] = rec["secret"]
            return out

    def get(self, kind: str, key: str) -> dict:
        """One record by key."""
        k = _kind(kind)
        with self.ctx.read() as uow:
            rec = uow.records.read(k.name, key)
        if rec is None:
            raise NotFound(f"no {k.singular} {key!r}", key="no_record", kind=k.singular,
                           record=key)
        return to_external(k, strip_ids(rec))

    def list(
        self,
        kind: str,
        *,
        shop: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[dict]:
        """Records ordered by key, optionally of one shop and after a key cursor."""
        check_limit(limit)
        k = _kind(kind)
        with self.ctx.read() as uow:
            store = uow.records
            where = self._filter(store, k, shop).add_if(after, f"t.{k.key} > ?", after)
            rows = store.read_where(k.name, where.sql(), tuple(where.params),
                                    order=ORDER_BY.get(k.name), limit=limit)
        return [to_external(k, strip_ids(r)) for r in rows]

    def _filter(self, store: RecordStore, k: Kind, shop: str | None) -> Where:
        """The records of ``shop`` (every record when None); NotFound for no such shop."""
        if shop is None:
            return Where()
        sid = store.id_of("shops", shop)
        if sid is None:
            raise NotFound(f"no shop {shop!r}", key="no_shop", shop=shop)
        return shop_filter(k, sid)

    def update(self, kind: str, key: str, changes: dict) -> dict:
        """Change fields of a record; a field set to None is cleared."""
        k = _kind(kind)
        if k.key in changes and changes[k.key] != key:
            raise UsageError(f"the {k.key} of a {k.singular} cannot change", key="key_fixed",
                             field=k.key, kind=k.singular)
        with self.ctx.write() as uow:
            store = uow.records
            current = store.read(k.name, key)
            if current is None:
                raise NotFound(f"no {k.singular} {key!r}", key="no_record", kind=k.singular,
                           record=key)
            merged = to_external(k, strip_ids(current))
            for name, value in changes.items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            for f in k.fields:  # a secret not named stays as it is
                if f.write_only and f.name not in changes and current.get(f.name) is not None:
                    merged[f.name] = current[f.name]
            rec = to_internal(k, merged)
            check_refs(k, rec, self.db_lookup(store))
            # a secret cleared is a new one (shown once)
            rotated = _fill_secret(k, rec, None if "secret" in changes else current)
            changed = _changed_fields(k, strip_ids(current), rec)
            _check_trigger_kept(uow, k, current, changed)
            if changed:
                now = uow.now
                store.write(k.name, rec, now)
                self._after_write(uow, k.name, rec)
                uow.event(f"{k.singular}.updated",
                    k.singular,
                    key,
                    self._shop_id_of(store, k, rec),
                    {"fields": changed},
                )
                if k.name == "agents" and "status" in changed:
                    self.ctx.desk.status_changed(uow, current["_id"], key,
                                                 current.get("status"),
                                                 rec.get("status") or "offline")
                if k.name == "agents" and "shops" in changed:
                    self.ctx.desk.left_shops(uow, current["_id"], key,
                                             set(current.get("shops") or [])
                                             - set(rec["shops"]))
            out = to_external(k, strip_ids(store.read(k.name, key)))
            if rotated:
                out["secret"] = rec["secret"]
            return out

    def delete(self, kind: str, key: str) -> None:
        """Delete a record; Conflict while others depend on it."""
        k = _kind(kind)
        with self.ctx.write() as uow:
            store = uow.records
            rec = store.read(k.name, key)
            if rec is None:
                raise NotFound(f"no {k.singular} {key!r}", key="no_record", kind=k.singular,
                           record=key)
            shop_id = self._shop_id_of(store, k, rec)
            blockers = uow.repo(Resources).dependents(k, rec["_id"])
            if blockers and k.name == "campaigns":
                raise Conflict(f"campaign {key!r} has {', '.join(blockers)}: its stats "
                               "need them; pause it instead (cstool campaign pause)",
                           key="campaign_has_sends", campaign=key, users=", ".join(blockers))
            if blockers and k.name == "customers":
                raise Conflict(f"customer {key!r} still has {', '.join(blockers)}; to erase "
                               f"their data in a shop: cstool customer erase SHOP {key}",
                               key="customer_has_data", customer=key,
                               users=", ".join(blockers))
            if blockers:
                raise Conflict(
                    f"{k.singular} {key!r} is still used by {', '.join(blockers)}; "
                    "remove those first", key="still_used", kind=k.singular, record=key,
                    users=", ".join(blockers))
            if k.name == "webhooks":  # its deliveries go with it
                uow.repo(Webhooks).forget(rec["_id"])
            if k.name == "channels":  # its deliveries go; its chats stay, unconnected
                uow.repo(ChannelDeliveries).forget(rec["_id"])
                uow.repo(ChannelDeliveries).clear_chats(rec["_id"])
            try:
                store.delete(k.name, key)
            except IntegrityError:
                raise Conflict(
                    f"{k.singular} {key!r} is still referenced by other records",
                    key="still_referenced", kind=k.singular, record=key) from None
            uow.event(f"{k.singular}.deleted",
                k.singular,
                key,
                None if k.name == "shops" else shop_id,
            )

    def move_rule(self, key: str, position: int) -> dict:
        """Move a routing rule within its shop's order; positions become 1..n."""
        k = KINDS["routing_rules"]
        with self.ctx.write() as uow:
            rules = uow.repo(Resources)
            row = rules.rule(key)
            if row is None:
                raise NotFound(f"no routing rule {key!r}", key="no_record",
                               kind="routing_rule", record=key)
            check_whole("position", position)
            ids = rules.rule_ids(row[1])
            ids.remove(row[0])
            ids.insert(min(position, len(ids) + 1) - 1, row[0])
            now = uow.now
            for i, rid in enumerate(ids, start=1):
                rules.set_rule_position(rid, i, now)
            uow.event("routing_rule.moved", "routing_rule", key, row[1],
                        {"position": ids.index(row[0]) + 1})
            return to_external(k, strip_ids(uow.records.read("routing_rules", key)))

    def customer_stats(self, key: str) -> list[dict]:
        """Per shop: orders, paid spend, average order value, last order."""
        with self.ctx.read() as uow:
            cid = uow.records.id_of("customers", key)
            if cid is None:
                raise NotFound(f"no customer {key!r}", key="no_customer", customer=key)
            rows = uow.repo(Resources).customer_stats(cid)
        return [
            {
                "shop": shop,
                "orders": n,
                "paid_orders": paid_n,
                "spend": format_money(spend or 0),
                "average_order_value": format_money((spend or 0) // paid_n) if paid_n else 0,
                "last_order_at": format_time(last),
            }
            for shop, n, spend, paid_n, last in rows
        ]

    # -- declarative ---------------------------------------------------------------
    def apply(self, document: dict[str, list[dict]], *, dry_run: bool = False) -> ApplyResult:
        """Create or update every record of ``document``, all or nothing."""
        unknown = [name for name in document if name not in KINDS]
        if unknown:
            raise FieldError(unknown[0], f"unknown kind (known: {', '.join(KINDS)})",
                             key="field_unknown_kind", known=", ".join(KINDS))
        # 1. every record on its own, and duplicate keys inside the document
        parsed: dict[str, list[tuple[int, dict, Any]]] = {}
        index: dict[tuple[str, str], dict] = {}
        for name, k in KINDS.items():
            records = document.get(name)
            if records is None or records == {}:  # none given (YAML's empty mapping too)
                records = []
            if not isinstance(records, list):
                raise FieldError(name, "expected a list of records", key="field_not_a_list")
            seen: dict[str, int] = {}
            for i, raw in enumerate(records):
                rec = to_internal(k, raw, f"{name}[{i}]")
                key = rec[k.key]
                if key in seen:
                    raise FieldError(
                        f"{name}[{i}].{k.key}",
                        f"duplicate key {key!r} (also {name}[{seen[key]}])",
                        getattr(raw, "lines", {}).get(k.key) or getattr(raw, "line", None),
                        key="field_duplicate_key", record=key, also=f"{name}[{seen[key]}]",
                    )
                seen[key] = i
                index[(name, key)] = rec
                parsed.setdefault(name, []).append((i, rec, raw))
        with self.ctx.write() as uow:
            store = uow.records
            db_lookup = self.db_lookup(store)

            def lookup(kind: str, key: str) -> dict | None:
                rec = index.get((kind, key))
                return _lookup_info(kind, rec) if rec is not None else db_lookup(kind, key)

            # 2. references, against the document and the file
            for name, items in parsed.items():
                for i, rec, raw in items:
                    check_refs(KINDS[name], rec, lookup, raw, f"{name}[{i}]")
            # 3. the plan, and the writes
            changes: list[Change] = []
            statuses: list[tuple[str, str | None, str]] = []  # agents whose status moves
            left: list[tuple[int, str, set[str]]] = []  # agents who leave shops
            spoken = {rec["key"] for _, rec, _ in parsed.get("shops", [])}
            now = uow.now
            for name, items in parsed.items():
                k = KINDS[name]
                for i, rec, raw in items:
                    key = rec[k.key]
                    current = store.read(name, key)
                    _fill_secret(k, rec, current)  # left out: kept (new: generated)
                    if current is None:
                        changes.append(Change(name, key, "create"))
                    else:
                        check_owner(name, current, rec, f"{name}[{i}]", line_of(raw, k.key))
                        if name in ("routing_rules", "sla_policies") and \
                                rec.get("position") is None:
                            # "default: last" is for new rules: one applied again stays put
                            rec["position"] = current.get("position")
                        if name in ("customers", "agents"):
                            _keep_other_shops(name, rec, current, spoken, store)
                        fields = _changed_fields(k, strip_ids(current), rec)
                        _check_trigger_kept(uow, k, current, fields)
                        if not fields:
                            changes.append(Change(name, key, "unchanged"))
                            continue
                        changes.append(Change(name, key, "update", fields))
                        if name == "agents" and "status" in fields:
                            statuses.append((key, current.get("status"),
                                             rec.get("status") or "offline"))
                        if name == "agents" and "shops" in fields:
                            left.append((current["_id"], key, set(current.get("shops") or [])
                                         - set(rec["shops"])))
                    if not dry_run:
                        action = changes[-1].action
                        store.write(name, rec, now)
                        self._after_write(uow, name, rec, created=action == "create")
                        uow.event(f"{k.singular}.{'created' if action == 'create' else 'updated'}",
                            k.singular,
                            key,
                            self._shop_id_of(store, k, rec),
                            {"fields": changes[-1].fields, "via": "apply"},
                        )
            if not dry_run:  # once everything is written: hand-backs and the queue
                for agent_id, handle, shops in left:
                    self.ctx.desk.left_shops(uow, agent_id, handle, shops)
                for handle, old, status in statuses:
                    self.ctx.desk.status_changed(uow, store.id_of("agents", handle),
                                                 handle, old, status)
            return ApplyResult(changes, dry_run)

    def export(self, *, shop: str | None = None) -> dict[str, list[dict]]:
        """Every record, or one shop's, as ``apply`` accepts them."""
        out: dict[str, list[dict]] = {}
        with self.ctx.read() as uow:
            store = uow.records
            for name, k in KINDS.items():
                where = self._filter(store, k, shop)
                rows = [strip_ids(r) for r in store.read_where(
                    name, where.sql(), tuple(where.params), order=ORDER_BY.get(name))]
                if shop is not None:
                    rows = [_scope_to_shop(name, r, shop, store) for r in rows]
                if rows:
                    out[name] = [to_external(k, r) for r in rows]
        return out

    def bulk_load(self, kind: str, records: Iterable[dict[str, Any]]) -> int:
        """Load trusted internal-form records in one transaction (see ``bulk``); records
        that break the internal form are refused (InvalidInput ``records_not_internal``,
        the load rolls back), on every backend alike."""
        k = _kind(kind)
        try:
            with self.ctx.write() as uow:
                count = bulk.load(uow.conn, k.name, records, uow.now)
                uow.event("bulk.loaded", k.singular, None, None, {"count": count})
        except CstoolError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, DatabaseError) as e:
            raise InvalidInput(f"records: not in the internal form ({type(e).__name__}: {e})",
                               key="records_not_internal", name=type(e).__name__,
                               e=str(e)) from None
        return count

    # -- events ------------------------------------------------------------------
    def events(self, *, after: int = 0, limit: int = 100, shop: str | None = None) -> list[dict]:
        """Events after id ``after``, oldest first."""
        check_limit(limit)
        check_whole("after", after)
        with self.ctx.read() as uow:
            sid = None
            if shop is not None:
                sid = uow.records.id_of("shops", shop)
                if sid is None:
                    raise NotFound(f"no shop {shop!r}", key="no_shop", shop=shop)
            rows = read_events(uow.conn, after=after, limit=limit, shop_id=sid)
        return [
            {
                "id": r[0],
                "at": format_time(r[1]),
                "shop": r[2],
                "type": r[3],
                "entity": r[4],
                "key": r[5],
                "payload": json.loads(r[6]) if r[6] else None,
            }
            for r in rows
        ]


def _check_trigger_kept(uow: UnitOfWork, k: Kind, current: dict,
                        changed: list[str]) -> None:
    """A campaign with decisions keeps its trigger: its stats and conversions are the
    trigger's."""
    if k.name == "campaigns" and "trigger" in changed and \
            uow.repo(Resources).has_decisions(current["_id"]):
        raise Conflict(f"campaign {current['key']!r} has decisions under trigger "
                       f"{current['trigger']!r}; make a new campaign for another trigger",
                       key="campaign_trigger_kept", campaign=current["key"],
                       trigger=current["trigger"])


def _fill_secret(k: Kind, rec: dict, current: dict | None) -> bool:
    """A webhook without a secret keeps its stored one, or (new) gets a generated one;
    True when one was generated."""
    if k.name not in ("webhooks", "channels") or rec.get("secret"):
        return False
    if current is not None and current.get("secret"):
        rec["secret"] = current["secret"]
        return False
    from .webhooks import new_secret

    rec["secret"] = new_secret()
    return True


def _changed_fields(k: Kind, current: dict, new: dict) -> list[str]:
    return [f.name for f in k.fields if current.get(f.name) != new.get(f.name)]


def merge_shop_parts(old: list, new: list, key, shop_of, mine: set) -> list:
    """The parts of a record (profiles, coupons, shops, groups) after a change that speaks
    for the shops ``mine``: ``new`` for those shops, the other shops' parts as ``old`` has
    them; stored order kept, parts new to the record last."""
    wanted = {key(x): x for x in new}
    out = []
    for x in old:
        if shop_of(x) not in mine:
            out.append(x)
        elif key(x) in wanted:
            out.append(wanted.pop(key(x)))
    return out + list(wanted.values())


def _keep_other_shops(name: str, rec: dict, current: dict, spoken: set[str],
                      store: RecordStore) -> None:
    """``apply`` of a customer or agent speaks for the shops the document lists and the
    shops the record names; what they have in other shops stays (so one shop's export,
    applied to the platform's file, changes nothing of the others). Order as stored."""

    def merge(old: list, new: list, key, shop_of) -> list:
        return merge_shop_parts(old, new, key, shop_of, mine)

    shops_of: dict[tuple[str, str], str | None] = {}

    def shop_of_record(kind: str, k: str) -> str | None:
        if (kind, k) not in shops_of:
            r = store.read(kind, k)
            shops_of[(kind, k)] = r.get("shop") if r else None
        return shops_of[(kind, k)]

    if name == "customers":
        mine = spoken | {p["shop"] for p in rec["profiles"]}
        before = {p["shop"]: p for p in current.get("profiles", [])}
        for p in rec["profiles"]:  # an opt-out stays when the file leaves it out
            if p.get("opted_out_at") is None and before.get(p["shop"], {}).get("opted_out_at"):
                p["opted_out_at"] = before[p["shop"]]["opted_out_at"]
        rec["profiles"] = merge(current.get("profiles", []), rec["profiles"],
                                lambda p: p["shop"], lambda p: p["shop"])
        rec["coupons"] = merge(current.get("coupons", []), rec["coupons"],
                               lambda c: c["coupon"],
                               lambda c: shop_of_record("coupons", c["coupon"]))
    else:
        mine = spoken | set(rec["shops"])
        rec["shops"] = merge(current.get("shops", []), rec["shops"], lambda x: x, lambda x: x)
        rec["groups"] = merge(current.get("groups", []), rec["groups"], lambda g: g,
                              lambda g: shop_of_record("groups", g))


def _scope_to_shop(name: str, rec: dict, shop: str, store: RecordStore) -> dict:
    """Trim a multi-shop record to one shop, for ``export --shop``."""
    if name == "agents":
        in_shop = shop_filter(KINDS["groups"], store.id_of("shops", shop))
        shop_groups = {g["key"] for g in store.read_where(
            "groups", in_shop.sql(), tuple(in_shop.params))}
        return {**rec, "shops": [shop], "groups": [g for g in rec["groups"] if g in shop_groups]}
    if name == "customers":
        coupons = [c for c in rec["coupons"] if store.read("coupons", c["coupon"])["shop"] == shop]
        profiles = []
        for p in rec["profiles"]:
            if p["shop"] == shop:
                profiles.append(p)
        return {**rec, "profiles": profiles, "coupons": coupons}
    return rec
