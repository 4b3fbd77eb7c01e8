import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.core import BaseAgent
from porcini.envs.wrappers.multitask import MultiTask, TaskSwitchEnv
from porcini.errors import EnvCheckError

# chi-square critical values at p = 0.001, by degrees of freedom: a correct sampler fails 1 in 1000 seeds, and with
# fixed seeds the test is deterministic
CHI2_CRIT_0001 = {1: 10.83, 2: 13.82, 3: 16.27}


def chi_square(counts, probs):
    expected = np.asarray(probs) * np.sum(counts)
    return float(np.sum((np.asarray(counts) - expected) ** 2 / expected))


def cartpole():
    return gym.make("CartPole-v1", disable_env_checker=True)


TASKS = [{"length": 0.25}, {"length": 1.0, "masscart": 3.0}, {"gravity": 20.0}]


def test_task_frequencies_match_the_distribution_unseeded_resets():
    probs = [0.2, 0.5, 0.3]
    env = MultiTask(cartpole(), TASKS, probs)
    env.reset(seed=123)
    counts = np.zeros(3)
    for _ in range(3000):
        _, info = env.reset()
        counts[info["task_id"]] += 1
    assert chi_square(counts, probs) < CHI2_CRIT_0001[2]
    # and a wrong distribution is rejected by the same test (the test has power)
    assert chi_square(counts, [1 / 3, 1 / 3, 1 / 3]) > CHI2_CRIT_0001[2]


def test_task_frequencies_match_across_seeded_resets():
    probs = [0.7, 0.1, 0.2]
    env = MultiTask(cartpole(), TASKS, probs)
    counts = np.zeros(3)
    for seed in range(3000):
        counts[env.reset(seed=seed)[1]["task_id"]] += 1
    assert chi_square(counts, probs) < CHI2_CRIT_0001[2]


def test_zero_probability_task_never_drawn():
    env = MultiTask(cartpole(), TASKS, [0.5, 0.0, 0.5])
    env.reset(seed=0)
    assert all(env.reset()[1]["task_id"] != 1 for _ in range(300))


def test_task_params_are_set_and_defaults_restored():
    env = MultiTask(cartpole(), TASKS)
    base = env.unwrapped
    defaults = {"length": base.length, "masscart": base.masscart, "gravity": base.gravity}
    env.reset(seed=0)
    for _ in range(60):
        _, info = env.reset()
        expected = {**defaults, **TASKS[info["task_id"]]}
        assert {k: getattr(base, k) for k in expected} == expected
        # CartPole derives these in __init__: they must follow the task's values
        assert base.total_mass == pytest.approx(base.masspole + base.masscart)
        assert base.polemass_length == pytest.approx(base.masspole * base.length)


def test_task_id_in_info_every_step_and_one_hot_in_obs():
    env = MultiTask(cartpole(), TASKS, task_in_obs=True)
    assert env.observation_space.shape == (7,)
    obs, info = env.reset(seed=1)
    for _ in range(200):
        assert env.observation_space.contains(obs)
        np.testing.assert_array_equal(obs[4:], np.eye(3, dtype=np.float32)[info["task_id"]])
        task = info["task_id"]
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert info["task_id"] == task
        if terminated or truncated:
            obs, info = env.reset()


def test_options_task_id_forces_the_task():
    env = MultiTask(cartpole(), TASKS)
    for task in (2, 0, 1, 2):
        assert env.reset(options={"task_id": task})[1]["task_id"] == task
        assert env.unwrapped.length == {**{"length": 0.5}, **TASKS[task]}["length"]
    with pytest.raises(ValueError, match="task_id"):
        env.reset(options={"task_id": 3})


def test_same_seed_same_tasks_and_first_episode_starts_as_without_wrapper():
    def tasks_of(seed):
        env = MultiTask(cartpole(), TASKS)
        first = env.reset(seed=seed)
        return first, [env.reset()[1]["task_id"] for _ in range(30)]

    (obs_a, _), seq_a = tasks_of(5)
    (obs_b, _), seq_b = tasks_of(5)
    assert seq_a == seq_b and len(set(seq_a)) == 3
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(obs_a, cartpole().reset(seed=5)[0])


def test_errors_name_the_problem():
    with pytest.raises(AttributeError, match="lenght"):
        MultiTask(cartpole(), [{"lenght": 1.0}])
    with pytest.raises(ValueError, match="sum to"):
        MultiTask(cartpole(), TASKS, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="one per task"):
        MultiTask(cartpole(), TASKS, [0.5, 0.5])
    with pytest.raises(TypeError, match="from_envs"):
        MultiTask(cartpole(), ["CartPole-v1", "CartPole-v1"])
    with pytest.raises(EnvCheckError, match="1-D Box"):
        MultiTask(gym.make("FrozenLake-v1"), [{}, {}], task_in_obs=True)
    with pytest.raises(EnvCheckError, match="share spaces"):
        MultiTask.from_envs(["CartPole-v1", "Acrobot-v1"])


def heavy_cartpole():
    env = cartpole()
    env.unwrapped.gravity = 30.0
    return env


def test_from_envs_steps_only_the_drawn_env():
    env = MultiTask.from_envs([cartpole, heavy_cartpole], probs=[0.5, 0.5], task_in_obs=True)
    switch = env.unwrapped
    assert isinstance(switch, TaskSwitchEnv) and env.task_names == ["cartpole", "heavy_cartpole"]
    env.reset(seed=0)
    seen = set()
    for _ in range(40):
        obs, info = env.reset()
        task = info["task_id"]
        seen.add(task)
        active, other = switch.envs[task].unwrapped, switch.envs[1 - task].unwrapped
        assert switch.active == task and active.gravity == (9.8, 30.0)[task]
        other_state = None if other.state is None else other.state.copy()
        obs, *_ = env.step(0)
        np.testing.assert_array_equal(obs[:4], active.state.astype(np.float32))
        if other_state is not None:
            np.testing.assert_array_equal(other.state, other_state)
    assert seen == {0, 1}


class RecordingAgent(BaseAgent):
    fit_every_steps = 64

    def __init__(self, info):
        self.batches = []

    def act(self, obs, *, explore):
        return np.zeros(len(obs), dtype=np.int64)

    def fit(self, batch):
        self.batches.append(batch)
        return {}


def test_task_id_reaches_batch_extras_through_core():
    env = make_env("CartPole-v1", n_envs=3, seed=0, wrappers=[(MultiTask, {"tasks": TASKS, "task_in_obs": True})])
    assert env.info.obs_shape == (7,)
    agent = RecordingAgent(env.info)
    Core(agent, env, info_keys=("task_id",), progress=False).learn(steps=64 * 3 * 4)
    for batch in agent.batches:
        task = batch.extras["task_id"]
        # the one-hot part of obs and next_obs (the true successor, within the same episode) names the same task
        np.testing.assert_array_equal(np.argmax(batch.obs[..., 4:], axis=-1), task)
        np.testing.assert_array_equal(np.argmax(batch.next_obs[..., 4:], axis=-1), task)


def test_resume_by_replay_rebuilds_the_task():
    def build():
        return make_env(lambda: MultiTask(cartpole(), TASKS, task_in_obs=True), n_envs=2, vectorization="sync")

    env = build()
    env.record_for_resume()
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(57):
        env.step(rng.integers(0, 2, size=2))
    state = env.resume_state()
    tasks = [e.task_id for e in env.envs]
    copy = build()
    copy.load_resume_state(state)  # raises if the replayed observations differ
    assert [e.task_id for e in copy.envs] == tasks
    for _ in range(100):
        action = rng.integers(0, 2, size=2)
        a, b = env.step(action), copy.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[4]["task_id"], b[4]["task_id"])
