"""Discrete CQL's penalty with action masks, against a reference log-sum-exp over the allowed actions."""

from __future__ import annotations

import numpy as np
import torch

from porcini import make_env
from porcini.algorithms import DiscreteCQL
from porcini.algorithms.kit import obs_to_tensor


def reference_penalty(q: np.ndarray, allowed: np.ndarray, action: np.ndarray) -> float:
    """mean_s (log Σ_{a allowed in s} exp Q(s, a) - Q(s, a_data)), a loop in float64."""
    terms = [np.log(np.exp(q[i][allowed[i]]).sum()) - q[i, action[i]] for i in range(len(q))]
    return float(np.mean(terms))


def test_masked_penalty_runs_over_the_legal_actions_and_the_data_action():
    env = make_env("porcini/MaskedChain-v0", seed=0)
    agent = DiscreteCQL(env.info, batch_size=6, learning_starts=10**9, seed=0)
    mask = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1], [0, 0, 1], [0, 0, 0]], np.int8)  # last: all-legal
    action = np.array([0, 2, 1, 2, 2, 1])  # row 2's data action is illegal: it stays in the log-sum-exp
    obs = {"observation": np.arange(6), "action_mask": mask}
    x = obs_to_tensor(obs, agent.device, env.info.observation_space)
    with torch.no_grad():
        q = agent.q_net(x).double().numpy()
    allowed = (mask == 1) | ~mask.any(axis=1, keepdims=True)
    allowed[np.arange(6), action] = True
    agent.gradient_step(x, torch.as_tensor(action), torch.zeros(6), None)
    penalty = agent._metrics(torch.zeros(1), torch.zeros(1))["loss_cql"]
    assert np.isclose(penalty, reference_penalty(q, allowed, action), rtol=1e-5)
    assert not np.isclose(penalty, reference_penalty(q, np.ones_like(allowed), action), rtol=1e-3)
