"""One seed makes a run reproducible: in-process and across processes."""

import json
import subprocess
import sys

import numpy as np

from porcini import Core, make_env
from porcini.algorithms.random import RandomAgent
from porcini.algorithms.tabular.q_learning import QLearning
from porcini.core import Callback


def random_returns(seed, n_envs):
    env = make_env("CartPole-v1", n_envs=n_envs, seed=seed)
    return Core(RandomAgent(env.info, seed=seed), env, progress=False).learn(steps=1500).episodes.returns


def test_same_seed_same_returns_in_process():
    assert random_returns(3, 1) == random_returns(3, 1)
    assert random_returns(3, 4) == random_returns(3, 4)
    assert random_returns(3, 4) != random_returns(4, 4)


class FirstObs(Callback):
    def on_learn_start(self, core):
        self.obs = core.obs.copy()


def test_learn_starts_from_the_start_states_make_env_was_seeded_with():
    for vectorization in ("sync", "async"):
        env = make_env("CartPole-v1", n_envs=2, seed=3, vectorization=vectorization)
        seeded_starts, _ = make_env("CartPole-v1", n_envs=2, vectorization=vectorization).reset(seed=3)
        first = FirstObs()
        Core(RandomAgent(env.info), env, callbacks=[first], progress=False).learn(steps=10)
        np.testing.assert_array_equal(first.obs, seeded_starts)
        env.close()


def test_same_seed_same_q_table():
    def table(seed):
        env = make_env("FrozenLake-v1", seed=seed, env_kwargs={"is_slippery": True})
        agent = QLearning(env.info, seed=seed)
        Core(agent, env, progress=False).learn(steps=2000)
        return agent.q.table.copy()

    np.testing.assert_array_equal(table(1), table(1))
    assert not np.array_equal(table(1), table(2))


def test_same_seed_same_summary_across_processes(tmp_path):
    def run():
        out = subprocess.run(
            [sys.executable, "-m", "porcini", "train", "q_learning", "FrozenLake-v1", "--steps", "1500", "--seed", "5",
             "--set", "steps_per_epoch=750", "--set", "log.sinks=[csv]", "--out", str(tmp_path), "--json",
             "--no-progress"],
            capture_output=True, text=True, check=True,
        )
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        return summary["eval_return_mean"], summary["train_episodes"]

    assert run() == run()


def test_subprocess_envs_repeat_and_match_in_process_envs():
    def returns(vectorization):
        env = make_env("CartPole-v1", n_envs=2, seed=11, vectorization=vectorization)
        result = Core(RandomAgent(env.info, seed=11), env, progress=False).learn(steps=600)
        env.close()
        return result.episodes.returns

    async_returns = returns("async")
    assert async_returns == returns("async")
    assert async_returns == returns("sync")
