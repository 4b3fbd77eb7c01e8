"""TradingEnv starts every episode flat, so its observation space holds position 0 whatever the positions are."""

import numpy as np
import pytest

from porcini import make_env
from porcini.envs.builtin import TradingEnv


@pytest.mark.parametrize("positions", [(0.5, 1.0), (-2.0, -1.0), (-1.0, 0.0, 1.0)])
def test_every_observation_of_an_episode_is_in_the_space(positions):
    env = TradingEnv(positions=positions, episode_length=30, window=3)
    obs, _ = env.reset(seed=0)
    seen = [obs]
    truncated = False
    rng = np.random.default_rng(0)
    while not truncated:
        obs, _, _, truncated, _ = env.step(int(rng.integers(len(positions))))
        seen.append(obs)
    assert all(env.observation_space.contains(o) for o in seen)
    assert seen[0][-1] == 0.0  # flat at the start


def test_make_env_runs_long_only_positions():
    env = make_env("porcini/Trading-v0", n_envs=2, seed=0, env_kwargs={"positions": (0.5, 1.0), "episode_length": 20})
    obs, _ = env.reset(seed=1)
    assert obs.shape == (2, 11) and (obs[:, -1] == 0.0).all()
