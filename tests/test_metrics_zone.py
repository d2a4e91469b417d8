"""The display zone is a parameter of the metrics, never state of the process that serves
them: the CLI sends its zone (``$CSTOOL_TZ``), so ``--db`` and ``--api`` bucket hours and
days alike; a server asked with a zone answers in that zone whatever its own; the hour
labels cached for one zone are never given for another."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cstool.values import parse_time
from tests.server_support import cli_app, serve

# Chats at 23:10, 23:50, 00:20 and 01:40 Beijing time (UTC+8): across Beijing's midnight,
# New York's 10:10-12:40 (UTC-5), Kolkata's 20:40-23:10 (UTC+5:30) and Kathmandu's
# 20:55-23:25 (UTC+5:45), whose local hours do not start on a UTC hour.
TIMES = ["2026-11-20T23:10:00+08:00", "2026-11-20T23:50:00+08:00",
         "2026-11-21T00:20:00+08:00", "2026-11-21T01:40:00+08:00"]
EXPECTED_HOURS = {
    "Asia/Shanghai": ["2026-11-20 23:00", "2026-11-21 00:00", "2026-11-21 01:00"],
    "America/New_York": ["2026-11-20 10:00", "2026-11-20 11:00", "2026-11-20 12:00"],
    "UTC": ["2026-11-20 15:00", "2026-11-20 16:00", "2026-11-20 17:00"],
}
HOUR_COUNTS = {
    "Asia/Shanghai": {"2026-11-20 23:00": 2, "2026-11-21 00:00": 1, "2026-11-21 01:00": 1},
    "America/New_York": {"2026-11-20 10:00": 2, "2026-11-20 11:00": 1, "2026-11-20 12:00": 1},
    "UTC": {"2026-11-20 15:00": 2, "2026-11-20 16:00": 1, "2026-11-20 17:00": 1},
    "Asia/Kolkata": {"2026-11-20 20:00": 1, "2026-11-20 21:00": 2, "2026-11-20 23:00": 1},
    "Asia/Kathmandu": {"2026-11-20 20:00": 1, "2026-11-20 21:00": 1, "2026-11-20 22:00": 1,
                       "2026-11-20 23:00": 1},
}
EXPECTED_DAYS = {
    "Asia/Shanghai": {"2026-11-20": 2, "2026-11-21": 2},
    "Asia/Kolkata": {"2026-11-20": 4},
    "Asia/Kathmandu": {"2026-11-20": 4},
    "America/New_York": {"2026-11-20": 4},
    "UTC": {"2026-11-20": 4},
}


@pytest.fixture
def served(db_path, clock):
    """A server over a file with four chats across midnight, two closed (settled rows,
    summed by SQL) and two open (counted one by one)."""
    s = serve(db_path, clock)
    be = s.backend
    be.apply({"shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
              "agents": [{"handle": "a", "name": "A", "shops": ["s"], "status": "online",
                          "max_chats": 9}]})
    for i, when in enumerate(TIMES):
        clock.set(parse_time(when))
        cid = be.post_message("s", f"c{i}", "在吗")["conversation"]["id"]
        if i % 2 == 0:
            clock.set(parse_time(when) + 60_000)
            be.reply("a", cid, "在的")
            be.close_conversation(cid, by="a")
    clock.set(parse_time("2026-11-21T09:00:00+08:00"))
    yield s
    s.close()


def _cli(served, db_path, zone: str, *args: str, api: bool) -> dict:
    env = {"CSTOOL_TZ": zone}
    where = ["--db", db_path]
    if api:
        env.update(CSTOOL_API=served.url, CSTOOL_TOKEN=served.admin)
        where = []
    res = CliRunner().invoke(cli_app(), [*where, *args, "--json"], env=env)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.parametrize("by", ["hour", "day"])
def test_db_and_api_bucket_alike_in_every_zone(served, db_path, by):
    """One process asks in four zones one after the other (hour labels cached for one
    zone must not answer for the next), through the file and through the server."""
    for zone in ("Asia/Kolkata", "Asia/Shanghai", "America/New_York", "UTC", "Asia/Kathmandu",
                 "Asia/Kolkata"):
        local = _cli(served, db_path, zone, "metrics", "report", "--by", by, api=False)
        remote = _cli(served, db_path, zone, "metrics", "report", "--by", by, api=True)
        assert remote["rows"] == local["rows"], zone
        assert remote["as_of"][-6:] == local["as_of"][-6:]  # times shown in the zone
        got = {r[by]: r["conversations"] for r in local["rows"]}
        assert got == (HOUR_COUNTS if by == "hour" else EXPECTED_DAYS)[zone], zone


# zones whose offset is not whole hours, one with daylight saving in the period (Adelaide's
# +10:30 from 5 October, St John's -03:30 until 2 November)
ODD_ZONES = ("Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "America/St_Johns",
             "Asia/Shanghai")


@pytest.mark.parametrize("zone", ODD_ZONES)
def test_hours_are_local_hours_in_zones_off_the_hour(backend, clock, zone):
    """Chats at scattered minutes over three days, some closed (settled rows, summed by
    SQL with the zone's offset) and some open (labelled one by one), over a period with
    and without a change of offset: each counted in its local hour of ``zone``, as
    zoneinfo reads its time."""
    import random
    from collections import Counter
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    backend.apply({"shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
                   "agents": [{"handle": "a", "name": "A", "shops": ["s"], "status": "online",
                               "max_chats": 50}]})
    rng = random.Random(zone)
    start = parse_time("2026-10-31T00:00:00+00:00")  # St John's changes on 2 November
    times = sorted(start + rng.randrange(3 * 86_400) * 1000 for _ in range(120))
    for i, ms in enumerate(times):
        clock.set(ms)
        cid = backend.post_message("s", f"c{i}", "在吗")["conversation"]["id"]
        if i % 3:
            clock.set(ms + 1000)
            backend.reply("a", cid, "在的")
            backend.close_conversation(cid, by="a")
    clock.set(times[-1] + 3_600_000)
    z = ZoneInfo(zone)
    for since, until in ((times[0], times[-1] + 1), (times[0], times[0] + 86_400_000)):
        report = backend.metrics_report(since=since, until=until, by="hour", zone=zone)
        got = {r["hour"]: r["conversations"] for r in report["rows"]}
        expected = Counter(datetime.fromtimestamp(ms / 1000, UTC).astimezone(z).strftime(
            "%Y-%m-%d %H:00") for ms in times if since <= ms < until)
        assert got == dict(expected), (zone, since, until)


def test_a_date_only_period_is_read_in_the_callers_zone(served, db_path):
    """``--from 2026-11-21`` is midnight in the caller's zone, through the file and the
    server alike (Beijing: the two chats after its midnight; New York: none)."""
    for zone, n in (("Asia/Shanghai", 2), ("America/New_York", 0)):
        for api in (False, True):
            out = _cli(served, db_path, zone, "metrics", "report", "--from", "2026-11-21",
                       api=api)
            assert out["total"]["conversations"] == n, (zone, api)
            assert out["from"] == parse_and_show("2026-11-21", zone)


def parse_and_show(day: str, zone: str) -> str:
    """Midnight of ``day`` in ``zone``, as the report shows it."""
    from cstool.values import format_time, zone_named

    z = zone_named(zone)
    return format_time(parse_time(day, z), z)


def test_the_server_answers_in_the_zone_asked_not_its_own(served):
    """The server's own display zone is Beijing (the tests' $CSTOOL_TZ); asked for
    New York it buckets in New York; asked for nothing, in its own zone."""
    asked = served.http("GET", "/v1/metrics/report", params={"by": "hour",
                                                             "zone": "America/New_York"})
    assert asked.status_code == 200, asked.text
    assert [r["hour"] for r in asked.json()["rows"]] == EXPECTED_HOURS["America/New_York"]
    assert asked.json()["as_of"].endswith("-05:00")
    own = served.http("GET", "/v1/metrics/report", params={"by": "hour"})
    assert [r["hour"] for r in own.json()["rows"]] == EXPECTED_HOURS["Asia/Shanghai"]
    remote = served.remote()
    agent = remote.agent_metrics("a", zone="UTC")
    assert agent["as_of"].endswith("+00:00") and agent["figures"]["chats"] == 4
    assert remote.agent_metrics("a", "2026-11-21", zone="UTC")["figures"]["chats"] == 0
    assert remote.agent_metrics("a", "2026-11-21",
                                zone="Asia/Shanghai")["figures"]["chats"] == 2


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "x" * 80])
def test_an_unknown_zone_is_refused_in_one_line(served, zone):
    res = served.http("GET", "/v1/metrics/report", params={"by": "hour", "zone": zone})
    assert res.status_code == 400, res.text
    err = res.json()["error"]
    assert err["code"] == "usage" and "time zone" in err["message"]
    assert "\n" not in err["message"]
