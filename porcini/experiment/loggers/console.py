"""A table per epoch on stderr, like SpinningUp's: average, std, min and max of each summarized metric."""

from __future__ import annotations

import importlib.util
import io
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO

from porcini.experiment.loggers.base import Logger, format_number

STAT_SUFFIXES = ("mean", "std", "min", "max")
# the prefix of every line of the ConsoleLoggers created inside `line_prefix` (the seed of a parallel run)
_LINE_PREFIX: ContextVar[str] = ContextVar("porcini_console_line_prefix", default="")


@contextmanager
def line_prefix(prefix: str) -> Iterator[None]:
    """Label every line printed by the :class:`ConsoleLogger` objects created inside the block with ``prefix``.

    Parallel seeds write to one terminal; ``with line_prefix("[s0] "):`` around a run tells its lines apart.
    """
    token = _LINE_PREFIX.set(prefix)
    try:
        yield
    finally:
        _LINE_PREFIX.reset(token)


def group_metrics(metrics: Mapping[str, float]) -> list[tuple[str, dict[str, float]]]:
    """Group ``x/mean``, ``x/std``, ``x/min``, ``x/max`` into one row ``x``; other keys get a row each.

    Returns:
        ``[(row name, {"mean"|"std"|"min"|"max"|"value": number})]`` in the order keys first appear.
    """
    rows: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        base, _, suffix = key.rpartition("/")
        if base and suffix in STAT_SUFFIXES:
            rows.setdefault(base, {})[suffix] = float(value)
        else:
            rows.setdefault(key, {})["value"] = float(value)
    return list(rows.items())


class ConsoleLogger(Logger):
    """Print one table per :meth:`log` call: a row per metric, columns value/mean, std, min, max.

    Metrics summarized with :func:`~porcini.experiment.loggers.summarize` (``train/episode_return/mean``, ...)
    share one row. Uses ``rich`` when it is installed, plain text otherwise.

    Args:
        stream: where to write; defaults to ``sys.stderr`` at each call (stdout is for the ``--json`` line).
        use_rich: force rich (True) or plain text (False); None picks rich when it is installed.
        epochs_done: epochs logged before this logger was made (a resumed run's); the first table is the next.
        prefix: written at the start of every line (``"[s0] "``); None takes the one of the enclosing
            :func:`line_prefix` block, if any.
    """

    def __init__(self, stream: IO[str] | None = None, *, use_rich: bool | None = None, epochs_done: int = 0,
                 prefix: str | None = None) -> None:
        self.stream = stream
        self.use_rich = importlib.util.find_spec("rich") is not None if use_rich is None else use_rich
        self.prefix = _LINE_PREFIX.get() if prefix is None else prefix
        self.epoch = epochs_done

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Print the table of ``metrics`` for the next epoch, titled with the epoch and ``step``."""
        self.epoch += 1
        title = f"epoch {self.epoch} | env_steps {step:,}"
        rows = group_metrics(metrics)
        stream = self.stream if self.stream is not None else sys.stderr
        if self.use_rich and not self.prefix:
            self._print_rich(title, rows, stream)
            return
        text = render_plain(title, rows) if not self.use_rich else self._render_rich(title, rows, stream)
        # one write per table: lines of parallel runs interleave, but each line stays whole and labelled
        stream.write("".join(self.prefix + line for line in text.splitlines(keepends=True)))
        stream.flush()

    def _render_rich(self, title: str, rows: list[tuple[str, dict[str, float]]], stream: IO[str]) -> str:
        """The rich table as text, as wide as the terminal leaves beside the prefix."""
        from rich.console import Console

        buffer = io.StringIO()
        width = shutil.get_terminal_size().columns - len(self.prefix)
        console = Console(file=buffer, highlight=False, width=max(width, 40),
                          force_terminal=bool(getattr(stream, "isatty", lambda: False)()))
        console.print(self._rich_table(title, rows))
        return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())  # rich pads the title

    @classmethod
    def _print_rich(cls, title: str, rows: list[tuple[str, dict[str, float]]], stream: IO[str]) -> None:
        from rich.console import Console

        Console(file=stream, highlight=False).print(cls._rich_table(title, rows))

    @staticmethod
    def _rich_table(title: str, rows: list[tuple[str, dict[str, float]]]) -> object:
        from rich.table import Table

        table = Table(title=title, title_justify="left", header_style="bold")
        table.add_column("metric")
        for column in ("value/mean", *STAT_SUFFIXES[1:]):
            table.add_column(column, justify="right")
        for name, stats in rows:
            table.add_row(name, *_cells(stats))
        return table


def _cells(stats: dict[str, float]) -> list[str]:
    first = stats.get("mean", stats.get("value"))
    return [format_number(first) if first is not None else ""] + [
        format_number(stats[s]) if s in stats else "" for s in STAT_SUFFIXES[1:]
    ]


def render_plain(title: str, rows: list[tuple[str, dict[str, float]]]) -> str:
    """Render ``rows`` (from :func:`group_metrics`) as a plain-text table with a title line."""
    header = ["metric", "value/mean", "std", "min", "max"]
    body = [[name, *_cells(stats)] for name, stats in rows]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ) + " |"

    rule = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    return "\n".join([title, rule, line(header), rule, *(line(r) for r in body), rule]) + "\n"
