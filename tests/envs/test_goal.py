"""Goal envs: EnvInfo.goal reaches a goal env's compute_reward from sync, async and plain envs."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.envs.builtin import BitFlippingEnv
from porcini.envs.goal import GoalFunctions, goal_functions, is_goal_space


def check_goal_functions(vectorization):
    env = make_env("porcini/BitFlipping-v0", n_envs=2, seed=0, env_kwargs={"n_bits": 6}, vectorization=vectorization)
    try:
        goal = env.info.goal
        assert goal is not None and goal.env.n_bits == 6  # the env's own kwargs, also for a subprocess env
        achieved = np.zeros((3, 6), np.float32)
        desired = np.array([[0] * 6, [1] + [0] * 5, [0] * 6], np.float32)
        reference = BitFlippingEnv(6)  # the env's methods, called directly
        assert goal.compute_reward(achieved, desired, [{}] * 3).tolist() == \
            reference.compute_reward(achieved, desired, {}).tolist() == [0.0, -1.0, 0.0]
        assert goal.compute_terminated(achieved, desired, [{}] * 3).tolist() == \
            reference.compute_terminated(achieved, desired, {}).tolist() == [True, False, True]
    finally:
        env.close()


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_env_info_carries_the_goal_functions_of_the_env(vectorization):
    check_goal_functions(vectorization)


def test_a_ray_vector_env_lends_the_goal_functions_of_a_local_copy(local_ray):
    # Its envs live in Ray actors: the functions come from a local copy of env 0, as for an async env (hindsight
    # replay on vectorization="ray" used to fail, saying BitFlipping defines no compute_reward).
    check_goal_functions("ray")


def test_other_envs_have_no_goal_and_infos_compare_without_it():
    env = make_env("CartPole-v1", n_envs=1, seed=0)
    assert env.info.goal is None
    goal_env = make_env("porcini/BitFlipping-v0", n_envs=1, seed=0)
    assert dataclasses.replace(goal_env.info, goal=None) == goal_env.info
    assert goal_functions(BitFlippingEnv(3)).env.n_bits == 3  # a plain gymnasium.Env lends its own methods


def test_a_goal_observation_without_compute_reward_is_named():
    class NoReward(gym.Env):
        observation_space = gym.spaces.Dict({k: gym.spaces.Box(0, 1, (2,)) for k in
                                             ("observation", "achieved_goal", "desired_goal")})
        action_space = gym.spaces.Discrete(2)

    assert is_goal_space(NoReward.observation_space) and not is_goal_space(gym.spaces.Box(0, 1, (2,)))
    goal = goal_functions(NoReward(), "NoReward")
    with pytest.raises(TypeError, match="NoReward has a goal-env observation but no compute_reward"):
        goal.compute_reward(np.zeros(2), np.zeros(2), {})
    assert GoalFunctions(lambda: BitFlippingEnv(2)).compute_terminated is not None
