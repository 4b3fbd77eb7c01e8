"""What DQN learns from is what CartPole did: its replay buffer checked against the env's own dynamics.

Together with test_dqn_matches_sb3.py (the update is SB3's), this pins down DQN's data path end to end: Core's
stepping, same-step autoreset and true final observations, the rollout handed to ``fit``, and the buffer.
"""

import gymnasium as gym
import numpy as np
import torch

from porcini import Core, make_env
from porcini.algorithms import DQN

THETA_LIMIT = 12 * 2 * np.pi / 360  # CartPole's termination angle
X_LIMIT = 2.4
HORIZON = 15  # short, so that the near-random early policy also gets truncated episodes


def test_replay_buffer_holds_exactly_the_env_transitions():
    env = make_env("CartPole-v1", seed=3, max_episode_steps=HORIZON)
    agent = DQN(env.info, learning_starts=500, train_freq=64, gradient_steps=8, batch_size=32,
                target_update_interval=10, net_arch=(32,), seed=3)
    Core(agent, env, progress=False).learn(steps=3008, horizon=3000)
    n = len(agent.buffer)
    assert n == 3008
    data = agent.buffer.gather(np.arange(n))
    obs, next_obs = data.obs.reshape(n, 4), data.next_obs.reshape(n, 4)
    action, reward = data.action.reshape(n), data.reward.reshape(n)
    terminated, truncated = data.terminated.reshape(n), data.truncated.reshape(n)
    ended = terminated | truncated

    assert terminated.sum() > 10 and truncated.sum() > 0, "the run should contain both kinds of episode end"
    # (Gymnasium's TimeLimit may flag both at the horizon step; terminated then wins: no bootstrap)
    # within an episode the successor is the next stored observation; after an end, a fresh start state
    assert np.array_equal(next_obs[:-1][~ended[:-1]], obs[1:][~ended[:-1]])
    assert np.abs(obs[np.flatnonzero(ended[:-1]) + 1]).max() <= 0.05
    # terminated exactly where the true final observation fails CartPole's bounds, truncated exactly at the horizon
    failed = (np.abs(next_obs[:, 0]) > X_LIMIT) | (np.abs(next_obs[:, 2]) > THETA_LIMIT)
    assert np.array_equal(terminated, failed)
    ends = np.flatnonzero(ended)
    lengths = np.diff(np.r_[-1, ends])
    assert np.all(lengths[truncated[ends]] == HORIZON) and np.all(lengths <= HORIZON)
    assert np.all(reward == 1.0)
    # every stored transition follows CartPole's dynamics from the stored state and action
    sim = gym.make("CartPole-v1").unwrapped
    sim.reset(seed=0)
    for t in range(0, n, 7):
        sim.state = obs[t].astype(np.float64)
        sim.steps_beyond_terminated = None
        expected, *_ = sim.step(int(action[t]))
        np.testing.assert_allclose(next_obs[t], expected, atol=1e-5)
    assert torch.isfinite(next(agent.q_net.parameters())).all()
