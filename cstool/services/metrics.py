"""The metrics service: service figures over a period, one agent's figures, and a shop's
"today so far" for the dashboard.

The definitions and the arithmetic live in ``cstool.metrics`` (pure); the stored
conversation facts and every query over them in ``cstool.storage.repos.metrics`` and
``metrics_today``. Here: catching the facts up with the event log before a report,
choosing what to read, and handing it to ``metrics.figures.build``.

The time zone of the hour and day buckets, of the report's times and of a date-only
``since`` / ``until`` is a parameter (``zone``) of every report: the caller's display
zone, never the state of the process that happens to serve it, so a report asked through
a server buckets as one read from the file with the same zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from ..errors import NotFound, UsageError
from ..metrics import figures
from ..metrics.figures import Labels, Targets, bucket, build, fixed_offset
from ..storage.repos import metrics as store
from ..storage.repos import metrics_today as today
from ..values import display_zone, parse_time, zone_named
from .context import ServiceContext


def zone_of(zone: str | tzinfo | None) -> tzinfo:
    """The zone of a report: an IANA name, a tzinfo, or None for the display zone of the
    calling process (read now). An unknown name is a usage error."""
    if zone is None or zone == "":
        return display_zone()
    if isinstance(zone, tzinfo):
        return zone
    try:
        return zone_named(zone)
    except ValueError as e:
        raise UsageError(str(e), key="bad_zone", zone=str(zone)[:64]) from None


def _time(value: str | int | None, what: str, zone: tzinfo | None = None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return parse_time(value, zone)
    except ValueError as e:
        raise UsageError(f"{what}: {e}", key="bad_time_option", option=what,
                         value=str(value)[:64]) from None


def check_period(since: str | int | None, until: str | int | None,
                 zone: str | tzinfo | None = None) -> None:
    """Refuse a period that ends before it starts (the CLI's ``--from`` / ``--to``; over
    HTTP such a period is simply empty)."""
    z = zone_of(zone)
    lo, hi = _time(since, "--from", z), _time(until, "--to", z)
    if lo is not None and hi is not None and lo >= hi:
        raise UsageError("--from must be before --to", key="from_after_to")


LABEL = "label"  # --by label: one row per label (a chat counts under each of its labels)
# --by intent / group-kind / category: one row per value of the conversation's intent
# (pre-sale, after-sale), the kind of its group, its product's category; "-" for none
PARTITIONS = ("intent", "group-kind", "category")


def dimensions(by: str | Sequence[str] | None) -> list[str]:
    """The dimensions of ``by`` (``"shop,hour"`` or a list), checked: known, each once,
    agent alone."""
    if by is None:
        return []
    items = by.split(",") if isinstance(by, str) else list(by)
    dims = [d.strip() for d in items if d and d.strip()]
    for alone in (LABEL, *PARTITIONS):  # partitions of their own (not SQL groupings)
        if alone in dims:
            if len(dims) > 1:
                raise UsageError(f"{alone} cannot be combined with other dimensions",
                                 key="label_dimension_alone" if alone == LABEL else
                                 "partition_dimension_alone", dimension=alone)
            return dims
    if not dims:
        raise UsageError(f"--by names no dimension (use {', '.join(figures.DIMENSIONS)})",
                         key="by_no_dimension", dimensions=", ".join(figures.DIMENSIONS))
    for d in dims:
        if d not in figures.DIMENSIONS:
            raise UsageError(f"cannot group by {d!r} (use {', '.join(figures.DIMENSIONS)}; "
                             "several with commas, e.g. shop,channel,hour)",
                             key="by_unknown_dimension", dimension=d[:64],
                             dimensions=", ".join(figures.DIMENSIONS))
    if len(set(dims)) != len(dims):
        raise UsageError("a dimension is given twice", key="by_dimension_twice")
    if "agent" in dims and len(dims) > 1:
        raise UsageError("agent cannot be combined with other dimensions",
                         key="by_agent_alone")
    return dims


def period(since, until, zone: tzinfo) -> tuple[int | None, int | None]:
    """A report's ``[since, until)`` in epoch ms (a date or zone-less time read in
    ``zone``); one that ends before it starts is empty."""
    lo, hi = _time(since, "--from", zone), _time(until, "--to", zone)
    if lo is not None and hi is not None and lo >= hi:
        hi = lo  # an empty period: no conversation was created in it
    return lo, hi


class MetricsService:
    """Metrics over the context's data file (see :mod:`cstool.services` for the pattern):
    reports read one snapshot (``ctx.read()``); catching the stored facts up is one write
    transaction. The SQL is ``storage.repos.metrics`` over the unit of work's connection
    (its functions fold and read many rows at once, so they take the connection)."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def now(self) -> int:
        """The context clock's time (a report's "as of")."""
        return self.ctx.now()

    # -- the stored facts -------------------------------------------------------------------
    def refresh(self) -> dict:
        """Catch the stored conversation facts up with the event log (reports do it first
        on their own); returns how many conversations were folded."""
        with self.ctx.write() as uow:
            return store.refresh(uow.conn)

    def rebuild(self) -> dict:
        """Fold every conversation again from its messages."""
        with self.ctx.write() as uow:
            return store.rebuild(uow.conn)

    def catch_up(self) -> None:
        """Refresh the stored facts unless they reflect the newest event already
        (``MetricsHooks.catch_up``: the dashboard calls it)."""
        with self.ctx.read() as uow:
            at = store.cursor(uow.conn)
            if at is not None and at >= store.head(uow.conn):
                return
        self.refresh()

    # -- reports ----------------------------------------------------------------------------
    def _build(self, conn, scope: store.Scope, *, by: list[str], lo: int | None,
               hi: int | None, zone: tzinfo, agents: list[int] | None = None,
               agent_id: int | None = None, shop_id: int | None = None,
               shown_shops: set[int] | None = None) -> dict:
        """The report over the conversations in ``scope``: SQL sums of the settled rows'
        stored contributions, and the rest counted here (``figures.build``)."""
        targets, keys = store.read_targets(conn)
        labels = Labels(shops=keys, shown_shops=shown_shops, zone=zone)
        as_of = self.now()
        dims = [] if by == ["agent"] else by
        offset: int | None = 0
        if any(d in ("hour", "day") for d in dims):
            first, last = store.span(conn, scope)
            if first is not None:
                offset = fixed_offset(first, last, zone)
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
        return build(
            sums=sums, unsettled=unsettled, buyers=buyers,
            orders=orders, replied=[(by_id[cid], g) for cid, gs in legs.items() for g in gs],
            targets=targets, labels=labels, as_of=as_of, by=by, since=lo, until=hi,
            turns=store.read_turns(conn, [r.id for r in unsettled]), agent_sums=agent_sums,
            statuses=statuses, agents=agents or [])

    def report(self, shop: str | None = None, since: str | int | None = None,
               until: str | int | None = None, by: str | Sequence[str] | None = None,
               zone: str | tzinfo | None = None) -> dict:
        """Service figures of the conversations created in ``[since, until)`` (ISO times
        or epoch ms; open-ended when None), of one shop or all, in total and grouped
        ``by`` shop, group, channel, hour, day (combinable), agent, label (a chat counts
        under each of its labels), intent, group-kind or category (alone); hours, days
        and times in ``zone``."""
        dims = dimensions(by)
        z = zone_of(zone)
        lo, hi = period(since, until, z)
        self.catch_up()
        with self.ctx.read() as uow:
            conn = uow.conn
            shop_id = None
            if shop is not None:
                shop_id = store.shop_id(conn, shop)
                if shop_id is None:
                    raise NotFound(f"no shop {shop!r}", key="no_shop", shop=shop)
            scope = store.Scope(store.read_targets(conn)[0], shop_id=shop_id, since=lo,
                                until=hi)
            shown = store.shop_agents(conn, shop_id) if dims == ["agent"] else None
            shown_shops = None if shop_id is None else {shop_id}
            if dims == [LABEL]:
                report = self._by_label(conn, scope, shop_id, lo, hi, z, shown_shops)
            elif dims and dims[0] in PARTITIONS:
                report = self._by_part(conn, scope, dims[0], shop_id, lo, hi, z, shown_shops)
            else:
                report = self._build(conn, scope, by=dims, lo=lo, hi=hi, zone=z,
                                     agents=shown, shop_id=shop_id, shown_shops=shown_shops)
        report["shop"] = shop
        return report

    def _by_label(self, conn, scope: store.Scope, shop_id: int | None, lo: int | None,
                  hi: int | None, zone: tzinfo, shown_shops: set[int] | None) -> dict:
        """The report with one row per label of the chats in scope (the figures of the
        chats carrying it; a chat with two labels counts in both rows) and a row ``-``
        for the chats without any; the total counts every chat once."""
        report = self._build(conn, scope, by=[], lo=lo, hi=hi, zone=zone, shop_id=shop_id,
                             shown_shops=shown_shops)
        targets = store.read_targets(conn)[0]
        rows = []
        parts = [(name, {"label": name}) for name in store.labels_in(conn, scope)]
        parts.append((figures.NONE_LABEL, {"unlabelled": True}))
        for name, where in parts:
            sub = store.Scope(targets, shop_id=shop_id, since=lo, until=hi, **where)
            total = self._build(conn, sub, by=[], lo=lo, hi=hi, zone=zone, shop_id=shop_id,
                                shown_shops=shown_shops)["total"]
            if total["conversations"] or name != figures.NONE_LABEL:
                rows.append({LABEL: name, **total})
        report["by"], report["rows"] = [LABEL], rows
        return report

    def _by_part(self, conn, scope: store.Scope, dim: str, shop_id: int | None,
                 lo: int | None, hi: int | None, zone: tzinfo,
                 shown_shops: set[int] | None) -> dict:
        """The report with one row per value of ``dim`` among the chats in scope (a chat
        has one value or none: row ``-``); the rows add up to the total."""
        report = self._build(conn, scope, by=[], lo=lo, hi=hi, zone=zone, shop_id=shop_id,
                             shown_shops=shown_shops)
        targets = store.read_targets(conn)[0]
        rows = []
        values: list[str | None] = [*store.parts_in(conn, scope, dim), None]
        for value in values:
            sub = store.Scope(targets, shop_id=shop_id, since=lo, until=hi,
                              part=(dim, value))
            total = self._build(conn, sub, by=[], lo=lo, hi=hi, zone=zone, shop_id=shop_id,
                                shown_shops=shown_shops)["total"]
            if total["conversations"] or value is not None:
                rows.append({dim: value if value is not None else figures.NONE_LABEL,
                             **total})
        report["by"], report["rows"] = [dim], rows
        return report

    def agent_report(self, handle: str, since: str | int | None = None,
                     until: str | int | None = None,
                     zone: str | tzinfo | None = None) -> dict:
        """One agent's figures over the conversations of their shops created in
        ``[since, until)``: chats, messages, rates, CSAT, conversion, attributed sales,
        online time, handle time and concurrency; times in ``zone``."""
        z = zone_of(zone)
        lo, hi = period(since, until, z)
        self.catch_up()
        with self.ctx.read() as uow:
            conn = uow.conn
            agent_id = store.agent_id(conn, handle)
            if agent_id is None:
                raise NotFound(f"no agent {handle!r}", key="no_agent", agent=handle)
            shops = store.agent_shops(conn, agent_id)
            scope = store.Scope(store.read_targets(conn)[0], since=lo, until=hi,
                                agent_id=agent_id)
            report = self._build(conn, scope, by=["agent"], lo=lo, hi=hi, zone=z,
                                 agents=[agent_id], agent_id=agent_id,
                                 shown_shops={sid for sid, _ in shops})
        out = next(r for r in report["rows"] if r["agent"] == handle)
        return {"agent": handle, "name": out.pop("name"), "status": out.pop("status"),
                "shops": [key for _, key in shops], "from": report["from"],
                "to": report["to"], "as_of": report["as_of"], "targets": report["targets"],
                "figures": {k: v for k, v in out.items() if k != "agent"}}


# -- one shop's period, for the dashboard ------------------------------------------------------
def shop_period(conn, shop_id: int, since: int, until: int, as_of: int,
                agents: Sequence[int], zone: str | tzinfo | None = None) -> dict:
    """The figures of one shop's conversations created in ``[since, until)`` as of
    ``as_of``: ``total`` and the agent ``rows`` (``agents`` shown even without chats),
    equal to ``metrics_report(shop, since, until, by="agent")``'s, read with a few indexed
    queries (``storage.repos.metrics_today``). The stored facts must be current."""
    targets, keys = store.read_targets(conn)
    p = today.Period(shop_id, since, until, targets[shop_id])
    sums, frt, closes = today.read_settled(conn, p)
    customers, unsettled = today.read_unsettled(conn, p)
    if customers:
        sums.customers[()] = customers
    buyers, orders = today.read_buyers(conn, p)
    replied = store.read_replied_legs(conn, [r.id for r in buyers])
    agent_sums = today.read_legs(conn, p, [r.id for r in unsettled])
    agent_sums.frt, agent_sums.closes = frt, closes
    labels = Labels(shops=keys, agents=store.read_agents(conn), shown_shops={shop_id},
                    zone=zone_of(zone))
    report = build(
        sums=sums, unsettled=unsettled, buyers=buyers, orders=orders,
        replied=[(r, g) for r in buyers for g in replied.get(r.id, ())],
        targets=targets, labels=labels, as_of=as_of, by=["agent"], since=since, until=until,
        turns=store.read_turns(conn, [r.id for r in unsettled]), agent_sums=agent_sums,
        statuses=today.read_statuses(conn, set(agents) | set(agent_sums.held), since),
        agents=list(agents))
    return {"total": report["total"], "rows": report["rows"]}


def hourly(conn, shop_id: int, since: int, until: int, targets: Targets,
           zone: str | tzinfo | None = None) -> list[int]:
    """Conversations per hour 0..23 of ``zone`` of one shop's conversations created in
    ``[since, until)``, as ``metrics_report(..., by="hour", zone=zone)`` labels them
    (settled rows by the zone's fixed offset over the period, the others one by one)."""
    z = zone_of(zone)
    p = today.Period(shop_id, since, until, targets)
    out = [0] * 24
    first, last = today.span(conn, p)
    if first is None:
        return out
    offset = fixed_offset(first, last, z)
    for start, n in today.hourly_counts(conn, p, offset):
        out[int(bucket(start, "hour", z)[11:13])] += n
    return out
