"""Agents that cannot act in MultiDiscrete or MultiBinary spaces refuse them in one line naming the agents that can;
the env's run-time checks accept valid multi-component actions and reject invalid ones."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from click.testing import CliRunner

from porcini.algorithms.registry import available, get_algorithm
from porcini.core.agent import supports_action_space
from porcini.envs import make_env
from porcini.envs.info import EnvInfo
from porcini.errors import EnvCheckError, UnsupportedSpaceError
from porcini.experiment.cli import main

OBS = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
MULTI = [gym.spaces.MultiDiscrete([3, 3]), gym.spaces.MultiBinary(4)]
ON_POLICY = {"ppo", "a2c", "trpo", "reinforce", "recurrent_ppo", "ppo_lagrangian", "ippo", "mappo"}
OTHERS = [name for name in available() if name not in ON_POLICY and name != "random"]


MULTI_AGENT = {"ippo", "mappo", "idqn"}  # learners of a multi-agent env


def multi_agent_info(obs, space):
    """Two agents' rows, with the agent id and a global state (MAPPO's critic reads it)."""
    rows = gym.spaces.Dict({"observation": obs, "agent": gym.spaces.Box(0.0, 1.0, (2,), np.float32),
                            "state": gym.spaces.Box(-1.0, 1.0, (6,), np.float32)})
    return EnvInfo("toy", rows, space, n_envs=2, horizon=100, agents=("a_0", "a_1"))

def build(agent_cls, space):
    if getattr(agent_cls, "name", "") in MULTI_AGENT:  # learners of a multi-agent env: rows of two agents
        return agent_cls(multi_agent_info(OBS, space))
    fields = {f.name for f in dataclasses.fields(agent_cls.Config)}
    overrides = {"total_steps": 1000} if "total_steps" in fields else {}
    return agent_cls(EnvInfo("toy", OBS, space, horizon=100), **overrides)


def test_every_off_policy_tabular_and_bandit_agent_is_among_the_refusers():
    assert {"dqn", "qr_dqn", "ddpg", "td3", "sac", "discrete_sac", "q_learning", "fqi"} <= set(OTHERS)


@pytest.mark.parametrize("space", MULTI, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("name", OTHERS)
def test_agent_refuses_in_one_line_naming_the_agents_that_can(name, space):
    agent_cls = get_algorithm(name)
    assert not supports_action_space(agent_cls, space)
    with pytest.raises(UnsupportedSpaceError) as caught:
        build(agent_cls, space)
    message = str(caught.value)
    assert "\n" not in message and str(space) in message
    assert message.endswith(f"; for {type(space).__name__} actions use PPO, A2C, TRPO, REINFORCE or RecurrentPPO")


@pytest.mark.parametrize("name", sorted(ON_POLICY))
@pytest.mark.parametrize("space", MULTI, ids=lambda s: type(s).__name__)
def test_on_policy_agents_accept_both(name, space):
    assert supports_action_space(get_algorithm(name), space)
    build(get_algorithm(name), space)


def test_the_command_line_refuses_dqn_on_a_multi_discrete_task_with_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["train", "dqn", "porcini/MatchCues-v0", "--steps", "100", "--out",
                                       str(tmp_path), "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "use PPO, A2C, TRPO, REINFORCE or RecurrentPPO" in lines[0]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("n_envs", [1, 3])
def test_env_checks_accept_valid_multi_discrete_actions_and_reject_the_rest(n_envs):
    env = make_env("porcini/MatchCues-v0", n_envs=n_envs, seed=0)
    env.reset(seed=0)
    good = np.tile(np.array([[2, 0]], dtype=np.int64), (n_envs, 1))
    env.step(good)
    env.step(good.astype(np.int8))
    bad = good.copy()
    bad[-1, 1] = 3
    with pytest.raises(EnvCheckError, match=rf"action \[2, 3\] is outside MultiDiscrete\(\[3 3\]\) .*env index "
                                            rf"{n_envs - 1}"):
        env.step(bad)
    bad[-1, 1] = -1
    with pytest.raises(EnvCheckError, match="is outside"):
        env.step(bad)
    with pytest.raises(EnvCheckError, match="takes integers"):
        env.step(good.astype(np.float64))
    with pytest.raises(EnvCheckError, match="shape"):
        env.step(good[:, :1])


def test_env_checks_accept_valid_multi_binary_actions_and_reject_the_rest():
    env = make_env("porcini/MatchBits-v0", n_envs=2, seed=0)
    env.reset(seed=0)
    good = np.array([[1, 0, 1, 1], [0, 0, 0, 0]], dtype=np.int8)
    env.step(good)
    env.step(good.astype(bool))
    bad = good.copy()
    bad[1, 2] = 2
    with pytest.raises(EnvCheckError, match=r"action \[0, 0, 2, 0\] is outside MultiBinary\(4\)") as caught:
        env.step(bad)
    assert "\n" not in str(caught.value)
    with pytest.raises(EnvCheckError, match="takes integers"):
        env.step(good.astype(np.float32))
