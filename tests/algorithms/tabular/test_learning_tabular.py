"""Learning tests of the TD agents on built-in and Gymnasium tasks, fixed seeds."""

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.tabular.q_learning import QLearning
from porcini.algorithms.tabular.sarsa import Sarsa
from porcini.algorithms.tabular.sarsa_lambda import SarsaLambda
from porcini.algorithms.tabular.true_online_sarsa_lambda import TrueOnlineSarsaLambda


def online_returns(agent_cls, n_episodes, seed=0, n_envs=4, **config):
    env = make_env("porcini/CliffWalking-v0", n_envs=n_envs, seed=seed)
    eval_env = make_env("porcini/CliffWalking-v0", seed=100)
    agent = agent_cls(env.info, seed=seed, **config)
    core = Core(agent, env, eval_env=eval_env, progress=False)
    returns = np.array(core.learn(episodes=n_episodes).episodes.returns)
    return returns, core.evaluate(episodes=1)


def test_cliff_walking_sarsa_is_safer_online_and_q_learning_greedy_is_optimal():
    # Sutton & Barto (2018), Example 6.6 / Figure 6.4 (epsilon = 0.1, alpha = 0.5): during epsilon-greedy learning
    # Sarsa's episodes return about -25 (it learns the safe path) and Q-learning's about -50 (it walks the cliff
    # edge and falls in when it explores); Q-learning's greedy path is the optimal one, 13 steps, return -13.
    config = {"learning_rate": 0.5, "epsilon": 0.1}
    q_returns, q_eval = online_returns(QLearning, 400, **config)
    s_returns, _ = online_returns(Sarsa, 400, **config)
    q_online, s_online = q_returns[100:].mean(), s_returns[100:].mean()  # after the first 100 episodes
    # The book's gap is ~25; single seeds of ours showed 17-27 (seeds 0-4), so a gap of 5 is a safe margin.
    assert s_online > q_online + 5, (s_online, q_online)
    assert q_eval.returns == [-13.0]


@pytest.mark.slow
@pytest.mark.parametrize("trace_type", ["accumulating", "replacing"])
def test_mountain_car_tile_coded_sarsa_lambda(trace_type):
    # Sutton & Barto (2018), §10.1 and §12.7: 8 tilings of 8x8 tiles, alpha = 0.5 / 8 per tiling, lambda = 0.9,
    # epsilon = 0 with optimistic Q = 0 (rewards are -1), gamma = 1. Their learning curves reach ~-110 to -130
    # steps per episode after a few hundred episodes; the threshold is a mean better than -150 over the
    # last 100 of 500 episodes (we measured -102 accumulating and -113 replacing with seed 0).
    env = make_env("MountainCar-v0", seed=0)
    agent = SarsaLambda(env.info, learning_rate=0.5 if trace_type == "replacing" else 0.3, epsilon=0.0,
                        gamma=1.0, trace_decay=0.9, trace_type=trace_type, n_tilings=8, tiles_per_dim=8)
    returns = np.array(Core(agent, env, progress=False).learn(episodes=500).episodes.returns)
    assert returns[-100:].mean() > -150, returns[-100:].mean()


@pytest.mark.slow
def test_mountain_car_true_online_sarsa_lambda():
    # Same setting as above with dutch traces (van Seijen et al., 2016, Fig. 5 use Mountain Car with tile coding).
    env = make_env("MountainCar-v0", seed=0)
    agent = TrueOnlineSarsaLambda(env.info, learning_rate=0.5, epsilon=0.0, gamma=1.0, trace_decay=0.9)
    returns = np.array(Core(agent, env, progress=False).learn(episodes=500).episodes.returns)
    assert returns[-100:].mean() > -150, returns[-100:].mean()
