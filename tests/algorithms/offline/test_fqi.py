"""Fitted Q-Iteration on a random-policy dataset of the chain (Strens, 2000)."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.model_based.dynamic_programming import value_iteration
from porcini.algorithms.offline.fqi import FQI
from porcini.algorithms.random import RandomAgent
from porcini.data import collect_dataset
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError

GAMMA = 0.9


@pytest.fixture(scope="module")
def chain_data():
    env = make_env("porcini/Chain-v0", seed=0, max_episode_steps=100)
    policy = RandomAgent(env.info, seed=0)
    dataset = collect_dataset(env, lambda obs: policy.act(obs, explore=True), steps=2000, seed=0)
    P, R, terminal = env.envs[0].unwrapped.transition_model()
    optimal = value_iteration(P, R, GAMMA, terminal)
    # the optimal policy goes forward everywhere; the myopic one (gamma = 0.5) goes back in states 0-2
    assert optimal.policy.tolist() == [0, 0, 0, 0, 0]
    assert value_iteration(P, R, 0.5, terminal).policy.tolist() != [0, 0, 0, 0, 0]
    return env, dataset, optimal


def empirical_model(batch, n_states=5, n_actions=2):
    """Certainty-equivalent MDP of the data: counts -> P, mean rewards -> R."""
    flat = batch.flatten()
    s, a, r, s2 = (np.asarray(x)[:, 0] for x in (flat.obs, flat.action, flat.reward, flat.next_obs))
    counts = np.zeros((n_states, n_actions, n_states))
    rewards = np.zeros((n_states, n_actions))
    np.add.at(counts, (s, a, s2), 1.0)
    np.add.at(rewards, (s, a), r)
    visits = counts.sum(-1)
    return counts / visits[..., None], rewards / visits


def test_fqi_extra_trees_reaches_the_optimal_policy(chain_data):
    pytest.importorskip("sklearn")
    env, dataset, optimal = chain_data
    agent = FQI(env.info, gamma=GAMMA, regressor="extra_trees", n_estimators=3, n_iterations=60)
    metrics = agent.fit(dataset)
    q = agent.q_values(np.arange(5))
    np.testing.assert_array_equal(np.argmax(q, axis=1), optimal.policy)
    # With one-hot inputs every leaf averages the targets of one (s, a), so FQI is value iteration on the empirical
    # MDP of the data; after 60 iterations it is within gamma^60 * max|Q| (< 0.1) of that MDP's values.
    P_hat, R_hat = empirical_model(dataset.batch)
    np.testing.assert_allclose(q, value_iteration(P_hat, R_hat, GAMMA).q_values, atol=0.1)
    assert metrics["fqi_transitions"] == 2000


def test_fqi_mlp_reaches_the_optimal_policy(chain_data):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: threads only contend
    try:
        env, dataset, optimal = chain_data
        agent = FQI(env.info, gamma=GAMMA, regressor="mlp", n_iterations=30, n_epochs=2, batch_size=500,
                    learning_rate=1e-2, hidden_sizes=(32, 32))
        agent.fit(dataset.batch)
        q = agent.q_values(np.arange(5))
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(np.argmax(q, axis=1), optimal.policy)
    # FQI's fixed point is the empirical MDP's Q; 30 iterations stop gamma^30 = 4% short of it, and the network
    # adds its fitting error: within 20% (measured: 8-12% below for seeds 0 and 1).
    P_hat, R_hat = empirical_model(dataset.batch)
    np.testing.assert_allclose(q, value_iteration(P_hat, R_hat, GAMMA).q_values, rtol=0.2)


def test_fqi_state_dict_refits_the_same_model_and_runs_through_core(chain_data, tmp_path):
    pytest.importorskip("sklearn")
    from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint

    env, dataset, _ = chain_data
    agent = FQI(env.info, gamma=GAMMA, n_estimators=5, n_iterations=5, fit_every_steps=200)
    core = Core(agent, make_env("porcini/Chain-v0", seed=1, max_episode_steps=20), progress=False)
    core.fit_batch(dataset.batch)
    core.learn(steps=400)  # collects epsilon-greedy and refits on everything every 200 steps
    save_checkpoint(tmp_path / "fqi.pt", agent.state_dict(), {})
    clone = FQI(env.info, gamma=GAMMA, n_estimators=5, n_iterations=5, fit_every_steps=200)
    clone.load_state_dict(load_checkpoint(tmp_path / "fqi.pt"))
    obs = np.arange(5)
    np.testing.assert_array_equal(agent.q_values(obs), clone.q_values(obs))
    np.testing.assert_array_equal(agent.act(obs, explore=True), clone.act(obs, explore=True))
    assert len(clone._data["reward"]) == 2000 + 400


class ShiftedStates(gym.ObservationWrapper):
    """The chain's states numbered from 10: ``Discrete(5, start=10)``."""

    def __init__(self, env):
        super().__init__(env)
        self.observation_space = gym.spaces.Discrete(env.observation_space.n, start=10)

    def observation(self, observation):
        return int(observation) + 10


def test_fqi_numbers_discrete_observations_from_their_start(chain_data):
    """States ``start + i`` are encoded as state ``i``: the same data shifted gives the same Q-values and actions."""
    env, dataset, _ = chain_data
    shifted_env = make_env("porcini/Chain-v0", seed=0, max_episode_steps=100, wrappers=[ShiftedStates])
    shifted = dataclasses.replace(dataset.batch, obs=np.asarray(dataset.batch.obs) + 10,
                                  next_obs=np.asarray(dataset.batch.next_obs) + 10)
    plain = FQI(env.info, gamma=GAMMA, n_iterations=5, regressor="mlp", n_epochs=2, seed=0)
    moved = FQI(shifted_env.info, gamma=GAMMA, n_iterations=5, regressor="mlp", n_epochs=2, seed=0)
    plain.fit(dataset)
    moved.fit(shifted)
    np.testing.assert_allclose(moved.q_values(np.arange(10, 15)), plain.q_values(np.arange(5)))
    np.testing.assert_array_equal(moved.act(np.arange(10, 15), explore=False), plain.act(np.arange(5), explore=False))


def test_fqi_refuses_discrete_actions_that_do_not_start_at_0():
    info = EnvInfo("toy", gym.spaces.Discrete(4), gym.spaces.Discrete(2, start=1))
    with pytest.raises(UnsupportedSpaceError, match="starting at 0"):
        FQI(info)
