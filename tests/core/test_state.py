"""Core's checkpoint (porcini.core.state): what a Core restored from it reports is what the saved one would."""

import numpy as np

from porcini import Core, make_env
from porcini.core import BaseAgent


class CountingFits(BaseAgent):
    """Acts 0 and reports, at each fit, how many rows it was given and how many fits it has done."""

    fit_every_steps = 8

    def __init__(self, info):
        self.info = info
        self.fits = 0

    def act(self, obs, *, explore):
        return np.zeros(len(obs), dtype=np.int64)

    def fit(self, batch):
        self.fits += 1
        return {"loss_rows": float(batch.n_rows), "fits": float(self.fits)}


def test_the_last_fits_metrics_survive_a_checkpoint():
    # a stop after a fit: the next epoch's row reports that fit's metrics when no fit comes before it ends
    core = Core(CountingFits(make_env("CartPole-v1", n_envs=2, seed=0).info), make_env("CartPole-v1", n_envs=2, seed=0))
    core.learn(steps=10)
    assert core.last_metrics == {"loss_rows": 4.0, "fits": 1.0}
    restored = Core(CountingFits(core.env.info), make_env("CartPole-v1", n_envs=2, seed=0))
    restored.load_state_dict(core.state_dict())
    assert restored.last_metrics == core.last_metrics
