"""MLflow tracking (extra ``porcini[mlflow]``): a local SQLite store by default, or a tracking server."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from porcini.core.errors import missing_extra
from porcini.experiment.loggers.base import Logger, flatten_params

# MLflow's per-request limits (mlflow.utils.validation): metrics and params per log_batch, param value length
_METRICS_PER_BATCH = 1000
_PARAMS_PER_BATCH = 100
_PARAM_VALUE_LENGTH = 6000


def _import_mlflow() -> Any:
    try:
        import mlflow  # noqa: F401 - fail here with an install hint rather than deep inside
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise missing_extra("the mlflow logger", "mlflow", exc) from exc
    return MlflowClient


def default_tracking_uri(run_dir: str | os.PathLike[str]) -> str:
    """Return the SQLite tracking URI of a run directory: ``sqlite:///<absolute run_dir>/mlflow.db``."""
    return f"sqlite:///{Path(run_dir).resolve() / 'mlflow.db'}"


class MLflowLogger(Logger):
    """Log a run to MLflow with ``MlflowClient``: params = flattened config, metrics per epoch, files.

    The client is used directly, not MLflow's global "active run", so several runs can log in one process.
    With the default SQLite store the experiment's artifacts go to ``<run_dir>/mlartifacts``; with a server,
    the server decides where (``mlflow server --artifacts-destination``).

    Args:
        run_dir: the porcini run directory (holds ``mlflow.db`` and ``mlartifacts/`` by default).
        tracking_uri: ``http://host:port`` of a tracking server, or any MLflow store URI; None means
            :func:`default_tracking_uri`.
        experiment: experiment name; created when missing.
        run_name: display name of the MLflow run (e.g. ``ppo-CartPole-v1-s0``).
        run_id: continue this MLflow run (resume) instead of creating one; keep :attr:`run_id` in the
            checkpoint for that.
        tags: extra run tags.

    Raises:
        MissingExtraError: mlflow is not installed (an ImportError naming ``pip install "porcini[mlflow]"``).
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        tracking_uri: str | None = None,
        experiment: str = "porcini",
        run_name: str | None = None,
        run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        client_cls = _import_mlflow()
        for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):  # schema set-up chatter on stderr
            logging.getLogger(name).setLevel(logging.WARNING)
        self.tracking_uri = tracking_uri or default_tracking_uri(run_dir)
        self.client = client_cls(tracking_uri=self.tracking_uri)
        if run_id is not None:
            self.run_id = run_id
            self.client.update_run(run_id, status="RUNNING")
        else:
            local = tracking_uri is None
            artifacts = (Path(run_dir).resolve() / "mlartifacts").as_uri() if local else None
            experiment_id = self._experiment_id(experiment, artifacts)
            run = self.client.create_run(experiment_id, run_name=run_name, tags=dict(tags or {}))
            self.run_id = run.info.run_id
        self._closed = False

    def _experiment_id(self, name: str, artifact_location: str | None) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException:  # another seed's process created it between our two calls
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Log every metric at ``step`` in batched requests."""
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        batch = [Metric(key, float(value), timestamp, int(step)) for key, value in metrics.items()]
        for start in range(0, len(batch), _METRICS_PER_BATCH):
            self.client.log_batch(self.run_id, metrics=batch[start : start + _METRICS_PER_BATCH])

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log the flattened config (``env.n_envs``); keys the run already has are skipped (resume).

        MLflow params are immutable strings: a resumed run keeps its first values.
        """
        from mlflow.entities import Param

        existing = self.client.get_run(self.run_id).data.params
        flat = {k: _param_value(v) for k, v in flatten_params(params).items() if k not in existing}
        batch = [Param(k, v) for k, v in flat.items()]
        for start in range(0, len(batch), _PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=batch[start : start + _PARAMS_PER_BATCH])

    def log_artifact(self, path: str | os.PathLike[str]) -> None:
        """Upload a file (or every file of a directory) to the run's artifacts."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path=path.name)
        else:
            self.client.log_artifact(self.run_id, str(path))

    def close(self, status: str = "FINISHED") -> None:
        """End the run with ``status`` (``FINISHED``, ``FAILED`` or ``KILLED``); later calls do nothing."""
        if not self._closed:
            self.client.set_terminated(self.run_id, status=status)
            self._closed = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.close("KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")


def _param_value(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= _PARAM_VALUE_LENGTH else text[: _PARAM_VALUE_LENGTH - 3] + "..."
