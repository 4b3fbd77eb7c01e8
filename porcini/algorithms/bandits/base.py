"""What the multi-armed bandit agents share: per-arm pull counts and reward statistics, regret bookkeeping.

Bandit agents ignore observations (the built-in bandits show a dummy ``Discrete(1)``); ``obs`` only tells how
many envs act. Every transition of a fit batch is one pull, counted in time order.

Regret: the agent cannot see arm means. When the loop copies the env's ``info["regret"]`` into the batch
(``Core(agent, env, info_keys=("regret",))``; the built-in bandits report the pulled arm's expected regret),
``fit`` returns the running total as ``regret_cumulative``.

Greedy actions (``explore=False``, an evaluation) break ties with a generator of their own
(:func:`porcini.seeding.agent_eval_rng`), so evaluating never shifts the training draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from porcini.algorithms.space_hints import multi_action_hint
from porcini.core.agent import BaseAgent, supports_action_space
from porcini.core.batch import TransitionBatch
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.seeding import agent_eval_rng, agent_rng


class BanditAgent(BaseAgent):
    """Base of the bandit agents: subclasses implement ``act`` and may extend :meth:`_observe`.

    Attributes:
        counts: ``[A]`` pulls of each arm.
        means: ``[A]`` sample-average reward of each arm (``initial_value`` where never pulled).
        pulls: total pulls (``t`` of the bandit literature).
        regret: cumulative regret from ``batch.extras["regret"]`` (0 if the loop does not copy it).
    """

    action_spaces = ("Discrete",)

    def __init__(self, info: EnvInfo, seed: int, initial_value: float = 0.0) -> None:
        if not supports_action_space(self, info.action_space) or int(getattr(info.action_space, "start", 0)):
            raise UnsupportedSpaceError(
                f"{type(self).__name__} needs Discrete arms numbered from 0; {info.env_id} has {info.action_space}"
                + multi_action_hint(info.action_space))
        self.info = info
        self.n_arms = info.n_actions
        self.rng = agent_rng(seed)
        self.eval_rng = agent_eval_rng(seed)  # greedy tie-breaking: evaluating leaves the training stream alone
        self.counts = np.zeros(self.n_arms, dtype=np.int64)
        self.means = np.full(self.n_arms, float(initial_value))
        self.pulls = 0
        self.regret = 0.0
        self.fit_every_steps = info.n_envs

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Count every pull of the batch (time order, then env order); return pulls and cumulative regret."""
        arms = np.asarray(batch.action, dtype=np.int64).reshape(-1)
        rewards = np.asarray(batch.reward, dtype=np.float64).reshape(-1)
        self._check_rewards(arms, rewards)
        for arm, reward in zip(arms.tolist(), rewards.tolist()):
            self.counts[arm] += 1
            self.pulls += 1
            self._observe(arm, reward)
        metrics = {"pulls": float(self.pulls)}
        if "regret" in batch.extras:
            self.regret += float(np.sum(batch.extras["regret"]))
            metrics["regret_cumulative"] = self.regret
        return metrics

    def _check_rewards(self, arms: np.ndarray, rewards: np.ndarray) -> None:
        """Raise before any statistic moves if the batch holds rewards this bandit cannot take (none by default)."""

    def _observe(self, arm: int, reward: float) -> None:
        """Update the statistics of ``arm`` with one reward (``counts`` already includes it)."""
        self.means[arm] += (reward - self.means[arm]) / self.counts[arm]

    def _argmax(self, values: np.ndarray, n: int, *, explore: bool = True) -> np.ndarray:
        """``n`` draws of an arm maximizing ``values`` ``[A]`` (ties uniformly at random).

        Exploring draws take ``rng``, greedy ones (``explore=False``) ``eval_rng``.
        """
        best = np.flatnonzero(values == values.max())
        return (self.rng if explore else self.eval_rng).choice(best, size=n)

    def state_dict(self) -> dict[str, Any]:
        """Counts, means, pulls, regret and the generators' states."""
        return {"counts": self.counts.copy(), "means": self.means.copy(), "pulls": self.pulls,
                "regret": self.regret, "rng": self.rng.bit_generator.state,
                "eval_rng": self.eval_rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        counts = np.asarray(state["counts"], dtype=np.int64)
        if counts.shape != self.counts.shape:
            raise ValueError(f"{type(self).__name__}: state has {counts.shape[0]} arms, this bandit {self.n_arms}")
        self.counts = counts.copy()
        self.means = np.asarray(state["means"], dtype=np.float64).copy()
        self.pulls = int(state["pulls"])
        self.regret = float(state["regret"])
        self.rng.bit_generator.state = state["rng"]
        if "eval_rng" in state:  # checkpoints written before greedy actions had their own generator have none
            self.eval_rng.bit_generator.state = state["eval_rng"]
