"""Episode-info statistics: the aggregator as a Core callback, and the env/ columns of an experiment's metrics.csv."""

import math

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.random import RandomAgent
from porcini.experiment.envs import resumable_base
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import EpisodeInfoAggregator, metrics_columns


class LoggingInfoEnv(gym.Env):
    """Random-length episodes with numeric info; keeps its own per-episode ground truth in ``log``.

    ``a`` is reported every step, ``b`` on some steps only; the reset info carries an ``a`` that is not a step.
    """

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.log = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.left = int(self.np_random.integers(1, 8))
        self.current = {"a": [], "b": []}
        return np.zeros(1, dtype=np.float32), {"a": 1000.0}

    def step(self, action):
        info = {"a": float(self.np_random.normal())}
        if self.np_random.random() < 0.5:
            info["b"] = int(self.np_random.integers(0, 10))
        for key, value in info.items():
            self.current[key].append(value)
        self.left -= 1
        ended = self.left == 0
        terminated = ended and bool(self.np_random.random() < 0.5)
        if ended:
            self.log.append(self.current)
        return np.zeros(1, dtype=np.float32), 0.0, terminated, ended and not terminated, info


@pytest.mark.parametrize("n_envs", [1, 3])
def test_as_a_core_callback_every_episode_matches_the_envs_own_log(n_envs):
    env = make_env(LoggingInfoEnv, n_envs=n_envs, seed=0, vectorization="sync", check=False)
    aggregator = EpisodeInfoAggregator(n_envs)
    Core(RandomAgent(env.info), env, callbacks=[aggregator], progress=False).learn(steps=600 * n_envs)
    got = aggregator.ended_episodes()
    for key in ("a", "b"):
        expected = [(sum(e[key]), sum(e[key]) / len(e[key])) for inner in env.envs for e in inner.unwrapped.log
                    if e[key]]
        assert len(got[key]) == len(expected) > 50
        np.testing.assert_allclose(sorted(got[key]), sorted(expected), rtol=1e-12, atol=1e-12)
    assert aggregator.metrics()["env/a/episode_sum"] == pytest.approx(np.mean([s for s, _ in got["a"]]))
    assert aggregator.ended_episodes() == {}


def test_a_step_over_another_number_of_envs_is_refused():
    aggregator = EpisodeInfoAggregator(2)
    with pytest.raises(ValueError, match="built for 2 envs, a step has 3"):
        aggregator.update({"a": np.zeros(3)}, np.zeros(3, dtype=bool), np.zeros(3, dtype=bool))


def record_steps(env):
    """Wrap ``env.step`` (an env of the vector, its wrappers included) to log ``(info["cost"], episode ended)``."""
    log = []
    step = env.step

    def recording_step(action):
        obs, reward, terminated, truncated, info = step(action)
        log.append((float(info["cost"]), bool(terminated or truncated)))
        return obs, reward, terminated, truncated, info

    env.step = recording_step
    return log


def test_point_hazard_run_logs_the_mean_episode_cost_of_each_epoch(tmp_path):
    n_envs, steps_per_epoch, epochs = 2, 2000, 3  # seeds 1-3 enter the hazard within it; 0 does not
    config = resolve("random", "porcini/PointHazard-v0", None, [
        f"steps={steps_per_epoch * epochs}", f"steps_per_epoch={steps_per_epoch}", "log.sinks=[csv]",
        f"out={tmp_path}", "eval_episodes=2", f"env.n_envs={n_envs}", "env.vectorization=sync", "seed=1"])
    experiment = Experiment.start(config, progress=False)
    logs = [record_steps(env) for env in resumable_base(experiment.env).envs]
    experiment.train()

    # independent: each env's own costs, summed per episode, grouped by the epoch its episode ended in
    vector_steps_per_epoch = steps_per_epoch // n_envs
    sums: list[list[float]] = [[] for _ in range(epochs)]
    means: list[list[float]] = [[] for _ in range(epochs)]
    for log in logs:
        assert len(log) == vector_steps_per_epoch * epochs
        episode: list[float] = []
        for t, (cost, ended) in enumerate(log):
            episode.append(cost)
            if ended:
                sums[t // vector_steps_per_epoch].append(sum(episode))
                means[t // vector_steps_per_epoch].append(sum(episode) / len(episode))
                episode = []
    columns = metrics_columns(experiment.run_dir.path / "metrics.csv")
    assert {"env/cost/episode_sum", "env/cost/step_mean", "env/distance_to_goal/step_mean"} <= set(columns)
    assert any(s > 0 for epoch in sums for s in epoch), "the random walk never entered the hazard: a weak test"
    for k in range(epochs):
        expected_sum = np.mean(sums[k]) if sums[k] else math.nan
        expected_mean = np.mean(means[k]) if means[k] else math.nan
        assert columns["env/cost/episode_sum"][k] == pytest.approx(expected_sum, nan_ok=True)
        assert columns["env/cost/step_mean"][k] == pytest.approx(expected_mean, nan_ok=True)


def test_a_checkpoint_anywhere_in_an_episode_gives_the_sums_of_the_straight_run_bit_for_bit():
    rng = np.random.default_rng(5)
    steps = 40
    values = rng.normal(size=(steps, 2)) * 10.0 ** rng.integers(-8, 8, size=(steps, 2))  # sums that round
    ends = np.zeros((steps, 2), dtype=bool)
    ends[[17, 39], 0] = ends[[25, 39], 1] = True

    def feed(agg, rows):
        for t in rows:
            info = {"x": values[t]}
            if ends[t].any():
                info = {"x": np.where(ends[t], 0.0, values[t]),
                        "final_info": {"x": values[t], "_x": ends[t]}}
            agg.update(info, ends[t], np.zeros(2, dtype=bool))

    straight = EpisodeInfoAggregator(n_envs=2)
    feed(straight, range(steps))
    expected = straight.ended_episodes()
    for split in range(1, steps):
        first = EpisodeInfoAggregator(n_envs=2)
        feed(first, range(split))
        resumed = EpisodeInfoAggregator(n_envs=2)
        resumed.load_state_dict(first.state_dict())
        feed(resumed, range(split, steps))
        assert resumed.ended_episodes() == expected, f"checkpoint after step {split}"
