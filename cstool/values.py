"""Parsing and formatting of the value types shared by fixtures, the CLI and the API.

Money is kept as integer cents (fen) and shown in yuan with at most two decimals;
times are kept as UTC epoch milliseconds and shown as ISO 8601 in the display zone
(``$CSTOOL_TZ``, else the machine's local zone).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidValue

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\Z")  # \Z: "$" lets "key\n" through


def parse_money(value: object) -> int:
    """Turn a yuan amount (number or numeric string, <= 2 decimals) into cents.

    Raises ValueError with a short reason on anything else.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidValue("expected an amount in yuan, like 19.9", key="money_needed")
    try:
        dec = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidValue(f"expected an amount in yuan, got {value!r}",
                           key="money_not_amount", value=repr(value)) from None
    if not dec.is_finite():
        raise InvalidValue(f"expected a finite amount, got {value!r}", key="money_not_finite",
                           value=repr(value))
    cents = dec * 100
    if cents != cents.to_integral_value():
        raise InvalidValue(f"amount {value!r} has more than 2 decimals", key="money_decimals",
                           value=repr(value))
    return int(cents)


def format_money(cents: int | None) -> float | int | None:
    """Cents to yuan as a JSON-friendly number (integers stay integers)."""
    if cents is None:
        return None
    if cents % 100 == 0:
        return cents // 100
    return cents / 100


def yuan(cents: int | None) -> str:
    """Cents as a human string: ``¥1,299.00``."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}¥{cents // 100:,}.{cents % 100:02d}"


def money(amount: float | int | str | None) -> str:
    """An amount in yuan (as the backend gives it: 2471.5, 2471, "2471.50") the one way
    money is shown to people: ``¥2,471.50``; a dash when there is none."""
    if amount is None or amount == "":
        return "—"
    dec = Decimal(str(amount).strip())
    return yuan(int((dec * 100).to_integral_value()))


ZONE_ENV = "CSTOOL_TZ"


def display_zone(environ=None) -> tzinfo:
    """The zone a front end shows times in: ``$CSTOOL_TZ`` (an IANA name) or the
    machine's local zone, read at every call (configuration of the calling process; the
    core takes the zone as a parameter where it matters, e.g. metrics' hour buckets)."""
    name = (os.environ if environ is None else environ).get(ZONE_ENV)
    if name:
        try:
            return _zone(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return _local_zone()


def display_zone_name(environ=None) -> str | None:
    """The IANA name of the display zone when it has one (``$CSTOOL_TZ``, or the machine's
    zone when the system names it), else None: what a client sends a server so that the
    server buckets and shows times as the client would."""
    zone = display_zone(environ)
    key = getattr(zone, "key", None)
    if key:
        return key
    local = _local_zone_name()
    return local


def zone_named(name: str) -> tzinfo:
    """The zone of an IANA name (``Asia/Shanghai``, ``UTC``); ValueError naming it when
    there is no such zone."""
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ValueError(f"not a time zone: {name!r} (expected an IANA name like Asia/Shanghai)")
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name like "
                         "Asia/Shanghai)") from None


@lru_cache(maxsize=1)
def _local_zone() -> tzinfo:
    return datetime.now().astimezone().tzinfo


@lru_cache(maxsize=1)
def _local_zone_name() -> str | None:
    """The machine's IANA zone name, from ``/etc/localtime`` (None when it has none)."""
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return None
    marker = "zoneinfo/"
    if marker not in target:
        return None
    name = target.split(marker, 1)[1]
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def _clear_zone_caches() -> None:
    """Forget the machine's zone (for a process whose TZ changed)."""
    _local_zone.cache_clear()
    _local_zone_name.cache_clear()


# Callers that used to re-read the cached zone (``display_zone.cache_clear()``) still may.
display_zone.cache_clear = _clear_zone_caches  # type: ignore[attr-defined]


def parse_time(value: object, default_zone: str | tzinfo | None = None) -> int:
    """Parse an ISO 8601 time (or epoch milliseconds) into UTC epoch milliseconds.

    A time without an offset is read in ``default_zone`` (an IANA name or a tzinfo) or
    the display zone. Raises ValueError with a short reason.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidValue("expected a time like 2026-11-11T08:00:00+08:00", key="time_needed")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidValue(
                f"expected a time like 2026-11-11T08:00:00+08:00, got {value!r}",
                key="time_bad", value=repr(value)) from None
    if dt.tzinfo is None:
        if isinstance(default_zone, tzinfo):
            zone = default_zone
        else:
            zone = ZoneInfo(default_zone) if default_zone else display_zone()
        dt = dt.replace(tzinfo=zone)
    return int(dt.timestamp() * 1000)


def format_time(ms: int | None, zone: tzinfo | None = None) -> str | None:
    """UTC epoch milliseconds as ISO 8601 in ``zone`` (default: the display zone;
    seconds precision unless the time has milliseconds)."""
    if ms is None:
        return None
    return _format_time(ms, zone if zone is not None else display_zone())


@lru_cache(maxsize=4096)  # a chat's times are shown again and again (created, assigned ...)
def _format_time(ms: int, zone: tzinfo) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=zone)  # = from UTC, then astimezone(zone)
    return dt.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")


def format_time_in(ms: int | None, zone: str) -> str | None:
    """UTC epoch milliseconds as ISO 8601 in the IANA ``zone`` (a shop's): what a
    customer of that shop is shown, whatever the machine's or the staff's zone."""
    if ms is None:
        return None
    return _format_time(ms, _zone(zone))


def short_time_in(ms: int | None, zone: str) -> str:
    """A compact time in the IANA ``zone``: ``2026-12-07 09:02`` (for customers' texts)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=_zone(zone)).strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def short_time(ms: int | None) -> str:
    """A compact human time: ``2026-11-11 08:00``."""
    if ms is None:
        return ""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(display_zone())
    return dt.strftime("%Y-%m-%d %H:%M")
