"""FQI starts from ``Q_0 = 0`` with either regressor: its first targets are the rewards, its next ones bootstrap."""

import numpy as np
import pytest

from porcini import make_env
from porcini.algorithms.offline.fqi import FQI
from porcini.data import collect_dataset


@pytest.mark.parametrize("regressor", ["mlp", "extra_trees"])
def test_each_iteration_regresses_onto_r_plus_gamma_max_q_of_the_previous_one_from_zero(regressor):
    if regressor == "extra_trees":
        pytest.importorskip("sklearn")
    env = make_env("CartPole-v1", seed=0)
    data = collect_dataset(env, lambda obs: (obs[:, 2] > 0).astype(np.int64), steps=120, seed=0)
    agent = FQI(env.info, gamma=0.9, regressor=regressor, n_iterations=3, n_epochs=1, n_estimators=2)
    flat = data.batch.flatten()
    reward, terminated = flat.reward[:, 0].astype(np.float64), flat.terminated[:, 0].astype(np.float64)
    targets, expected = [], []
    regress = agent._regress

    def recording(x, action, target):
        previous = np.zeros((len(action), 2)) if not targets else agent.q_values(flat.next_obs[:, 0])
        expected.append(reward + 0.9 * (1.0 - terminated) * previous.max(axis=1))
        targets.append(target.copy())
        regress(x, action, target)

    agent._regress = recording
    agent.fit(data)
    assert len(targets) == 3
    np.testing.assert_array_equal(targets[0], reward)  # y_1 = r + γ (1 - terminated) · 0
    for got, want in zip(targets, expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
