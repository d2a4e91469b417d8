"""`cstool worker`: idle closing, queue re-assignment, SLA reminders and escalation."""

import json
import signal
from typing import Annotated

import typer

from cstool.i18n import has, t

from .context import state
from .output import counted, info


def worker_cmd(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(min=0.2, max=3600,
                                            help="Seconds between passes.")] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron).")]
    = False,
    json_: Annotated[bool, typer.Option("--json", help="One JSON line per pass.")] = False,
) -> None:
    """Run the housekeeping jobs every few seconds until stopped (Ctrl+C or SIGTERM ends
    it after the pass in progress)."""
    from cstool.worker import Worker

    worker = Worker(state(ctx).backend, interval_s=interval)
    stop = {"now": False}

    def request_stop(signum, frame) -> None:  # noqa: ARG001
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def report(result: dict) -> None:
        if json_:
            typer.echo(json.dumps(result, ensure_ascii=False, default=str))
            return
        parts = []
        for name, value in result.items():
            n = len(value) if isinstance(value, list) else None
            task = t(f"cli.worker_task.{name}") if has(f"cli.worker_task.{name}", "en") \
                else name
            if n:
                parts.append(t("cli.worker_done", task=task, count=n))
            elif isinstance(value, dict) and value.get("sent"):
                parts.append(t("cli.worker_sends", count=value["sent"]))
            elif isinstance(value, dict) and value.get("attempted"):
                parts.append(t("cli.worker_webhooks", count=value["attempted"],
                               done=value["done"], retrying=value["retrying"],
                               failed=value["failed"]))
            elif isinstance(value, dict) and "error" in value:
                parts.append(t("cli.worker_failed", task=task, error=value["error"]))
        if parts:
            info(t("cli.worker_report", parts=t("cli.list_sep").join(parts)))

    if once:
        result = worker.run_once()
        report(result)
        failed = [v for v in result.values() if isinstance(v, dict) and "error" in v]
        if failed and len(failed) == len(result):
            raise typer.Exit(1)  # nothing could run (e.g. a token without the rights)
        return
    info(t("cli.worker_running", interval=f"{interval:g}"))
    worker.run(lambda: not stop["now"], report)
    info(t("cli.worker_stopped", passes=counted(worker.passes, "pass")))
