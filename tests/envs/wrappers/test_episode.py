import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.envs.testing import CountingEnv
from porcini.envs.wrappers import (
    NormalizeReward,
    RecordEpisodeStatistics,
    RepeatAction,
    TimeLimit,
    VectorRecordEpisodeStatistics,
)


def test_time_limit_truncates_and_never_terminates():
    env = make_env(CountingEnv, n_envs=2, seed=0, wrappers=[(TimeLimit, {"max_episode_steps": 3})])
    zeros = np.zeros(2, dtype=np.int64)
    for t in range(1, 10):
        _, _, terminated, truncated, info = env.step(zeros)
        assert not terminated.any()
        assert truncated.all() == (t % 3 == 0) and truncated.any() == (t % 3 == 0)
    np.testing.assert_array_equal(info["final_obs"][:, 1], [3, 3])


def test_time_limit_sets_the_horizon_of_a_registered_env():
    env = make_env("CartPole-v1", wrappers=[(TimeLimit, {"max_episode_steps": 7})])
    assert env.info.horizon == 7
    assert gym.make("CartPole-v1").spec.max_episode_steps == 500  # the registry's spec is not changed


@pytest.mark.parametrize(("inner", "outer", "repeats"), [(5, 8, 1), (10, 100, 4), (8, 3, 1)])
def test_the_horizon_is_the_time_limit_that_ends_the_episodes(inner, outer, repeats):
    """An outer TimeLimit longer than the env's own does not lift it: the horizon is the steps an episode lasts."""
    def build():
        return RepeatAction(gym.wrappers.TimeLimit(CountingEnv(), inner), repeats)

    env = make_env(build, wrappers=[(TimeLimit, {"max_episode_steps": outer})])
    env.reset(seed=0)
    steps = 1
    while not env.step(np.zeros(1, dtype=np.int64))[3][0]:  # the reference: step until the episode is truncated
        steps += 1
    assert env.info.horizon == steps


def test_time_limit_keeps_a_termination_on_its_last_step():
    env = TimeLimit(CountingEnv(terminate_at=2), max_episode_steps=2)
    env.reset(seed=0)
    env.step(0)
    _, _, terminated, truncated, _ = env.step(0)
    assert terminated and truncated
    early = TimeLimit(CountingEnv(terminate_at=2), max_episode_steps=5)
    early.reset(seed=0)
    early.step(0)
    assert early.step(0)[2:4] == (True, False)


def test_time_limit_matches_gymnasiums_time_limit():
    """porcini's TimeLimit keeps Gymnasium's name because it steps, flags and reports its limit the same way."""
    for limit, terminate_at in [(3, 100), (4, 4), (5, 2)]:
        ours = TimeLimit(CountingEnv(terminate_at=terminate_at), limit)
        theirs = gym.wrappers.TimeLimit(CountingEnv(terminate_at=terminate_at), limit)
        for env in (ours, theirs):
            env.reset(seed=0)
        for _ in range(2 * limit):
            a, b = ours.step(0), theirs.step(0)
            assert a[1:4] == b[1:4]
            if a[2] or a[3]:
                ours.reset(seed=0)
                theirs.reset(seed=0)
    cartpole = lambda: gym.make("CartPole-v1").unwrapped  # noqa: E731
    assert TimeLimit(cartpole(), 9).spec.max_episode_steps == 9
    assert gym.wrappers.TimeLimit(cartpole(), 9).spec.max_episode_steps == 9


def test_time_limit_errors():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_episode_steps"):
            TimeLimit(CountingEnv(), bad)
    with pytest.raises(TypeError, match="make_env"):
        TimeLimit(make_env("CartPole-v1"), 3)


def test_per_env_episode_statistics_reach_the_vector_info():
    env = make_env(lambda: CountingEnv(terminate_at=3), n_envs=2, seed=0, wrappers=[RecordEpisodeStatistics])
    zeros = np.zeros(2, dtype=np.int64)
    env.step(zeros)
    env.step(zeros)
    _, _, _, _, info = env.step(zeros)
    episode = info["final_info"]["episode"]
    np.testing.assert_array_equal(episode["r"], [3.0, 3.0])
    np.testing.assert_array_equal(episode["l"], [3, 3])
    assert (episode["t"] >= 0).all()
    single = RecordEpisodeStatistics(gym.wrappers.TimeLimit(CountingEnv(), 4), buffer_length=2)
    for _ in range(3):
        single.reset()
        for _ in range(4):
            single.step(0)
    assert list(single.length_queue) == [4, 4] and list(single.return_queue) == [4.0, 4.0]


def test_vector_episode_statistics_equal_cores_records(recorder_agent):
    env = make_env("CartPole-v1", n_envs=3, seed=0, wrappers=[VectorRecordEpisodeStatistics])
    core = Core(recorder_agent(env.info), env, progress=False)
    result = core.learn(steps=1500)
    assert result.episodes.n_episodes > 10
    assert list(env.return_queue)[-10:] == result.episodes.returns[-10:]
    assert list(env.length_queue)[-10:] == result.episodes.lengths[-10:]


def test_vector_episode_statistics_mask_and_state_round_trip():
    env = make_env(lambda: CountingEnv(terminate_at=2, truncate_at=None), n_envs=2, seed=0,
                   wrappers=[VectorRecordEpisodeStatistics])
    zeros = np.zeros(2, dtype=np.int64)
    _, _, _, _, info = env.step(zeros)
    assert "episode" not in info
    state = env.state_dict()
    np.testing.assert_array_equal(state["episode_lengths"], [1, 1])
    other = make_env(lambda: CountingEnv(terminate_at=2), n_envs=2, seed=0, wrappers=[VectorRecordEpisodeStatistics])
    other.step(zeros)
    other.load_state_dict({**state, "episode_returns": np.array([10.0, 20.0])})
    _, _, _, _, info = other.step(zeros)
    np.testing.assert_array_equal(info["_episode"], [True, True])
    np.testing.assert_array_equal(info["episode"]["r"], [11.0, 21.0])
    np.testing.assert_array_equal(info["episode"]["l"], [2, 2])
    with pytest.raises(ValueError, match="holds 2 envs"):
        make_env(CountingEnv, n_envs=3, wrappers=[VectorRecordEpisodeStatistics]).load_state_dict(state)


def test_vector_episode_statistics_inside_reward_normalization_see_raw_rewards():
    env = make_env(lambda: CountingEnv(terminate_at=5), n_envs=2, seed=0,
                   wrappers=[VectorRecordEpisodeStatistics, NormalizeReward])
    for _ in range(5):
        _, reward, _, _, _ = env.step(np.zeros(2, dtype=np.int64))
    assert not np.allclose(reward, 1.0)
    assert list(env.env.return_queue) == [5.0, 5.0]


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_vector_episode_statistics_match_gymnasiums_under_its_autoreset_modes(mode):
    # under next-step autoreset the step after an episode's end is the reset, which counted as the next episode's
    # first step: every episode after an env's first was one step too long
    def build():
        autoreset = gym.vector.AutoresetMode.NEXT_STEP if mode == "next_step" else gym.vector.AutoresetMode.SAME_STEP
        return gym.make_vec("CartPole-v1", 2, vectorization_mode="sync", vector_kwargs={"autoreset_mode": autoreset})

    ours, theirs = VectorRecordEpisodeStatistics(build()), gym.wrappers.vector.RecordEpisodeStatistics(build())
    ours.reset(seed=0)
    theirs.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 2, (150, 2))
    for action in actions:
        info, their_info = ours.step(action)[4], theirs.step(action)[4]
        assert ("episode" in info) == ("episode" in their_info)
        if "episode" in info:
            np.testing.assert_array_equal(info["_episode"], their_info["_episode"])
            for key in ("r", "l"):
                np.testing.assert_array_equal(info["episode"][key], their_info["episode"][key])
    assert len(ours.length_queue) > 4
    assert list(ours.length_queue) == list(theirs.length_queue)
    assert list(ours.return_queue) == list(theirs.return_queue)


def test_vector_episode_statistics_keep_a_pending_next_step_reset_in_their_state():
    venv = gym.make_vec("CartPole-v1", 2, vectorization_mode="sync")  # next-step autoreset
    env = VectorRecordEpisodeStatistics(venv)
    env.reset(seed=0)
    while not env.return_queue:
        env.step(np.zeros(2, dtype=np.int64))
    state = env.state_dict()
    assert state["reset_next"].any()
    twin = VectorRecordEpisodeStatistics(gym.make_vec("CartPole-v1", 2, vectorization_mode="sync"))
    twin.load_state_dict(state)
    np.testing.assert_array_equal(twin.state_dict()["reset_next"], state["reset_next"])
    twin.load_state_dict({key: value for key, value in state.items() if key != "reset_next"})  # an older state
    assert not twin.state_dict()["reset_next"].any()
