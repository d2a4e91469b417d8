"""`cstool fixtures ...`: named fixture sets and large synthetic data."""

from typing import Annotated

import typer

import fixtures as fixture_sets
from cstool.api.backend import Backend
from cstool.errors import NotFound
from cstool.i18n import t

from .apply import apply_files
from .context import state, wants_json
from .crud import JsonOpt
from .output import counted, info, print_json, print_table

app = typer.Typer(
    help="Named fixture sets and synthetic data for demos, CI and load.", no_args_is_help=True
)


@app.command("list")
def list_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List the named fixture sets."""
    rows = [
        {
            "name": n,
            "path": str(fixture_sets.path(n)),
            "description": fixture_sets.DESCRIPTIONS.get(n, ""),
        }
        for n in fixture_sets.names()
    ]
    if wants_json(ctx, json_):
        print_json(rows)
    else:
        print_table(
            rows, [("name", lambda r: r["name"]), ("description", lambda r: r["description"])]
        )


def load_set(backend: Backend, name: str):
    """Apply the named set ``name``; returns the ApplyResult."""
    folder = fixture_sets.path(name)
    if folder is None:
        raise NotFound(
            f"no fixture set {name!r} (available: {', '.join(fixture_sets.names()) or 'none'})",
                       key="no_fixture_set", name=name,
                       value=', '.join(fixture_sets.names()) or 'none')
    result, _ = apply_files(backend, [str(folder)])
    return result


@app.command("load")
def load_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A set from `cstool fixtures list`.")],
    json_: JsonOpt = False,
) -> None:
    """Load a named set (idempotent: loading it again changes nothing)."""
    result = load_set(state(ctx).backend, name)
    if wants_json(ctx, json_):
        print_json(result.to_dict())
    else:
        info(t("cli.fixtures_loaded", name=name, created=result.count("create"),
               updated=result.count("update"), unchanged=result.count("unchanged")))


@app.command("generate")
def generate_cmd(
    ctx: typer.Context,
    shops: Annotated[int, typer.Option(min=1, max=1000, help="Shops to make.")] = 3,
    customers: Annotated[int, typer.Option(min=1, help="Customers to make.")] = 1000,
    orders: Annotated[int, typer.Option(min=0, help="Orders to make.")] = 2000,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 1,
    prefix: Annotated[str, typer.Option(help="Key prefix (default g<seed>).")] = "",
    day: Annotated[str | None, typer.Option(
        help="Also conversations for this promotion day (e.g. 2026-11-11) and the same "
        "weekday a week before.")] = None,
    conversations: Annotated[int, typer.Option(
        min=1, help="Conversations on the promotion day.")] = 2000,
    peak: Annotated[float, typer.Option(
        min=2, max=40, help="Peak hour as a multiple of an ordinary day's mean hour.")] = 11.0,
    baseline: Annotated[bool, typer.Option(
        "--baseline/--no-baseline", help="Also the ordinary day a week before.")] = True,
    stream_: Annotated[bool, typer.Option(
        "--stream", help="Write the promotion day as it happens (watch the dashboard).")]
    = False,
    speed: Annotated[float, typer.Option(
        min=1, help="With --stream: times faster than real time.")] = 60.0,
    json_: JsonOpt = False,
) -> None:
    """Generate large deterministic synthetic data straight into the file (optionally a
    promotion day of conversations: midnight spike, an 8-14x peak, order-status questions,
    realistic reply delays, orders after some chats)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from cstool.errors import Conflict
    from cstool.simulation.synthetic_data import Plan, base_document
    from cstool.simulation.synthetic_data import customers as gen_customers
    from cstool.simulation.synthetic_data import orders as gen_orders
    from cstool.storage.bulk import CHUNK

    plan = Plan(shops=shops, customers=customers, orders=orders, seed=seed, prefix=prefix)
    backend = state(ctx).backend
    try:
        backend.get("shops", plan.shop_key(0))
    except NotFound:
        pass
    else:
        raise Conflict(
            f"data with prefix {plan.p!r} exists already in this file; "
            "use another --seed or --prefix, or a new file", key="fixture_prefix_exists", p=plan.p)
    backend.apply(base_document(plan))
    counts = {"customers": 0, "orders": 0}
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=wants_json(ctx, json_),
        transient=False,
    ) as progress:
        for kind, total, stream in (
            ("customers", customers, gen_customers(plan)),
            ("orders", orders, gen_orders(plan)),
        ):
            task = progress.add_task(t(f"cli.progress.{kind}"), total=total)
            batch: list = []
            for rec in stream:
                batch.append(rec)
                if len(batch) == CHUNK:
                    counts[kind] += backend.bulk_load(kind, batch)
                    progress.advance(task, len(batch))
                    batch = []
            if batch:
                counts[kind] += backend.bulk_load(kind, batch)
                progress.advance(task, len(batch))
    summary = {"prefix": plan.p, "shops": shops, **counts}
    if day is not None:
        from cstool.simulation.promotion_day import DayPlan, generate_day, stream

        dp = DayPlan(day=day, conversations=conversations, peak=peak, baseline=baseline,
                     seed=seed, shops=tuple(plan.shop_key(i) for i in range(shops)))
        if stream_:
            summary["day"] = _stream_with_progress(backend, dp, speed, quiet=wants_json(
                ctx, json_))
        else:
            summary["day"] = generate_day(backend, dp)
    if wants_json(ctx, json_):
        print_json(summary)
    else:
        info(t("cli.fixtures_generated", shops=counted(shops, "shop"),
               customers=counted(counts["customers"], "customer"),
               orders=counted(counts["orders"], "order"), prefix=plan.p))


def _stream_with_progress(backend: Backend, dp, speed: float, *, quiet: bool) -> dict:
    """``promotion_day.stream`` with a bar on stderr: the simulated clock through the day,
    and the conversations and messages written so far."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from cstool.service import local_datetime
    from cstool.simulation.promotion_day import stream

    start = dp.start_ms()
    day_ms = 86_400_000
    written = {"conversations": 0, "messages": 0}
    zone = dp.timezone
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}"),
        TimeElapsedColumn(), console=Console(stderr=True), disable=quiet, transient=False,
    ) as progress:
        task = progress.add_task(f"{dp.day} 00:00", total=day_ms, done="")

        def tick(clock: int, counts: dict) -> None:
            for k in written:
                written[k] += counts.get(k, 0)
            progress.update(
                task, completed=min(day_ms, clock - start),
                description=f"{local_datetime(clock, zone):%Y-%m-%d %H:%M} ×{speed:g}",
                done=t("cli.stream_written",
                       conversations=counted(written["conversations"], "conversation"),
                       messages=counted(written["messages"], "message")))

        return stream(backend, dp, speed=speed, on_tick=tick)
