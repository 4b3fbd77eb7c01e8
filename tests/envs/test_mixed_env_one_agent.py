"""One agent trains on batches from two different environments at once (a mixed-sources vector env)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example():
    spec = importlib.util.spec_from_file_location("two_envs_example", EXAMPLES / "two_envs_one_agent.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def inferred_gravity(obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    """Invert Pendulum-v1's dynamics: thdot' = thdot + (3 g / 2 sin(th) + 3 u) dt, with m = l = 1, dt = 0.05."""
    sin_th, thdot, next_thdot = obs[:, 1], obs[:, 2], next_obs[:, 2]
    u = 2.0 * action[:, 0]  # the buffer holds normalized actions; Pendulum's torque bounds are ±2
    return (next_thdot - thdot - 3.0 * u * 0.05) / (1.5 * sin_th * 0.05)


def test_one_sac_learns_from_both_gravities_in_every_batch():
    example = load_example()
    agent, env, scores = example.run(steps=400, sac_kwargs={"net_arch": (16, 16), "batch_size": 16},
                                     eval_episodes=1)
    assert env.source_labels == ["g=10", "g=4"]
    assert [e.unwrapped.g for e in env.envs] == [10.0, 4.0]
    assert agent.n_updates == 300  # (400 - 100) transitions, one update each
    stored = agent.buffer.gather(np.arange(len(agent.buffer)))
    source = stored.extras["source"][:, 0]
    assert np.bincount(source.astype(int)).tolist() == [200, 200]  # both envs in every vector step
    # the transitions labelled with each source really follow that source's physics
    obs, action, next_obs = stored.obs[:, 0], stored.action[:, 0], stored.next_obs[:, 0]
    usable = (np.abs(obs[:, 1]) > 0.3) & (np.abs(next_obs[:, 2]) < 7.9)  # no division by ~0, no speed clipping
    g = inferred_gravity(obs, action, next_obs)
    for label_id, expected in enumerate((10.0, 4.0)):
        rows = usable & (source == label_id)
        assert rows.sum() > 20
        np.testing.assert_allclose(g[rows], expected, rtol=1e-3, atol=1e-3)
    assert set(scores) == {"g=10", "g=4"} and all(-2000 < s <= 0 for s in scores.values())
    assert all(torch.isfinite(p).all() for p in agent.critic.parameters())
