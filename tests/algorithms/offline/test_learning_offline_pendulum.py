"""TD3+BC learns offline from a noisy swing-up controller's Pendulum data, above the data's best decile and BC."""

import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms.offline.bc import BC
from porcini.algorithms.offline.td3_bc import TD3BC
from porcini.core.evaluation import run_episodes
from porcini.data import collect_dataset


def swing_up(obs):
    """Pump energy with full torque, balance with a PD law near the top (an expert at about -140 per episode)."""
    cos, sin, speed = obs[:, 0], obs[:, 1], obs[:, 2]
    energy = 0.5 * speed**2 / 15.0 + (cos - 1.0)  # 0 upright at rest
    torque = np.where(cos > 0.85, -(10 * np.arctan2(sin, cos) + 2 * speed), 2.0 * np.sign(speed) * (energy < 0))
    return np.clip(torque, -2, 2)[:, None].astype(np.float32)


def noisy_dataset(seed, random_share=0.5, episodes=50):
    """The controller with a uniformly random torque at ``random_share`` of the steps: 10,000 transitions."""
    rng = np.random.default_rng(seed)

    def policy(obs):
        action = swing_up(obs)
        random = rng.uniform(-2, 2, size=action.shape).astype(np.float32)
        return np.where(rng.random((len(obs), 1)) < random_share, random, action)

    return collect_dataset(make_env("Pendulum-v1", seed=seed), policy, episodes=episodes, seed=seed)


@pytest.mark.slow
def test_td3_bc_beats_the_data_and_bc_on_noisy_pendulum_data():
    torch.set_num_threads(1)
    data = noisy_dataset(seed=0)
    returns = np.array([float(e.reward.sum()) for e in data.episodes()])
    eval_env = make_env("Pendulum-v1", seed=100)
    results = {}
    for cls in (TD3BC, BC):
        agent = cls(eval_env.info, seed=0)
        agent.add_dataset(data)
        agent.update(15_000)
        results[cls.__name__] = float(np.mean(run_episodes(agent, eval_env, 10, explore=False, seed=1000).returns))
    # measured: data mean -560, best decile -375; TD3+BC -208, BC -560
    assert results["TD3BC"] > np.percentile(returns, 90), (results, np.percentile(returns, 90))
    assert results["TD3BC"] > results["BC"] + 100, results
