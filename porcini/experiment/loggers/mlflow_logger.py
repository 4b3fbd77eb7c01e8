"""MLflow tracking (extra ``porcini[mlflow]``): a local SQLite store by default, or a tracking server.

MLflow is an optional sink: it must never stop or stall training. A tracking server that does not answer at
start is an error before anything trains (:class:`SinkUnavailableError`, a short timeout); once the run is
created, every call goes through a background thread (:class:`~porcini.experiment.loggers.background.
BackgroundCalls`) that buffers and retries, and ``close`` waits at most :attr:`MLflowLogger.close_timeout_s`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from porcini.errors import ConfigError, missing_extra
from porcini.experiment.loggers.background import BackgroundCalls, describe_lost
from porcini.experiment.loggers.base import Logger, flatten_params

# MLflow's per-request limits (mlflow.utils.validation): metrics and params per log_batch, param value length
_METRICS_PER_BATCH = 1000
_PARAMS_PER_BATCH = 100
_PARAM_VALUE_LENGTH = 6000


_UNSAFE_NAME = re.compile(r"[^\w.\- :/]")


def mlflow_name(key: str) -> str:
    """``key`` as a metric or param name that MLflow takes (other sinks keep ``key`` as it is).

    Characters other than letters, digits, ``_ - . : /`` and spaces become ``_``, and so do empty, ``.`` and
    ``..`` path segments: ``env/cost[0]/step_mean`` is ``env/cost_0_/step_mean``. MLflow refuses a whole batch
    over one name it does not allow.
    """
    return "/".join("_" if part in ("", ".", "..") else part for part in _UNSAFE_NAME.sub("_", key).split("/"))


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


# MLflow's HTTP client retries 7 times with exponential backoff and waits 120 s per request by default: minutes
# per call against a lost server, and a log line per retry. porcini retries in its background thread instead;
# these bounds apply unless the user set the variables.
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
REACHABILITY_TIMEOUT_S = 5.0


class SinkUnavailableError(ConfigError):
    """A logging sink that the config asks for cannot be reached at the start of a run."""


def resolve_tracking_uri(tracking_uri: str | None, run_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """The tracking URI and where it came from: the config, else ``MLFLOW_TRACKING_URI``, else the run's SQLite."""
    if tracking_uri:
        return tracking_uri, "log.mlflow_tracking_uri"
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"], "MLFLOW_TRACKING_URI"
    return default_tracking_uri(run_dir), "default"


def check_tracking_server(uri: str, timeout: float = REACHABILITY_TIMEOUT_S) -> None:
    """For an ``http(s)`` URI, GET the server's ``/health`` within ``timeout`` seconds; other stores are local.

    Raises:
        SinkUnavailableError: no answer, or a server error (5xx), within the timeout.
    """
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return
    except urllib.error.HTTPError as err:
        if err.code < 500:  # it answers: authentication and the rest are the MLflow client's business
            return
        problem = f"answered HTTP {err.code} at {url}"
    except (OSError, ValueError) as err:  # URLError, refused, timeout, bad host
        problem = f"is unreachable ({getattr(err, 'reason', err)}; GET {url}, timeout {timeout:g} s)"
    raise SinkUnavailableError(
        f"the MLflow tracking server {uri} {problem}; start it, fix log.mlflow_tracking_uri / MLFLOW_TRACKING_URI, "
        "or drop mlflow from log.sinks"
    )


def _is_transient(error: Exception) -> bool:
    """A lost connection or a server error is retried; a request MLflow refuses (4xx) is not."""
    status = getattr(error, "get_http_status_code", None)
    return status is None or int(status()) >= 500


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

    The URI is the argument, else the ``MLFLOW_TRACKING_URI`` environment variable, else the run's SQLite store;
    one line on stderr names the run and the URI. MLflow's other environment variables (credentials, TLS) are
    read by its client.

    Raises:
        MissingExtraError: mlflow is not installed (an ImportError naming ``pip install "porcini[mlflow]"``).
        SinkUnavailableError: the tracking server does not answer, or refuses to start or continue the run.
    """

    close_timeout_s = 10.0
    """How long ``close`` waits for buffered calls before giving up with a warning."""

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
        for name, value in _HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        self.tracking_uri, source = resolve_tracking_uri(tracking_uri, run_dir)
        check_tracking_server(self.tracking_uri)
        self.client = client_cls(tracking_uri=self.tracking_uri)
        try:
            self.run_id = self._start_run(run_dir, source == "default", experiment, run_name, run_id, tags)
        except Exception as err:  # noqa: BLE001 - any failure here means the sink is unusable
            text = " ".join(str(err).split())[:300]
            raise SinkUnavailableError(
                f"MLflow at {self.tracking_uri} could not {'continue run ' + run_id if run_id else 'start a run'} "
                f"({type(err).__name__}: {text}); fix the tracking URI or drop mlflow from log.sinks"
            ) from err
        print(f"porcini: MLflow run {self.run_id} at {self.tracking_uri} (from {source})", file=sys.stderr)
        self._calls = BackgroundCalls(f"MLflow at {self.tracking_uri}", _is_transient)
        self._closed = False

    def _start_run(self, run_dir: str | os.PathLike[str], local: bool, experiment: str, run_name: str | None,
                   run_id: str | None, tags: Mapping[str, str] | None) -> str:
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        artifacts = (Path(run_dir).resolve() / "mlartifacts").as_uri() if local else None
        experiment_id = self._experiment_id(experiment, artifacts)
        return str(self.client.create_run(experiment_id, run_name=run_name, tags=dict(tags or {})).info.run_id)

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
        """Queue every metric at ``step``, named by :func:`mlflow_name` (sent in batches by the background thread)."""
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        batch = [Metric(mlflow_name(key), float(value), timestamp, int(step)) for key, value in metrics.items()]

        def send() -> None:
            for start in range(0, len(batch), _METRICS_PER_BATCH):
                self.client.log_batch(self.run_id, metrics=batch[start : start + _METRICS_PER_BATCH])

        self._calls.submit(f"metrics at step {int(step)}", send)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Queue the flattened config (``env.n_envs``) as params; keys named by :func:`mlflow_name`.

        MLflow params are immutable strings: a resumed run keeps its first values, and a value that differs from
        its param (``steps`` after ``porcini resume --steps N``, a ``config.yaml`` edited before a resume) is set
        as the run tag ``current.<key>``, which later resumes keep up to date.
        """
        flat_params = {mlflow_name(k): _param_value(v) for k, v in flatten_params(params).items()}

        def send() -> None:
            from mlflow.entities import Param, RunTag

            data = self.client.get_run(self.run_id).data
            new = [Param(k, v) for k, v in flat_params.items() if k not in data.params]
            current = [RunTag(f"current.{k}", v) for k, v in flat_params.items() if k in data.params
                       and (v != data.params[k] or f"current.{k}" in data.tags)]
            for start in range(0, max(len(new), len(current)), _PARAMS_PER_BATCH):
                self.client.log_batch(self.run_id, params=new[start : start + _PARAMS_PER_BATCH],
                                      tags=current[start : start + _PARAMS_PER_BATCH])

        self._calls.submit("params", send)

    def log_artifact(self, path: str | os.PathLike[str]) -> None:
        """Queue the upload of a file (or every file of a directory) to the run's artifacts."""
        path = Path(path)

        def send() -> None:
            if path.is_dir():
                self.client.log_artifacts(self.run_id, str(path), artifact_path=path.name)
            else:
                self.client.log_artifact(self.run_id, str(path))

        self._calls.submit(f"artifact {path.name}", send)

    def close(self, status: str = "FINISHED") -> None:
        """End the run with ``status`` (``FINISHED``, ``FAILED`` or ``KILLED``); later calls do nothing.

        Waits at most :attr:`close_timeout_s` for the buffered calls, then warns on stderr what was not logged.
        """
        if self._closed:
            return
        self._closed = True
        self._calls.submit(f"run status {status}", lambda: self.client.set_terminated(self.run_id, status=status))
        lost = self._calls.close(self.close_timeout_s)
        if lost:
            print(f"porcini: warning: MLflow at {self.tracking_uri} (waited up to {self.close_timeout_s:g} s at "
                  f"close): not logged: {describe_lost(lost)}", file=sys.stderr, flush=True)

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
