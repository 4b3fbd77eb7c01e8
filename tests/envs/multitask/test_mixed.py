import gymnasium as gym
import numpy as np
import pytest

from porcini import Core
from porcini.core import BaseAgent
from porcini.envs.mixed import MixedVectorEnv, make_mixed_env, split_counts
from porcini.errors import EnvCheckError
from porcini.seeding import env_reset_seeds


def real_cartpole():
    """CartPole with other physics, standing in for the real system."""
    env = gym.make("CartPole-v1", disable_env_checker=True)
    env.unwrapped.gravity = 12.0
    env.unwrapped.masscart = 1.5
    env.unwrapped.total_mass = env.unwrapped.masscart + env.unwrapped.masspole
    return env


SOURCES = {"sim": ("CartPole-v1", 3), "real": (real_cartpole, 2)}


def test_labels_ids_and_physics_per_index():
    env = make_mixed_env(SOURCES, seed=0)
    assert isinstance(env, MixedVectorEnv) and env.num_envs == 5
    assert env.source_labels == ["sim"] * 3 + ["real"] * 2
    assert env.source_names == ["sim", "real"]
    np.testing.assert_array_equal(env.source_ids, [0, 0, 0, 1, 1])
    gravities = [e.unwrapped.gravity for e in env.envs]
    assert gravities == [9.8] * 3 + [12.0] * 2
    assert env.info.env_id == "mixed[sim,real]" and env.info.n_envs == 5 and env.info.horizon == 500


def test_source_in_info_at_reset_and_every_step():
    env = make_mixed_env(SOURCES, seed=0)
    _, info = env.reset(seed=1)
    np.testing.assert_array_equal(info["source"], [0, 0, 0, 1, 1])
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(300):
        *_, terminated, truncated, info = env.step(rng.integers(0, 2, size=5))
        np.testing.assert_array_equal(info["source"], [0, 0, 0, 1, 1])
        assert info["_source"].all()
        ended += int((terminated | truncated).sum())
    assert ended > 10


def test_reset_seeds_follow_make_env_per_index():
    env = make_mixed_env(SOURCES)
    obs, _ = env.reset(seed=10)
    factories = [lambda: gym.make("CartPole-v1")] * 3 + [real_cartpole] * 2
    expected = np.stack([f().reset(seed=s)[0] for s, f in zip(env_reset_seeds(10, 5), factories)])
    np.testing.assert_array_equal(obs, expected)


class RecordingAgent(BaseAgent):
    fit_every_steps = 50

    def __init__(self, info):
        self.batches = []
        self.rng = np.random.default_rng(0)

    def act(self, obs, *, explore):
        return self.rng.integers(0, 2, size=len(obs))

    def fit(self, batch):
        self.batches.append(batch)
        return {}


def test_batch_extras_source_matches_the_layout_through_core():
    env = make_mixed_env(SOURCES, seed=0)
    agent = RecordingAgent(env.info)
    Core(agent, env, info_keys=("source",), progress=False).learn(steps=50 * 5 * 3)
    assert len(agent.batches) >= 3
    for batch in agent.batches:
        source = batch.extras["source"]
        assert source.shape == batch.reward.shape
        np.testing.assert_array_equal(source, np.broadcast_to(env.source_ids, source.shape))
        # and the rows really come from those sources: the next cart velocity fits that source's physics
        within = ~(batch.terminated | batch.truncated)
        for physics, sid in ((SIM, 0), (REAL, 1)):
            rows = within & (source == sid)
            predicted = cart_velocity_after(batch.obs[rows].astype(np.float64), batch.action[rows], physics)
            other = cart_velocity_after(batch.obs[rows].astype(np.float64), batch.action[rows], REAL if sid == 0
                                        else SIM)
            actual = batch.next_obs[rows][:, 1]
            assert rows.sum() > 10
            np.testing.assert_allclose(predicted, actual, atol=1e-5)
            assert np.abs(other - actual).min() > 1e-3


SIM = {"gravity": 9.8, "masscart": 1.0}
REAL = {"gravity": 12.0, "masscart": 1.5}


def cart_velocity_after(obs, action, physics):
    """CartPole's x_dot after one Euler step (Florian 2007), for rows of obs [N, 4] and actions [N]."""
    theta, theta_dot, x_dot = obs[:, 2], obs[:, 3], obs[:, 1]
    force = np.where(action == 1, 10.0, -10.0)
    masspole, length, total = 0.1, 0.5, 0.1 + physics["masscart"]
    cos, sin = np.cos(theta), np.sin(theta)
    temp = (force + masspole * length * theta_dot**2 * sin) / total
    thetaacc = (physics["gravity"] * sin - cos * temp) / (length * (4.0 / 3.0 - masspole * cos**2 / total))
    xacc = temp - masspole * length * thetaacc * cos / total
    return x_dot + 0.02 * xacc


def test_spaces_must_match():
    with pytest.raises(EnvCheckError, match="'real' has Box"):
        make_mixed_env({"sim": ("CartPole-v1", 1), "real": ("Acrobot-v1", 1)})


def test_bad_sources():
    with pytest.raises(ValueError, match="at least one source"):
        make_mixed_env({})
    with pytest.raises(ValueError, match="n_envs >= 0"):
        make_mixed_env({"sim": "CartPole-v1"})
    with pytest.raises(ValueError, match="no env"):
        make_mixed_env({"sim": ("CartPole-v1", 0)})


def test_spawn_keeps_proportions_and_ids():
    env = make_mixed_env(SOURCES, seed=0)
    same = env.spawn(5, 1)
    assert same.source_labels == env.source_labels
    small = env.spawn(2, 1)
    assert small.source_labels == ["sim", "real"] and small.source_ids.tolist() == [0, 1]
    one = env.spawn(1, 1)
    assert one.source_labels == ["sim"] and one.source_names == ["sim", "real"]
    assert split_counts([3, 2], 10) == [6, 4] and split_counts([1, 1, 1], 4) == [2, 1, 1]
    assert sum(split_counts([5, 3, 1], 7)) == 7


def test_vector_wrappers_keep_the_labels():
    env = make_mixed_env(SOURCES, seed=0, wrappers=[gym.wrappers.vector.RecordEpisodeStatistics])
    assert isinstance(env, gym.wrappers.vector.RecordEpisodeStatistics)
    assert env.source_labels == ["sim"] * 3 + ["real"] * 2
    *_, info = env.step(np.zeros(5, dtype=np.int64))
    np.testing.assert_array_equal(info["source"], [0, 0, 0, 1, 1])


def test_horizon_is_the_longest_time_limit():
    def short():
        return gym.make("CartPole-v1", max_episode_steps=200, disable_env_checker=True)

    assert make_mixed_env({"sim": (short, 1), "real": ("CartPole-v1", 1)}).info.horizon == 500
    assert make_mixed_env({"sim": (short, 1), "real": (short, 1)}).info.horizon == 200
