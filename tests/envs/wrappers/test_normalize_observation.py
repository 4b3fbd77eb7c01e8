import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from porcini import Core, make_env
from porcini.envs.wrappers import FlattenObservation, NormalizeObservation, RunningMeanStd

EPS = 1e-8


def test_running_stats_equal_numpy_on_uneven_batches():
    rng = np.random.default_rng(0)
    stats = RunningMeanStd(shape=(3, 2))
    seen = []
    for size in [1, 5, 0, 17, 2, 64, 1]:
        batch = rng.normal(rng.uniform(-5, 5), rng.uniform(0.1, 3), size=(size, 3, 2))
        stats.update(batch)
        seen.append(batch)
    data = np.concatenate(seen)
    np.testing.assert_allclose(stats.mean, data.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.var, data.var(axis=0), rtol=1e-12)
    assert stats.count == len(data)


def test_running_stats_are_stable_with_a_large_mean():
    # E[x^2] - E[x]^2 loses every digit here (1e18 vs a variance of ~1); the pairwise merge keeps them
    rng = np.random.default_rng(1)
    data = 1e9 + rng.normal(size=(2000,))
    stats, one_by_one = RunningMeanStd(), RunningMeanStd()
    for chunk in np.array_split(data, 37):
        stats.update(chunk)
    for x in data:
        one_by_one.update(x[None])
    np.testing.assert_allclose(stats.var, data.var(), rtol=1e-6)
    np.testing.assert_allclose(one_by_one.var, data.var(), rtol=1e-6)
    np.testing.assert_allclose(one_by_one.mean, data.mean(), rtol=1e-14)


def test_running_stats_state_round_trip_and_errors():
    stats = RunningMeanStd((2,))
    stats.update(np.arange(10.0).reshape(5, 2))
    snapshot = stats.copy()
    stats.update(np.ones((3, 2)))
    assert snapshot.count == 5 and stats.count == 8
    other = RunningMeanStd((2,))
    other.load_state_dict(stats.state_dict())
    np.testing.assert_array_equal(other.mean, stats.mean)
    np.testing.assert_array_equal(other.var, stats.var)
    assert other.count == 8
    with pytest.raises(ValueError, match="expected"):
        RunningMeanStd((3,)).load_state_dict(stats.state_dict())
    with pytest.raises(ValueError, match="one sample per row"):
        stats.update(np.ones(2))


def _pair(n_envs=3, seed=0, **kwargs):
    """A raw CartPole vector env and a normalized one that see the same transitions."""
    raw = make_env("CartPole-v1", n_envs=n_envs, vectorization="sync")
    norm = make_env("CartPole-v1", n_envs=n_envs, vectorization="sync", wrappers=[(NormalizeObservation, kwargs)])
    return raw, norm


def test_statistics_equal_numpy_over_all_envs_and_final_obs_is_normalized():
    raw, norm = _pair(clip=None)
    raw_obs, _ = raw.reset(seed=3)
    obs, _ = norm.reset(seed=3)
    seen = [raw_obs]
    rng = np.random.default_rng(0)
    finals = 0
    for _ in range(200):
        action = rng.integers(0, 2, size=3)
        raw_obs, _, _, _, raw_info = raw.step(action)
        obs, _, _, _, info = norm.step(action)
        seen.append(raw_obs)
        data = np.concatenate(seen).astype(np.float64)
        mean, var = data.mean(axis=0), data.var(axis=0)
        np.testing.assert_allclose(norm.stats.mean, mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(norm.stats.var, var, rtol=1e-10)
        np.testing.assert_allclose(obs, (raw_obs - mean) / np.sqrt(var + EPS), rtol=1e-5, atol=1e-5)
        if "final_obs" in raw_info:
            finals += 1
            mask = info["_final_obs"]
            np.testing.assert_array_equal(mask, raw_info["_final_obs"])
            expected = (raw_info["final_obs"][mask] - mean) / np.sqrt(var + EPS)
            np.testing.assert_allclose(info["final_obs"][mask], expected, rtol=1e-5, atol=1e-5)
            assert info["final_obs"].dtype == np.float32
    assert finals > 3
    assert norm.stats.count == 3 * 201
    assert obs.dtype == np.float32 and norm.single_observation_space.dtype == np.float32


def test_core_next_obs_of_ended_episodes_is_normalized(recorder_agent):
    """Through Core: the successor of every last transition is the final obs normalized like every other obs."""
    env = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[(NormalizeObservation, {"clip": None})])
    agent = recorder_agent(env.info, fit_every_steps=2)
    inner_step, outer_step = env.env.step, env.step
    inner_infos, expected = [], []

    def inner_spy(actions):
        out = inner_step(actions)
        inner_infos.append(out[4])
        return out

    def outer_spy(actions):
        out = outer_step(actions)
        info = inner_infos.pop()
        if "final_obs" in info:
            raw = info["final_obs"][info["_final_obs"]]
            expected.append((raw - env.stats.mean) / np.sqrt(env.stats.var + EPS))
        return out

    env.env.step, env.step = inner_spy, outer_spy
    Core(agent, env, progress=False).learn(steps=400)
    ended_next = [b.next_obs[0][b.terminated[0] | b.truncated[0]] for b in agent.batches]
    ended_next = np.concatenate([x for x in ended_next if len(x)])
    assert len(expected) > 5
    np.testing.assert_allclose(ended_next, np.concatenate(expected), rtol=1e-5, atol=1e-5)


def test_gymnasium_object_final_obs_is_normalized():
    venv = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * 2, autoreset_mode=AutoresetMode.SAME_STEP)
    env = NormalizeObservation(venv, clip=None)
    env.reset(seed=0)
    for _ in range(100):
        _, _, _, _, info = env.step(np.array([0, 0]))
        if "final_obs" in info:
            break
    mask = info["_final_obs"]
    for i in np.flatnonzero(mask):
        assert info["final_obs"][i].dtype == np.float32
        assert np.all(np.abs(info["final_obs"][i]) < 10)
    assert all(info["final_obs"][i] is None for i in np.flatnonzero(~mask))


def test_frozen_statistics_do_not_change():
    env = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[NormalizeObservation])
    for _ in range(5):
        env.step(np.array([0, 1]))
    env.frozen = True
    before = env.stats.state_dict()
    obs_before = env.normalize(np.ones((2, 4)))
    for _ in range(20):
        env.step(np.array([1, 0]))
    env.reset()
    after = env.stats.state_dict()
    np.testing.assert_array_equal(before["mean"], after["mean"])
    np.testing.assert_array_equal(before["var"], after["var"])
    assert before["count"] == after["count"]
    np.testing.assert_array_equal(obs_before, env.normalize(np.ones((2, 4))))


def test_statistics_shared_with_a_frozen_evaluation_env():
    train = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[NormalizeObservation])
    raw_eval = make_env("CartPole-v1", n_envs=1, seed=100)
    evaluation = NormalizeObservation(make_env("CartPole-v1", n_envs=1, seed=100), stats=train.stats, frozen=True)
    twin = make_env("CartPole-v1", n_envs=1, seed=200, wrappers=[NormalizeObservation])
    twin.share_statistics(train)
    assert twin.stats is train.stats and twin.frozen
    for _ in range(10):
        train.step(np.array([0, 1]))
    count = train.stats.count
    raw_obs, _ = raw_eval.reset(seed=5)
    obs, _ = evaluation.reset(seed=5)
    for _ in range(10):
        raw_obs, *_ = raw_eval.step(np.array([1]))
        obs, *_ = evaluation.step(np.array([1]))
        twin.step(np.array([0]))
    assert train.stats.count == count  # the evaluation envs read the statistics, they never update them
    np.testing.assert_allclose(obs, (raw_obs - train.stats.mean) / np.sqrt(train.stats.var + EPS), rtol=1e-5,
                               atol=1e-6)
    # restoring a checkpoint into the training wrapper changes what the evaluation env sees (in place)
    state = train.state_dict()
    state["mean"] = state["mean"] + 1.0
    train.load_state_dict(state)
    np.testing.assert_array_equal(evaluation.stats.mean, state["mean"])


def test_clip_bounds_observations_and_space():
    env = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[(NormalizeObservation, {"clip": 0.5})])
    for _ in range(30):
        obs, *_ = env.step(np.array([0, 1]))
        assert np.abs(obs).max() <= 0.5
    assert env.single_observation_space.high.max() == 0.5 and env.info.observation_space.high.max() == 0.5


def test_state_dict_round_trip_gives_identical_observations():
    a = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[NormalizeObservation])
    for _ in range(15):
        a.step(np.array([0, 1]))
    b = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[NormalizeObservation])
    b.load_state_dict(a.state_dict())
    x = np.random.default_rng(0).normal(size=(2, 4))
    np.testing.assert_array_equal(a.normalize(x), b.normalize(x))
    assert all(isinstance(v, (np.ndarray, int, float)) for v in a.state_dict().values())


def test_errors_name_the_problem():
    dict_env = lambda: gym.wrappers.TimeLimit(  # noqa: E731
        _DictEnv(), 10)
    with pytest.raises(TypeError, match="FlattenObservation"):
        make_env(dict_env, wrappers=[NormalizeObservation])
    make_env(dict_env, wrappers=[FlattenObservation, NormalizeObservation])  # the fix works
    with pytest.raises(TypeError, match="vector env"):
        NormalizeObservation(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="shape"):
        make_env("CartPole-v1", wrappers=[(NormalizeObservation, {"stats": RunningMeanStd((3,))})])
    with pytest.raises(ValueError, match="clip"):
        make_env("CartPole-v1", wrappers=[(NormalizeObservation, {"clip": -1.0})])
    env = make_env("CartPole-v1", wrappers=[NormalizeObservation])
    with pytest.raises(TypeError, match="NormalizeObservation"):
        env.share_statistics(object())


class _DictEnv(gym.Env):
    observation_space = gym.spaces.Dict({"a": gym.spaces.Box(-1, 1, (2,)), "b": gym.spaces.Discrete(3)})
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def test_core_counts_each_observation_once_after_make_env_reset_with_the_same_seed():
    """make_env(seed=s) resets once and Core.learn resets again with s: the same first observations, counted once."""
    from porcini.algorithms.random import RandomAgent

    env = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[(NormalizeObservation, {"clip": None})])
    Core(RandomAgent(env.info, seed=0), env, progress=False).learn(steps=20)
    raw, reference = make_env("CartPole-v1", n_envs=2, seed=0), RandomAgent(env.info, seed=0)
    obs, _ = raw.reset(seed=0)
    seen = [obs]
    for _ in range(10):
        obs = raw.step(reference.act(obs, explore=True))[0]
        seen.append(obs)
    data = np.concatenate(seen).astype(np.float64)
    assert env.stats.count == len(data) == 22
    np.testing.assert_allclose(env.stats.mean, data.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(env.stats.var, data.var(axis=0), rtol=1e-10)


def test_resets_that_give_new_observations_are_counted():
    env = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[NormalizeObservation])
    assert env.stats.count == 2
    env.reset(seed=0)
    assert env.stats.count == 2  # the same start states again
    env.reset(seed=1)
    env.reset()
    assert env.stats.count == 6  # another seed, then unseeded: new start states
    env.step(np.zeros(2, dtype=np.int64))
    env.reset(seed=1)
    env.reset(seed=[1, 2])
    assert env.stats.count == 8 + 2 + 2


def test_a_repeated_reset_counts_the_envs_whose_seed_is_none():
    """reset(seed=[s, None]) twice: env 0 starts as before, env 1 draws a new start state, which is counted."""
    env = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[(NormalizeObservation, {"clip": None})])
    raw = make_env("CartPole-v1", n_envs=2, seed=0)
    seen = [raw.reset(seed=0)[0]]
    for seeds in ([5, None], [5, None]):
        env.reset(seed=seeds)
        seen.append(raw.reset(seed=seeds)[0])
    data = np.concatenate([*seen[:2], seen[2][1:]]).astype(np.float64)  # the last reset's env 0 repeats
    assert env.stats.count == len(data) == 5
    np.testing.assert_allclose(env.stats.mean, data.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(env.stats.var, data.var(axis=0), rtol=1e-10)
