"""Loggers: one interface, several sinks at once (console table, CSV, TensorBoard, MLflow).

Example:
    >>> import tempfile
    >>> from porcini.experiment.config import LogConfig
    >>> run_dir = tempfile.mkdtemp()
    >>> with make_loggers(LogConfig(sinks=("csv",)), run_dir) as logger:
    ...     logger.log({"eval_return_mean": 21.5, **summarize("train/episode_return", [20, 23])}, step=1000)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from porcini.experiment.loggers.base import Logger, MultiLogger, flatten_params, format_number, summarize
from porcini.experiment.loggers.console import ConsoleLogger
from porcini.experiment.loggers.csv_logger import CSVLogger, metrics_columns, read_metrics_csv
from porcini.experiment.loggers.episode_info import EpisodeInfoAggregator

if TYPE_CHECKING:
    from porcini.experiment.config import LogConfig

__all__ = [
    "CSVLogger",
    "ConsoleLogger",
    "EpisodeInfoAggregator",
    "Logger",
    "MLflowLogger",
    "MultiLogger",
    "TensorBoardLogger",
    "check_sinks",
    "flatten_params",
    "format_number",
    "make_loggers",
    "metrics_columns",
    "read_metrics_csv",
    "summarize",
]


def __getattr__(name: str) -> object:
    # the optional sinks import their extras lazily; importing the classes themselves stays cheap
    if name == "MLflowLogger":
        from porcini.experiment.loggers.mlflow_logger import MLflowLogger

        return MLflowLogger
    if name == "TensorBoardLogger":
        from porcini.experiment.loggers.tensorboard_logger import TensorBoardLogger

        return TensorBoardLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_loggers(
    config: LogConfig,
    run_dir: str | os.PathLike[str],
    *,
    run_name: str | None = None,
    resume_step: int | None = None,
    mlflow_run_id: str | None = None,
    epochs_done: int = 0,
) -> MultiLogger:
    """Build the sinks named in ``config.sinks`` for a run directory, fanned out by a :class:`MultiLogger`.

    ``console`` prints to stderr, ``csv`` writes ``<run_dir>/metrics.csv``, ``tensorboard`` writes
    ``<run_dir>/tb``, ``mlflow`` logs to ``config.mlflow_tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else
    ``<run_dir>/mlflow.db``.

    Args:
        config: the run's logging section.
        run_dir: the run directory.
        run_name: MLflow run name.
        resume_step: continuing a run from a checkpoint at this env step: CSV rows after it are dropped and
            TensorBoard events after it hidden, since the steps after the checkpoint are trained again.
        mlflow_run_id: the MLflow run to continue when resuming (``MLflowLogger.run_id`` of the first
            session).
        epochs_done: epochs the run had completed at the checkpoint it resumes from; the console table's
            epoch number continues after them.

    Raises:
        SinkUnavailableError: a tracking server in ``config`` does not answer (:func:`check_sinks`).
    """
    from porcini.experiment.loggers.mlflow_logger import MLflowLogger
    from porcini.experiment.loggers.tensorboard_logger import TensorBoardLogger

    check_sinks(config)  # before any sink touches a file (resume truncates metrics.csv)
    run_dir = Path(run_dir)
    loggers: list[Logger] = []
    for sink in config.sinks:
        if sink == "console":
            loggers.append(ConsoleLogger(epochs_done=epochs_done))
        elif sink == "csv":
            csv_logger = CSVLogger(run_dir / "metrics.csv", resume=resume_step is not None)
            if resume_step is not None:
                csv_logger.truncate(resume_step)
            loggers.append(csv_logger)
        elif sink == "tensorboard":
            purge = None if resume_step is None else resume_step + 1
            loggers.append(TensorBoardLogger(run_dir / "tb", purge_step=purge))
        elif sink == "mlflow":
            loggers.append(
                MLflowLogger(
                    run_dir, tracking_uri=config.mlflow_tracking_uri, experiment=config.mlflow_experiment,
                    run_name=run_name, run_id=mlflow_run_id,
                )
            )
        else:
            raise ValueError(f"unknown logger sink {sink!r}; choose from console, csv, tensorboard, mlflow")
    return MultiLogger(loggers)


def check_sinks(config: LogConfig) -> None:
    """Fail fast when a remote sink that ``config`` asks for does not answer (a few seconds at most).

    Raises:
        SinkUnavailableError: the MLflow tracking server is down or unreachable (a ``ConfigError``).
    """
    if "mlflow" in config.sinks:
        from porcini.experiment.loggers.mlflow_logger import check_tracking_server, resolve_tracking_uri

        check_tracking_server(resolve_tracking_uri(config.mlflow_tracking_uri, ".")[0])
