"""porcini's AsyncVectorEnv: episode logs kept in the workers, replayed there on resume; wrapper state by proxy."""

import numpy as np
import pytest

from porcini import make_env
from porcini.envs.async_vector import AsyncVectorEnv, WorkerWrapper
from porcini.envs.testing import SlowEnv
from porcini.envs.wrappers import Curriculum
from porcini.experiment.checkpoint import from_safe, to_safe
from porcini.experiment.envs import ResumeWarning, restore_envs, resumable_base, stateful_wrappers, wrapper_states


def build(wrappers=(), **env_kwargs):
    return make_env(SlowEnv, n_envs=2, seed=0, vectorization="async", wrappers=wrappers,
                    env_kwargs={"step_seconds": 0.0, "episode_length": 7, **env_kwargs})


def assert_same_steps(env, other, actions):
    for action in actions:
        a, b = env.step(action), other.step(action)
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_array_equal(x, y)
        assert ("_final_obs" in a[4]) == ("_final_obs" in b[4])
        if "_final_obs" in a[4]:
            np.testing.assert_array_equal(np.stack(a[4]["final_obs"][a[4]["_final_obs"]]),
                                          np.stack(b[4]["final_obs"][b[4]["_final_obs"]]))


def test_resume_state_round_trip_rebuilds_every_episode_inside_the_workers():
    env, fresh = build(), build()
    try:
        base = resumable_base(env)
        assert isinstance(base, AsyncVectorEnv)
        base.record_for_resume()
        env.reset()  # unseeded, as Core's first reset: the log keeps each env's RNG state
        rng = np.random.default_rng(0)
        for action in rng.integers(0, 2, size=(10, 2)):  # episodes of 7 steps: autoresets inside the workers
            env.step(action)
        state = from_safe(to_safe(base.resume_state()))  # through the checkpoint's encoding
        assert [len(a) for a in state["actions"]] == [3, 3]
        assert all("rng" in start for start in state["starts"])
        obs = resumable_base(fresh).load_resume_state(state)
        np.testing.assert_array_equal(obs, state["last_obs"])
        assert_same_steps(env, fresh, rng.integers(0, 2, size=(12, 2)))
        # the resumed env keeps recording: its own checkpoint equals the original's
        again, now = resumable_base(fresh).resume_state(), base.resume_state()
        assert again["starts"] == now["starts"]
        for a, b in zip(again["actions"], now["actions"]):
            np.testing.assert_array_equal(a, b)
    finally:
        env.close()
        fresh.close()


def test_per_env_wrapper_state_in_the_workers_is_saved_and_restored():
    curriculum = (Curriculum, {"levels": [{"episode_length": 7}, {"episode_length": 4}], "threshold": -1e9,
                               "window_episodes": 1})
    env, fresh = build([curriculum]), build([curriculum])
    try:
        resumable_base(env).record_for_resume()
        env.reset()
        rng = np.random.default_rng(1)
        for action in rng.integers(0, 2, size=(9, 2)):  # the first episode (7 steps) ends: level 1 from then on
            obs = env.step(action)[0]
        proxies = stateful_wrappers(env)
        assert [(type(p), p.env_index, p.name) for p in proxies] == [(WorkerWrapper, 0, "Curriculum"),
                                                                   (WorkerWrapper, 1, "Curriculum")]
        states = wrapper_states(env)
        assert [s["level"] for s in states] == [1, 1]
        checkpoint = from_safe(to_safe({"env": resumable_base(env).resume_state(), "wrappers": states,
                                        "core": {"env_steps": 18, "obs": obs}}))
        assert [s["level"] for s in wrapper_states(fresh)] == [0, 0]
        assert restore_envs(fresh, checkpoint, seed=0) is None  # exact: the checkpoint's observations stand
        assert wrapper_states(fresh) == states
        assert_same_steps(env, fresh, rng.integers(0, 2, size=(10, 2)))
    finally:
        env.close()
        fresh.close()


def test_an_env_that_cannot_be_replayed_resumes_at_episode_boundaries_with_a_warning():
    env, fresh = build(global_noise=True), build(global_noise=True)
    try:
        resumable_base(env).record_for_resume()
        env.reset()
        # in its second episode the env's noise has moved on from where a fresh worker's global RNG starts
        for action in np.random.default_rng(2).integers(0, 2, size=(10, 2)):
            env.step(action)
        checkpoint = {"env": resumable_base(env).resume_state(), "wrappers": [], "core": {"env_steps": 20}}
        with pytest.warns(ResumeWarning, match="randomness outside env.np_random.*resuming at episode boundaries"):
            obs = restore_envs(fresh, checkpoint, seed=0)
        np.testing.assert_array_equal(obs[:, 1], [0.0, 0.0])  # every env is at the first step of a new episode
        fresh.step(np.zeros(2, dtype=np.int64))  # the workers survived the failed replay
        # the new episodes are recorded: a later checkpoint of the resumed run starts from their seeds
        assert all("seed" in start for start in resumable_base(fresh).resume_state()["starts"])
    finally:
        env.close()
        fresh.close()


def test_in_process_and_subprocess_envs_step_alike_and_read_each_others_checkpoints():
    sync = make_env(SlowEnv, n_envs=2, seed=0, vectorization="sync", env_kwargs={"step_seconds": 0.0,
                                                                                 "episode_length": 7})
    env, fresh = build(), build()
    try:
        for venv in (sync, env):
            resumable_base(venv).record_for_resume()
            venv.reset()
        rng = np.random.default_rng(3)
        assert_same_steps(sync, env, rng.integers(0, 2, size=(10, 2)))
        # `auto` may pick the other vectorization when a run resumes: the checkpoint format is the same
        resumable_base(fresh).load_resume_state(from_safe(to_safe(resumable_base(sync).resume_state())))
        assert_same_steps(sync, fresh, rng.integers(0, 2, size=(10, 2)))
    finally:
        for venv in (sync, env, fresh):
            venv.close()


@pytest.mark.parametrize("vector_wrapped", [False, True])
@pytest.mark.parametrize("env", ["CartPole-v1", SlowEnv])
def test_a_time_limit_wrapper_sets_the_horizon_in_subprocesses_and_under_vector_wrappers(env, vector_wrapped):
    from porcini.envs.wrappers import TimeLimit, VectorRecordEpisodeStatistics

    wrappers = [(TimeLimit, {"max_episode_steps": 5})] + ([VectorRecordEpisodeStatistics] if vector_wrapped else [])
    horizons = {}
    for vectorization in ("sync", "async"):
        venv = make_env(env, n_envs=2, seed=0, vectorization=vectorization, wrappers=wrappers)
        try:
            horizons[vectorization] = (venv.info.horizon, getattr(venv.spec, "max_episode_steps", None))
            ends = [np.flatnonzero(venv.step(np.zeros(2, dtype=np.int64))[3]).size for _ in range(5)]
        finally:
            venv.close()
        assert ends == [0, 0, 0, 0, 2]  # the limit the horizon reports is the one that truncates
    assert horizons["async"] == horizons["sync"] and horizons["sync"][0] == 5
