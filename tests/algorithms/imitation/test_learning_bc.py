"""BC from 10 expert episodes (``-m slow``), experts made with porcini's configs of record, 4 of 5 seeds.

CartPole: PPO's run directory records the demonstrations (``collect_policy``, ``porcini collect RUN``; see
``conftest.py``) and BC (its defaults, 2,000 gradient steps) must reach 475. Pendulum: the first 10 episodes of the
reference dataset ``pendulum-expert`` (SAC's config of record, deterministic) and BC (64 units, 10,000 gradient
steps) must come within 10% of the expert's return on the same 10 start states (Pendulum's return depends on the
start state about as much as on the policy, so the comparison is paired).
"""

from __future__ import annotations

import pytest
import torch

from porcini import make_env
from porcini.algorithms.offline.bc import BC
from porcini.core.evaluation import run_episodes
from porcini.data import Dataset, collect_dataset, load_dataset
from porcini.data.dataset_stats import complete_episode_returns
from porcini.experiment.reference_datasets import reference_dataset

pytestmark = pytest.mark.slow


def test_bc_from_10_expert_episodes_reaches_475_on_cartpole(cartpole_expert):
    expert_return, demos = cartpole_expert
    print(f"expert: {expert_return:.0f}; demonstrations: {demos.n_episodes} episodes, {len(demos)} steps")
    returns = []
    for seed in range(5):
        torch.set_num_threads(1)
        env = make_env("CartPole-v1", seed=seed)
        agent = BC(env.info, seed=seed)
        agent.add_dataset(demos)
        agent.update(2000)
        returns.append(run_episodes(agent, make_env("CartPole-v1", seed=100 + seed), 10, seed=100 + seed).mean_return())
    print("bc:", [round(r) for r in returns])
    assert sum(r >= 475 for r in returns) >= 4, returns


def test_bc_from_10_expert_episodes_comes_within_10_percent_of_the_expert_on_pendulum():
    full = load_dataset(reference_dataset("pendulum-expert"))
    demos = Dataset(full.batch.index(slice(0, 2000)), full.metadata)  # one env column: the first 10 episodes
    expert_return = float(complete_episode_returns(demos).mean())
    seed_of_recording = int(full.metadata["seed"])
    passed, lines = 0, []
    for seed in range(5):
        torch.set_num_threads(1)
        env = make_env("Pendulum-v1", seed=seed)
        agent = BC(env.info, seed=seed, net_arch=(64, 64))
        agent.add_dataset(demos)
        agent.update(10_000)
        replay = collect_dataset(make_env("Pendulum-v1", seed=seed_of_recording),
                                 lambda obs, agent=agent: agent.act(obs, explore=False), episodes=10,
                                 seed=seed_of_recording)
        assert [e.obs[0, 0].tolist() for e in replay.episodes()] == [e.obs[0, 0].tolist() for e in demos.episodes()]
        result = float(complete_episode_returns(replay).mean())
        passed += result >= expert_return - 0.1 * abs(expert_return)
        lines.append(f"seed {seed}: bc {result:.0f}, expert {expert_return:.0f}")
        print(lines[-1], flush=True)
    assert passed >= 4, lines
