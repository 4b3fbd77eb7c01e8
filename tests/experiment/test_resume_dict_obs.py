"""Agents on Dict observations (MiniGrid's layout, text mission filtered out) resume exactly from checkpoints."""


import numpy as np
import pytest

from porcini.envs.testing import DICT_OBS_ENV_ID
from porcini.experiment.checkpoint import load_checkpoint
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

FILTER = "env.wrappers=[{FilterObservation: {filter_keys: [image, direction]}}]"
AGENTS = {
    "ppo": ["env.n_envs=2", "n_steps=32", "batch_size=32", "n_epochs=2", "net_arch=[16]"],
    "dqn": ["learning_starts=100", "train_freq=25", "gradient_steps=5", "batch_size=16", "buffer_size=1000",
            "exploration_fraction=0.1", "net_arch=[16]", "features_dim=32"],
    "discrete_sac": ["learning_starts=100", "train_freq=25", "gradient_steps=5", "batch_size=16",
                     "buffer_size=1000", "net_arch=[16]"],
}


@pytest.mark.parametrize("algo", AGENTS)
def test_dict_observation_agents_resume_exactly(tmp_path, algo, eval_columns):
    def cfg(out, steps):
        overrides = [f"steps={steps}", "steps_per_epoch=200", "log.sinks=[csv]", f"out={out}", "eval_episodes=2",
                     FILTER, *AGENTS[algo]]
        return resolve(algo, DICT_OBS_ENV_ID, None, overrides)

    straight = Experiment.start(cfg(tmp_path / "a", 800)).train()
    first = Experiment.start(cfg(tmp_path / "b", 400))
    first.train()
    if algo == "dqn":  # the replay buffer in the checkpoint keeps the image entry as uint8
        state = load_checkpoint(first.run_dir.checkpoints / "last.pt")
        buffer = state["agent"]["buffer"]
        assert buffer["data.obs.image"].dtype == np.uint8 and buffer["data.next_obs.image"].dtype == np.uint8
        assert buffer["data.obs.direction"].dtype == np.int64
    resumed = Experiment.resume(first.run_dir.path, steps=800).train()
    assert resumed.env_steps == straight.env_steps == 800
    a, b = eval_columns(first.run_dir.path), eval_columns(straight.extra["run_dir"])
    assert any(name.startswith("loss/") for name in a[0])
    assert a == b
