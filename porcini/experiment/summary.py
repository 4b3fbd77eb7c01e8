"""The run summary: the JSON object of ``summary.json`` and of ``porcini train --json`` (docs/architecture.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunSummary:
    """Final facts of a training run; keys keep their names and meanings (more may be added).

    Attributes:
        algo: algorithm name (``porcini list``).
        env: environment id.
        seed: the run's seed.
        env_steps: env steps taken in training (summed over envs).
        wall_time_s: training wall time (interaction and fitting), excluding periodic evaluation.
        eval_time_s: time spent in evaluations.
        eval_return_mean: mean return of the final deterministic evaluation.
        eval_return_std: its standard deviation.
        eval_episodes: episodes in the final evaluation.
        porcini_version: the version that produced the run.
        extra: further keys (e.g. ``run_dir``, ``train_return_mean``), merged into the top level.
    """

    algo: str
    env: str
    seed: int
    env_steps: int
    wall_time_s: float
    eval_time_s: float
    eval_return_mean: float
    eval_return_std: float
    eval_episodes: int
    porcini_version: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Flat dict with JSON-safe values (NaN becomes None)."""
        out = asdict(self)
        extra = out.pop("extra")
        out.update(extra)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}
