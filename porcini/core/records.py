"""What the loop reports: the returns and lengths of finished episodes, and the result of one ``learn`` call."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EpisodeRecord:
    """Returns and lengths of finished episodes, in the order they ended."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    @property
    def n_episodes(self) -> int:
        """Number of recorded episodes."""
        return len(self.returns)

    def mean_return(self) -> float:
        """Mean return, NaN when no episode ended."""
        return float(np.mean(self.returns)) if self.returns else float("nan")


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
