"""The bot's preparation on screen: a progress display on stderr while entries embed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def embedding_progress(*, quiet: bool = False, spinner: str | None = None,
                       transient: bool = False) -> Iterator[None]:
    """Show the bot's work on stderr while the block runs: with ``spinner``, a line with
    that text turning until the block ends (the calibration after the embeddings too);
    and a bar of the entries embedded when there are many (the hybrid ranker's build;
    nothing for a small knowledge base). ``quiet`` (e.g. --json) shows nothing."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from cstool.bot.embeddings import build_progress

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), disable=quiet,
                  console=Console(stderr=True), transient=transient) as progress:
        if spinner is not None:  # never finishes: it turns until the block is done
            progress.add_task(spinner, total=None)
        bar = None

        def report(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = progress.add_task("" if spinner else "embedding entries", total=total)
            progress.update(bar, completed=done, total=total)

        with build_progress(report):
            yield
