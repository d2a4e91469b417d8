"""Service metrics over the SQLite file (mixed into LocalBackend).

The definitions live in ``cstool.metrics``; this mixin catches the stored conversation
facts up with the event log (``metrics.store.refresh``), reads the conversations of a
period, and hands them to ``metrics.figures.build``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import NotFound, UsageError
from ..metrics import figures, store
from ..values import parse_time


def _time(value: str | int | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return parse_time(value)
    except ValueError as e:
        raise UsageError(f"{what}: {e}") from None


def check_period(since: str | int | None, until: str | int | None) -> None:
    """Refuse a period that ends before it starts (the CLI's ``--from`` / ``--to``; over
    HTTP such a period is simply empty)."""
    lo, hi = _time(since, "--from"), _time(until, "--to")
    if lo is not None and hi is not None and lo >= hi:
        raise UsageError("--from must be before --to", key="from_after_to")


def _dimensions(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    items = by.split(",") if isinstance(by, str) else list(by)
    dims = [d.strip() for d in items if d and d.strip()]
    if not dims:
        raise UsageError(f"--by names no dimension (use {', '.join(figures.DIMENSIONS)})")
    for d in dims:
        if d not in figures.DIMENSIONS:
            raise UsageError(f"cannot group by {d!r} (use {', '.join(figures.DIMENSIONS)}; "
                             "several with commas, e.g. shop,channel,hour)")
    if len(set(dims)) != len(dims):
        raise UsageError("a dimension is given twice")
    if "agent" in dims and len(dims) > 1:
        raise UsageError("agent cannot be combined with other dimensions")
    return dims


class MetricsOps:
    """Metrics operations of the Local backend."""

    def metrics_refresh(self) -> dict:
        """Catch the stored conversation facts up with the event log (reports do it
        first on their own); returns how many conversations were folded."""
        with self.database.write() as conn:
            return store.refresh(conn)

    def metrics_rebuild(self) -> dict:
        """Fold every conversation again from its messages."""
        with self.database.write() as conn:
            return store.rebuild(conn)

    def _metrics_current(self) -> None:
        with self.database.read() as conn:
            current = store.cursor(conn)
            if current is not None and current >= store.head(conn):
                return
        self.metrics_refresh()

    def _period(self, since, until) -> tuple[int | None, int | None]:
        lo, hi = _time(since, "--from"), _time(until, "--to")
        if lo is not None and hi is not None and lo >= hi:
            hi = lo  # an empty period: no conversation was created in it
        return lo, hi

    def _build(self, conn, scope: store.Scope, *, by: list[str], lo: int | None,
               hi: int | None, agents: list[int] | None = None, agent_id: int | None = None,
               shop_id: int | None = None, shown_shops: set[int] | None = None) -> dict:
        """The report over the conversations in ``scope``: SQL sums of the settled rows'
        stored contributions, and the rest counted here (``figures.build``)."""
        targets, keys = store.read_targets(conn)
        labels = figures.Labels(shops=keys, shown_shops=shown_shops)
        as_of = self._now()
        dims = [] if by == ["agent"] else by
        offset: int | None = 0
        if any(d in ("hour", "day") for d in dims):
            first, last = conn.execute(*scope.sql("MIN(m.created_at), MAX(m.created_at)")
                                       ).fetchone()
            if first is not None:
                offset = store.fixed_offset(first, last)
        if offset is None:  # the zone's offset changes in the period: count every row here
            sums, unsettled = figures.Sums(), store.read_rows(conn, scope)
        else:
            sums = store.read_sums(conn, scope, dims, offset, labels)
            unsettled = store.read_rows(conn, scope, settled=False)
        buyers, orders = store.read_buyers(conn, scope, shop_id)
        by_id = {r.id: r for r in buyers}
        legs = store.read_replied_legs(conn, list(by_id))
        agent_sums = None
        statuses: dict = {}
        if by == ["agent"]:
            labels.agents = store.read_agents(conn)
            agent_sums = store.read_agent_sums(conn, scope, agent_id)
            statuses = store.read_statuses(conn, set(agents or ()) | set(agent_sums.held))
        return figures.build(
            sums=sums, unsettled=unsettled, buyers=buyers,
            orders=orders, replied=[(by_id[cid], g) for cid, gs in legs.items() for g in gs],
            targets=targets, labels=labels, as_of=as_of, by=by, since=lo, until=hi,
            turns=store.read_turns(conn, [r.id for r in unsettled]), agent_sums=agent_sums,
            statuses=statuses, agents=agents or [])

    def metrics_report(self, shop: str | None = None, since: str | int | None = None,
                       until: str | int | None = None,
                       by: str | Sequence[str] | None = None) -> dict:
        """Service figures (docs/DESIGN.md §9) of the conversations created in ``[since, until)``
        (ISO times or epoch ms; open-ended when None), of one shop or all, in total and
        grouped ``by`` shop, group, channel, hour, day (combinable) or agent."""
        dims = _dimensions(by)
        lo, hi = self._period(since, until)
        self._metrics_current()
        with self.database.read() as conn:
            shop_id = None
            if shop is not None:
                row = conn.execute("SELECT id FROM shops WHERE key = ?", (shop,)).fetchone()
                if row is None:
                    raise NotFound(f"no shop {shop!r}", key="no_shop", shop=shop)
                shop_id = row[0]
            scope = store.Scope(store.read_targets(conn)[0], shop_id=shop_id, since=lo,
                                until=hi)
            shown = None
            if dims == ["agent"]:
                sql = "SELECT DISTINCT agent_id FROM agent_shops"
                params: tuple = ()
                if shop_id is not None:
                    sql += " WHERE shop_id = ?"
                    params = (shop_id,)
                shown = [r[0] for r in conn.execute(sql, params)]
            report = self._build(conn, scope, by=dims, lo=lo, hi=hi, agents=shown,
                                 shop_id=shop_id,
                                 shown_shops=None if shop_id is None else {shop_id})
        report["shop"] = shop
        return report

    def agent_metrics(self, handle: str, since: str | int | None = None,
                      until: str | int | None = None) -> dict:
        """One agent's figures over the conversations of their shops created in
        ``[since, until)``: chats, messages, rates, CSAT, conversion, attributed sales,
        online time, handle time and concurrency."""
        lo, hi = self._period(since, until)
        self._metrics_current()
        with self.database.read() as conn:
            row = conn.execute("SELECT id FROM agents WHERE handle = ?", (handle,)).fetchone()
            if row is None:
                raise NotFound(f"no agent {handle!r}", key="no_agent", agent=handle)
            agent_id = row[0]
            shops = [r[0] for r in conn.execute(
                "SELECT s.key FROM agent_shops a JOIN shops s ON s.id = a.shop_id "
                "WHERE a.agent_id = ? ORDER BY a.position, s.key", (agent_id,))]
            scope = store.Scope(store.read_targets(conn)[0], since=lo, until=hi,
                                agent_id=agent_id)
            shop_ids = {r[0] for r in conn.execute(
                "SELECT shop_id FROM agent_shops WHERE agent_id = ?", (agent_id,))}
            report = self._build(conn, scope, by=["agent"], lo=lo, hi=hi, agents=[agent_id],
                                 agent_id=agent_id, shown_shops=shop_ids)
        out = next(r for r in report["rows"] if r["agent"] == handle)
        return {"agent": handle, "name": out.pop("name"), "status": out.pop("status"),
                "shops": shops, "from": report["from"], "to": report["to"],
                "as_of": report["as_of"], "targets": report["targets"],
                "figures": {k: v for k, v in out.items() if k != "agent"}}
