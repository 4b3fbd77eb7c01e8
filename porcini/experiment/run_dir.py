"""The run directory (contract in docs/architecture.md): config.yaml, metrics.csv, summary.json, checkpoints/."""

from __future__ import annotations

import csv
import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

from porcini.errors import RunDirectoryError
from porcini.experiment.config.dataclass_io import load_yaml, yaml_text
from porcini.experiment.safe_files import atomic_file, check_writable, remove_stale_temp_files, reporting_os_errors

# the longest path a run writes itself: a checkpoint's temporary file (the X's are tempfile's random part)
LONGEST_TEMP_NAME = ".best.pt.XXXXXXXX.tmp"

# '/' of namespaced ids and ':' of module:EnvId strings (and what else some file systems refuse) in env names
_FOLDER_UNSAFE = re.compile(r'[/:\\<>|?*"]')


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so readers never see half a file.

    Raises:
        RunDirectoryError: the file could not be written (disk full, read-only file system, ...).
    """
    with atomic_file(path, "w") as f:
        f.write(text)


class RunDirectory:
    """One run's folder ``<out>/<algo>-<env>-s<seed>-<YYYYmmdd-HHMMSS>/``.

    Args:
        path: the folder (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with reporting_os_errors(self.path, "creating"):
            self.path.mkdir(parents=True, exist_ok=True)
        self._metric_columns: list[str] | None = None

    @classmethod
    def create(cls, out: str | Path, algo: str, env: str, seed: int) -> RunDirectory:
        """A new run folder under ``out``, named by algorithm, env, seed and start time.

        The folder is created atomically: when another process took the name first (runs started in the same
        second), the next free name ``<name>-2``, ``<name>-3``, ... is used. The longest file path the run will
        write is then created once, so that a path too long or a read-only or full disk fails here, before
        training.

        Raises:
            RunDirectoryError: ``out`` is a file, read-only, or the path is too long (the message names it).
        """
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{algo}-{_FOLDER_UNSAFE.sub('_', env)}-s{seed}-{stamp}"
        out = Path(out)
        with reporting_os_errors(out, "creating"):
            if out.is_file():
                raise RunDirectoryError(f"--out {out} is a file, not a folder: choose a folder for run directories")
            out.mkdir(parents=True, exist_ok=True)
        path = out / name
        with reporting_os_errors(path, "creating"):
            for suffix in itertools.count(2):
                try:
                    path.mkdir()  # without exist_ok: of two processes creating one name, exactly one succeeds
                    break
                except FileExistsError:
                    path = out / f"{name}-{suffix}"
        run_dir = cls(path)
        try:
            check_writable(run_dir.checkpoints, LONGEST_TEMP_NAME)
        except RunDirectoryError:
            _remove_empty_folders(run_dir.checkpoints, run_dir.path)
            raise
        return run_dir

    def remove_stale_temp_files(self) -> list[Path]:
        """Remove temporary files of atomic writes that a kill interrupted; call it only holding the run's lock."""
        return remove_stale_temp_files([self.path, self.checkpoints])

    @property
    def checkpoints(self) -> Path:
        """The folder of checkpoints (``last.pt``, ``best.pt``)."""
        return self.path / "checkpoints"

    def write_config(self, config: dict[str, Any]) -> None:
        """Write the fully resolved configuration to ``config.yaml``."""
        atomic_write_text(self.path / "config.yaml", yaml_text(config))

    def read_config(self) -> dict[str, Any]:
        """Read ``config.yaml`` back (a safe loader: no code runs)."""
        return load_yaml(self.path / "config.yaml")

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one epoch's row to ``metrics.csv``; columns are fixed by the first row (later new keys dropped)."""
        file = self.path / "metrics.csv"
        if self._metric_columns is None:
            if file.exists() and file.stat().st_size > 0:
                with file.open() as f:
                    self._metric_columns = next(csv.reader(f))
            else:
                self._metric_columns = list(row)
                with file.open("w", newline="") as f:
                    csv.writer(f).writerow(self._metric_columns)
        with file.open("a", newline="") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self._metric_columns])

    def read_metrics(self) -> list[dict[str, str]]:
        """The rows of ``metrics.csv`` as dicts of strings."""
        with (self.path / "metrics.csv").open() as f:
            return list(csv.DictReader(f))

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write ``summary.json`` atomically."""
        atomic_write_text(self.path / "summary.json", json.dumps(summary, indent=2) + "\n")


def _remove_empty_folders(*folders: Path) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass
