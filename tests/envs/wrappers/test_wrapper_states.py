"""Wrapper state through porcini's experiment plumbing: config names, eval-env sharing, torch checkpoints."""

import numpy as np
import pytest

from porcini import make_env
from porcini.envs.testing import CountingEnv
from porcini.envs.wrappers import NormalizeObservation, NormalizeReward, VectorRecordEpisodeStatistics
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint
from porcini.experiment.config.run import EnvConfig, RunConfig
from porcini.experiment.envs import build_envs, stateful_wrappers, wrapper_states


def test_config_names_build_a_training_env_and_an_evaluation_twin():
    env_config = EnvConfig(id="CartPole-v1", n_envs=2, vectorization="sync",
                           wrappers=("VectorRecordEpisodeStatistics", {"NormalizeObservation": {"clip": 5.0}},
                                     {"NormalizeReward": {"gamma": 0.9}}))
    env, eval_env = build_envs(RunConfig(algo_name="random", env=env_config, eval_episodes=1))
    assert isinstance(env, NormalizeReward) and isinstance(env.env, NormalizeObservation)
    assert eval_env.stats is env.stats and eval_env.env.stats is env.env.stats
    assert eval_env.frozen and eval_env.env.frozen and not eval_env.scale
    count = env.env.stats.count
    for _ in range(5):
        eval_env.step(np.zeros(eval_env.num_envs, dtype=np.int64))
    assert env.env.stats.count == count


def test_wrapper_states_survive_a_weights_only_torch_checkpoint(tmp_path):
    pytest.importorskip("torch")

    def build():
        return make_env(CountingEnv, n_envs=2, seed=0, vectorization="sync",
                        wrappers=[VectorRecordEpisodeStatistics, NormalizeObservation, NormalizeReward])

    env = build()
    for _ in range(7):
        env.step(np.zeros(2, dtype=np.int64))
    states = wrapper_states(env)
    assert len(states) == 3
    save_checkpoint(tmp_path / "last.pt", {"wrappers": states}, identity={"env": "CountingEnv"})
    loaded = load_checkpoint(tmp_path / "last.pt")["wrappers"]
    fresh = build()
    for wrapper, state in zip(stateful_wrappers(fresh), loaded):
        wrapper.load_state_dict(state)
    for a, b in zip(stateful_wrappers(env), stateful_wrappers(fresh)):
        for key, value in a.state_dict().items():
            if key != "episode_time_s":
                np.testing.assert_array_equal(value, b.state_dict()[key])
