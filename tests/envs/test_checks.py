"""Every check_env error, and the run-time checks of make_env (action, reward, observation)."""

import functools

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.core import BaseAgent, EnvCheckError
from porcini.envs import check_env
from porcini.envs.checks import sample_action
from porcini.envs.testing import CountingEnv


class Configurable(CountingEnv):
    """CountingEnv with one fault switched on."""

    def __init__(self, fault=None, at_step=2):
        super().__init__(truncate_at=50)
        self.fault, self.at_step = fault, at_step

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed)
        if self.fault == "reset_tuple":
            return obs
        if self.fault == "reset_info":
            return obs, None
        if self.fault == "obs_dtype":
            return obs.astype(np.float64), info
        if self.fault == "obs_shape":
            return obs[:1], info
        if self.fault == "obs_list":
            return obs.tolist(), info
        if self.fault == "unseeded":
            return obs + np.float32(np.random.random()), info
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        late = self._t >= self.at_step
        if self.fault == "four_tuple":
            return obs, reward, terminated or truncated, info
        if self.fault == "nan_reward" and late:
            reward = float("nan")
        if self.fault == "str_reward":
            reward = "1"
        if self.fault == "int_flag":
            terminated = 0
        if self.fault == "obs_out_of_space" and late:
            obs = np.array([-5.0, 0.0], dtype=np.float32)
        if self.fault == "obs_nan" and late:
            obs = np.array([np.nan, 0.0], dtype=np.float32)
        if self.fault == "final_obs_out_of_space" and (terminated or truncated):
            obs = np.array([-5.0, 0.0], dtype=np.float32)
        if self.fault == "step_info":
            info = []
        return obs, reward, terminated, truncated, info


@pytest.mark.parametrize(
    "fault,match",
    [
        ("reset_tuple", r"reset must return \(obs, info\)"),
        ("reset_info", "info of type NoneType"),
        ("obs_dtype", "dtype float64.*astype"),
        ("obs_shape", "shape"),
        ("obs_list", "np.ndarray"),
        ("unseeded", "different observations"),
        ("four_tuple", "4-tuple"),
        ("nan_reward", "non-finite reward"),
        ("str_reward", "reward '1'"),
        ("int_flag", "terminated=0.*bool"),
        ("obs_out_of_space", "outside observation_space"),
        ("obs_nan", "non-finite observation"),
        ("step_info", "info of type list"),
    ],
)
def test_check_env_names_each_problem(fault, match):
    with pytest.raises(EnvCheckError, match=match):
        check_env(Configurable(fault))


def test_check_env_passes_good_envs():
    check_env(gym.make("CartPole-v1"))
    check_env(CountingEnv(terminate_at=3))



class SeedIgnoring(gym.Env):
    """Its first observation comes from a generator the reset seed does not reach, in a non-array space."""

    def __init__(self, space):
        self.observation_space, self.action_space = space, gym.spaces.Discrete(2)
        self._outside = np.random.default_rng(0)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(int(self._outside.integers(2**31)))
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


@pytest.mark.parametrize("space", [gym.spaces.Discrete(1000),
                                   gym.spaces.Dict({"x": gym.spaces.Box(0.0, 1.0, (3,), np.float32)}),
                                   gym.spaces.Tuple((gym.spaces.Discrete(1000), gym.spaces.Discrete(1000)))])
def test_check_env_catches_a_seed_that_does_not_repeat_the_first_observation_of_any_space(space):
    with pytest.raises(EnvCheckError, match="different observations"):
        check_env(SeedIgnoring(space))
    check_env(gym.wrappers.TimeLimit(SeededSpaceEnv(space), 5))  # the same space, seeded properly, passes


class SeededSpaceEnv(SeedIgnoring):
    """SeedIgnoring with its draws seeded by the reset seed."""

    def reset(self, *, seed=None, options=None):
        super(SeedIgnoring, self).reset(seed=seed)
        if seed is not None:
            self.observation_space.seed(seed)
        return self.observation_space.sample(), {}

def test_check_env_rejects_missing_spaces():
    env = CountingEnv()
    env.action_space = "Discrete(2)"
    with pytest.raises(EnvCheckError, match="action_space"):
        check_env(env)


class ConstantAgent(BaseAgent):
    def __init__(self, action):
        self.action = action

    def act(self, obs, *, explore):
        return np.repeat(np.asarray(self.action)[None], len(obs), axis=0)


def run(env, action, steps=10):
    Core(ConstantAgent(action), env, progress=False).learn(steps=steps * env.num_envs)


@pytest.mark.parametrize("n_envs", [1, 3])
def test_action_outside_space_names_env_index_and_step(n_envs):
    env = make_env("CartPole-v1", n_envs=n_envs, seed=0)
    with pytest.raises(EnvCheckError, match=r"action 3 is outside Discrete\(2\) for env CartPole-v1 \(env index 0\) "
                                            r"at step 0"):
        run(env, 3)
    with pytest.raises(EnvCheckError, match="integers"):
        run(make_env("CartPole-v1", n_envs=n_envs), 1.0)


def test_box_action_outside_bounds_suggests_clipping():
    env = make_env("Pendulum-v1", n_envs=2, seed=0)
    with pytest.raises(EnvCheckError, match="ClipAction"):
        run(env, np.array([5.0], dtype=np.float32))
    with pytest.raises(EnvCheckError, match="shape"):
        run(env, np.array([0.0, 0.0], dtype=np.float32))


@pytest.mark.parametrize("n_envs", [1, 3])
def test_nan_action_gets_its_own_message_not_the_advice_to_clip(n_envs):
    env = make_env("Pendulum-v1", n_envs=n_envs, seed=0)
    with pytest.raises(EnvCheckError, match=r"non-finite action \[nan\].*env index 0.*diverged") as caught:
        run(env, np.array([np.nan], dtype=np.float32))
    assert "ClipAction" not in str(caught.value) and "clip or squash" not in str(caught.value)


@pytest.mark.parametrize("n_envs", [1, 2])
@pytest.mark.parametrize("fault,match", [("nan_reward", "reward nan is not finite"),
                                         ("obs_out_of_space", "outside Box"), ("obs_nan", "not finite")])
def test_runtime_checks_on_env_outputs(n_envs, fault, match):
    env = make_env(lambda: Configurable(fault, at_step=4), n_envs=n_envs, seed=0)
    with pytest.raises(EnvCheckError, match=match) as err:
        run(env, 0)
    assert "env index 0" in str(err.value) and "at step 4" in str(err.value)


@pytest.mark.parametrize("n_envs", [1, 2])
def test_runtime_checks_wrong_dtype_and_flags(n_envs):
    with pytest.raises(EnvCheckError, match="dtype float32 and shape"):
        make_env(lambda: Configurable("obs_dtype"), n_envs=n_envs, seed=0)
    env = make_env(lambda: Configurable("int_flag"), n_envs=n_envs, seed=0)
    with pytest.raises(EnvCheckError, match=r"terminated=0, truncated=False at step \d+; both must be bool"):
        run(env, 0)


@pytest.mark.parametrize("n_envs", [1, 2])
def test_final_observation_outside_space_is_caught(n_envs):
    # the ended episode's last observation never reaches the agent as obs (it is next_obs of the last transition),
    # so it is checked on its own
    env = make_env(lambda: Configurable("final_obs_out_of_space"), n_envs=n_envs, seed=0)
    with pytest.raises(EnvCheckError, match=r"final observation \[-5.0, 0.0\] is outside Box"):
        run(env, 0, steps=60)


def test_reward_that_is_not_a_number_is_named():
    env = make_env(lambda: Configurable("str_reward"), seed=0)
    with pytest.raises(EnvCheckError, match="reward '1' of type str is not a number .* return a float"):
        run(env, 0)


def test_checks_can_be_turned_off():
    env = make_env(lambda: Configurable("nan_reward", at_step=4), n_envs=1, seed=0, check=False)
    run(env, 0)


def test_async_env_is_checked_too():
    env = make_env(lambda: Configurable("nan_reward", at_step=2), n_envs=2, seed=0, vectorization="async")
    with pytest.raises(EnvCheckError, match="not finite"):
        run(env, 0)
    env.close()


class TextNoteEnv(gym.Env):
    """A Dict observation with a ``Text(8)`` entry; at step ``bad_note_at`` the note is too long for it."""

    observation_space = gym.spaces.Dict({"pos": gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
                                         "note": gym.spaces.Text(8)})
    action_space = gym.spaces.Discrete(2)

    def __init__(self, bad_note_at=None):
        self.bad_note_at = bad_note_at

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return {"pos": np.zeros(2, np.float32), "note": "start"}, {}

    def step(self, action):
        self._t += 1
        note = "muchtoolong" if self._t == self.bad_note_at else f"step{self._t}"
        return {"pos": np.zeros(2, np.float32), "note": note}, 1.0, self._t == 3, False, {}


@pytest.mark.parametrize("n_envs", [1, 2])
def test_text_entries_of_dict_observations_are_checked(n_envs):
    env = make_env(TextNoteEnv, n_envs=n_envs, seed=0)
    for _ in range(7):  # episodes of 3 steps: their final observations are checked too
        obs, *_ = env.step(np.zeros(n_envs, dtype=np.int64))
    assert list(obs["note"]) == ["step1"] * n_envs
    for bad_at, what in [(2, "observation"), (3, "final observation")]:
        env = make_env(functools.partial(TextNoteEnv, bad_note_at=bad_at), n_envs=n_envs, seed=0)
        with pytest.raises(EnvCheckError, match=rf"^{what} is outside Dict.*env index 0\) at step {bad_at}"):
            for _ in range(3):
                env.step(np.zeros(n_envs, dtype=np.int64))


F64_MAX = float(np.finfo(np.float64).max)


class HugeBounds(gym.Env):
    """Box actions (and observations) bounded at the float64 maximum; steps report the action taken."""

    observation_space = gym.spaces.Box(-F64_MAX, F64_MAX, (2,), np.float64)
    action_space = gym.spaces.Box(-F64_MAX, F64_MAX, (2,), np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action)), action
        return np.zeros(2), 0.0, False, False, {}


def test_make_env_probes_and_checks_a_box_bounded_at_the_float64_maximum():
    env = make_env(HugeBounds, n_envs=2, seed=0)  # the auto-vectorization probe samples actions
    check_env(HugeBounds())
    env.reset(seed=0)
    env.step(np.zeros((2, 2)))
    env.close()


def test_sample_action_draws_inside_an_overflowing_box_and_names_the_fix_for_a_nested_one():
    box = HugeBounds.action_space
    box.seed(0)
    draws = np.stack([sample_action(box) for _ in range(50)])
    assert all(box.contains(d) for d in draws) and np.all(np.isfinite(draws)) and len(np.unique(draws)) == 100
    with pytest.raises(EnvCheckError, match="cannot be sampled.*declare bounds within the float32 range"):
        sample_action(gym.spaces.Dict({"a": box}))
