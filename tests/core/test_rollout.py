"""RolloutStorage: the batches it hands over, the check of their [T, B] leads, exact-resume state."""

import numpy as np
import pytest

from porcini.core.batch import TransitionBatch
from porcini.core.rollout import RolloutStorage


def step(t, n_envs=2, action_envs=None):
    """One time slice whose values say which step they come from."""
    obs = np.full((n_envs, 3), t, np.float32)
    return (obs, np.full(action_envs or n_envs, t), np.full(n_envs, float(t)), obs + 1, np.zeros(n_envs, bool),
            np.full(n_envs, t % 2 == 1), {"cost": np.full(n_envs, 10.0 * t)})


@pytest.mark.parametrize("rows", [3, None])
@pytest.mark.parametrize("info_keys", [(), ("cost",)])
def test_take_hands_over_the_slices_in_order_and_never_writes_them_again(rows, info_keys):
    storage, kept = RolloutStorage(rows, info_keys), []
    for period in range(30):  # several chunks of rows
        for t in range(3 * period, 3 * period + 3):
            storage.append(*step(t))
        batch = storage.take()
        assert isinstance(batch, TransitionBatch) and (batch.n_rows, batch.n_envs) == (3, 2)
        kept.append(batch)
    for period, batch in enumerate(kept):
        t = np.arange(3 * period, 3 * period + 3)[:, None] * np.ones((1, 2))
        np.testing.assert_array_equal(batch.reward, t)
        np.testing.assert_array_equal(batch.action, t)
        np.testing.assert_array_equal(batch.next_obs[..., 0], t + 1)
        np.testing.assert_array_equal(batch.truncated, t % 2 == 1)
        assert set(batch.extras) == set(info_keys)
        if info_keys:
            np.testing.assert_array_equal(batch.extras["cost"], 10 * t)


@pytest.mark.parametrize("rows", [2, None])
def test_a_field_with_another_env_count_is_refused_naming_it(rows):
    storage = RolloutStorage(rows)
    with pytest.raises(ValueError, match=r"TransitionBatch.action has leading shape \(\d, 3\), expected"):
        storage.append(*step(0, action_envs=3))
        storage.append(*step(1, action_envs=3))
        storage.take()


def test_state_dict_puts_back_the_rows_gathered_so_far():
    storage = RolloutStorage(4, ("cost",))
    for t in range(6):
        storage.append(*step(t))
    storage.take()
    storage.append(*step(6))
    restored = RolloutStorage(4, ("cost",))
    restored.load_state_dict(storage.state_dict())
    for t in (7, 8, 9):
        storage.append(*step(t))
        restored.append(*step(t))
    a, b = storage.take(), restored.take()
    for name in ("obs", "action", "reward", "next_obs", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.extras["cost"], b.extras["cost"])
    np.testing.assert_array_equal(b.reward[:, 0], [6, 7, 8, 9])
