import numpy as np
import pytest

from porcini.core.agent import BaseAgent


class RecorderAgent(BaseAgent):
    """Random actions from a seeded generator; keeps every batch Core fits on."""

    name = "recorder"

    def __init__(self, info, fit_every_steps=None, seed=0):
        self.info = info
        self.fit_every_steps = fit_every_steps
        self.rng = np.random.default_rng(seed)
        self.batches = []

    def act(self, obs, *, explore):
        space = self.info.action_space
        n = self.info.n_envs
        if self.info.discrete_actions:
            return self.rng.integers(space.start, space.start + space.n, size=n)
        return self.rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(space.dtype)

    def fit(self, batch):
        self.batches.append(batch)
        return {}


@pytest.fixture
def recorder_agent():
    return RecorderAgent
