"""Rich renderables that wrap or cut Chinese text by ``cstool.cjk_wrap`` at the width
they are drawn in (a widget's width is known only when it is drawn)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

from cstool.cjk_wrap import ELLIPSIS, break_offsets, cut


def cut_text(text: Text | str, width: int) -> Text:
    """Styled text on one line of at most ``width`` cells, ended with "…" when cut."""
    text = Text(text) if isinstance(text, str) else text
    plain = text.plain.replace("\n", " ")
    short = cut(plain, width)
    if short == plain:
        out = text.copy()
        out.plain = plain
        return out
    kept = len(short) - len(ELLIPSIS)
    out = text[:kept]
    out.plain = plain[:kept]
    out.append(ELLIPSIS)  # in the line's own style
    return out


class Wrapped:
    """Text wrapped by the Chinese line-breaking rules (``cut=True``: each line cut to one
    row with "…" instead); at most ``max_lines`` rows, the last one ended with "…" when
    text is left over."""

    def __init__(self, text: Text | str, *, cut: bool = False, max_lines: int | None = None,
                 style: str = ""):
        self.text = Text(text, style=style) if isinstance(text, str) else text
        self.cut = cut
        self.max_lines = max_lines

    def lines(self, width: int) -> list[Text]:
        """The rows at ``width`` cells."""
        width = max(1, width)
        if self.cut:
            rows = [cut_text(part, width) for part in self.text.split("\n", allow_blank=True)]
        else:
            rows = [self.text[s:e] for s, e in break_offsets(self.text.plain, width)]
        if self.max_lines is not None and len(rows) > self.max_lines:
            rows = rows[:self.max_lines]
            last = rows[-1]
            if cell_len(last.plain) + cell_len(ELLIPSIS) > width:
                last = cut_text(last, width - 1)
                if last.plain.endswith(ELLIPSIS):
                    last = last[:-1]
            last.append(ELLIPSIS, style="dim")
            rows[-1] = last
        for row in rows:
            row.end = "\n"
            row.no_wrap = True
            row.overflow = "crop"
        return rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.lines(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max((cell_len(p) for p in self.text.plain.split("\n")), default=0)
        return Measurement(min(2, widest), min(widest, options.max_width))
