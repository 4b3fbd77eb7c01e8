"""What the loop reports: the returns and lengths of finished episodes, and the result of one ``learn`` call."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EpisodeRecord:
    """Returns and lengths of finished episodes, in the order they ended.

    Attributes:
        returns: each episode's return.
        lengths: each episode's length in steps.
        info_sums: per ``info`` key the evaluation was asked to sum (e.g. ``"cost"``), each episode's sum of it
            over its steps, in the same order as ``returns``; empty unless asked.
        env_indices: the env index (vector row) each episode ran in, in the same order as ``returns``; filled by
            evaluation (in a multi-agent env, row ``i`` is agent ``i % n_agents``).
    """

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    info_sums: dict[str, list[float]] = field(default_factory=dict)
    env_indices: list[int] = field(default_factory=list)

    @property
    def n_episodes(self) -> int:
        """Number of recorded episodes."""
        return len(self.returns)

    def mean_return(self) -> float:
        """Mean return, NaN when no episode ended."""
        return float(np.mean(self.returns)) if self.returns else float("nan")

    def mean_info_sum(self, key: str) -> float:
        """Mean over the episodes of their sum of ``info[key]`` (e.g. the mean episode cost); NaN if none."""
        sums = self.info_sums.get(key, [])
        return float(np.mean(sums)) if sums else float("nan")


    def mean_return_by_agent(self, agents: tuple[str, ...]) -> dict[str, float]:
        """Per agent of a multi-agent env (rows ``i`` of agent ``agents[i % len(agents)]``), its mean return.

        Raises:
            ValueError: the record has no ``env_indices`` (it was not filled by evaluation).
        """
        if len(self.env_indices) != len(self.returns):
            raise ValueError("this record has no env index per episode; per-agent returns need an evaluation's record")
        rows = np.asarray(self.env_indices) % len(agents)
        returns = np.asarray(self.returns, dtype=np.float64)
        return {agent: float(returns[rows == k].mean()) if (rows == k).any() else float("nan")
                for k, agent in enumerate(agents)}


@dataclass
class LearnResult:
    """What one ``Core.learn`` call did: env steps, training episodes, fit metrics of the last fit, wall time.

    Attributes:
        steps: env steps taken in this call, summed over envs (``Core.env_steps`` is the total of all calls).
        episodes: the training episodes that ended in this call.
        last_metrics: the metrics of the last fit.
        wall_time_s: the call's wall time, evaluation included.
    """

    steps: int
    episodes: EpisodeRecord
    last_metrics: dict[str, float]
    wall_time_s: float
