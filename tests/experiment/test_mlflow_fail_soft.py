"""MLflow is an optional sink: a server down at start is a one-line error, one lost mid-run never stalls training.

Fault injection with real sockets: a port where nothing listens, and a small fake tracking server on 127.0.0.1
that speaks enough of MLflow's REST API for the real client and goes away in the middle of a run.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from porcini.experiment.config import LogConfig
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import check_sinks, make_loggers
from porcini.experiment.loggers.background import BackgroundCalls

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow is not installed"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # SQLAlchemy deprecations inside MLflow's store
]


@pytest.fixture(autouse=True)
def _own_mlflow_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test without MLflow variables and undo the ones MLflowLogger sets."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def _dead_uri() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # closed again: nothing listens there


def test_a_server_down_at_start_is_one_line_and_exit_2_before_anything_is_created(tmp_path: Path) -> None:
    uri = _dead_uri()
    out = tmp_path / "runs"
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "porcini", "train", "q_learning", "FrozenLake-v1", "--steps", "1000", "--set",
         "log.sinks=[csv,mlflow]", "--set", f"log.mlflow_tracking_uri={uri}", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=120)
    assert time.monotonic() - start < 30  # seconds of start-up, not minutes of retries
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"Error: the MLflow tracking server {uri} is unreachable")
    assert not out.exists() or not any(out.iterdir())  # no run directory


def test_the_environment_variable_is_checked_too_and_a_failed_resume_keeps_its_metrics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from porcini.experiment.loggers.mlflow_logger import SinkUnavailableError

    monkeypatch.setenv("MLFLOW_TRACKING_URI", _dead_uri())
    with pytest.raises(SinkUnavailableError, match="is unreachable"):
        check_sinks(LogConfig(sinks=("csv", "mlflow")))
    config = resolve("q_learning", "FrozenLake-v1", None,
                     ["steps=2000", "steps_per_epoch=500", "log.sinks=[csv]", f"out={tmp_path}"])
    run = Experiment.start(config, progress=False)
    run.train()
    config_file = run.run_dir.path / "config.yaml"
    config_file.write_text(config_file.read_text().replace("- csv", "- csv\n  - mlflow"))
    metrics = (run.run_dir.path / "metrics.csv").read_text()
    with pytest.raises(SinkUnavailableError):
        Experiment.resume(run.run_dir.path, steps=4000)
    assert (run.run_dir.path / "metrics.csv").read_text() == metrics


class _FakeTrackingServer:
    """Enough of MLflow's REST API for MlflowClient; stops listening after ``metric_calls`` metric batches."""

    def __init__(self, metric_calls: int) -> None:
        self.metric_calls, self.received = metric_calls, 0
        run_info = {"run_id": "r1", "run_uuid": "r1", "experiment_id": "1", "run_name": "run", "status": "RUNNING",
                    "start_time": 1, "artifact_uri": "mlflow-artifacts:/1/r1", "lifecycle_stage": "active"}
        experiment = {"experiment_id": "1", "name": "porcini", "lifecycle_stage": "active"}
        replies = {"/health": "OK", "/api/2.0/mlflow/experiments/get-by-name": {"experiment": experiment},
                   "/api/2.0/mlflow/runs/get": {"run": {"info": run_info, "data": {}}},
                   "/api/2.0/mlflow/runs/create": {"run": {"info": run_info, "data": {}}},
                   "/api/2.0/mlflow/runs/update": {"run_info": run_info}}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(replies.get(self.path.split("?")[0], {}))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                self._reply(replies.get(self.path, {}))
                if body.get("metrics"):
                    server.received += 1
                    if server.received == server.metric_calls:
                        threading.Thread(target=server.stop).start()

            def _reply(self, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()  # the port refuses connections from now on


@pytest.fixture
def lost_server() -> Iterator[_FakeTrackingServer]:
    server = _FakeTrackingServer(metric_calls=1)
    yield server
    if server.received < server.metric_calls:
        server.stop()


def test_a_server_lost_mid_run_neither_stops_nor_stalls_training(
        tmp_path: Path, lost_server: _FakeTrackingServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from porcini.experiment.loggers import MLflowLogger

    monkeypatch.setattr(MLflowLogger, "close_timeout_s", 2.0)
    config = resolve("q_learning", "FrozenLake-v1", None, [
        "steps=5000", "steps_per_epoch=1000", "log.sinks=[csv,mlflow]", f"log.mlflow_tracking_uri={lost_server.uri}",
        "eval_episodes=2", f"out={tmp_path}"])
    run = Experiment.start(config, progress=False)
    start = time.monotonic()
    summary = run.train()
    elapsed = time.monotonic() - start
    assert lost_server.received == 1  # the server answered the first epoch's metrics, then was gone
    assert summary.env_steps == 5000 and (run.run_dir.path / "summary.json").is_file()
    steps = [line.split(",")[0] for line in (run.run_dir.path / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == ["1000", "2000", "3000", "4000", "5000"]
    assert (run.run_dir.checkpoints / "last.pt").is_file()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 2, warnings
    assert f"MLflow at {lost_server.uri} failed" in warnings[0] and "training" in warnings[0]
    assert "not logged: metrics at 4 step(s) (2000 to 5000)" in warnings[1] and "run status FINISHED" in warnings[1]
    assert elapsed < 30  # training plus at most close_timeout_s: no MLflow retry stalls it


def test_calls_that_hang_never_block_the_caller_and_close_is_bounded() -> None:
    released = threading.Event()
    calls = BackgroundCalls("a sink", lambda error: True)
    start = time.monotonic()
    calls.submit("metrics at step 1", lambda: released.wait(60))
    calls.submit("metrics at step 2", lambda: None)
    assert time.monotonic() - start < 0.5
    assert calls.close(timeout=0.5) == ["metrics at step 1", "metrics at step 2"]
    assert time.monotonic() - start < 2
    released.set()


def test_mlflow_tracking_uri_is_honoured_and_the_config_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mlflow.tracking import MlflowClient

    from porcini.experiment.loggers.mlflow_logger import resolve_tracking_uri

    from_env = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", from_env)
    run_dir = tmp_path / "run"
    with make_loggers(LogConfig(sinks=("mlflow",)), run_dir) as logger:
        logger.log({"eval_return_mean": 7.0}, step=100)
        run_id = logger.loggers[0].run_id
    history = MlflowClient(tracking_uri=from_env).get_metric_history(run_id, "eval_return_mean")
    assert [(m.step, m.value) for m in history] == [(100, 7.0)]
    assert not (run_dir / "mlflow.db").exists()
    assert f"porcini: MLflow run {run_id} at {from_env} (from MLFLOW_TRACKING_URI)" in capsys.readouterr().err
    assert resolve_tracking_uri("http://tracking:5000", run_dir) == ("http://tracking:5000", "log.mlflow_tracking_uri")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert resolve_tracking_uri(None, run_dir) == (f"sqlite:///{run_dir.resolve()}/mlflow.db", "default")
