"""The run directory (contract in docs/architecture.md): config.yaml, metrics.csv, summary.json, checkpoints/."""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from porcini.experiment.config.dataclass_io import load_yaml, yaml_text

# '/' of namespaced ids and ':' of module:EnvId strings (and what else some file systems refuse) in env names
_FOLDER_UNSAFE = re.compile(r'[/:\\<>|?*"]')


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunDirectory:
    """One run's folder ``<out>/<algo>-<env>-s<seed>-<YYYYmmdd-HHMMSS>/``.

    Args:
        path: the folder (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._metric_columns: list[str] | None = None

    @classmethod
    def create(cls, out: str | Path, algo: str, env: str, seed: int) -> RunDirectory:
        """A new run folder under ``out``, named by algorithm, env, seed and start time."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{algo}-{_FOLDER_UNSAFE.sub('_', env)}-s{seed}-{stamp}"
        path = Path(out) / name
        suffix = 1
        while path.exists():  # two runs started in the same second (parallel seeds share a seed only by mistake)
            suffix += 1
            path = Path(out) / f"{name}-{suffix}"
        return cls(path)

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
