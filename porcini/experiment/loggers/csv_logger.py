"""``metrics.csv``: one row per epoch, the step column first, columns added as new metrics appear."""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from porcini.experiment.loggers.base import Logger
from porcini.experiment.safe_files import honour_umask, writes_to_path


class CSVLogger(Logger):
    """Write one row per epoch to a CSV file that any spreadsheet or ``pandas.read_csv`` reads.

    Columns: ``step_key`` (``env_steps``) first, then metrics in the order they first appear. A metric may
    appear only in a later epoch (losses after ``learning_starts``): the file is then rewritten with the wider
    header, earlier rows leaving that cell empty. Rewrites go to a temporary file renamed over the old one, so
    a crash leaves either the old or the new file, never a half-written one. Rows are kept in memory (one per
    epoch: small); a row with an unchanged header is appended and flushed in place.

    Args:
        path: the CSV file; its directory is created.
        step_key: name of the step column.
        resume: keep the rows already in ``path`` (continuing a run) instead of starting a new file.
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
            with self.path.open("a", newline="") as file:
                self._writer(file).writerow(self._format(self.rows[-1]))

    def truncate(self, step: int) -> None:
        """Drop rows after ``step``: logged after the checkpoint a run resumes from, they come again."""
        self.rows = [row for row in self.rows if row[self.step_key] <= step]
        self._rewrite()

    def _writer(self, file: IO[str]) -> csv.DictWriter[str]:
        return csv.DictWriter(file, fieldnames=self.columns, restval="")

    def _format(self, row: Mapping[str, float]) -> dict[str, str]:
        # repr of a float round-trips exactly; integral steps are written without ".0"
        return {k: str(int(v)) if k == self.step_key else repr(float(v)) for k, v in row.items()}

    @writes_to_path
    def _rewrite(self) -> None:
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            honour_umask(fd)
            with os.fdopen(fd, "w", newline="") as file:
                writer = self._writer(file)
                writer.writeheader()
                writer.writerows(self._format(row) for row in self.rows)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_metrics_csv(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, float]]]:
    """Read a metrics CSV back: the header and one ``{column: float}`` per row (empty cells are left out).

    Raises:
        ValueError: a cell is not a number; the message names the file, line and column.
    """
    with Path(path).open(newline="") as file:
        reader = csv.DictReader(file)
        columns = list(reader.fieldnames or [])
        rows = []
        for line, raw in enumerate(reader, start=2):
            row = {}
            for key, cell in raw.items():
                if cell in ("", None):
                    continue
                try:
                    row[key] = float(cell)
                except ValueError:
                    message = f"{path} line {line}, column {key!r}: {cell!r} is not a number"
                    raise ValueError(message) from None
            rows.append(row)
    return columns, rows


def metrics_columns(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """Read a metrics CSV as ``{column: values}``; an empty cell reads as NaN."""
    columns, rows = read_metrics_csv(path)
    return {c: [row.get(c, math.nan) for row in rows] for c in columns}
