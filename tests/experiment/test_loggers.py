from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from porcini.experiment.config import LogConfig
from porcini.experiment.loggers import (
    ConsoleLogger,
    CSVLogger,
    EpisodeInfoAggregator,
    Logger,
    MultiLogger,
    flatten_params,
    make_loggers,
    metrics_columns,
    summarize,
)


def test_summarize_matches_numpy_and_is_empty_without_values() -> None:
    values = np.random.default_rng(0).normal(size=17)
    stats = summarize("train/episode_return", values.tolist())
    assert stats == {
        "train/episode_return/mean": pytest.approx(np.mean(values)),
        "train/episode_return/std": pytest.approx(np.std(values)),
        "train/episode_return/min": values.min(),
        "train/episode_return/max": values.max(),
    }
    assert summarize("x", []) == {}


def test_flatten_params() -> None:
    nested = {"env": {"id": "E", "n_envs": 2, "wrappers": []}, "algo": {}, "seed": 0, "log": {"a": {"b": 1}}}
    assert flatten_params(nested) == {
        "env.id": "E", "env.n_envs": 2, "env.wrappers": [], "algo": {}, "seed": 0, "log.a.b": 1,
    }


METRICS = {
    "eval_return_mean": 21.5,
    **summarize("train/episode_return", [20.0, 23.0]),
    "loss/value": 0.0123,
    "time/steps_per_second": 12345.6,
}


def test_console_plain_table_groups_statistics_in_one_row() -> None:
    stream = io.StringIO()
    ConsoleLogger(stream, use_rich=False).log(METRICS, step=1000)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "epoch 1 | env_steps 1,000"
    row = next(line for line in lines if "train/episode_return" in line)
    assert [cell.strip() for cell in row.strip("|").split("|")] == ["train/episode_return", "21.5", "1.5", "20", "23"]
    assert any("time/steps_per_second" in line and "12345.6" in line for line in lines)
    assert len({len(line) for line in lines[1:]}) == 1  # every table line has the same width


def test_console_rich_table_and_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rich")
    logger = ConsoleLogger(use_rich=True)
    logger.log(METRICS, step=5)
    logger.log({"loss/value": 1.0}, step=10)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "epoch 1 | env_steps 5" in captured.err and "epoch 2 | env_steps 10" in captured.err
    row = next(line for line in captured.err.splitlines() if "train/episode_return" in line)
    assert "21.5" in row and "1.5" in row and "20" in row and "23" in row


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


def test_csv_columns_appearing_later_widen_the_header(tmp_path: Path) -> None:
    path = tmp_path / "run" / "metrics.csv"
    logger = CSVLogger(path)
    logger.log({"eval_return_mean": 10.0, "time/sps": 1.0 / 3.0}, step=100)
    logger.log({"eval_return_mean": 12.5, "time/sps": 2.0}, step=200)
    logger.log({"eval_return_mean": 15.0, "loss/value": 0.5}, step=300)  # a new column; time/sps missing
    header, rows = _read_csv(path)
    assert header == ["env_steps", "eval_return_mean", "time/sps", "loss/value"]
    assert [r["env_steps"] for r in rows] == ["100", "200", "300"]
    assert float(rows[0]["time/sps"]) == 1.0 / 3.0  # written exactly
    assert rows[0]["loss/value"] == "" and rows[2]["time/sps"] == ""
    assert float(rows[2]["loss/value"]) == 0.5
    logger.log({"eval_return_std": 1.0}, step=300)  # same step: merged into the last row
    header, rows = _read_csv(path)
    assert len(rows) == 3 and header[-1] == "eval_return_std" and rows[2]["eval_return_mean"] == "15.0"
    logger.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["metrics.csv"]  # no temporary files left
    columns = metrics_columns(path)
    assert columns["env_steps"] == [100, 200, 300]
    assert math.isnan(columns["loss/value"][0])


def test_csv_resume_keeps_rows_and_truncate_drops_later_ones(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    first = CSVLogger(path)
    for step in (10, 20, 30):
        first.log({"r": float(step)}, step=step)
    resumed = CSVLogger(path, resume=True)
    resumed.truncate(20)  # the checkpoint was at 20; step 30 is trained again
    resumed.log({"r": 31.0, "q": 1.0}, step=30)
    header, rows = _read_csv(path)
    assert header == ["env_steps", "r", "q"]
    assert [(r["env_steps"], r["r"]) for r in rows] == [("10", "10.0"), ("20", "20.0"), ("30", "31.0")]
    assert CSVLogger(path).rows == []  # without resume a new file starts


class Recorder(Logger):
    def __init__(self, fail_on_close: bool = False) -> None:
        self.calls: list[tuple] = []
        self.fail_on_close = fail_on_close

    def log(self, metrics, step):
        self.calls.append(("log", dict(metrics), step))

    def log_params(self, params):
        self.calls.append(("params", dict(params)))

    def log_artifact(self, path):
        self.calls.append(("artifact", path))

    def close(self):
        self.calls.append(("close",))
        if self.fail_on_close:
            raise RuntimeError("close failed")


def test_multilogger_fans_out_and_closes_all_even_when_one_fails() -> None:
    a, b, c = Recorder(), Recorder(fail_on_close=True), Recorder()
    multi = MultiLogger([a, b, c])
    multi.log({"x": 1.0}, 3)
    multi.log_params({"p": 1})
    multi.log_artifact("f.png")
    with pytest.raises(RuntimeError, match="close failed"):
        multi.close()
    for recorder in (a, b, c):
        assert recorder.calls == [("log", {"x": 1.0}, 3), ("params", {"p": 1}), ("artifact", "f.png"), ("close",)]


def _tb_scalars(log_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return accumulator


def test_tensorboard_events_read_back(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from porcini.experiment.loggers import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path / "tb")
    logger.log_params({"env": {"id": "CartPole-v1"}, "seed": 3})
    for step, value in [(1000, 9.5), (2000, 20.25), (3000, 200.0)]:
        logger.log({"eval_return_mean": value, "loss/value": value / 10}, step=step)
    logger.close()
    accumulator = _tb_scalars(tmp_path / "tb")
    assert set(accumulator.Tags()["scalars"]) == {"eval_return_mean", "loss/value"}
    events = accumulator.Scalars("eval_return_mean")
    assert [e.step for e in events] == [1000, 2000, 3000]
    assert [e.value for e in events] == [9.5, 20.25, 200.0]  # exact in float32
    assert [e.value for e in accumulator.Scalars("loss/value")] == pytest.approx([0.95, 2.025, 20.0], rel=1e-6)
    text = accumulator.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "id: CartPole-v1" in text and "seed: 3" in text


def test_tensorboard_purge_step_hides_events_logged_after_the_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from porcini.experiment.loggers import TensorBoardLogger

    first = TensorBoardLogger(tmp_path)
    for step in (1, 2, 3):
        first.log({"r": float(step)}, step=step)
    first.close()
    resumed = TensorBoardLogger(tmp_path, purge_step=3)  # checkpoint at step 2: step 3 is trained again
    resumed.log({"r": 30.0}, step=3)
    resumed.close()
    events = _tb_scalars(tmp_path).Scalars("r")
    assert [(e.step, e.value) for e in events] == [(1, 1.0), (2, 2.0), (3, 30.0)]


def test_missing_extras_raise_import_error_with_install_hint(tmp_path: Path, monkeypatch) -> None:
    from porcini.experiment.loggers import MLflowLogger, TensorBoardLogger

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r'pip install "porcini\[tensorboard\]"'):
        TensorBoardLogger(tmp_path)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ImportError, match=r'pip install "porcini\[mlflow\]"'):
        MLflowLogger(tmp_path)


def test_make_loggers_builds_the_configured_sinks_and_resumes(tmp_path: Path, capsys) -> None:
    pytest.importorskip("tensorboard")
    with make_loggers(LogConfig(sinks=("console", "csv", "tensorboard")), tmp_path) as logger:
        assert [type(x).__name__ for x in logger.loggers] == ["ConsoleLogger", "CSVLogger", "TensorBoardLogger"]
        logger.log({"eval_return_mean": 1.0}, step=10)
        logger.log({"eval_return_mean": 2.0}, step=20)
    assert "eval_return_mean" in capsys.readouterr().err
    assert (tmp_path / "metrics.csv").is_file() and any((tmp_path / "tb").iterdir())
    with make_loggers(LogConfig(sinks=("csv",)), tmp_path, resume_step=10) as logger:
        logger.log({"eval_return_mean": 3.0}, step=20)
    assert metrics_columns(tmp_path / "metrics.csv") == {"env_steps": [10, 20], "eval_return_mean": [1.0, 3.0]}


def _reference_episode_info(steps, n_envs):
    """Slow reference: walk each env's own per-step dicts (what the env emitted) episode by episode."""
    totals = [dict() for _ in range(n_envs)]
    episodes: dict[str, list[tuple[float, float]]] = {}
    for per_env, ended in steps:
        for i in range(n_envs):
            for key, value in per_env[i].items():
                totals[i].setdefault(key, []).append(value)
            if ended[i]:
                for key, values in totals[i].items():
                    episodes.setdefault(key, []).append((sum(values), sum(values) / len(values)))
                totals[i] = {}
    return {
        f"env/{key}/{name}": float(np.mean([e[j] for e in eps]))
        for key, eps in episodes.items()
        for j, name in enumerate(("episode_sum", "step_mean"))
    }


class InfoEnv(gym.Env):
    """Emits random reward components in info; episodes of random length, some terminated, some truncated."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.emitted: list[dict] = []  # ground truth, one dict per step, in order

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.length = 0, int(self.np_random.integers(1, 6))
        return np.zeros(1, np.float32), {"reset_marker": 1000.0}  # reset info must not count as a step

    def step(self, action):
        self.t += 1
        info = {"reward_ctrl": float(self.np_random.normal()), "flag": True, "vec": np.ones(3)}
        if self.np_random.random() < 0.5:
            info["sometimes"] = float(self.np_random.integers(0, 10))
        self.emitted.append({k: v for k, v in info.items() if k in ("reward_ctrl", "sometimes")})
        ended = self.t >= self.length
        terminated = ended and self.np_random.random() < 0.5
        return np.zeros(1, np.float32), 0.0, terminated, ended and not terminated, info


def test_episode_info_aggregation_through_a_real_vector_env_matches_a_per_env_reference() -> None:
    from porcini.envs import make_env

    n_envs = 3
    env = make_env(InfoEnv, n_envs=n_envs, seed=0, vectorization="sync", check=False)
    aggregator = EpisodeInfoAggregator(n_envs)
    inner = [e.unwrapped for e in env.envs]
    steps = []
    for _ in range(60):
        before = [len(e.emitted) for e in inner]
        _, _, terminated, truncated, info = env.step(np.zeros(n_envs, dtype=np.int64))
        aggregator.update(info, terminated, truncated)
        steps.append(([e.emitted[b] for e, b in zip(inner, before)], terminated | truncated))
    expected = _reference_episode_info(steps, n_envs)
    got = aggregator.metrics()
    assert set(got) == set(expected) == {
        "env/reward_ctrl/episode_sum", "env/reward_ctrl/step_mean",
        "env/sometimes/episode_sum", "env/sometimes/step_mean",
    }
    for key in expected:
        assert got[key] == pytest.approx(expected[key]), key
    assert aggregator.metrics() == {}  # reported episodes are forgotten


def test_episode_info_key_filter_and_prefix() -> None:
    aggregator = EpisodeInfoAggregator(2, keys=["a"], prefix="custom/")
    info = {"a": np.array([1.0, 2.0]), "b": np.array([5.0, 5.0]), "_a": np.array([True, False])}
    aggregator.update(info, np.array([False, False]), np.array([False, False]))
    aggregator.update(info, np.array([False, False]), np.array([True, True]))
    # env 0: one step of `a` counted (1.0); env 1: `a` was never present, so no episode for it
    # (at the ending step, the values live in final_info, which this info lacks)
    assert aggregator.metrics() == {"custom/a/episode_sum": 1.0, "custom/a/step_mean": 1.0}
