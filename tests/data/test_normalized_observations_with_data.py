"""A run whose env normalizes observations cannot learn from a dataset or a learned reward, which hold other ones.

The dataset's observations are as recorded and a learned reward reads those of the run it was learned in; the run's
NormalizeObservation would put its own observations on another scale, so the mix is refused on one line.
"""

import numpy as np
import pytest

from porcini import make_env
from porcini.data import collect_dataset, save_dataset
from porcini.errors import ConfigError
from porcini.experiment.config import dump_yaml
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

SMALL = ["net_arch=[16]", "batch_size=32", "eval_episodes=1", "log.sinks=[csv]", "steps=64"]


@pytest.fixture(scope="module")
def pendulum_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pendulum.npz"
    env = make_env("Pendulum-v1", seed=0)
    save_dataset(path, collect_dataset(env, lambda obs: np.zeros((len(obs), 1), np.float32), steps=200, seed=0))
    return path


@pytest.mark.parametrize("algo, extra", [("td3", ["data.offline_steps=10"]), ("td3_bc", ["data.offline_steps=10"]),
                                         ("gail", ["n_steps=32", "discriminator_batch_size=32"])])
def test_a_dataset_with_normalized_observations_is_refused_leaving_no_run(tmp_path, pendulum_data, algo, extra):
    config = resolve(algo, "Pendulum-v1", None, [f"out={tmp_path}", f"data.dataset={pendulum_data}", *SMALL, *extra,
                                                 "env.wrappers=[NormalizeObservation]"])
    with pytest.raises(ConfigError, match="holds observations as recorded.*drop NormalizeObservation") as err:
        Experiment.start(config, progress=False)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_learned_reward_with_normalized_observations_is_refused(tmp_path):
    wrappers = "env.wrappers=[NormalizeObservation]"
    reward_run = tmp_path / "preferences-run"
    reward_run.mkdir()  # what check_reward_config reads of a reward run: its config
    dump_yaml(resolve("preferences", "CartPole-v1", None, [wrappers]), reward_run / "config.yaml")
    config = resolve("ppo", "CartPole-v1", None, [f"out={tmp_path / 'runs'}", f"data.reward={reward_run}", wrappers,
                                                  "n_steps=32", *SMALL])
    with pytest.raises(ConfigError, match="reads observations normalized with statistics of its own run"):
        Experiment.start(config, progress=False)
    assert not (tmp_path / "runs").exists()
