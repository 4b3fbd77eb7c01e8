import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.envs.testing import CountingEnv
from porcini.envs.wrappers import ClipAction, ClippedRescaleAction, RepeatAction, StickyAction, TimeLimit
from porcini.errors import EnvCheckError


class ActionLogEnv(gym.Env):
    """Records every action it receives; episodes last ``length`` steps (truncated); reward = step index."""

    def __init__(self, action_space=None, length=1000):
        self.action_space = action_space if action_space is not None else gym.spaces.Discrete(2)
        self.observation_space = gym.spaces.Box(0.0, 1e6, (1,), np.float32)
        self.length = length
        self.received = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.received.append(np.array(action))
        self.t += 1
        return np.full(1, self.t, np.float32), float(self.t), False, self.t >= self.length, {}


BOX = gym.spaces.Box(np.array([-2.0, 0.0, 10.0]), np.array([2.0, 1.0, 30.0]), dtype=np.float64)


def test_rescale_action_maps_the_unit_box_to_the_bounds():
    env = ClippedRescaleAction(ActionLogEnv(BOX))
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (3,), np.float64)
    a = np.random.default_rng(0).uniform(-1, 1, size=(50, 3))
    for row in a:
        expected = BOX.low + (row + 1.0) / 2.0 * (BOX.high - BOX.low)
        np.testing.assert_allclose(env.action(row), expected, rtol=1e-12)
    np.testing.assert_array_equal(env.action(-np.ones(3)), BOX.low)
    np.testing.assert_array_equal(env.action(np.ones(3)), BOX.high)
    custom = ClippedRescaleAction(ActionLogEnv(BOX), min_action=0.0, max_action=np.array([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(custom.action(np.array([0.5, 1.0, 1.0])), [0.0, 0.5, 15.0])


def test_rescale_action_through_make_env_and_the_step_checks():
    env = make_env(lambda: ActionLogEnv(BOX), seed=0, wrappers=[ClippedRescaleAction])
    env.step(np.array([[1.0, -1.0, 0.0]]))
    np.testing.assert_allclose(env.envs[0].unwrapped.received[-1], [2.0, 0.0, 20.0])
    with pytest.raises(EnvCheckError, match="outside"):
        env.step(np.array([[1.5, 0.0, 0.0]]))


def test_rescale_action_errors():
    with pytest.raises(TypeError, match="Box"):
        ClippedRescaleAction(CountingEnv())
    with pytest.raises(ValueError, match="finite"):
        ClippedRescaleAction(ActionLogEnv(gym.spaces.Box(-np.inf, np.inf, (2,))))
    with pytest.raises(ValueError, match="below"):
        ClippedRescaleAction(ActionLogEnv(BOX), 1.0, -1.0)
    with pytest.raises(TypeError, match="make_env"):
        ClippedRescaleAction(make_env("Pendulum-v1"))


def test_clip_action():
    env = ClipAction(ActionLogEnv(BOX))
    assert np.isinf(env.action_space.low).all() and np.isinf(env.action_space.high).all()
    a = np.array([-5.0, 0.5, 100.0])
    np.testing.assert_array_equal(env.action(a), [-2.0, 0.5, 30.0])
    vec = make_env(lambda: ActionLogEnv(BOX), n_envs=2, seed=0, wrappers=[ClipAction])
    vec.step(np.array([[9.0, 9.0, 9.0], [-9.0, -9.0, -9.0]]))  # accepted: the wrapper clips
    np.testing.assert_array_equal(vec.envs[1].unwrapped.received[-1], [-2.0, 0.0, 10.0])
    with pytest.raises(TypeError, match="Box"):
        ClipAction(CountingEnv())


def test_sticky_action_repeats_with_the_given_probability():
    p, n = 0.3, 6000
    env = StickyAction(ActionLogEnv(gym.spaces.Discrete(n), length=50), repeat_action_probability=p)
    env.reset(seed=0)
    chosen = np.arange(n)  # every action differs from all earlier ones, so a repeat shows as received != chosen
    first_steps, repeats, later = 0, 0, 0
    for a in chosen:
        _, _, _, truncated, _ = env.step(int(a))
        got = int(env.unwrapped.received[-1])
        if env.unwrapped.t == 1:
            first_steps += 1
            assert got == a  # the first action of an episode is always the agent's
        else:
            later += 1
            repeats += got != a
        if truncated:
            env.reset()
    sigma = np.sqrt(p * (1 - p) / later)
    assert abs(repeats / later - p) < 4 * sigma
    assert first_steps == n // 50


def test_sticky_action_draws_from_the_env_generator_so_seeds_repeat():
    def run(seed):
        env = StickyAction(ActionLogEnv(), 0.5)
        env.reset(seed=seed)
        for a in np.arange(200) % 2:
            env.step(int(a))
        return [int(x) for x in env.unwrapped.received]

    assert run(1) == run(1) and run(1) != run(2)
    never = StickyAction(ActionLogEnv(), 0.0)
    never.reset(seed=0)
    for a in np.arange(20) % 2:
        never.step(int(a))
    assert [int(x) for x in never.unwrapped.received] == list(np.arange(20) % 2)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="repeat_action_probability"):
            StickyAction(ActionLogEnv(), bad)


def test_repeat_action_sums_rewards_and_stops_at_episode_end():
    env = RepeatAction(ActionLogEnv(length=10), num_repeats=4)
    env.reset(seed=0)
    _, reward, _, truncated, info = env.step(1)
    assert reward == 1 + 2 + 3 + 4 and info["repeat_steps"] == 4 and not truncated
    env.step(1)
    obs, reward, _, truncated, info = env.step(1)  # inner steps 9 and 10; the episode ends after 10
    assert truncated and reward == 9 + 10 and info["repeat_steps"] == 2 and obs[0] == 10
    assert len(env.unwrapped.received) == 10
    vec = make_env(lambda: ActionLogEnv(length=6), n_envs=2, seed=0, wrappers=[(RepeatAction, {"num_repeats": 4})])
    _, reward, _, truncated, info = vec.step(np.zeros(2, dtype=np.int64))
    np.testing.assert_array_equal(reward, [10.0, 10.0])
    _, reward, _, truncated, info = vec.step(np.zeros(2, dtype=np.int64))
    np.testing.assert_array_equal(reward, [11.0, 11.0])
    assert truncated.all() and (info["final_obs"][:, 0] == 6).all()
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="num_repeats"):
            RepeatAction(ActionLogEnv(), bad)


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_the_horizon_under_repeat_action_counts_agent_steps(vectorization):
    """CartPole's 500 steps are 125 agent steps of RepeatAction(4): PPO-Lagrangian's episode cost reads it."""
    repeat = (RepeatAction, {"num_repeats": 4})
    env = make_env("CartPole-v1", n_envs=2, seed=0, vectorization=vectorization, wrappers=[repeat])
    try:
        assert env.info.horizon == 125 and env.spawn(1, 0).info.horizon == 125
    finally:
        env.close()
    # a limit of 50 inner steps ends the episode on agent step 17 (16 * 3 + 2); a limit above counts agent steps
    below = make_env(lambda: ActionLogEnv(length=10**6), seed=0, max_episode_steps=50,
                     wrappers=[(RepeatAction, {"num_repeats": 3})])
    ends = [bool(below.step(np.zeros(1, dtype=np.int64))[3][0]) for _ in range(17)]
    assert below.info.horizon == 17 and ends == [False] * 16 + [True]
    above = make_env("CartPole-v1", seed=0, wrappers=[repeat, (TimeLimit, {"max_episode_steps": 50})])
    assert above.info.horizon == 50


def test_clipped_rescale_action_is_not_gymnasiums_rescale_action():
    """It clips where Gymnasium's does not, so it has its own name, and a config's ``RescaleAction`` is Gymnasium's."""
    from porcini.experiment.envs import resolve_wrapper

    ours = ClippedRescaleAction(ActionLogEnv(BOX))
    theirs = gym.wrappers.RescaleAction(ActionLogEnv(BOX), -1.0, 1.0)
    inside, outside = np.array([0.5, -0.5, 0.0]), np.array([1.5, -3.0, 0.0])
    np.testing.assert_allclose(ours.action(inside), theirs.action(inside))
    np.testing.assert_array_equal(ours.action(outside), [2.0, 0.0, 20.0])
    np.testing.assert_allclose(theirs.action(outside), [3.0, -1.0, 20.0])
    assert resolve_wrapper("ClippedRescaleAction") is ClippedRescaleAction
    assert resolve_wrapper("RescaleAction") is gym.wrappers.RescaleAction
