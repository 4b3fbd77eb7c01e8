"""The Lagrangian agents' episode cost after episodes cut between fits (``Core.reset``): the new episodes' own cost."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.safe.ppo_lagrangian import PPOLagrangian
from porcini.algorithms.safe.sac_lagrangian import SACLagrangian
from porcini.core import TransitionBatch


class CostlyWalk(gym.Env):
    """Observation ``[t]``; cost ``1 + t`` per step (``info["cost"]``); truncated after 7 steps."""

    metadata: dict = {"render_modes": []}

    def __init__(self, box: bool = False):
        self.observation_space = gym.spaces.Box(0.0, 10.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32) if box else gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        cost = 1.0 + self.t
        self.t += 1
        return np.array([self.t], np.float32), 0.0, False, self.t >= 7, {"cost": cost}


@pytest.mark.parametrize("cls,box,kwargs", [
    (PPOLagrangian, False, {"n_steps": 5, "batch_size": 5, "n_epochs": 1}),
    (SACLagrangian, True, {"learning_starts": 100, "batch_size": 4}),
])
def test_the_episode_cut_after_a_fit_adds_nothing_to_the_next_episode_cost(cls, box, kwargs):
    env = make_env(CostlyWalk, seed=0, env_kwargs={"box": box})
    agent = cls(env.info, net_arch=(8,), cost_limit=10.0, **kwargs)
    core = Core(agent, env, progress=False)
    core.learn(steps=5)  # a fit, with five steps of an episode in progress
    core.reset()
    seen = []
    fit = agent.fit
    agent.fit = lambda batch: (seen.append((batch, fit(batch))), seen[-1][1])[1]
    core.learn(steps=10)
    after = TransitionBatch.concatenate([batch for batch, _ in seen])
    assert after.obs[0, 0, 0] == 0.0  # the reset's new episode
    end = int(np.flatnonzero(after.episode_end[:, 0])[0])
    expected = float(after.extras["cost"][: end + 1, 0].sum())
    ending_fit = next(metrics for batch, metrics in seen if batch.episode_end.any())
    assert ending_fit["episode_cost"] == pytest.approx(expected)
