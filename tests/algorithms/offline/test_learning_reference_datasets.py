"""Offline RL on the reference datasets (``-m slow``): each criterion must hold for at least 4 of 5 seeds.

The datasets come from :func:`porcini.experiment.reference_datasets.reference_dataset` (built on first use into
``$PORCINI_DATASETS``, else ``~/.cache/porcini/datasets``; building the Pendulum suite trains SAC twice). Seeds
run one after the other in this process with one torch thread; a criterion stops at the seed that decides it
(4 passes, or 2 failures). Every seed prints its returns and wall time (``pytest -m slow -s``).

Returns are negative on Pendulum, so "within 10% of R" is ``≥ R - 0.1 |R|`` and "90% of R" likewise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms import BC, CQL, IQL, TD3BC, DiscreteCQL
from porcini.core.callbacks import Callback
from porcini.core.evaluation import run_episodes
from porcini.data import Dataset, collect_dataset, load_dataset
from porcini.data.dataset_stats import complete_episode_returns
from porcini.experiment.reference_datasets import reference_dataset

pytestmark = pytest.mark.slow

SEEDS, NEEDED = range(5), 4
GRADIENT_STEPS = 20_000
EXPERT_GRADIENT_STEPS = 10_000
EVAL_EPISODES = 10
# The papers' settings, networks narrowed to 64 units (Pendulum's 3-d observations need no more; 4x cheaper).
# CQL: a fixed α' = 5, the paper's setting on its locomotion tasks, as in test_offline_learning.py (the Lagrange α'
# was unstable there), and 5 sampled actions per proposal: CQL's update costs several of the others'.
AGENTS: dict[str, tuple[type, dict[str, Any]]] = {
    "bc": (BC, {"net_arch": (64, 64)}),
    "td3_bc": (TD3BC, {"net_arch": (64, 64)}),
    "iql": (IQL, {"net_arch": (64, 64)}),
    "cql": (CQL, {"net_arch": (64, 64), "cql_alpha": 5.0, "cql_n_actions": 5}),
}


@cache
def dataset(name: str) -> Dataset:
    return load_dataset(reference_dataset(name))


def within(value: float, reference: float, share: float) -> bool:
    """``value`` is at most ``share`` of ``|reference|`` below ``reference`` (returns may be negative)."""
    return value >= reference - share * abs(reference)


def evaluate(agent: Any, seed: int) -> float:
    """Mean deterministic return over EVAL_EPISODES episodes from start states of its own seed."""
    record = run_episodes(agent, make_env("Pendulum-v1", seed=10_000 + seed), EVAL_EPISODES, seed=10_000 + seed)
    return float(np.mean(record.returns))


@cache
def offline_return(algo: str, name: str, seed: int, **extra: Any) -> float:
    """The evaluation return of ``algo`` (its AGENTS settings and ``extra``) after GRADIENT_STEPS gradient steps on
    the reference dataset ``name``."""
    torch.set_num_threads(1)
    cls, settings = AGENTS[algo]
    agent = cls(make_env("Pendulum-v1").info, seed=seed, **settings, **extra)
    agent.add_dataset(dataset(name))
    for _ in range(GRADIENT_STEPS // 1000):  # draws of 1,000 minibatches: bounded memory
        agent.update(1000)
    return evaluate(agent, seed)


def passes_on_most_seeds(label: str, trial: Callable[[int], tuple[bool, str]]) -> None:
    """Run ``trial(seed)`` seed after seed until NEEDED pass (or too many fail); print each; assert."""
    passed, lines = 0, []
    for n, seed in enumerate(SEEDS):
        start = time.perf_counter()
        ok, detail = trial(seed)
        passed += ok
        lines.append(f"{label} seed {seed}: {'pass' if ok else 'FAIL'} {detail} ({time.perf_counter() - start:.0f} s)")
        print(lines[-1], flush=True)
        if passed >= NEEDED or (n + 1 - passed) > len(SEEDS) - NEEDED:
            break
    assert passed >= NEEDED, "\n".join(lines)


# TD3+BC's α on medium-replay: the replay's first episodes are SAC's near-random warm-up, and at the paper's α = 2.5
# the behaviour-cloning term holds the policy at their mean action (-1100 on seed 0, best decile -893); α = 10 gives
# the Q term 4x the weight. The paper tunes α as the one hyperparameter that depends on the data.
MEDIUM_REPLAY_SETTINGS = {"td3_bc": {"alpha": 10.0}}


@pytest.mark.parametrize("algo", ["td3_bc", "iql", "cql"])
def test_on_medium_replay_beats_the_best_decile_and_bc(algo):
    best_decile = float(np.percentile(complete_episode_returns(dataset("pendulum-medium-replay")), 90))

    def trial(seed: int) -> tuple[bool, str]:
        result = offline_return(algo, "pendulum-medium-replay", seed, **MEDIUM_REPLAY_SETTINGS.get(algo, {}))
        bc = offline_return("bc", "pendulum-medium-replay", seed)
        return result >= best_decile and result > bc, f"{algo} {result:.0f}, bc {bc:.0f}, best decile {best_decile:.0f}"

    passes_on_most_seeds(f"medium-replay {algo}", trial)


CARTPOLE_GRADIENT_STEPS = 10_000


@pytest.mark.xfail(reason="issue #15 open: on cartpole-medium-replay (7,168 transitions, episodes of 41 steps on "
                          "average, 184 at most) discrete CQL reaches 129-422 (5 seeds), d3rlpy's DiscreteCQL 149-276 "
                          "on the same file; the learned policy balances the pole but drifts off the track after "
                          "250-280 steps, which no episode in the data lasts long enough to show", strict=False)
def test_discrete_cql_on_cartpole_medium_replay_reaches_400():
    """The settings of the noisy-controller test (test_offline_learning.py), 10,000 gradient steps."""
    data = dataset("cartpole-medium-replay")

    def trial(seed: int) -> tuple[bool, str]:
        torch.set_num_threads(1)
        env = make_env("CartPole-v1", seed=seed)
        agent = DiscreteCQL(env.info, seed=seed, batch_size=64, learning_rate=1e-3, cql_alpha=1.0,
                            target_update_interval=500)
        agent.add_dataset(data)
        Core(agent, env, progress=False).learn_offline(CARTPOLE_GRADIENT_STEPS)
        result = run_episodes(agent, make_env("CartPole-v1", seed=10_000 + seed), EVAL_EPISODES,
                              seed=10_000 + seed).mean_return()
        return result >= 400, f"discrete_cql {result:.0f}, data mean {complete_episode_returns(data).mean():.0f}"

    passes_on_most_seeds("cartpole-medium-replay discrete_cql", trial)


def on_the_experts_start_states(agent: Any, expert: Dataset) -> np.ndarray:
    """The returns of ``agent`` (deterministic) from the start states of the expert's recorded episodes.

    Pendulum's return depends on the start state about as much as on the policy (the expert's range from -372 to
    0), so the comparison with the expert is paired: the same env seed replays the recording's start states.
    """
    seed = int(expert.metadata["seed"])
    episodes = collect_dataset(make_env("Pendulum-v1", seed=seed), lambda obs: agent.act(obs, explore=False),
                               episodes=expert.n_episodes, seed=seed)
    starts = [episode.obs[0, 0] for episode in episodes.episodes()]
    np.testing.assert_array_equal(starts, [episode.obs[0, 0] for episode in expert.episodes()])
    return complete_episode_returns(episodes)


@pytest.mark.parametrize("algo", ["bc", "td3_bc"])
def test_on_expert_data_within_ten_percent_of_the_expert(algo):
    expert = dataset("pendulum-expert")
    expert_return = float(complete_episode_returns(expert).mean())

    def trial(seed: int) -> tuple[bool, str]:
        torch.set_num_threads(1)
        cls, settings = AGENTS[algo]
        agent = cls(make_env("Pendulum-v1").info, seed=seed, **settings)
        agent.add_dataset(expert)
        for _ in range(EXPERT_GRADIENT_STEPS // 1000):
            agent.update(1000)
        result = float(on_the_experts_start_states(agent, expert).mean())
        return within(result, expert_return, 0.1), f"{algo} {result:.0f}, expert {expert_return:.0f}"

    passes_on_most_seeds(f"expert {algo}", trial)


class _EvaluateEachEpoch(Callback):
    """Evaluate at every epoch end (offline epochs count gradient steps, online ones env steps)."""

    def __init__(self, seed: int) -> None:
        self.seed, self.returns = seed, []

    def on_epoch_end(self, core: Core) -> None:
        self.returns.append((core.offline_steps, core.env_steps, evaluate(core.agent, self.seed)))


OFFLINE_STEPS, ONLINE_STEPS = 10_000, 10_000


def test_offline_to_online_on_medium_improves_without_collapse():
    """TD3+BC, offline then online with the dataset still half of each minibatch (one Core for both phases).

    No collapse: the first online evaluation (after 1,000 env steps) is within 10% of the last offline one.
    """

    def trial(seed: int) -> tuple[bool, str]:
        torch.set_num_threads(1)
        env = make_env("Pendulum-v1", seed=seed)
        agent = TD3BC(env.info, seed=seed, net_arch=(64, 64))
        agent.add_dataset(dataset("pendulum-medium"), dataset_ratio=0.5)
        evaluations = _EvaluateEachEpoch(seed)
        core = Core(agent, env, callbacks=[evaluations], progress=False)
        core.learn_offline(OFFLINE_STEPS, steps_per_epoch=OFFLINE_STEPS)
        core.learn(steps=ONLINE_STEPS, steps_per_epoch=1000)
        offline, first_online, final = (evaluations.returns[i][2] for i in (0, 1, -1))
        ok = within(first_online, offline, 0.1) and final > offline
        return ok, f"offline {offline:.0f}, first online {first_online:.0f}, after {ONLINE_STEPS} online {final:.0f}"

    passes_on_most_seeds("offline -> online td3_bc", trial)
