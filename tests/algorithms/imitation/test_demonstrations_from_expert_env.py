"""Demonstrations recorded from an expert run (``--expert``) hold the observations of the learner's own env."""

from __future__ import annotations

import pytest

from porcini.errors import ConfigError
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

BC = ["net_arch=[16]", "eval_episodes=1", "log.sinks=[csv]", "data.offline_steps=10", "data.expert_episodes=1",
      "steps=0"]


@pytest.fixture(scope="module")
def normalizing_expert(tmp_path_factory) -> str:
    """A PPO run on CartPole whose observations pass through NormalizeObservation (any run is an expert)."""
    out = tmp_path_factory.mktemp("normalizing-expert")
    run = Experiment.start(resolve("ppo", "CartPole-v1", None, [
        f"out={out}", "steps=256", "n_steps=128", "eval_episodes=1", "log.sinks=[csv]",
        "env.wrappers=[NormalizeObservation]"]), progress=False)
    run.train()
    return str(run.run_dir.path)


@pytest.mark.parametrize("wrappers", ["[]", "[NormalizeObservation]"])
def test_demonstrations_of_an_expert_that_observes_otherwise_are_refused_leaving_no_run(tmp_path, normalizing_expert,
                                                                                         wrappers):
    """Recorded in the expert's env, the demonstrations would hold its normalized observations, not this run's."""
    config = resolve("bc", "CartPole-v1", None, [f"out={tmp_path}", f"data.expert={normalizing_expert}", *BC,
                                                 f"env.wrappers={wrappers}"])
    expected = "trained with env.wrappers" if wrappers == "[]" else "normalizes with statistics of its own run"
    with pytest.raises(ConfigError, match=expected):
        Experiment.start(config, progress=False)
    assert list(tmp_path.iterdir()) == []
