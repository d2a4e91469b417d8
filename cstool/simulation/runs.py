"""One simulated day of a shop, from options to report: the use case behind ``cstool
simulate``. The front end parses and checks its options, opens a backend and prints; the
arrivals (a shaped curve, a file, or the shop's forecast), the roster (the shop's agents,
a fixed number, spans, or Erlang's ``auto``), the run and the optional copy of the file
with the day written into it are decided here, through any Backend for the reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Conflict
from ..staffing.forecast_run import forecast_shop_day, midnight_ms, next_day
from .day import simulate_day
from .inputs import (
    SLOTS,
    ConversationModel,
    Curve,
    curve_from_file,
    curve_from_values,
    parse_roster,
    roster_parts,
)
from .predict import auto_roster
from .report import build_report
from .world import load_world

if TYPE_CHECKING:
    from ..api.backend import Backend
    from .day import DayResult
    from .world import ShopWorld

Progress = Callable[[str, float, float], None]


@dataclass(frozen=True)
class DayRequest:
    """What to simulate. Arrivals: ``curve`` (a shaped curve), else ``arrivals_file``,
    else the shop's forecast (``forecast``). Roster: ``agents`` (a number all day, or
    ``"auto"`` for Erlang against ``goal`` = (service level, target seconds) and
    ``max_abandon``), else ``roster`` (HH:MM-HH:MM=N spans or a plan file), else the
    shop's agents. ``questions`` (read from ``question_source``, ``read_questions``)
    replace the shop's knowledge wordings. ``day`` None: tomorrow in the shop's zone."""

    shop: str
    model: ConversationModel
    day: date | None = None
    curve: Curve | None = None
    arrivals_file: str | None = None
    forecast: bool = False
    agents: str | None = None
    roster: str | None = None
    goal: tuple[float, float] | None = None
    target_text: str = "80/30"
    max_abandon: float | None = None
    questions: list[str] | None = None
    question_source: str = ""
    human_share: float = 0.1
    seed: int = 1
    write_db: str | Path | None = None  # a new file or an empty postgresql:// database


def _arrivals(backend: Backend, req: DayRequest, day: date) -> Curve:
    if req.curve is not None:
        return req.curve
    if req.arrivals_file is not None:
        return curve_from_file(req.arrivals_file)
    fc = forecast_shop_day(backend, req.shop, day)
    return curve_from_values([s["arrivals"] for s in fc.result["slots"]], "forecast")


def _roster(req: DayRequest, world: Any, shape: Curve, start_ms: int
            ) -> tuple[list[int] | None, str, dict]:
    """The agents per half-hour (None: the shop's, all day), their description in English
    (the report's ``roster``) and what it is made of (``roster_parts``: ``kind`` auto,
    agents, spans, file or shop, with its values), for other languages."""
    if req.agents == "auto":
        counts = auto_roster(world, shape, req.model, start_ms, *req.goal, req.max_abandon)
        return counts, f"auto: Erlang for {req.target_text}" + (
            "" if req.max_abandon is None else f", abandonment <= {req.max_abandon:g}"), {
            "kind": "auto", "target": req.target_text, "max_abandon": req.max_abandon}
    if req.agents is not None:
        return [int(req.agents)] * SLOTS, f"{int(req.agents)} agents all day", {
            "kind": "agents", "agents": int(req.agents)}
    if req.roster is not None:
        return (*parse_roster(req.roster), roster_parts(req.roster))
    return None, f"the shop's {len(world.agents)} agents all day", {
        "kind": "shop", "agents": len(world.agents)}


def check_day_target(target: str | Path) -> None:
    """Refuse, before any simulating, a ``--write-db`` target that cannot take the day:
    a file that exists (``write_db_exists``) or a PostgreSQL database that holds a mall
    already (``copy_target_not_empty``; it must be empty) or cannot be opened."""
    from ..backend.local import LocalBackend
    from ..services.store_copy import require_empty
    from ..storage.database import is_postgres_url

    if not is_postgres_url(target):
        if Path(target).exists():
            raise Conflict(f"{target} exists already; --write-db makes a new file",
                           key="write_db_exists", write_db=str(target))
        return
    probe = LocalBackend(str(target))
    try:
        require_empty(probe)
    finally:
        probe.close()


def write_day_copy(source: Backend, target: str | Path, world: ShopWorld,
                   model: ConversationModel, result: DayResult, *, seed: int) -> dict:
    """Copy ``source``'s store into the NEW store ``target`` (a file that must not exist,
    or an empty PostgreSQL database) and write the simulated day into the copy; the counts
    written. A SQLite file is copied by the online backup; any other pair of engines by
    ``db copy``'s verified copy."""
    from ..backend.local import LocalBackend
    from ..services.store_copy import copy_store
    from ..storage.database import is_postgres_url
    from .record import write_day

    check_day_target(target)
    if source.database.engine is None and not is_postgres_url(target):
        source.backup(str(target))
        copy = LocalBackend(target)
    else:
        copy = LocalBackend(str(target))
        try:
            copy_store(source, copy)
        except BaseException:
            copy.close()
            raise
    try:
        return {"path": str(copy.database.path),  # a URL without its password
                **write_day(copy, world, model, result, seed=seed)}
    finally:
        copy.close()


def simulate_shop_day(backend: Backend, req: DayRequest,
                      on_progress: Progress | None = None) -> dict:
    """Simulate ``req``'s day of the shop through the real routing engine and knowledge
    bot (read through ``backend``); the report (``build_report``), with ``written`` when
    ``req.write_db`` names a new file to write the day into. ``on_progress(stage, done,
    total)`` follows the long stages."""
    progress = on_progress or (lambda stage, done, total: None)
    record = backend.get("shops", req.shop)
    day = req.day if req.day is not None else next_day(backend, record["timezone"])
    start_ms = midnight_ms(day, record["timezone"])
    shape = _arrivals(backend, req, day)
    world = load_world(backend, req.shop, start_ms, questions=req.questions,
                       human_share=req.human_share, question_source=req.question_source,
                       on_progress=lambda n, t: progress("asking the bot", n, t))
    counts, roster_source, parts = _roster(req, world, shape, start_ms)
    result = simulate_day(world, shape, counts, req.model, start_ms, seed=req.seed,
                          record=req.write_db is not None,
                          on_progress=lambda f: progress("simulating the day", f * 100, 100))
    report = build_report(world, shape, req.model, result, date=day.isoformat(),
                          seed=req.seed, roster_source=roster_source, roster_parts=parts)
    if req.write_db is not None:
        progress("writing the day", 0, 1)
        written = write_day_copy(backend, req.write_db, world, req.model, result,
                                 seed=req.seed)
        report["written"] = written
        progress("writing the day", 1, 1)
    return report
