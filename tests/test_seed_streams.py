"""One run seed, independent streams: the envs, the evaluation env and the agent never share random numbers.

The streams are the ones ``porcini.seeding``'s docstring documents; the derivations are recomputed here from
``numpy.random.SeedSequence`` directly, so the docstring, the code and these tests cannot drift apart.
"""

import random
import re

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.seeding import np_random

import porcini.seeding as seeding
from porcini import Core, make_env
from porcini.algorithms import DQN, PPO, SAC
from porcini.algorithms.random import RandomAgent
from porcini.algorithms.tabular.q_learning import QLearning
from porcini.core import Callback
from porcini.experiment.config import EnvConfig, RunConfig
from porcini.experiment.envs import build_envs
from porcini.seeding import env_reset_seeds, eval_reset_seeds, eval_seed


def word32(seed, *key):
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1, np.uint32)[0])


def word64(seed, *key):
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1, np.uint64)[0])


def child_rng(seed, *key):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def check_env_reset_seeds(seed):
    assert env_reset_seeds(seed, 3) == [word32(seed, 0, i) for i in range(3)]


def check_eval_seed(seed):
    assert eval_seed(seed) == word32(seed, 1)
    assert eval_reset_seeds(seed, 2) == [word32(word32(seed, 1), 0, i) for i in range(2)]


def check_action_space_seed(seed):
    assert seeding.action_space_seed(seed) == word32(seed, 2)


def check_torch_seed(seed):
    assert seeding.torch_seed(seed) == word64(seed, 3)


def check_agent_rng(seed):
    np.testing.assert_array_equal(seeding.agent_rng(seed).random(5), child_rng(seed, 4).random(5))


def check_agent_torch_seed(seed):
    assert seeding.agent_torch_seed(seed) == word64(seed, 5)


def check_agent_eval_rng(seed):
    np.testing.assert_array_equal(seeding.agent_eval_rng(seed).random(5), child_rng(seed, 6).random(5))


def check_group_seed(seed):
    assert seeding.group_seed(seed, 0) == seed
    assert [seeding.group_seed(seed, i) for i in (1, 2)] == [word32(seed, 8, 1), word32(seed, 8, 2)]


def check_extra_networks_seed(seed):
    assert seeding.extra_networks_seed(seed) == word32(seed, 9)


def check_seed_everything(seed):
    seeding.seed_everything(seed)
    drawn = (random.random(), np.random.random(), torch.rand(1).item())
    expected_torch = torch.Generator().manual_seed(word64(seed, 7, 2))
    assert drawn == (random.Random(word64(seed, 7, 0)).random(), np.random.RandomState(word32(seed, 7, 1)).random(),
                     torch.rand(1, generator=expected_torch).item())


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}


def documented_streams():
    """(spawn key head, function name) of every row of the table in porcini.seeding's docstring."""
    rows = re.findall(r"^\((\d+)[^)]*\)\s+:func:`(\w+)`", seeding.__doc__, flags=re.MULTILINE)
    return [(int(key), name) for key, name in rows]


def test_the_documented_table_names_every_stream_once_with_its_spawn_key():
    rows = documented_streams()
    assert sorted(key for key, _ in rows) == sorted(int(s) for s in seeding.Stream)
    assert {name for _, name in rows} == set(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
@pytest.mark.parametrize("seed", [0, 7, 2**40])
def test_each_documented_stream_is_what_the_code_derives(name, seed):
    CHECKS[name](seed)


def test_spawn_keys_are_the_children_of_seed_sequence_spawn():
    children = np.random.SeedSequence(11).spawn(len(seeding.Stream))
    assert seeding.eval_seed(11) == int(children[seeding.Stream.EVAL_ENV].generate_state(1)[0])
    assert env_reset_seeds(11, 2)[1] == int(children[seeding.Stream.ENVS].spawn(2)[1].generate_state(1)[0])


def test_a_negative_seed_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="non-negative int"):
        seeding.agent_rng(-1)


def test_make_env_resets_env_i_with_its_derived_seed_whatever_the_vectorization():
    expected = np.stack([gym.make("CartPole-v1").reset(seed=word32(4, 0, i))[0] for i in range(2)])
    for vectorization in ("sync", "async"):
        env = make_env("CartPole-v1", n_envs=2, seed=4, vectorization=vectorization)
        np.testing.assert_array_equal(env.reset(seed=4)[0], expected)
        env.close()


def env_stream_draws(env, n=2000):
    """The first ``n`` numbers of the stream env 0 of ``env`` was reset with (recreated from its seed)."""
    return np_random(env.envs[0].unwrapped.np_random_seed)[0].random(n)


AGENTS = {
    "dqn": lambda info, seed: DQN(info, seed=seed, learning_starts=10),
    "sac": lambda info, seed: SAC(info, seed=seed, learning_starts=10),
    "q_learning": lambda info, seed: QLearning(info, seed=seed),
    "random": lambda info, seed: RandomAgent(info, seed=seed),
}
ENVS = {"dqn": "CartPole-v1", "sac": "Pendulum-v1", "q_learning": "FrozenLake-v1", "random": "CartPole-v1"}


@pytest.mark.parametrize("algo", sorted(AGENTS))
def test_the_agents_numpy_draws_are_not_the_envs(algo):
    env = make_env(ENVS[algo], seed=3, vectorization="sync")
    agent = AGENTS[algo](env.info, 3)
    agent_draws = agent.rng.random(8)
    assert not np.isin(agent_draws, env_stream_draws(env)).any()
    space_draws = env.single_action_space.np_random.random(8)
    assert not np.isin(space_draws, env_stream_draws(env)).any()
    assert not np.isin(agent_draws, space_draws).any()


def test_the_agents_torch_generator_is_not_its_initialization_stream():
    env = make_env("CartPole-v1", seed=3)
    agent = PPO(env.info, seed=3, n_steps=64, batch_size=32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(agent.generator.initial_seed())
        rebuilt = PPO(env.info, seed=3, n_steps=64, batch_size=32)._make_model(env.info, True)
    ours = torch.cat([p.flatten() for p in agent.model.parameters()])
    assert not torch.equal(ours, torch.cat([p.flatten() for p in rebuilt.parameters()]))


class StartStates(Callback):
    """The first observation of every episode, per env index, in order."""

    def on_learn_start(self, core):
        self.starts = [[row.copy()] for row in core.obs]

    def on_step(self, core, action, reward, terminated, truncated, info):
        for i in np.flatnonzero(terminated | truncated):
            self.starts[i].append(core.obs[i].copy())


def start_states(env_seed, agent_seed, n_steps=600):
    env = make_env("CartPole-v1", n_envs=2, seed=env_seed)
    starts = StartStates()
    agent = DQN(env.info, seed=agent_seed, learning_starts=100, train_freq=50)
    returns = Core(agent, env, callbacks=[starts], progress=False).learn(steps=n_steps).episodes.returns
    return [np.array(s[:4]) for s in starts.starts], returns


def test_the_agents_seed_does_not_move_the_envs_start_states():
    starts_1, returns_1 = start_states(5, agent_seed=1)
    starts_2, returns_2 = start_states(5, agent_seed=2)
    assert returns_1 != returns_2  # the agents acted differently
    for a, b in zip(starts_1, starts_2):
        np.testing.assert_array_equal(a, b)
    other, _ = start_states(6, agent_seed=1)
    assert not np.array_equal(other[0], starts_1[0])


def test_same_seed_same_run_and_another_seed_another_run():
    def run(seed):
        env = make_env("CartPole-v1", n_envs=2, seed=seed)
        agent = DQN(env.info, seed=seed, learning_starts=100, train_freq=50)
        returns = Core(agent, env, progress=False).learn(steps=800).episodes.returns
        return returns, torch.cat([p.detach().flatten() for p in agent.q_net.parameters()])

    (returns_a, params_a), (returns_b, params_b) = run(9), run(9)
    assert returns_a == returns_b and torch.equal(params_a, params_b)
    returns_c, params_c = run(10)
    assert returns_c != returns_a and not torch.equal(params_c, params_a)


@pytest.mark.parametrize("n_envs", [1, 4, 16])
def test_eval_reset_seeds_are_disjoint_from_training_reset_seeds(n_envs):
    for seed in range(300):
        training = set(env_reset_seeds(seed, n_envs))
        assert len(training) == n_envs
        assert training.isdisjoint(eval_reset_seeds(seed, n_envs))


def test_the_eval_env_of_a_run_resets_with_the_eval_stream():
    config = RunConfig(algo_name="ppo", env=EnvConfig(id="CartPole-v1", n_envs=2, vectorization="sync"), seed=8,
                       eval_episodes=2)
    env, eval_env = build_envs(config)
    used = [e.unwrapped.np_random_seed for e in env.envs]
    used_eval = [e.unwrapped.np_random_seed for e in eval_env.envs]
    assert used == env_reset_seeds(8, 2) and used_eval == eval_reset_seeds(8, 2)
