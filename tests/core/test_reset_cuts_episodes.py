"""``Core.reset`` between ``learn`` calls ends the episodes in progress for the agent: no target crosses the reset."""

import numpy as np
import torch

from porcini import Core, make_env
from porcini.algorithms import DQN, PPO
from porcini.algorithms.policy_gradient.common import gae_rollout
from porcini.algorithms.value_based.common import n_step_window
from porcini.core import BaseAgent
from porcini.envs.testing import CountingEnv


def counting_env(n_envs):
    """Observations ``[episode, t]``: an episode change between two rows is an episode boundary."""
    return make_env(lambda: CountingEnv(truncate_at=50), n_envs=n_envs, seed=0)


def slow_gae(reward, value, next_value, obs, next_obs, gamma, lam):
    """GAE by a backward loop, the trace cut wherever the next row's observation is not this row's successor."""
    n_rows, n_envs = reward.shape
    advantage = np.zeros((n_rows, n_envs))
    for env in range(n_envs):
        running = 0.0
        for t in reversed(range(n_rows)):
            continues = t + 1 < n_rows and np.array_equal(obs[t + 1, env], next_obs[t, env])
            running = running if continues else 0.0
            delta = reward[t, env] + gamma * next_value[t, env] - value[t, env]  # CountingEnv never terminates
            running = delta + gamma * lam * running
            advantage[t, env] = running
    return advantage


def test_a_rollout_in_progress_ends_truncated_and_its_advantages_stop_at_the_reset():
    env = counting_env(2)
    agent = PPO(env.info, n_steps=6, batch_size=12, n_epochs=1, gamma=0.9, gae_lambda=0.8)
    seen = []
    fit = agent.fit
    agent.fit = lambda batch: (seen.append(batch), fit(batch))[1]
    core = Core(agent, env, progress=False)
    core.learn(steps=2 * 4)
    core.reset()
    core.learn(steps=2 * 2)
    (batch,) = seen
    obs, next_obs = np.asarray(batch.obs), np.asarray(batch.next_obs)
    assert (obs[4, :, 1] == 0).all() and (obs[4, :, 0] == obs[3, :, 0] + 1).all()  # the reset's new episodes
    np.testing.assert_array_equal(batch.truncated[3], [True, True])
    with torch.no_grad():
        value = agent.model.value(torch.as_tensor(obs)).numpy()
        next_value = agent.model.value(torch.as_tensor(next_obs)).numpy()
    data = gae_rollout(agent.model, agent._to_torch(batch), 0.9, 0.8)
    expected = slow_gae(np.asarray(batch.reward), value, next_value, obs, next_obs, 0.9, 0.8)
    np.testing.assert_allclose(data.advantage.numpy().reshape(6, 2), expected, atol=1e-5)


def test_fitted_transitions_end_truncated_in_the_replay_buffer_so_n_step_windows_stop_at_the_reset():
    env = counting_env(2)
    agent = DQN(env.info, n_steps=3, train_freq=2, learning_starts=10**6, buffer_size=1000)
    core = Core(agent, env, progress=False)
    core.learn(steps=2 * 5)
    core.reset()
    core.learn(steps=2 * 5)
    buffer = agent.buffer
    starts = np.setdiff1d(np.arange(len(buffer)), buffer.invalid_sequence_starts(3))
    windows = n_step_window(buffer.gather_sequences(starts, 3), gamma=0.9)
    assert len(windows.reward) == 2 * 8
    np.testing.assert_array_equal(windows.next_obs[:, 0], windows.obs[:, 0])  # within one episode
    progress = windows.next_obs[:, 1] - windows.obs[:, 1]
    assert progress.min() >= 1 and progress.max() <= 3
    # windows from the last two steps before the reset stop there
    cut = windows.obs[:, 0] == 0
    np.testing.assert_array_equal(np.sort(windows.next_obs[cut, 1]), [3, 3, 4, 4, 5, 5, 5, 5, 5, 5])


class EpisodeBatches(BaseAgent):
    """Acts 0 and keeps the batches of an episode cadence (the loop gathers them in lists, not in preallocated rows)."""

    fit_every_steps, fit_every_episodes = None, 1

    def __init__(self):
        self.batches = []

    def act(self, obs, *, explore):
        return np.zeros(len(obs), dtype=np.int64)

    def fit(self, batch):
        self.batches.append(batch)
        return {}


def test_under_an_episode_cadence_the_gathered_transitions_end_truncated_at_the_reset():
    agent = EpisodeBatches()
    core = Core(agent, make_env(lambda: CountingEnv(truncate_at=5), seed=0), progress=False)
    core.learn(steps=3)
    core.reset()
    core.learn(episodes=1)
    (batch,) = agent.batches
    np.testing.assert_array_equal(batch.obs[:, 0, 1], [0, 1, 2, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(batch.truncated[:, 0], [False, False, True, False, False, False, False, True])
