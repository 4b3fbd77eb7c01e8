"""Core.learn_offline: gradient steps without env steps, on the loop's epochs, stop requests and fit hooks."""

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.core import Callback


class CountingAgent:
    """Records the gradient steps asked of each ``update`` call."""

    fit_every_steps = None
    fit_every_episodes = None

    def __init__(self):
        self.calls = []

    def act(self, obs, *, explore):
        return np.zeros(len(obs), dtype=np.int64)

    def fit(self, batch):
        return {}

    def reset(self, ended):
        pass

    def update(self, n):
        self.calls.append(n)
        return {"loss": float(sum(self.calls))}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class Epochs(Callback):
    def __init__(self, stop_after=None):
        self.at, self.fits, self.stop_after = [], 0, stop_after

    def on_fit(self, core, metrics):
        self.fits += 1

    def on_epoch_end(self, core):
        self.at.append(core.offline_steps)
        if self.stop_after is not None and len(self.at) == self.stop_after:
            core.stop_requested = True


def test_gradient_steps_are_cut_on_a_grid_from_each_epoch_start_and_close_epochs():
    env = make_env("CartPole-v1", seed=0)
    agent, hooks = CountingAgent(), Epochs()
    core = Core(agent, env, callbacks=[hooks], progress=False)
    result = core.learn_offline(25, steps_per_epoch=10, updates_per_fit=4)
    assert agent.calls == [4, 4, 2, 4, 4, 2, 4, 1]
    assert result.steps == core.offline_steps == 25 and core.env_steps == 0 and core.obs is None
    assert hooks.at == [10, 20] and core.epochs == 2 and hooks.fits == core.fits == 8
    assert result.last_metrics == {"loss": 25.0}
    assert core.state_dict()["offline_steps"] == 25


def test_a_stop_request_ends_offline_learning_at_the_epoch_and_resumes_on_the_same_grid():
    env = make_env("CartPole-v1", seed=0)
    agent, hooks = CountingAgent(), Epochs(stop_after=1)
    core = Core(agent, env, callbacks=[hooks], progress=False)
    assert core.learn_offline(30, steps_per_epoch=10, updates_per_fit=4).steps == 10
    restored = Core(agent, env, progress=False)
    restored.load_state_dict(core.state_dict())
    restored.learn_offline(20, steps_per_epoch=10, updates_per_fit=4)
    assert agent.calls == [4, 4, 2] * 3 and restored.offline_steps == 30


def test_an_agent_without_update_cannot_learn_offline():
    from porcini.algorithms.random import RandomAgent

    env = make_env("CartPole-v1", seed=0)
    with pytest.raises(TypeError, match="RandomAgent cannot learn offline"):
        Core(RandomAgent(env.info), env, progress=False).learn_offline(5)
