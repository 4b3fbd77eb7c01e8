"""``metrics.csv``: one row per epoch, the step column first, columns added as new metrics appear.

A row is never left half-written: an append is one ``write`` of a whole line, undone if it fails (disk full), and
a rewrite goes through a temporary file and a rename. A reader still meets a cut row when a process died inside
that one ``write``, or when another program wrote the file: :func:`read_metrics_csv` drops a last row that does
not end its line or has the wrong number of cells, with a warning, and rejects a malformed row anywhere else.
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

from porcini.errors import RunDirectoryError
from porcini.experiment.loggers.base import Logger
from porcini.experiment.run_dir import atomic_write_text
from porcini.experiment.safe_files import writes_to_path

_FIX = "fix or delete that line (the run's checkpoints do not depend on it)"


class MetricsFileError(RunDirectoryError, ValueError):
    """A ``metrics.csv`` that cannot be read back: not text, or a malformed row before the last (CLI: one line)."""


class CSVLogger(Logger):
    """Write one row per epoch to a CSV file that any spreadsheet or ``pandas.read_csv`` reads.

    Columns: ``step_key`` (``env_steps``) first, then metrics in the order they first appear. A metric may
    appear only in a later epoch (losses after ``learning_starts``): the file is then rewritten with the wider
    header, earlier rows leaving that cell empty. Rewrites go to a temporary file renamed over the old one, so
    a crash leaves either the old or the new file, never a half-written one. Rows are kept in memory (one per
    epoch: small); a row with an unchanged header is appended in place, as one whole line.

    Args:
        path: the CSV file; its directory is created.
        step_key: name of the step column.
        resume: keep the rows already in ``path`` (continuing a run) instead of starting a new file.

    Raises:
        MetricsFileError: with ``resume``, ``path`` cannot be read back or has rows without ``step_key``.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, step_key: str = "env_steps", resume: bool = False
    ) -> None:
        self.path = Path(path)
        self.step_key = step_key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.columns: list[str] = [step_key]
        self.rows: list[dict[str, float]] = []
        if resume and self.path.exists():
            columns, self.rows = read_metrics_csv(self.path)
            if columns and (step_key not in columns or any(step_key not in row for row in self.rows)):
                raise MetricsFileError(f"{self.path} has no {step_key} in its header {columns[:3]} or in a row: not a "
                                       "metrics.csv of porcini; restore it, or delete it to keep only the rows logged "
                                       "from now on")
            self.columns = [step_key] + [c for c in columns if c != step_key]
        self._rewrite()

    @writes_to_path
    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Add a row for ``step``, or merge into the last row when it has the same step."""
        new_columns = [k for k in metrics if k not in self.columns and k != self.step_key]
        self.columns.extend(new_columns)
        values = {k: float(v) for k, v in metrics.items() if k != self.step_key}
        if self.rows and self.rows[-1][self.step_key] == step:
            self.rows[-1].update(values)
            self._rewrite()
            return
        self.rows.append({self.step_key: step, **values})
        if new_columns:
            self._rewrite()
        else:
            self._append_line(self._render([self.rows[-1]], header=False))

    def truncate(self, step: int) -> None:
        """Drop rows after ``step``: logged after the checkpoint a run resumes from, they come again."""
        self.rows = [row for row in self.rows if row[self.step_key] <= step]
        self._rewrite()

    def _render(self, rows: list[dict[str, float]], *, header: bool) -> str:
        buffer = io.StringIO()
        # "\n" line ends: a reader tells a cut last row by its missing line end
        writer = csv.DictWriter(buffer, fieldnames=self.columns, restval="", lineterminator="\n")
        if header:
            writer.writeheader()
        writer.writerows(self._format(row) for row in rows)
        return buffer.getvalue()

    def _format(self, row: Mapping[str, float]) -> dict[str, str]:
        # repr of a float round-trips exactly; integral steps are written without ".0"
        return {k: str(int(v)) if k == self.step_key else repr(float(v)) for k, v in row.items()}

    def _append_line(self, line: str) -> None:
        """Append one whole row with a single ``write``; if that fails, cut the file back to where it was."""
        data = line.encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            try:
                if os.write(fd, data) != len(data):
                    raise OSError(f"short write to {self.path}")
            except OSError:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def _rewrite(self) -> None:
        atomic_write_text(self.path, self._render(self.rows, header=True))


def read_metrics_csv(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, float]]]:
    """Read a metrics CSV back: the header and one ``{column: float}`` per row (empty cells are left out).

    A last row cut short (no line end, or fewer cells than the header: a process died while writing it) is
    dropped with a warning, so a cut ``42000,4.9,5`` is never read as a return of 5.

    Raises:
        MetricsFileError: (a ValueError) the file is not text, a row other than the last is malformed, or a cell
            is not a number; the message names the file, line and column, and the fix.
    """
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError as err:
        raise MetricsFileError(f"{path} is not text (byte {err.object[err.start]:#04x} at offset {err.start}): "
                               "restore it, or delete it to keep only the rows logged from now on") from err
    lines = text.splitlines(keepends=True)
    if lines and len(lines) > 1 and not lines[-1].endswith("\n"):
        _warn_cut_row(path, len(lines), lines[-1])
        lines = lines[:-1]
    records = list(csv.reader(lines))
    if not records:
        return [], []
    columns, body = records[0], records[1:]
    if body and len(body[-1]) != len(columns):
        _warn_cut_row(path, len(body) + 1, ",".join(body[-1]))
        body = body[:-1]
    rows = []
    for line, cells in enumerate(body, start=2):
        if len(cells) != len(columns):
            raise MetricsFileError(f"{path} line {line} has {len(cells)} cells, the header has {len(columns)}; {_FIX}")
        row = {}
        for key, cell in zip(columns, cells):
            if cell == "":
                continue
            try:
                row[key] = float(cell)
            except ValueError:
                raise MetricsFileError(f"{path} line {line}, column {key!r}: {cell!r} is not a number; "
                                       f"{_FIX}") from None
        rows.append(row)
    return columns, rows


def _warn_cut_row(path: str | os.PathLike[str], line: int, text: str) -> None:
    warnings.warn(f"{path} line {line} is a cut row ({text.strip()!r}, written when a process stopped mid-write); "
                  "it is ignored", stacklevel=3)


def metrics_columns(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """Read a metrics CSV as ``{column: values}``; an empty cell reads as NaN."""
    columns, rows = read_metrics_csv(path)
    return {c: [row.get(c, math.nan) for row in rows] for c in columns}
