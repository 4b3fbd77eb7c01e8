import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.random import RandomAgent
from porcini.envs.diagnostics import EpisodeInfoStats


class InfoEnv(gym.Env):
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


def reference_records(envs):
    records = []
    for env in envs:
        for episode in env.log:
            record = {}
            for key, values in episode.items():
                if values:
                    record[f"{key}/sum"] = float(np.sum(values))
                    record[f"{key}/mean"] = float(np.mean(values))
            records.append(record)
    return records


def canonical(records):
    return sorted(tuple(sorted((k, round(v, 9)) for k, v in r.items())) for r in records)


@pytest.mark.parametrize("n_envs", [1, 3])
def test_per_episode_sums_and_means_match_each_envs_own_log(n_envs):
    env = make_env(InfoEnv, n_envs=n_envs, seed=0, vectorization="sync")
    stats = EpisodeInfoStats()
    Core(RandomAgent(env.info), env, callbacks=[stats], progress=False).learn(n_steps=600 * n_envs)
    expected = reference_records(env.envs)
    assert len(stats.episodes) == len(expected) > 50
    assert canonical(stats.episodes) == canonical(expected)


def test_pull_means_over_new_episodes_and_only_once():
    env = make_env(InfoEnv, n_envs=2, seed=1, vectorization="sync")
    stats = EpisodeInfoStats(keys=["a"])
    core = Core(RandomAgent(env.info), env, callbacks=[stats], progress=False)
    core.learn(n_steps=200)
    first = stats.pull()
    assert set(first) == {"env/a/sum", "env/a/mean"}
    assert first["env/a/sum"] == pytest.approx(np.mean([r["a/sum"] for r in stats.episodes]))
    assert stats.pull() == {}
    before = len(stats.episodes)
    core.learn(n_steps=200)
    second = stats.pull()
    assert second["env/a/mean"] == pytest.approx(np.mean([r["a/mean"] for r in stats.episodes[before:]]))


def test_update_without_core_and_n_envs_check():
    stats = EpisodeInfoStats(prefix="x/")
    info = {"v": np.array([1.0, 2.0]), "_v": np.array([True, False])}
    stats.update(info, np.array([False, False]))
    final = {"v": np.array([0.0, 5.0]), "_v": np.array([False, True])}
    stats.update({"v": np.array([9.0, 9.0]), "_v": np.array([True, True]), "final_info": final,
                  "_final_info": np.array([False, True])}, np.array([False, True]))
    # env 1 ended: its episode had only the final step's 5.0 (2.0 was masked out, 9.0 is the reset's)
    assert stats.episodes == [{"v/sum": 5.0, "v/mean": 5.0}]
    assert stats.pull() == {"x/v/sum": 5.0, "x/v/mean": 5.0}
    with pytest.raises(ValueError, match="envs"):
        stats.update(info, np.array([False, False, False]))
