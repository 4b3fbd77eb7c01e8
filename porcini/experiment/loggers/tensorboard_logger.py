"""TensorBoard event files (extra ``porcini[tensorboard]``), written with ``torch.utils.tensorboard``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

from porcini.errors import missing_extra
from porcini.experiment.loggers.base import Logger


class TensorBoardLogger(Logger):
    """Write each metric as a TensorBoard scalar at the environment step; the config as a text summary.

    Args:
        log_dir: directory of the event files (``<run_dir>/tb``).
        purge_step: when resuming, events at steps ``>= purge_step`` written before a crash are hidden, so
            the curves do not double back (TensorBoard's own mechanism).

    Raises:
        MissingExtraError: tensorboard is not installed (an ImportError naming ``pip install "porcini[tensorboard]"``).
    """

    def __init__(self, log_dir: str | os.PathLike[str], *, purge_step: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise missing_extra("the tensorboard logger", "tensorboard", exc) from exc
        self.log_dir = os.fspath(log_dir)
        self.resumed = purge_step is not None
        self.writer = SummaryWriter(log_dir=self.log_dir, purge_step=purge_step)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Add one scalar per metric at ``step`` and flush (once per epoch, so the UI is current)."""
        for key, value in metrics.items():
            self.writer.add_scalar(key, float(value), global_step=int(step))
        self.writer.flush()

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Store the config as YAML in a text summary named ``config`` (TEXT tab); a resumed run keeps its first."""
        if self.resumed:
            return
        text = yaml.safe_dump(dict(params), sort_keys=False)
        # TensorBoard renders text as Markdown: indent by four spaces to keep it a code block
        self.writer.add_text("config", "\n".join("    " + line for line in text.splitlines()), global_step=0)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
