"""The built-in MaskedChain and the ActionMaskInObservation wrapper: masks in the observation, as agents read them."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.envs.builtin import MaskedChain, register_builtin_envs
from porcini.envs.wrappers import ActionMaskInObservation

register_builtin_envs()


def test_mask_follows_the_rules_in_every_cell():
    env = MaskedChain()
    expected = {0: [0, 1, 1], 1: [1, 1, 0], 2: [1, 0, 1], 4: [0, 1, 0], 5: [1, 0, 1], 7: [0, 0, 0]}  # goal: none
    for cell, mask in expected.items():
        env.cell = cell
        assert env.action_mask().tolist() == mask, cell


def test_the_shortest_path_and_an_illegal_action():
    env = gym.make("porcini/MaskedChain-v0")
    obs, _ = env.reset(seed=0)
    total, path = 0.0, [0]
    for action in (MaskedChain.LEAP, MaskedChain.LEAP, MaskedChain.STEP, MaskedChain.LEAP):
        assert obs["action_mask"][action] == 1
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        path.append(int(obs["observation"]))
        assert info["illegal_action"] is False
    assert path == [0, 2, 4, 5, 7] and terminated and not truncated and total == pytest.approx(0.7)
    env.reset()
    obs, reward, terminated, _, info = env.step(MaskedChain.BACK)
    assert (reward, terminated, info["illegal_action"], int(obs["observation"])) == (-1.0, True, True, 0)
    assert env.observation_space.contains(obs)


def test_the_goal_has_no_legal_action_whatever_the_holes():
    # the docstring's rule: the goal is terminal, so its mask is all 0 (not only when the cell before it is a hole)
    for holes in ((3, 6), (3,), ()):
        env = MaskedChain(holes=holes)
        env.cell = env.n_cells - 1
        assert env.action_mask().tolist() == [0, 0, 0], holes


@pytest.mark.parametrize("action", [-1, 3, 1.5])
def test_an_action_outside_the_space_is_refused_not_taken_as_another(action):
    env = MaskedChain()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside Discrete\(3\)"):
        env.step(action)
    assert env.cell == 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n_cells"):
        MaskedChain(n_cells=2)
    with pytest.raises(ValueError, match="holes"):
        MaskedChain(holes=(7,))


class InfoMaskEnv(gym.Env):
    """Reports its mask in info, as Taxi does: ``[1, 0, 0]`` at reset, ``[0, 1, t % 2]`` at step ``t``; 3 steps."""

    observation_space = gym.spaces.Box(0, 10, (1,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {"action_mask": np.array([1, 0, 0], np.int8)}

    def step(self, action):
        self.t += 1
        info = {"action_mask": np.array([0, 1, self.t % 2], np.int8)}
        return np.full(1, self.t, np.float32), 0.0, self.t == 3, False, info


def test_wrapper_builds_the_dict_observation_from_reset_and_step_infos():
    env = ActionMaskInObservation(gym.make("Taxi-v4"))
    assert env.observation_space["action_mask"] == gym.spaces.Box(0, 1, (6,), np.int8)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs["action_mask"], info["action_mask"])
    for action in (0, 1, 2, 3):
        obs, _, _, _, info = env.step(action)
        np.testing.assert_array_equal(obs["action_mask"], info["action_mask"])
        assert env.observation_space.contains(obs)


def test_same_step_autoreset_keeps_the_final_mask_and_starts_with_the_next_episodes_first():
    env = make_env(InfoMaskEnv, seed=0, wrappers=[ActionMaskInObservation], vectorization="sync", check=False)
    obs, _ = env.reset(seed=0)
    assert obs["action_mask"].tolist() == [[1, 0, 0]]
    for _ in range(3):
        obs, _, terminated, _, info = env.step(np.array([1]))
    assert terminated.tolist() == [True]
    assert info["final_obs"]["action_mask"].tolist() == [[0, 1, 1]] and info["final_obs"]["observation"][0, 0] == 3
    assert obs["action_mask"].tolist() == [[1, 0, 0]] and obs["observation"][0, 0] == 0


def test_wrapper_refusals_are_one_line():
    with pytest.raises(TypeError, match="Discrete action space"):
        ActionMaskInObservation(gym.make("Pendulum-v1"))
    env = ActionMaskInObservation(gym.make("CartPole-v1"))
    with pytest.raises(KeyError, match="no 'action_mask'"):
        env.reset(seed=0)
    with pytest.raises(ValueError, match="3 entries"):
        ActionMaskInObservation(gym.make("CartPole-v1"), key="mask")._with_mask(0, {"mask": [1, 0, 1]})


def test_wrapper_by_name_in_a_run_config():
    from porcini.experiment.envs import resolve_wrapper

    assert resolve_wrapper("ActionMaskInObservation") is ActionMaskInObservation
