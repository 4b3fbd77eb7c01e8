"""MLflowLogger against real MLflow stores: a SQLite file, and a real `mlflow server` on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from porcini.experiment.config import LogConfig
from porcini.experiment.loggers import make_loggers

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("mlflow") is None, reason="mlflow is not installed (pip install porcini[mlflow])"
    ),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # SQLAlchemy deprecations inside MLflow's store
]

CONFIG = {"algo_name": "ppo", "env": {"id": "CartPole-v1", "n_envs": 8, "wrappers": []}, "algo": {"gamma": 0.99}}


def _history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_sqlite_store_params_metrics_artifacts_status_and_resume(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from porcini.experiment.loggers import MLflowLogger

    run_dir = tmp_path / "ppo-CartPole-v1-s0"
    (run_dir / "plots").mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps({"eval_return_mean": 500.0}))
    (run_dir / "plots" / "curve.png").write_bytes(b"\x89PNG fake")
    logger = MLflowLogger(run_dir, run_name="ppo-CartPole-v1-s0", tags={"porcini.algo": "ppo"})
    assert logger.tracking_uri == f"sqlite:///{run_dir.resolve()}/mlflow.db"
    logger.log_params(CONFIG)
    logger.log({"eval_return_mean": 20.5, "loss/value": 1.25}, step=1000)
    logger.log({"eval_return_mean": 120.0}, step=2000)
    logger.log_artifact(run_dir / "summary.json")
    logger.log_artifact(run_dir / "plots")
    logger.close()
    assert (run_dir / "mlflow.db").is_file()

    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir / 'mlflow.db'}")
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "ppo-CartPole-v1-s0"
    assert run.data.tags["porcini.algo"] == "ppo"
    assert client.get_experiment(run.info.experiment_id).name == "porcini"
    assert run.data.params == {
        "algo_name": "ppo", "env.id": "CartPole-v1", "env.n_envs": "8", "env.wrappers": "[]",
        "algo.gamma": "0.99",
    }
    assert _history(client, logger.run_id, "eval_return_mean") == [(1000, 20.5), (2000, 120.0)]
    assert _history(client, logger.run_id, "loss/value") == [(1000, 1.25)]
    assert sorted(a.path for a in client.list_artifacts(logger.run_id)) == ["plots", "summary.json"]
    assert [a.path for a in client.list_artifacts(logger.run_id, "plots")] == ["plots/curve.png"]
    assert run.info.artifact_uri.startswith((run_dir / "mlartifacts").resolve().as_uri())
    downloaded = client.download_artifacts(logger.run_id, "summary.json", str(tmp_path))
    assert json.loads(Path(downloaded).read_text()) == {"eval_return_mean": 500.0}

    # resume: the same MLflow run continues; params it already has are kept, new ones added
    sinks = LogConfig(sinks=("mlflow",))
    with pytest.raises(RuntimeError), make_loggers(sinks, run_dir, mlflow_run_id=logger.run_id) as resumed:
        assert resumed.loggers[0].run_id == logger.run_id
        assert client.get_run(logger.run_id).info.status == "RUNNING"
        resumed.log_params({**CONFIG, "steps": 5000})
        resumed.log({"eval_return_mean": 300.0}, step=3000)
        raise RuntimeError("the run crashed")
    run = client.get_run(logger.run_id)
    assert run.info.status == "FAILED"
    assert run.data.params["steps"] == "5000" and run.data.params["env.n_envs"] == "8"
    assert _history(client, logger.run_id, "eval_return_mean")[-1] == (3000, 300.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """A real `mlflow server` on 127.0.0.1 with its stores in tmp_path; always stopped at teardown."""
    executable = shutil.which("mlflow") or f"{sys.executable} -m mlflow"
    port = _free_port()
    command = [
        *executable.split(), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(tmp_path / "server-artifacts"),
    ]
    log = (tmp_path / "server.log").open("wb")
    # own session: the server starts worker processes; teardown stops the whole group we started
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                log_text = (tmp_path / "server.log").read_text()
                pytest.fail(f"mlflow server exited with {process.returncode}: {log_text}")
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log_text = (tmp_path / "server.log").read_text()
                pytest.fail(f"mlflow server did not answer within 180 s: {log_text}")
            time.sleep(0.5)
        yield uri
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        log.close()


# starting the server takes 10-40 s (imports, schema migration) on a 2-core machine: worth it, it is the real thing
def test_real_tracking_server_round_trip(mlflow_server: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text('{"eval_return_mean": 42.0}')
    config = LogConfig(sinks=("mlflow",), mlflow_tracking_uri=mlflow_server, mlflow_experiment="porcini-test")
    with make_loggers(config, run_dir, run_name="dqn-CartPole-v1-s1") as logger:
        run_id = logger.loggers[0].run_id
        logger.log_params(CONFIG)
        logger.log({"eval_return_mean": 42.0, "time/steps_per_second": 900.0}, step=500)
        logger.log_artifact(run_dir / "summary.json")
    assert not (run_dir / "mlflow.db").exists()  # everything went to the server

    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "dqn-CartPole-v1-s1"
    assert client.get_experiment(run.info.experiment_id).name == "porcini-test"
    assert run.data.params["env.id"] == "CartPole-v1"
    assert _history(client, run_id, "eval_return_mean") == [(500, 42.0)]
    assert [a.path for a in client.list_artifacts(run_id)] == ["summary.json"]
    stored = list((tmp_path / "server-artifacts").rglob("summary.json"))  # proxied to the server's store
    assert len(stored) == 1 and stored[0].read_text() == '{"eval_return_mean": 42.0}'


def test_resume_with_new_steps_keeps_the_param_and_tags_the_current_value(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from porcini.experiment.checkpoint import load_checkpoint
    from porcini.experiment.experiment import Experiment
    from porcini.experiment.launch import resolve

    config = resolve("q_learning", "FrozenLake-v1", None, ["steps=400", "steps_per_epoch=200", "eval_episodes=2",
                                                           "log.sinks=[csv,mlflow]", f"out={tmp_path}"])
    run_dir = Path(Experiment.start(config).train().extra["run_dir"])
    run_id = load_checkpoint(run_dir / "checkpoints" / "last.pt")["mlflow_run_id"]
    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir / 'mlflow.db'}")

    def steps() -> tuple[str, str | None]:
        data = client.get_run(run_id).data
        return data.params["steps"], data.tags.get("current.steps")

    Experiment.resume(run_dir).train()
    assert steps() == ("400", None)  # nothing changed: no tag
    Experiment.resume(run_dir, steps=600).train()
    assert steps() == ("400", "600")  # the param is immutable; the tag shows the budget the run now trains to
    Experiment.resume(run_dir, steps=800).train()
    assert steps() == ("400", "800")
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["mlflow_run_id"] == run_id  # one MLflow run
