import numpy as np
import pytest
import torch

from porcini.core import ConfigError, LoopSchedule, TransitionBatch


def make_batch(t=3, b=2, obs_dim=4):
    rng = np.random.default_rng(0)
    return TransitionBatch(
        obs=rng.normal(size=(t, b, obs_dim)).astype(np.float32),
        action=rng.integers(0, 2, size=(t, b)),
        reward=rng.normal(size=(t, b)),
        next_obs=rng.normal(size=(t, b, obs_dim)).astype(np.float32),
        terminated=rng.random((t, b)) < 0.3,
        truncated=rng.random((t, b)) < 0.3,
        extras={"cost": rng.random((t, b))},
    )


def test_shape_mismatch_names_the_field():
    b = make_batch()
    with pytest.raises(ValueError, match="next_obs"):
        TransitionBatch(b.obs, b.action, b.reward, b.next_obs[:2], b.terminated, b.truncated)
    with pytest.raises(ValueError, match="cost"):
        TransitionBatch(b.obs, b.action, b.reward, b.next_obs, b.terminated, b.truncated, {"cost": np.zeros(3)})
    with pytest.raises(ValueError, match=r"\[T, B\]"):
        TransitionBatch(b.obs, b.action, b.reward[0], b.next_obs, b.terminated, b.truncated)


def test_flatten_keeps_time_major_order():
    b = make_batch()
    f = b.flatten()
    assert f.obs.shape == (6, 1, 4)
    np.testing.assert_array_equal(f.obs[:, 0], b.obs.reshape(6, 4))
    np.testing.assert_array_equal(f.extras["cost"][:, 0], b.extras["cost"].reshape(6))
    np.testing.assert_array_equal(b.episode_end, b.terminated | b.truncated)


def test_to_torch_dtypes():
    t = make_batch().to_torch()
    assert t.obs.dtype == torch.float32
    assert t.reward.dtype == torch.float32  # float64 rewards become float32
    assert t.action.dtype == torch.int64
    assert t.terminated.dtype == torch.bool
    assert t.extras["cost"].dtype == torch.float32


def test_concatenate_and_index():
    a, b = make_batch(2), make_batch(3)
    c = TransitionBatch.concatenate([a, b])
    assert c.n_rows == 5 and c.n_envs == 2
    np.testing.assert_array_equal(c.index(slice(2, 5)).reward, b.reward)
    wide = TransitionBatch.concatenate([a, a], axis=1)
    assert wide.n_envs == 4


def test_schedule_counts():
    s = LoopSchedule(steps=100, fit_every_steps=32, steps_per_epoch=50)
    assert s.keep_going(99, 0) and not s.keep_going(100, 0)
    assert not s.fit_due(31, 5) and s.fit_due(32, 0)
    assert s.epoch_due(50) and not s.epoch_due(49)
    assert s.rows_per_fit(8) == 4 and s.rows_per_fit(5) == 7
    e = LoopSchedule(episodes=3, fit_every_episodes=2)
    assert e.keep_going(10_000, 2) and not e.keep_going(0, 3)
    assert e.fit_due(0, 2) and not e.fit_due(1000, 1)
    assert not LoopSchedule(steps=1).fits


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"steps": 1, "episodes": 1}, {"steps": 0}, {"steps": 5, "fit_every_steps": 1, "fit_every_episodes": 1},
     {"steps": 5, "steps_per_epoch": -1}, {"steps": 2.5}],
)
def test_schedule_rejects_bad_input(kwargs):
    with pytest.raises(ConfigError):
        LoopSchedule(**kwargs)


def test_with_reward_replaces_only_the_reward_and_checks_a_new_shape():
    batch = make_batch()
    reward = batch.reward.astype(np.float32)
    new = batch.with_reward(reward)
    assert new.reward is reward and batch.reward.dtype == np.float64  # the original batch is left as it was
    assert new == TransitionBatch(batch.obs, batch.action, reward, batch.next_obs, batch.terminated,
                                  batch.truncated, batch.extras)
    with pytest.raises(AttributeError):  # still frozen
        new.reward = batch.reward  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"TransitionBatch.obs has leading shape \(3, 2\), expected .* \(2, 2\)"):
        batch.with_reward(reward[:2])
