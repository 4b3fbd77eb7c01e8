import dataclasses
import re

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms.model_based.dyna import DynaQ
from porcini.algorithms.model_based.mpc import MPC
from porcini.algorithms.model_based.planning import PlanningAgent
from porcini.algorithms.registry import available, get_algorithm
from porcini.core.agent import supports_action_space
from porcini.envs.info import EnvInfo

OBS = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
SPACES = [gym.spaces.Discrete(2), gym.spaces.Box(-1.0, 1.0, (1,), np.float32), gym.spaces.MultiBinary(2),
          gym.spaces.MultiDiscrete([3, 2]), gym.spaces.Tuple([gym.spaces.Discrete(2)] * 2)]


MULTI_AGENT = {"ippo", "mappo", "idqn"}  # learners of a multi-agent env


def multi_agent_info(obs, space):
    """Two agents' rows, with the agent id and a global state (MAPPO's critic reads it)."""
    rows = gym.spaces.Dict({"observation": obs, "agent": gym.spaces.Box(0.0, 1.0, (2,), np.float32),
                            "state": gym.spaces.Box(-1.0, 1.0, (6,), np.float32)})
    return EnvInfo("toy", rows, space, n_envs=2, horizon=100, agents=("a_0", "a_1"))

def build(agent_cls, space):
    if issubclass(agent_cls, PlanningAgent) and isinstance(space, gym.spaces.Discrete):
        return agent_cls(make_env("porcini/Chain-v0").info)  # planning needs a finite MDP's model: 2 actions
    if getattr(agent_cls, "name", "") in MULTI_AGENT:  # learners of a multi-agent env: rows of two agents
        return agent_cls(multi_agent_info(OBS, space))
    if getattr(agent_cls, "name", "") == "self_play_ppo":  # the seats of a two-player game (9 moves: Discrete(9))
        info = make_env("pettingzoo.classic.tictactoe_v3:env").info
        moves = space if not isinstance(space, gym.spaces.Discrete) else info.action_space
        return agent_cls(dataclasses.replace(info, action_space=moves))
    fields = {f.name for f in dataclasses.fields(agent_cls.Config)}
    overrides = {"total_steps": 1000} if "total_steps" in fields else {}
    if agent_cls is MPC:  # plans with a known model: Pendulum's
        return agent_cls(dataclasses.replace(make_env("Pendulum-v1").info, action_space=space))
    obs = gym.spaces.Discrete(3) if issubclass(agent_cls, DynaQ) else OBS  # a table model needs Discrete states
    return agent_cls(EnvInfo("toy", obs, space, horizon=100), **overrides)


@pytest.mark.parametrize("name", available())
def test_declared_action_spaces_are_the_ones_the_agent_accepts(name):
    agent_cls = get_algorithm(name)
    assert agent_cls.action_spaces and all(n == "any" or hasattr(gym.spaces, n) for n in agent_cls.action_spaces)
    for space in SPACES:
        if supports_action_space(agent_cls, space):
            build(agent_cls, space)
        else:
            with pytest.raises(ValueError, match=type(space).__name__):
                build(agent_cls, space)


def test_the_declarations_of_the_families():
    assert get_algorithm("ppo").action_spaces == ("Discrete", "Box", "MultiDiscrete", "MultiBinary")
    assert get_algorithm("dqn").action_spaces == ("Discrete",) == get_algorithm("q_learning").action_spaces
    assert get_algorithm("sac").action_spaces == ("Box",) and get_algorithm("discrete_sac").action_spaces == (
        "Discrete",)
    assert supports_action_space(get_algorithm("random"), gym.spaces.MultiBinary(3))


class UnboundedActions(gym.Env):
    """An env whose Box actions have no bounds; only its spaces are read."""

    observation_space = OBS
    action_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)


def named_fix_applied(message):
    """The action space of ``UnboundedActions`` under each wrapper a refusal names as the fix."""
    from gymnasium.wrappers import RescaleAction, TransformAction

    from porcini.envs.wrappers import ClipAction, ClippedRescaleAction

    bounds = gym.spaces.Box(-1.0, 1.0, (1,))
    fixes = {"TransformAction": lambda env: TransformAction(env, lambda action: action, bounds),
             "ClippedRescaleAction": ClippedRescaleAction, "RescaleAction": lambda env: RescaleAction(env, -1.0, 1.0),
             "ClipAction": ClipAction}
    named = re.findall(r"\b(" + "|".join(fixes) + r")\b", message)
    assert named, f"the refusal names no wrapper: {message}"
    return [fixes[name](UnboundedActions()).action_space for name in named]


@pytest.mark.parametrize("name", [n for n in available() if n not in MULTI_AGENT])
def test_a_refused_unbounded_box_names_a_wrapper_that_bounds_it(name):
    """An agent that needs finite action bounds names a wrapper that gives them: the agent then accepts the env."""
    agent_cls = get_algorithm(name)
    if not supports_action_space(agent_cls, UnboundedActions.action_space):
        pytest.skip(f"{name} takes no Box actions")
    try:
        build(agent_cls, UnboundedActions.action_space)
    except ValueError as error:
        for space in named_fix_applied(str(error)):
            build(agent_cls, space)


INTEGER_BOX = gym.spaces.Box(-3, 3, (2,), np.int64)


def integer_box_info(n_envs=4):
    return EnvInfo("toy", OBS, INTEGER_BOX, n_envs=n_envs, horizon=100)


@pytest.mark.parametrize("name", ["ppo", "a2c", "recurrent_ppo"])
def test_on_policy_integer_box_actions_are_rounded_not_truncated(name):
    agent = get_algorithm(name)(integer_box_info())
    head = agent.model.heads.pi_head if name == "recurrent_ppo" else agent.model.pi_head
    with torch.no_grad():  # the Gaussian's mean is (2.7, -2.7) everywhere: its nearest integers are 3 and -3
        head.linear.weight.zero_()
        head.linear.bias.copy_(torch.tensor([2.7, -2.7]))
    action = agent.act(np.zeros((4, 3), np.float32), explore=False)
    assert action.dtype == np.int64 and action.tolist() == [[3, -3]] * 4


@pytest.mark.parametrize("name", ["sac", "td3", "ddpg", "bc"])
def test_tanh_policy_integer_box_actions_are_rounded_not_truncated(name, monkeypatch):
    agent = get_algorithm(name)(integer_box_info(), **({"loss": "mse"} if name == "bc" else {"learning_starts": 0}))
    normalized = torch.tensor([[0.9, -0.9]])  # the env's (2.7, -2.7) on [-3, 3]
    if name == "bc":
        monkeypatch.setattr(agent, "policy", lambda obs: torch.atanh(normalized).expand(len(obs), 2))
    else:
        monkeypatch.setattr(agent, "policy_action", lambda obs, explore: normalized.expand(len(obs), 2))
    action = agent.act(np.zeros((4, 3), np.float32), explore=False)
    assert action.dtype == np.int64 and action.tolist() == [[3, -3]] * 4


@pytest.mark.parametrize("name", ["sac", "td3", "ddpg"])
def test_uniform_warm_up_draws_every_integer_action_equally(name):
    """Before learning starts, the off-policy agents draw uniformly: each integer in the bounds, ends included."""
    agent = get_algorithm(name)(integer_box_info(), learning_starts=10**6)
    actions = agent.act(np.zeros((7000, 3), np.float32), explore=True)
    assert actions.dtype == np.int64 and actions.shape == (7000, 2)
    frequencies = np.bincount(actions.reshape(-1) + 3, minlength=7) / actions.size
    np.testing.assert_allclose(frequencies, 1 / 7, atol=0.015)  # a cast: 0 at 1/3, ±3 never; rounded: ±3 at 1/12


@pytest.mark.parametrize("name", ["ppo", "a2c", "recurrent_ppo"])
def test_on_policy_actions_stay_in_a_float64_box_with_a_fixed_dimension_float32_cannot_hold(name):
    """0.3 has no float32 equal to it: the float32 clamp alone played 0.29999998, outside Box(0.3, 0.3)."""
    from porcini import Core, make_env
    from porcini.envs.testing import SpaceEnv

    space = gym.spaces.Box(np.array([-1.0, 0.3]), np.array([1.0, 0.3]), dtype=np.float64)
    env = make_env(lambda: SpaceEnv(OBS, space), n_envs=2, seed=0)  # make_env's checks refuse outside actions
    batch = {} if name == "a2c" else {"batch_size": 16}
    agent = get_algorithm(name)(env.info, n_steps=8, log_std_init=1.0, **batch)
    for explore in (True, False):
        action = agent.act(np.zeros((2, 3), np.float32), explore=explore)
        assert action.dtype == np.float64 and all(space.contains(a) for a in action)
    assert Core(agent, env, progress=False).learn(steps=32).steps == 32
