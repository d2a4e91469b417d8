"""`cstool simulate`: a day of the desk through the real routing engine and knowledge bot,
per half-hour beside the Erlang C/A prediction for the same inputs."""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cstool import i18n
from cstool.api.backend import Backend
from cstool.errors import InvalidInput, NoDataFile, UsageError
from cstool.storage import database_exists

from .context import state, wants_json
from .crud import JsonOpt
from .output import info, pad, print_json

DEMO_SHOP = "lingyi-fashion"
DEFAULT_ARRIVALS = 2000.0

CSV_COLUMNS = ("start", "expected", "arrivals", "bot_resolved", "human", "agents", "servers",
               "response_rate", "answer_rate", "p_wait", "asa_s", "queued",
               "queue_wait_avg_s", "queue_wait_p90_s", "abandoned", "abandonment_rate")
CSV_ERLANG = ("offered", "p_wait", "response_rate", "answer_first_turn", "asa_s", "p_abandon",
              "occupancy")


def _usage(fn, *args, **kwargs):
    """Call a parser of option values: what it refuses is a usage error (exit 2)."""
    try:
        return fn(*args, **kwargs)
    except InvalidInput as e:
        # the same refusal (its key and params, shown by code), as a usage error
        key = e.key if e.key != e.code else None
        raise UsageError(e.message, key=key, **e.params) from None


def _open_backend(ctx: typer.Context, db: str | None) -> tuple[Backend, bool]:
    """The backend to read the shop from, and whether it is the demo fixture (no data
    file named: the demo set loaded into a temporary file)."""
    st = state(ctx)
    if db is not None:
        if st.api_url() is not None:
            raise UsageError("give a data file (--db) or a server (--api), not both",
                             key="db_or_api")
        st.db = db
    elif st.db is None and st.api_url() is None:
        from .fixtures import load_set

        folder = tempfile.mkdtemp(prefix="cstool-simulate-")

        def cleanup() -> None:
            st.close()
            shutil.rmtree(folder, ignore_errors=True)

        ctx.call_on_close(cleanup)
        load_set(st.open_scratch(Path(folder) / "demo.db"), "demo")
        return st.backend, True
    if st.db is not None and not database_exists(st.db):
        raise NoDataFile(st.db)
    return st.backend, False


def _pick_shop(backend: Backend, shop: str | None, demo: bool) -> str:
    if shop is not None:
        return shop
    if demo:
        return DEMO_SHOP
    keys = [s["key"] for s in backend.list("shops")]
    if len(keys) == 1:
        return keys[0]
    raise UsageError(f"--shop is required (shops: {', '.join(keys) or 'none'})",
                     key="simulate_shop_required", value=', '.join(keys) or 'none')


def _parse_day(text: str | None) -> date | None:
    """``--date`` as a date (None: tomorrow in the shop's zone, the core's default)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date: expected YYYY-MM-DD, got {text!r}",
                         key="bad_date_option", text=text) from None


class _Progress:
    """A progress bar on stderr for long runs (only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.bar = None
        self.tasks: dict[str, object] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn

            self.bar = Progress("[progress.description]{task.description}", BarColumn(),
                                TaskProgressColumn(), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=True)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def update(self, name: str, done: float, total: float) -> None:
        if self.bar is None:
            return
        task = self.tasks.get(name)
        if task is None:
            task = self.tasks[name] = self.bar.add_task(i18n.value("stage", name),
                                                        total=total)
        self.bar.update(task, completed=done)


def simulate_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(
        "--shop", help="The shop's key (default: the only shop; lingyi-fashion of the demo).")]
    = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="The data file (or postgresql:// URL) with the shop's rules, agents "
        "and knowledge (default: the global --db; with none at all, the demo set in a "
        "temporary file).")] = None,
    day: Annotated[str | None, typer.Option(
        "--date", help="The day, YYYY-MM-DD in the shop's time zone (default: tomorrow).")]
    = None,
    arrivals: Annotated[float | None, typer.Option(
        "--arrivals", min=0, help="Expected conversations over the day (default 2000).")]
    = None,
    curve: Annotated[str | None, typer.Option(
        "--curve", help="Shape of the day: flat, ordinary or promotion (default ordinary; "
        "promotion with --peak).")] = None,
    peak: Annotated[float | None, typer.Option(
        "--peak", help="Promotion day: the peak hour as a multiple of an ordinary hour "
        "(2-40; an 11.11 runs 8-14).")] = None,
    arrivals_file: Annotated[str | None, typer.Option(
        "--arrivals-file", help="Arrivals per half-hour: `staffing forecast/plan --json`, a "
        "CSV with an arrivals or forecast column, or 48 numbers.")] = None,
    forecast: Annotated[bool, typer.Option(
        "--forecast", help="Arrivals from the shop's forecast for the day (its history).")]
    = False,
    agents: Annotated[str | None, typer.Option(
        "--agents", help="Agents on the desk all day, or `auto`: per half-hour what Erlang "
        "says meets --target (default: the shop's agents).")] = None,
    roster: Annotated[str | None, typer.Option(
        "--roster", help="Agents per half-hour: HH:MM-HH:MM=N spans, or a file "
        "(`staffing plan --json` / --csv).")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", help="With --agents auto: percent answered / within seconds (default "
        "80/30).")] = None,
    max_abandon: Annotated[float | None, typer.Option(
        "--max-abandon", min=0, max=1, help="With --agents auto and --patience: the most "
        "abandonment Erlang A may plan for (0-1).")] = None,
    aht: Annotated[float, typer.Option(
        "--aht", help="Mean handling time of a chat, assignment to close, seconds.")] = 300.0,
    patience: Annotated[float | None, typer.Option(
        "--patience", help="Mean patience in the queue, seconds (exponential; default: "
        "nobody gives up).")] = None,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", help="Chats each agent serves at once (default: each agent's "
        "max_chats).")] = None,
    mode: Annotated[str | None, typer.Option(
        "--mode", help="Service mode all day: bot_first, bot_only, human_first, human_only "
        "(default: the shop's, by its business hours).")] = None,
    first_reply_s: Annotated[float, typer.Option(
        "--first-reply-s", help="The agent's first reply after the assignment, seconds.")]
    = 5.0,
    reply_s: Annotated[float, typer.Option(
        "--reply-s", help="Mean time to answer a later customer turn, seconds.")] = 20.0,
    turn_gap_s: Annotated[float, typer.Option(
        "--turn-gap-s", help="Mean time from a reply to the customer's next message.")]
    = 60.0,
    questions: Annotated[str | None, typer.Option(
        "--questions", help="Customer questions: one a line, or a CSV with a text column "
        "(default: the shop's knowledge wordings and the desk's questions).")] = None,
    human_share: Annotated[float, typer.Option(
        "--human-share", min=0, max=1, help="Share of customers opening with 转人工.")]
    = 0.1,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same day.")] = 1,
    write_db: Annotated[str | None, typer.Option(
        "--write-db", help="Also write the day into a copy of the store: a NEW file or an "
        "empty PostgreSQL database (postgresql://...), for `cstool --db COPY metrics "
        "report`.")] = None,
    csv_: Annotated[bool, typer.Option("--csv", help="The half-hours as CSV.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Simulate a day of the desk: arrivals per half-hour, a roster, patience, chat
    concurrency, through the real routing engine and knowledge bot.

    Per half-hour: arrivals, bot-resolved, the 3-minute response rate, the 30-second
    answer rate, queue waits and abandonment, as `metrics report` would compute them,
    beside the Erlang C/A prediction for the same inputs.
    """
    from cstool.simulation.inputs import ConversationModel, parse_roster, shaped_curve
    from cstool.simulation.runs import DayRequest, simulate_shop_day
    from cstool.simulation.world import read_questions
    from cstool.staffing.plan import parse_target

    as_json = wants_json(ctx, json_)
    if csv_ and as_json:
        raise UsageError("choose one of --json and --csv", key="json_or_csv")
    ways = (arrivals_file is not None, forecast,
            arrivals is not None or curve is not None or peak is not None)
    if sum(ways) > 1:
        raise UsageError("give the arrivals one way: --arrivals/--curve/--peak, "
                         "--arrivals-file or --forecast", key="arrivals_one_way")
    if agents is not None and roster is not None:
        raise UsageError("give --agents or --roster, not both", key="agents_or_roster")
    if agents is not None and agents != "auto" and not agents.isdigit():
        raise UsageError(f"--agents: expected a whole number or auto, got {agents!r}",
                         key="agents_not_number", agents=agents)
    if write_db is not None:
        from cstool.simulation.runs import check_day_target

        check_day_target(write_db)  # before an hour of simulating, not after
    model = ConversationModel(aht_s=aht, patience_s=patience, first_reply_s=first_reply_s,
                              reply_s=reply_s, turn_gap_s=turn_gap_s, concurrency=concurrency,
                              mode=mode)
    _usage(model.check)
    if (target is not None or max_abandon is not None) and agents != "auto":
        raise UsageError("--target and --max-abandon go with --agents auto",
                         key="target_needs_auto")
    if max_abandon is not None and patience is None:
        raise UsageError("--max-abandon needs --patience: without a patience nobody "
                         "abandons", key="max_abandon_needs_patience")
    target = target or "80/30"
    goal = _usage(parse_target, target) if agents == "auto" else None
    if curve is None:
        curve = "promotion" if peak is not None else "ordinary"
    shape = None
    if arrivals_file is None and not forecast:
        shape = _usage(shaped_curve, DEFAULT_ARRIVALS if arrivals is None else arrivals,
                       curve, peak)
    if roster is not None and not Path(roster).exists():
        _usage(parse_roster, roster)  # spans given inline: a bad one is a usage error
    the_day = _parse_day(day)
    question_list = read_questions(questions) if questions is not None else None

    backend, demo = _open_backend(ctx, db)
    if write_db is not None and not backend.has_database_file:
        raise UsageError("--write-db needs a data file, not a server (--api)",
                         key="write_db_needs_file")
    request = DayRequest(
        shop=_pick_shop(backend, shop, demo), model=model, day=the_day, curve=shape,
        arrivals_file=arrivals_file, forecast=forecast, agents=agents, roster=roster,
        goal=goal, target_text=target, max_abandon=max_abandon, questions=question_list,
        question_source=questions or "", human_share=human_share, seed=seed,
        write_db=write_db)
    quiet = as_json or csv_ or not sys.stderr.isatty()
    started = time.perf_counter()
    with _Progress(not quiet) as progress:
        report = simulate_shop_day(backend, request, on_progress=progress.update)
    seconds = time.perf_counter() - started
    if as_json:
        print_json(report)
        return
    if csv_:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([*CSV_COLUMNS, *(f"erlang_{c}" for c in CSV_ERLANG)])
        for row in report["slots"]:
            writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS]
                            + ["" if row["erlang"][c] is None else row["erlang"][c]
                               for c in CSV_ERLANG])
        return
    _print_report(report, seconds)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _s(value: float | None) -> str:
    return "-" if value is None else i18n.t("sim.seconds", s=f"{value:.1f}")


def _roster_text(i: dict) -> str:
    """The roster of the report in the interface language (its ``roster_parts``; English:
    the report's own ``roster``)."""
    parts = i.get("roster_parts") or {}
    if i18n.language() == "en" or parts.get("kind") not in ("auto", "agents", "spans",
                                                             "file", "shop"):
        return i["roster"]
    fields = dict(parts)
    if parts["kind"] == "auto":
        fields["abandon"] = "" if parts.get("max_abandon") is None else i18n.t(
            "sim.roster.abandon", max_abandon=format(parts["max_abandon"], "g"))
    return i18n.t(f"sim.roster.{parts['kind']}", **fields)


HEADER = (("time", 5), ("chats", 7), ("bot", 7), ("human", 7), ("agents", 6), ("3min", 5),
          ("erl", 5), ("30s", 5), ("wait", 6), ("p90", 6), ("aband", 5), ("erl", 5))


def _print_report(r: dict, seconds: float) -> None:
    i = r["inputs"]
    t = r["totals"]
    e = t["erlang"]
    t_ = i18n.t
    patience = t_("sim.none") if i["patience_s"] is None else \
        t_("sim.seconds", s=format(i["patience_s"], "g"))
    typer.echo(t_("sim.head", shop=r["shop"], date=r["date"],
                  curve=i18n.value("curve", i["curve"]),
                  peak="" if i["peak"] is None else " x" + format(i["peak"], "g"),
                  arrivals=f"{t['arrivals']:,}", expected=f"{i['expected_arrivals']:,.0f}",
                  roster=_roster_text(i), aht=format(i["aht_s"], "g"), patience=patience,
                  seed=r["seed"]))
    rows = [s for s in r["slots"] if s["arrivals"] or s["agents"]]
    typer.echo(t_("sim.per_half_hour"))
    typer.echo(" ".join(pad(t_(f"sim.col.{name}"), width, right=k > 0)
                        for k, (name, width) in enumerate(HEADER)))
    for s in rows:
        se = s["erlang"]
        typer.echo(f"{s['start']:5} {s['arrivals']:7d} {s['bot_resolved']:7d} {s['human']:7d} "
                   f"{s['agents']:6d} {_p(s['response_rate']):>5} {_p(se['response_rate']):>5} "
                   f"{_p(s['answer_rate']):>5} {_num(s['queue_wait_avg_s']):>6} "
                   f"{_num(s['queue_wait_p90_s']):>6} {_p(s['abandonment_rate']):>5} "
                   f"{_p(se['p_abandon']):>5}")
    abandon_erlang = "" if e["p_abandon"] is None else \
        t_("sim.erlang_paren", value=_pct(e["p_abandon"]))
    typer.echo(t_("sim.day", arrivals=f"{t['arrivals']:,}",
                  bot_resolved=f"{t['bot_resolved']:,}",
                  bot_rate=_pct(t["bot_resolution_rate"]), human=f"{t['human']:,}",
                  response=_pct(t["response_rate"]), response_erlang=_pct(e["response_rate"]),
                  answer=_pct(t["answer_rate"]), queued=_pct(t["p_wait"]),
                  queued_erlang=_pct(e["p_wait"]), asa=_s(t["asa_s"]),
                  asa_erlang=_s(e["asa_s"]), wait_avg=_s(t["queue_wait_avg_s"]),
                  wait_p90=_s(t["queue_wait_p90_s"]), abandoned=_pct(t["abandonment_rate"]),
                  abandoned_erlang=abandon_erlang))
    rt = r["routing"]
    top = ", ".join(f"{i18n.value('rule', k)} {v:,}" for k, v in list(rt["rules"].items())[:5])
    typer.echo(t_("sim.routing", rules=top, load=f"{rt['max_load'] * 100:.0f}"))
    if "written" in r:
        w = r["written"]
        typer.echo(t_("sim.written", path=w["path"], conversations=f"{w['conversations']:,}",
                      messages=f"{w['messages']:,}", shop=r["shop"]))
    info(i18n.t("cli.simulated_in", seconds=f"{seconds:.1f}"))
