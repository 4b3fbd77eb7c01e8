"""RayVectorEnv: the same results as SerialVectorEnv, validation in the parent, restarted workers, resume."""

import functools
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

from porcini.core.callbacks import Callback
from porcini.envs.episode_log import observations_equal
from porcini.envs.testing import CountingEnv, DictObsEnv
from porcini.envs.vector import SerialVectorEnv
from porcini.errors import EnvCheckError
from porcini.experiment.envs import ResumeWarning, _resumable_base
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.usefixtures("local_ray")

from porcini.envs.ray_vector import RayVectorEnv, RayWorkerError, RayWorkerRestartWarning  # noqa: E402


def kill(actor, timeout: float = 30.0) -> None:
    """``ray.kill`` the actor and wait until it is dead: the kill is asynchronous, a step sent at once may run."""
    import time

    ray.kill(actor)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ray.get(actor.describe.remote(), timeout=timeout)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.05)
    raise AssertionError("the killed actor still answers")


def cartpole():
    return gym.make("CartPole-v1")


def assert_same_info(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_same_info(a[key], b[key])
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def assert_same_step(got, want, envs=slice(None)):
    for x, y in zip(got[:4], want[:4]):
        np.testing.assert_array_equal(x[envs], y[envs])
    if "_final_obs" in want[4]:
        mask = want[4]["_final_obs"][envs]
        np.testing.assert_array_equal(got[4]["_final_obs"][envs], mask)
        np.testing.assert_array_equal(got[4]["final_obs"][envs][mask], want[4]["final_obs"][envs][mask])


def test_same_results_as_serial_vector_env_with_episode_ends():
    env = RayVectorEnv([cartpole] * 4, env_id="CartPole-v1", workers=2)
    ref = SerialVectorEnv([cartpole] * 4, env_id="CartPole-v1")
    obs, _ = env.reset(seed=7)
    np.testing.assert_array_equal(obs, ref.reset(seed=7)[0])
    rng, ends = np.random.default_rng(0), 0
    for _ in range(300):
        actions = rng.integers(0, 2, size=4)
        got, want = env.step(actions), ref.step(actions)
        assert_same_step(got, want)
        np.testing.assert_array_equal(got[4].get("final_obs"), want[4].get("final_obs"))  # filler rows too
        ends += int((want[2] | want[3]).sum())
    assert ends > 10
    env.close()
    env.close()  # idempotent
    assert env.closed


def test_infos_and_uneven_chunks_merge_like_serial():
    factory = functools.partial(CountingEnv, terminate_at=5, truncate_at=3)
    fns = [factory, functools.partial(CountingEnv, terminate_at=4), factory]
    env = RayVectorEnv(fns, workers=2)
    ref = SerialVectorEnv(fns)
    assert [hi - lo for lo, hi in env._chunks] == [2, 1]
    env.reset(seed=1), ref.reset(seed=1)
    for _ in range(9):
        got, want = env.step(np.zeros(3, dtype=np.int64)), ref.step(np.zeros(3, dtype=np.int64))
        assert_same_step(got, want)
        assert_same_info(got[4], want[4])  # "t" with "_t", final_info, final_obs and their masks
    env.close()


def test_dict_and_text_observations_concatenate_across_workers():
    # unchecked: StepValidator cannot check a Text inside a Dict yet (SerialVectorEnv's check raises as well)
    env = RayVectorEnv([DictObsEnv] * 3, workers=2, check=False)
    ref = SerialVectorEnv([DictObsEnv] * 3, check=False)
    assert observations_equal(env.reset(seed=3)[0], ref.reset(seed=3)[0])
    for _ in range(20):  # episodes of 20 steps: the last step ends them
        got, want = env.step(np.ones(3, dtype=np.int64)), ref.step(np.ones(3, dtype=np.int64))
        assert observations_equal(got[0], want[0])
    assert observations_equal(got[4]["final_obs"], want[4]["final_obs"])
    env.close()


def test_validation_errors_raise_in_the_parent():
    env = RayVectorEnv([cartpole] * 2, env_id="CartPole-v1", workers=2)
    env.reset(seed=0)
    with pytest.raises(EnvCheckError, match=r"action 2 is outside Discrete\(2\) for env CartPole-v1 \(env index 1\)"):
        env.step(np.array([0, 2]))
    with pytest.raises(EnvCheckError, match="shape"):
        env.step(np.array([0, 1, 0]))
    env.close()


def float64_cartpole(at):
    """CartPole whose observations are float64 (its space says float32) at reset or at step."""

    def cast(obs, step):
        return obs.astype(np.float64) if step == at else obs

    class Cast(gym.Wrapper):
        def reset(self, **kwargs):
            obs, info = self.env.reset(**kwargs)
            return cast(obs, "reset"), info

        def step(self, action):
            obs, *rest = self.env.step(action)
            return (cast(obs, "step"), *rest)

    return Cast(gym.make("CartPole-v1"))


@pytest.mark.parametrize("at", ["reset", "step"])
def test_an_observation_of_another_dtype_is_refused_in_one_line_as_in_process(at):
    """Ray's workers stacked (cast) it silently; with the checks on it is the in-process error, without Ray's text."""
    env = RayVectorEnv([functools.partial(float64_cartpole, at)] * 2, env_id="CartPole-v1", workers=2)
    with pytest.raises(EnvCheckError) as caught:
        env.reset(seed=0)
        env.step(np.zeros(2, dtype=np.int64))
    env.close()
    message = str(caught.value)
    assert "returned an observation of ndarray float64 (4,)" in message
    assert "return np.ndarray of dtype float32" in message
    assert "Traceback" not in message and len(message.splitlines()) == 1
    unchecked = RayVectorEnv([functools.partial(float64_cartpole, at)] * 2, env_id="CartPole-v1", check=False)
    unchecked.reset(seed=0)
    assert unchecked.step(np.zeros(2, dtype=np.int64))[0].dtype == np.float32
    unchecked.close()


def test_a_killed_worker_is_restarted_and_other_chunks_keep_their_results():
    env = RayVectorEnv([cartpole] * 4, env_id="CartPole-v1", workers=2)
    ref = SerialVectorEnv([cartpole] * 4, env_id="CartPole-v1")
    env.reset(seed=5), ref.reset(seed=5)
    rng = np.random.default_rng(1)
    for _ in range(40):
        actions = rng.integers(0, 2, size=4)
        last = env.step(actions)[0]
        ref.step(actions)
    kill(env._actors[1])
    actions = rng.integers(0, 2, size=4)
    with pytest.warns(RayWorkerRestartWarning, match=r"Ray worker 1 of env CartPole-v1 \(env indices \[2, 3\]\).*41"):
        obs, reward, terminated, truncated, info = env.step(actions)
    want = ref.step(actions)
    assert_same_step((obs, reward, terminated, truncated, info), want, envs=slice(0, 2))
    np.testing.assert_array_equal(truncated[2:], [True, True])
    np.testing.assert_array_equal(terminated[2:], [False, False])
    np.testing.assert_array_equal(reward[2:], [0.0, 0.0])
    np.testing.assert_array_equal(info["final_obs"][2:], last[2:])
    np.testing.assert_array_equal(info["_ray_worker_restarted"], [False, False, True, True])
    assert info["ray_worker_restarted"][2:].all()
    assert not np.array_equal(obs[2:], last[2:]) and np.abs(obs[2:]).max() <= 0.05  # CartPole's start states
    assert env.restarts == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new worker steps on without another restart
        for _ in range(5):
            actions = rng.integers(0, 2, size=4)
            assert_same_step(env.step(actions), ref.step(actions), envs=slice(0, 2))
    env.close()


def test_a_worker_that_cannot_be_restarted_raises_naming_the_env(tmp_path):
    broken = tmp_path / "broken"

    def factory():
        if broken.exists():
            raise RuntimeError("the simulator licence expired")
        return CountingEnv(truncate_at=10)

    env = RayVectorEnv([factory] * 2, env_id="Licensed-v0", workers=2)
    env.reset(seed=0)
    broken.touch()
    kill(env._actors[0])
    with pytest.raises(RayWorkerError, match=r"Ray worker 0 of env Licensed-v0 .*licence expired"):
        env.step(np.zeros(2, dtype=np.int64))
    env.close()


def test_resume_state_round_trip_rebuilds_every_episode():
    env = RayVectorEnv([cartpole] * 3, env_id="CartPole-v1", workers=2)
    env.record_for_resume()
    env.reset(seed=11)
    rng = np.random.default_rng(2)
    for _ in range(30):
        env.step(rng.integers(0, 2, size=3))  # some episodes end: their restarts are recorded unseeded
    state = env.resume_state()
    assert len(state["starts"]) == len(state["actions"]) == 3
    other = RayVectorEnv([cartpole] * 3, env_id="CartPole-v1", workers=2)
    np.testing.assert_array_equal(other.load_resume_state(state), state["last_obs"])
    for _ in range(30):
        actions = rng.integers(0, 2, size=3)
        assert_same_step(other.step(actions), env.step(actions))
    env.close(), other.close()


def test_importing_porcini_does_not_import_ray():
    code = "import sys, porcini, porcini.envs.ray_vector; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


class KillActor(Callback):
    def __init__(self, at_step):
        self.at_step, self.killed, self.restarted = at_step, False, 0

    def on_step(self, core, action, reward, terminated, truncated, info):
        if core.env_steps >= self.at_step and not self.killed:
            kill(_resumable_base(core.env)._actors[0])
            self.killed = True
        self.restarted += int(info.get("_ray_worker_restarted", np.zeros(1, bool)).sum())


def test_training_run_survives_a_killed_worker_and_resumes(tmp_path):
    overrides = ["steps=2000", "steps_per_epoch=1000", "env.n_envs=4", "env.vectorization=ray", "eval_episodes=2",
                 "log.sinks=[csv]", f"out={tmp_path}", "algo.n_epochs=2"]
    run = Experiment.start(resolve("ppo", "CartPole-v1", None, overrides), progress=False)
    base = _resumable_base(run.env)
    assert isinstance(base, RayVectorEnv)
    killer = KillActor(at_step=600)
    run.core.callbacks.append(killer)
    with pytest.warns(RayWorkerRestartWarning):
        summary = run.train()
    assert summary.env_steps == 2000 == run.core.env_steps
    assert killer.killed and killer.restarted == 2 and base.restarts == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)  # episodes are replayed in the actors, not restarted
        warnings.simplefilter("error", RayWorkerRestartWarning)
        resumed = Experiment.resume(run.run_dir.path, steps=2400, progress=False)
        assert resumed.train().env_steps == 2400


def test_a_time_limit_wrapper_of_a_factory_sets_the_horizon_as_in_process():
    from porcini import make_env
    from porcini.envs.wrappers import TimeLimit

    wrappers = [(TimeLimit, {"max_episode_steps": 5})]
    sync = make_env(CountingEnv, 2, seed=0, vectorization="sync", wrappers=wrappers)
    env = make_env(CountingEnv, 2, seed=0, vectorization="ray", wrappers=wrappers)
    try:
        ends = [int(env.step(np.zeros(2, dtype=np.int64))[3].sum()) for _ in range(5)]
        assert ends == [0, 0, 0, 0, 2] and env.info.horizon == sync.info.horizon == 5
    finally:
        env.close()


def test_a_reset_mask_is_refused_in_one_line_as_in_process():
    env = RayVectorEnv([cartpole] * 2, env_id="CartPole-v1", workers=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"^RayVectorEnv of CartPole-v1 resets all its envs .*reset_mask'\]$"):
        env.reset(options={"reset_mask": np.array([True, False])})
    env.close()
