"""Callbacks: hooks the loop calls at step, episode, fit and epoch end (logging and checkpoints hang here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from porcini.core.loop import Core


class Callback:
    """Base class; override only the hooks you need (the loop skips ``on_step`` unless it is overridden).

    Set ``core.stop_requested = True`` from any hook to end ``learn`` after the current step.
    """

    def on_learn_start(self, core: Core) -> None:
        """Called once at the start of ``Core.learn``."""

    def on_step(self, core: Core, action: np.ndarray, reward: np.ndarray, terminated: np.ndarray,
                truncated: np.ndarray, info: dict[str, Any]) -> None:
        """Called after every vector step (costly on cheap envs: only overridden hooks are called)."""

    def on_episode_end(self, core: Core, returns: np.ndarray, lengths: np.ndarray) -> None:
        """Called with the returns and lengths of the episodes that just ended."""

    def on_fit(self, core: Core, metrics: dict[str, float]) -> None:
        """Called after every ``agent.fit`` with the metrics it returned."""

    def on_epoch_end(self, core: Core) -> None:
        """Called when ``steps_per_epoch`` steps have been taken (evaluate, log, checkpoint)."""

    def on_learn_end(self, core: Core) -> None:
        """Called once when ``Core.learn`` returns (also after an exception, before it propagates)."""


def overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback`` defines its own ``hook`` rather than the base no-op."""
    return getattr(type(callback), hook) is not getattr(Callback, hook)
