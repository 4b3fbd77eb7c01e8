"""QNetwork (porcini.networks.q_network): built from spaces, action values or quantiles."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini.networks.q_network import QNetwork

BOX = gym.spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)


def test_q_network_outputs_action_values_or_quantiles():
    q = QNetwork(BOX, 3, (8,), "relu", 512)
    assert q(torch.zeros(5, 4)).shape == (5, 3)
    quantiles = QNetwork(BOX, 3, (8,), "relu", 512, n_quantiles=7)
    assert quantiles(torch.zeros(5, 4)).shape == (5, 3, 7)
    one_hot_input = QNetwork(gym.spaces.Discrete(6), 2, (8,), "relu", 512)
    assert one_hot_input(torch.eye(6)).shape == (6, 2)
    with pytest.raises(ValueError, match="dueling head has no quantile version"):
        QNetwork(BOX, 3, (8,), "relu", 512, dueling=True, n_quantiles=7)
