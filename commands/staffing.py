"""`cstool staffing ...`: size the desk with Erlang C/A, forecast a shop's chats per
half-hour, and plan the shifts of a day."""

from __future__ import annotations

import csv
import math
import sys
from datetime import date
from typing import Annotated

import typer
from rich.cells import cell_len

from cstool import i18n
from cstool.errors import InvalidInput, UsageError
from cstool.staffing import (
    MAX_SERVERS,
    Workload,
    check_goals,
    check_workload,
    evaluate,
    positions,
    required_agents,
)
from cstool.staffing.forecast import ForecastSettings
from cstool.staffing.forecast_run import (
    check_forecast_options,
    check_plan_options,
    forecast_shop_day,
    plan_shop_day,
)
from cstool.staffing.plan import ShiftSettings, StaffingTarget, parse_target

from .context import state, wants_json
from .crud import JsonOpt
from .output import info, is_terminal, pad, print_json, print_table

app = typer.Typer(help="Staffing: Erlang C/A sizing, arrival forecasts and shift plans.",
                  no_args_is_help=True)


ShopOpt = Annotated[str, typer.Option("--shop", help="The shop's key.")]
DateOpt = Annotated[str | None, typer.Option(
    "--date", help="The day, YYYY-MM-DD in the shop's time zone (default: tomorrow).")]
WeeksOpt = Annotated[int, typer.Option("--weeks", help="Weeks of history the model uses.")]
HoldoutOpt = Annotated[int, typer.Option(
    "--holdout", help="Days held back to measure the forecast's error.")]
PromoOpt = Annotated[bool | None, typer.Option(
    "--promotion/--no-promotion",
    help="Treat the day as a promotion day (default: the festival calendar decides).")]
UpliftOpt = Annotated[float | None, typer.Option(
    "--uplift", help="Promotion-day multiplier (default: learnt from past peaks, else 10).")]
PromoDayOpt = Annotated[list[str] | None, typer.Option(
    "--promo-day", help="A past promotion day (YYYY-MM-DD) to keep out of the baseline; "
    "repeatable.")]
DeskOnlyOpt = Annotated[bool, typer.Option(
    "--desk-only", help="Count only conversations that reached an agent or the queue.")]


def _usage(fn, *args, **kwargs):
    """Call a check of option values: what it refuses is a usage error (exit 2, one line
    ``Error: ...``), as in ``simulate`` and ``metrics``."""
    try:
        return fn(*args, **kwargs)
    except InvalidInput as e:
        # the same refusal (its key and params, shown by code), as a usage error
        key = e.key if e.key != e.code else None
        raise UsageError(e.message, key=key, **e.params) from None


def _num(value: float | None, digits: int) -> float | None:
    """``value`` rounded for output; None for a missing or non-finite one (JSON has no
    NaN or Infinity)."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


# -- erlang -----------------------------------------------------------------------------------
def _check_erlang(w: Workload, sl: float, max_occupancy: float, max_abandon: float | None,
                  shrinkage: float, agents: int | None) -> None:
    if not 0 < w.interval_s <= 86_400:
        raise InvalidInput(f"--interval-min: must be positive and at most 1440 (a day), got "
                           f"{w.interval_s / 60:g}", key="interval_range", value=w.interval_s / 60)
    check_workload(w)
    check_goals(sl, max_occupancy=max_occupancy, max_abandon=max_abandon,
                patience_s=w.patience_s, shrinkage=shrinkage)
    if agents is not None and not 0 <= agents * w.concurrency <= MAX_SERVERS:
        raise InvalidInput(f"--agents: must be 0 or more, with at most {MAX_SERVERS:,} chat "
                           f"slots (agents x concurrency), got {agents}",
                           key="agents_range", MAX_SERVERS=MAX_SERVERS, agents=agents)


@app.command("erlang")
def erlang_cmd(
    ctx: typer.Context,
    arrivals: Annotated[float, typer.Option("--arrivals", help="Contacts offered per interval.")],
    aht: Annotated[float, typer.Option("--aht", help="Average handling time, seconds.")],
    interval_min: Annotated[float, typer.Option(
        "--interval-min", help="Interval length, minutes.")] = 30.0,
    target_s: Annotated[float, typer.Option(
        "--target-s", help="Answered-within target, seconds.")] = 20.0,
    sl: Annotated[float, typer.Option(
        "--sl", help="Service level goal: share answered within the target (0-1).")] = 0.8,
    patience: Annotated[float | None, typer.Option(
        "--patience", help="Mean patience, seconds: Erlang A (customers give up).")] = None,
    shrinkage: Annotated[float, typer.Option(
        "--shrinkage", help="Share of paid time off the desk (0-1): agents -> positions.")]
    = 0.0,
    max_occupancy: Annotated[float, typer.Option(
        "--max-occupancy", help="Occupancy cap (0-1).")] = 1.0,
    max_abandon: Annotated[float | None, typer.Option(
        "--max-abandon", help="Abandonment cap (0-1), with --patience.")] = None,
    agents: Annotated[int | None, typer.Option(
        "--agents", help="Evaluate this many agents instead of finding the fewest.")] = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", help="Chats one agent serves at once (each agent = K chat slots).")]
    = 1,
    json_: JsonOpt = False,
) -> None:
    """Size one interval with Erlang C (or A with --patience).

    Without --agents: the fewest agents meeting the service level, the occupancy cap and
    the abandonment cap; with --agents: what that many achieve.
    """
    if max_abandon is not None and patience is None:
        raise UsageError("--max-abandon needs --patience: without a patience (Erlang C) "
                         "nobody abandons", key="max_abandon_needs_patience_erlang")
    w = Workload(arrivals, interval_min * 60.0, aht, target_s, patience, concurrency)
    _usage(_check_erlang, w, sl, max_occupancy, max_abandon, shrinkage, agents)
    if agents is not None:
        perf = evaluate(w, agents)
    else:
        perf = required_agents(w, sl, max_occupancy=max_occupancy, max_abandon=max_abandon)
    out = {
        "agents": perf.agents,
        "positions": positions(perf.agents, shrinkage),
        "p_wait": _num(perf.p_wait, 6),
        "service_level": _num(perf.service_level, 6),
        "asa_s": _num(perf.asa_s, 3),
        "occupancy": _num(perf.occupancy, 6),
        "traffic_erlangs": _num(perf.traffic_erlangs, 4),
        "servers": perf.servers,
        "mean_wait_s": _num(perf.mean_wait_s, 3),
        "model": "erlang_a" if patience is not None else "erlang_c",
        "meets_target": (perf.service_level >= sl - 1e-12
                         and perf.occupancy <= max_occupancy + 1e-12
                         and (max_abandon is None or perf.p_abandon is None
                              or perf.p_abandon <= max_abandon + 1e-12)),
    }
    if patience is not None:
        out["p_abandon"] = _num(perf.p_abandon or 0.0, 6)
    if wants_json(ctx, json_):
        print_json(out)
        return
    labels = {key: i18n.t(f"staff.erlang.{key}") for key in out}
    width = max(cell_len(label) for label in labels.values())
    for key, value in out.items():
        typer.echo(f"{pad(labels[key], width)}  {_shown(key, value)}")


def _shown(key: str, value: object) -> str:
    """A figure of ``staffing erlang`` as the text report shows it (yes/no and the
    model in the interface language; English: as Python prints them)."""
    if value is None:
        return "-"
    if i18n.language() == "en":
        return str(value)
    if isinstance(value, bool):
        return i18n.t("cli.yes" if value else "cli.no")
    if key == "model":
        return i18n.value("model", value)
    return str(value)


# -- shared: options --------------------------------------------------------------------------
def _parse_day(text: str | None) -> date | None:
    """``--date`` as a date (None: the core's default, tomorrow in the shop's zone)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date: expected YYYY-MM-DD, got {text!r}",
                         key="bad_date_option", text=text) from None


def _forecast_options(weeks: int, holdout: int, uplift: float | None,
                      promo_days: list[str] | None) -> tuple[ForecastSettings, list[date]]:
    """The forecast's option values, checked (usage errors come before any read)."""
    settings = ForecastSettings(weeks=weeks, holdout_days=holdout)
    _usage(check_forecast_options, settings, uplift)
    explicit = []
    for text in promo_days or []:
        try:
            explicit.append(date.fromisoformat(text))
        except ValueError:
            raise UsageError(f"--promo-day: expected YYYY-MM-DD, got {text!r}",
                             key="promo_day_format", text=text) from None
    return settings, explicit


def _bar(value: float, scale: float) -> str:
    return "█" * int(round(value * scale)) if scale > 0 else ""


# -- forecast ----------------------------------------------------------------------------------
@app.command("forecast")
def forecast_cmd(
    ctx: typer.Context,
    shop: ShopOpt,
    day: DateOpt = None,
    weeks: WeeksOpt = 8,
    holdout: HoldoutOpt = 7,
    promotion: PromoOpt = None,
    uplift: UpliftOpt = None,
    promo_day: PromoDayOpt = None,
    desk_only: DeskOnlyOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Forecast a day's chats per half-hour from the shop's history.

    Same-weekday profile, weekly seasonality, promotion uplift; the error (MAPE, WAPE)
    is measured on held-back days.
    """
    settings, promo_days = _forecast_options(weeks, holdout, uplift, promo_day)
    result = forecast_shop_day(state(ctx).backend, shop, _parse_day(day), settings,
                               promotion=promotion, uplift=uplift,
                               promotion_days=promo_days, desk_only=desk_only).result
    if wants_json(ctx, json_):
        print_json(result)
        return
    acc = result["accuracy"]
    promo = i18n.t("staff.forecast.promo", uplift=result["uplift"]) if result["promotion"] \
        else ""
    typer.echo(i18n.t("staff.forecast.head", shop=result["shop"], date=result["date"],
                      weekday=i18n.value("weekday", result["weekday"]), promo=promo,
                      total=result["total"]))
    peak = max((s["arrivals"] for s in result["slots"]), default=0.0)
    scale = 40 / peak if peak else 0.0
    for s in result["slots"]:
        if s["arrivals"] >= 0.05:
            typer.echo(f"{s['start']}  {s['arrivals']:8.1f}  {_bar(s['arrivals'], scale)}")
    hist = result["history"]
    typer.echo(i18n.t("staff.forecast.history", first=hist["from"], last=hist["to"],
                      days=hist["days"], promotion_days=len(hist["promotion_days"])))
    if acc["holdout_days"]:
        typer.echo(i18n.t("staff.forecast.error", days=acc["holdout_days"], mape=acc["mape"],
                          wape=acc["wape"], daily_mape=acc["daily_mape"]))
    else:
        info(i18n.t("cli.forecast_short_history"))


# -- plan --------------------------------------------------------------------------------------
def _shift_hours(text: str) -> tuple[float, ...]:
    try:
        hours = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"--shift-hours: expected hours like 8,6,4, got {text!r}",
                         key="shift_hours_format", text=text) from None
    if not hours:
        raise UsageError("--shift-hours: give at least one length", key="shift_hours_empty")
    return hours


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    shop: ShopOpt,
    day: DateOpt = None,
    target: Annotated[str, typer.Option(
        "--target", help="Service target: percent answered / within seconds, e.g. 80/30.")]
    = "80/30",
    aht: Annotated[float | None, typer.Option(
        "--aht", help="Chat handling time, seconds (default: the shop's history, else 300).")]
    = None,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", help="Chats per agent at once (default: the agents' max_chats).")]
    = None,
    patience: Annotated[float | None, typer.Option(
        "--patience", help="Mean patience, seconds: size with Erlang A.")] = None,
    shrinkage: Annotated[float, typer.Option(
        "--shrinkage", help="Share of paid time off the desk besides breaks (0-1).")] = 0.0,
    max_occupancy: Annotated[float, typer.Option(
        "--max-occupancy", help="Occupancy cap (0-1).")] = 1.0,
    shift_hours: Annotated[str, typer.Option(
        "--shift-hours", help="Allowed shift lengths in hours.")] = "8,6,4",
    break_min: Annotated[int, typer.Option(
        "--break-min", help="Break length in minutes (whole half-hours).")] = 30,
    break_after_h: Annotated[float, typer.Option(
        "--break-after-h", help="Shifts longer than this many hours get a break.")] = 5.0,
    all_day: Annotated[bool, typer.Option(
        "--all-day", help="Staff every half-hour, not only when humans serve.")] = False,
    weeks: WeeksOpt = 8,
    holdout: HoldoutOpt = 7,
    promotion: PromoOpt = None,
    uplift: UpliftOpt = None,
    promo_day: PromoDayOpt = None,
    desk_only: DeskOnlyOpt = False,
    csv_: Annotated[bool, typer.Option("--csv", help="The half-hours as CSV.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Plan a day: agents per half-hour and a roster of shifts covering them.

    Per half-hour the forecast, agents (Erlang) and positions (after shrinkage); shifts
    with breaks covering every half-hour with few agent-hours.
    """
    if csv_ and wants_json(ctx, json_):
        raise UsageError("choose one of --json and --csv", key="json_or_csv")
    # the option values first (usage errors): the shop's history fills in --aht and
    # --concurrency when they are not given
    sl, target_s = _usage(parse_target, target)
    rules = ShiftSettings(shift_hours=_shift_hours(shift_hours), break_after_h=break_after_h,
                          break_min=break_min)
    goal = StaffingTarget(service_level=sl, target_s=target_s, patience_s=patience,
                          max_occupancy=max_occupancy, shrinkage=shrinkage)
    _usage(check_plan_options, goal, rules, aht, concurrency)
    settings, promo_days = _forecast_options(weeks, holdout, uplift, promo_day)
    out = plan_shop_day(state(ctx).backend, shop, _parse_day(day), goal, rules, aht_s=aht,
                        concurrency=concurrency, all_day=all_day, settings=settings,
                        promotion=promotion, uplift=uplift, promotion_days=promo_days,
                        desk_only=desk_only)
    if wants_json(ctx, json_):
        print_json(out)
        return
    if csv_:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        cols = ["start", "open", "forecast", "agents", "positions", "scheduled",
                "service_level", "occupancy", "p_abandon"]
        writer.writerow(cols)
        for row in out["slots"]:
            writer.writerow(["" if row[c] is None else row[c] for c in cols])
        return
    _print_plan(out)


def _print_plan(out: dict) -> None:
    t = out["totals"]
    i = out["inputs"]
    promo = i18n.t("staff.plan.promo") if out["promotion"] else ""
    typer.echo(i18n.t("staff.plan.head", shop=out["shop"], date=out["date"], promo=promo,
                      service_level=round(i["service_level"] * 100),
                      target_s=f"{i['target_s']:g}", aht_s=f"{i['aht_s']:g}",
                      aht_from=i18n.value("aht_from", i["aht_from"]),
                      concurrency=i["concurrency"],
                      concurrency_from=i18n.value("concurrency_from", i["concurrency_from"])))
    busy = [i for i, r in enumerate(out["slots"]) if r["positions"] or r["scheduled"]]
    rows = out["slots"][busy[0]:busy[-1] + 1] if busy else []
    peak = max((max(r["positions"], r["scheduled"]) for r in rows), default=0)
    scale = 40 / peak if peak else 0.0
    typer.echo(f"{pad(i18n.t('staff.col.time'), 5)}  {pad(i18n.t('staff.col.chats'), 7, True)}  "
               f"{pad(i18n.t('staff.col.agents'), 6, True)}  "
               f"{pad(i18n.t('staff.col.positions'), 4, True)}  "
               f"{pad(i18n.t('staff.col.scheduled'), 5, True)}  {i18n.t('staff.plan.legend')}")
    for r in rows:
        need = int(round(r["positions"] * scale))
        extra = max(0, int(round(r["scheduled"] * scale)) - need)
        typer.echo(f"{r['start']:5}  {r['forecast']:7.1f}  {r['agents']:6d}  "
                   f"{r['positions']:4d}  {r['scheduled']:5d}  {'█' * need}{'░' * extra}")
    if is_terminal():
        typer.echo("")
    print_table(out["shifts"], [
        ("start", lambda s: s["start"]), ("end", lambda s: s["end"]),
        ("hours", lambda s: f"{s['hours']:g}"), ("break", lambda s: s["break"] or ""),
        ("agents", lambda s: s["agents"]),
    ], title=i18n.t("staff.plan.shifts"))
    typer.echo(i18n.t(
        "staff.plan.totals", agents=t["agents_rostered"], hours=f"{t['agent_hours']:g}",
        lower_bound=f"{t['lower_bound_hours']:g}",
        efficiency="-" if t["efficiency"] is None else round(t["efficiency"] * 100, 1),
        peak=t["peak_positions"], chats=f"{t['forecast']:g}"))
