"""An evaluation env must not normalize on its own: its returns would not be the env's, and nothing says so."""

from __future__ import annotations

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.random import RandomAgent
from porcini.envs.wrappers import NormalizeObservation, NormalizeReward, share_normalization


def _train_env():
    return make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[NormalizeObservation, NormalizeReward])


def test_a_spawned_eval_env_with_its_own_statistics_is_refused_with_the_fix():
    env = _train_env()
    core = Core(RandomAgent(env.info, seed=0), env, eval_env=env.spawn(1, 100), progress=False)
    core.learn(steps=200)
    with pytest.raises(ValueError, match=r"NormalizeReward, NormalizeObservation.*share_normalization"):
        core.evaluate(episodes=2)


def test_sharing_the_training_statistics_reports_the_envs_own_returns_with_the_trained_scaling():
    env = _train_env()
    eval_env = env.spawn(1, 100)
    share_normalization(eval_env, env)
    core = Core(RandomAgent(env.info, seed=0), env, eval_env=eval_env, progress=False)
    core.learn(steps=200)
    before = env.stats.state_dict()
    record = core.evaluate(episodes=3)
    assert record.returns == [float(n) for n in record.lengths]  # CartPole pays 1 per step: unscaled rewards
    after = env.stats.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)  # evaluating moved no statistic
    assert eval_env.stats is env.stats and eval_env.env.stats is env.env.stats
