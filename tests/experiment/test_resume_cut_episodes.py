"""A resume at episode boundaries ends the cut episodes in the replay buffer too: n-step runs stop at the cut."""

import numpy as np
import pytest

from porcini.algorithms.value_based.common import n_step_window
from porcini.envs.testing import SLOW_ENV_ID
from porcini.experiment.checkpoint import load_checkpoint
from porcini.experiment.envs import ResumeWarning
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

# the env draws its noise from NumPy's global RNG: its episodes cannot be replayed, the resume restarts them
OVERRIDES = ["env.n_envs=2", "steps_per_epoch=150", "log.sinks=[csv]", "eval_episodes=2", "env.vectorization=sync",
             "env.kwargs={step_seconds: 0.0, episode_length: 40, global_noise: true}", "n_steps=3",
             "learning_starts=100", "gradient_steps=2", "batch_size=16", "buffer_size=2000", "net_arch=[16]"]


def newest_truncated(buffer_state):
    """The truncated flags of the newest stored row of every env column, from a ReplayBuffer state."""
    return buffer_state["data.truncated"][(int(buffer_state["position"]) - 1) % len(buffer_state["data.truncated"])]


def all_n_step_windows(buffer, n):
    """Every n-step transition the buffer can give: the windows of all runs of ``n`` stored steps."""
    starts = np.setdiff1d(np.arange(len(buffer)), buffer.invalid_sequence_starts(n))
    return n_step_window(buffer.gather_sequences(starts, n), gamma=0.99)


@pytest.mark.parametrize("train_freq,pending", [(50, 0), (40, 10)])  # checkpoint right after a fit, or between
def test_n_step_returns_do_not_cross_the_episodes_cut_by_a_resume(tmp_path, train_freq, pending):
    first = Experiment.start(resolve("dqn", SLOW_ENV_ID, None,
                                     ["steps=300", f"out={tmp_path}", f"train_freq={train_freq}", *OVERRIDES]))
    first.train()
    saved = load_checkpoint(first.run_dir.checkpoints / "last.pt")
    assert saved["core"]["ep_length"].tolist() == [30, 30] and saved["core"]["storage"]["t"] == pending
    assert not newest_truncated(saved["agent"]["buffer"]).any()
    with pytest.warns(ResumeWarning, match="resuming at episode boundaries"):
        resumed = Experiment.resume(first.run_dir.path, steps=600)
    # the cut's last step is marked where it is stored: in the replay buffer, or in the transitions since the fit
    assert newest_truncated(resumed.agent.buffer.state_dict()).all() == (pending == 0)
    resumed.train()
    windows = all_n_step_windows(resumed.agent.buffer, 3)
    assert len(windows.reward) > 500
    # obs[1] is the step within the episode over its length: every window ends within its own episode
    progress = windows.next_obs[:, 1] - windows.obs[:, 1]
    assert progress.min() > 0 and progress.max() <= 3 / 40 + 1e-6
