"""value_iteration and policy_iteration as agents: built from env.info, run through Core, saved and reloaded."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms import PolicyIteration, ValueIteration, get_algorithm
from porcini.envs.info import EnvInfo
from porcini.errors import ConfigError, NoModelError, UnsupportedSpaceError

AGENTS = [ValueIteration, PolicyIteration]


def evaluate(agent, env, episodes):
    """Greedy episodes of ``agent`` on a fresh copy of ``env`` (Core evaluates on an env of its own)."""
    return Core(agent, env, eval_env=env.spawn(1, 1000), progress=False).evaluate(episodes)


@pytest.mark.parametrize("agent_cls", AGENTS)
def test_deterministic_frozenlake_reaches_the_goal_by_a_shortest_path(agent_cls):
    env = make_env("FrozenLake-v1", seed=0, env_kwargs={"is_slippery": False})
    agent = agent_cls(env.info, gamma=0.9)
    record = evaluate(agent, env, 5)
    assert record.returns == [1.0] * 5
    assert record.lengths == [6] * 5  # 3 right and 3 down on the 4x4 map


@pytest.mark.parametrize("agent_cls", AGENTS)
def test_slippery_frozenlake_succeeds_about_as_often_as_planned(agent_cls):
    # The planned policy's success probability within the time limit is about 0.74; a policy that ignores the
    # slips (the deterministic plan) succeeds far less often.
    env = make_env("FrozenLake-v1", seed=0)
    record = evaluate(agent_cls(env.info, gamma=0.99), env, 300)
    assert np.mean(record.returns) > 0.65


@pytest.mark.parametrize("agent_cls", [ValueIteration])  # policy iteration: tests/algorithms/test_classical_configs.py
def test_taxi_gets_the_optimal_expected_return(agent_cls):
    # Optimal: +20 for the drop-off, -1 per step of the shortest route; 7.93 on average over Taxi's 300 start
    # states (the uniform start distribution dotted with the planned values at gamma = 1).
    env = make_env("Taxi-v4", seed=0)
    agent = agent_cls(env.info, gamma=0.99)
    returns = evaluate(agent, env, 100).returns
    assert abs(np.mean(returns) - 7.93) < 1.0, np.mean(returns)
    assert min(returns) >= 3  # never an illegal pick-up or drop-off (-10), never a detour to the time limit


def test_the_agent_plans_with_the_envs_model_and_discount():
    env = make_env("porcini/RiverSwim-v0")  # declares gamma 0.95
    agent = ValueIteration(env.info)
    assert agent.gamma == 0.95
    P, R, terminal = env.envs[0].unwrapped.transition_model()
    assert np.array_equal(agent.model.P, P)
    assert agent.policy.tolist() == [1] * 6  # swim right everywhere, for the large reward
    assert agent.act(np.array([0, 5]), explore=True).tolist() == [1, 1]
    explained = agent.explain(np.array([0]))
    assert explained["value"][0] == pytest.approx(agent.result.values[0])


def test_state_dict_round_trip_restores_the_plan_without_planning_differently():
    env = make_env("FrozenLake-v1", seed=0)
    agent = PolicyIteration(env.info, gamma=0.99)
    other = PolicyIteration(env.info, gamma=0.5)  # another plan...
    assert not np.array_equal(other.result.values, agent.result.values)
    saved = agent.state_dict()
    fresh = PolicyIteration(env.info, gamma=0.5, max_iterations=1)  # would fail to plan: 1 improvement is too few
    fresh.load_state_dict(saved)  # a loaded agent never plans
    np.testing.assert_array_equal(fresh.policy, agent.policy)
    other.load_state_dict(saved)  # ...replaced by the saved one
    np.testing.assert_array_equal(other.result.values, agent.result.values)
    np.testing.assert_array_equal(other.act(np.arange(16), explore=False), agent.act(np.arange(16), explore=False))
    assert other.result.iterations == agent.result.iterations


def test_registered_and_exported_like_every_agent():
    assert get_algorithm("value_iteration") is ValueIteration
    assert get_algorithm("policy_iteration") is PolicyIteration
    assert ValueIteration.fit_every_steps is None and ValueIteration.fit_every_episodes is None  # never fits


class NoTable(gym.Env):
    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Discrete(2)


def test_errors_name_the_problem():
    with pytest.raises(UnsupportedSpaceError, match="needs Discrete observations; CartPole-v1 has Box"):
        ValueIteration(make_env("CartPole-v1").info)
    with pytest.raises(UnsupportedSpaceError, match="needs Discrete actions; Pendulum-v1 has Box"):
        ValueIteration(make_env("Pendulum-v1").info)
    with pytest.raises(NoModelError, match="carries no transition model; build the env with porcini.make_env"):
        ValueIteration(EnvInfo("toy", gym.spaces.Discrete(3), gym.spaces.Discrete(2)))
    with pytest.raises(NoModelError, match="has no transition model"):
        ValueIteration(make_env(NoTable).info)
    class Coarser(gym.ObservationWrapper):  # two states seen as one: the model no longer fits the spaces
        def __init__(self, env):
            super().__init__(env)
            self.observation_space = gym.spaces.Discrete(8)

        def observation(self, obs):
            return obs // 2

    with pytest.raises(NoModelError, match="model has 16 states and 4 actions but its spaces have 8 and 4"):
        ValueIteration(make_env("FrozenLake-v1", wrappers=[Coarser]).info)
    # gamma = 1: policy iteration's first policy (up everywhere) never reaches the goal
    agent = PolicyIteration(make_env("CliffWalking-v1").info, gamma=1.0)
    with pytest.raises(ConfigError, match="policy_iteration on CliffWalking-v1 with gamma = 1.0: .*improper"):
        agent.act(np.array([36]), explore=False)
    with pytest.raises(ConfigError, match="tol"):
        ValueIteration.Config(tol=0.0)
