"""truncate_last on every replay buffer: the newest step of each env ends its episode, nothing else changes."""

import numpy as np
import pytest

from porcini.core.batch import TransitionBatch
from porcini.data import HerReplayBuffer, PrioritizedReplayBuffer, ReplayBuffer

N_ENVS = 3


def goal_reward(achieved, desired, info):
    return np.all(achieved == desired, axis=-1).astype(np.float32) - 1.0


BUFFERS = {
    "uniform": (lambda: ReplayBuffer(5 * N_ENVS), ""),
    "prioritized": (lambda: PrioritizedReplayBuffer(5 * N_ENVS), ""),
    "her": (lambda: HerReplayBuffer(5 * N_ENVS, goal_reward), "storage."),
}


def goal_batch(n_steps, rng, terminated=None, truncated=None):
    """Goal-dict transitions ``[n_steps, N_ENVS]`` with random flags unless given."""
    obs = {k: rng.normal(size=(n_steps, N_ENVS, 2)).astype(np.float32) for k in ("achieved_goal", "desired_goal")}
    u = rng.random((n_steps, N_ENVS))
    return TransitionBatch(obs=obs, action=rng.integers(0, 2, size=(n_steps, N_ENVS)),
                           reward=rng.normal(size=(n_steps, N_ENVS)).astype(np.float32),
                           next_obs={k: v + 1 for k, v in obs.items()},
                           terminated=u < 0.2 if terminated is None else terminated,
                           truncated=(u > 0.8) if truncated is None else truncated)


def stored_flags(buffer, prefix):
    """(terminated, truncated) of the stored rows ``[rows, B]`` in ring order, and the newest row's index."""
    state = buffer.state_dict()
    terminated, truncated = state[prefix + "data.terminated"], state[prefix + "data.truncated"]
    return terminated, truncated, (int(state[prefix + "position"]) - 1) % len(terminated)


@pytest.mark.parametrize("kind", BUFFERS)
def test_the_newest_step_of_every_env_is_truncated_unless_it_terminated(kind):
    make, prefix = BUFFERS[kind]
    rng = np.random.default_rng(0)
    buffer = make()
    for n_steps in (3, 3):  # past the ring's 5 rows: the newest row is not the last array row
        buffer.add(goal_batch(n_steps, rng))
    last_terminated, last_truncated = np.array([[True, False, False]]), np.array([[False, True, False]])
    buffer.add(goal_batch(1, rng, last_terminated, last_truncated))
    terminated, truncated, newest = stored_flags(buffer, prefix)
    assert newest == 1
    buffer.truncate_last()
    after_terminated, after_truncated, _ = stored_flags(buffer, prefix)
    np.testing.assert_array_equal(after_terminated, terminated)
    assert after_truncated[newest].tolist() == [False, True, True]  # a terminated step stays a termination only
    others = np.arange(len(truncated)) != newest
    np.testing.assert_array_equal(after_truncated[others], truncated[others])
    buffer.truncate_last()  # marking twice changes nothing more
    np.testing.assert_array_equal(stored_flags(buffer, prefix)[1], after_truncated)
    restored = make()
    restored.load_state_dict(buffer.state_dict())
    np.testing.assert_array_equal(stored_flags(restored, prefix)[1], after_truncated)


@pytest.mark.parametrize("kind", BUFFERS)
def test_an_empty_buffer_is_left_as_it_is(kind):
    make, _ = BUFFERS[kind]
    buffer = make()
    before = buffer.state_dict()
    buffer.truncate_last()
    after = buffer.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)
    buffer.add(goal_batch(2, np.random.default_rng(1), np.zeros((2, N_ENVS), bool), np.zeros((2, N_ENVS), bool)))
    assert len(buffer) == 2 * N_ENVS
