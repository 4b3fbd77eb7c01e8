"""Prioritized sweeping (Moore & Atkeson 1993; Sutton & Barto 2018, §8.4): plan the most urgent pairs first.

Dyna-Q (``dyna.py``) plans from pairs drawn at random, most of which have nothing new to propagate. Prioritized
sweeping keeps a queue of pairs whose value would change by more than ``priority_threshold`` θ::

    after every real transition (s, a, r, s'), per env:
        Model(s, a) <- (r, s', terminated)
        P = |r + γ (1 - terminated) max_a' Q(s', a') - Q(s, a)|;  if P > θ: queue (s, a) with priority P
        up to ``planning_steps`` times, while the queue is not empty:
            (s, a) <- the pair of highest priority;  Q(s, a) += α (model target - Q(s, a))
            for every (s̄, ā) the model predicts leads to s:
                P = |r̄ + γ max_a Q(s, a) - Q(s̄, ā)|;  if P > θ: queue (s̄, ā) with priority P

As in the book, the real transition changes Q only through the queue. A pair already queued keeps the larger of
its priorities. The model is Dyna-Q's :class:`~porcini.algorithms.model_based.dyna.TableModel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.model_based.dyna import DynaQ, DynaQConfig
from porcini.algorithms.tabular.base import Transition
from porcini.core.config import require


@dataclass(frozen=True)
class PrioritizedSweepingConfig(DynaQConfig):
    """Hyperparameters of prioritized sweeping: Dyna-Q's (``planning_steps``: updates per real transition) and θ."""

    planning_steps: int = 5
    """Updates from the queue after every real transition (``n`` in the book); at least 1, since the real
    transition changes Q only through the queue."""
    priority_threshold: float = 1e-4
    """θ: a pair is queued only when its value would change by more than this."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.planning_steps >= 1, type(self).__name__, "planning_steps", self.planning_steps,
                ">= 1 (with 0 nothing is ever learned; dyna_q with planning_steps=0 is Q-learning)")
        require(self.priority_threshold >= 0, type(self).__name__, "priority_threshold", self.priority_threshold,
                ">= 0")


class PrioritizedSweeping(DynaQ):
    """Dyna-Q's model, planned backward from the pairs whose values would change most.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("porcini/DynaMaze-v0", seed=0)
        >>> agent = PrioritizedSweeping(env.info, planning_steps=5)
        >>> _ = Core(agent, env, progress=False).learn(episodes=3)
        >>> bool(agent.q.weights.max() > 0)
        True
    """

    name = "prioritized_sweeping"
    Config = PrioritizedSweepingConfig
    config: PrioritizedSweepingConfig

    def __init__(self, info: Any, config: PrioritizedSweepingConfig | None = None, **overrides: Any) -> None:
        super().__init__(info, config, **overrides)
        self.queue: dict[tuple[int, int], float] = {}

    def _update(self, step: Transition) -> float:
        state, next_state = self._states(step)
        self.model.record(state, step.action, step.reward, next_state, step.terminated)
        td_error = self.model_target(state, step.action) - float(self.q.weights[state, step.action])
        self.push(state, step.action, abs(td_error))
        self.sweep(self.config.planning_steps, step.alpha)
        return td_error

    def push(self, state: int, action: int, priority: float) -> None:
        """Queue ``(s, a)`` when ``priority`` exceeds θ (a queued pair keeps its larger priority)."""
        if priority > self.config.priority_threshold:
            key = (int(state), int(action))
            self.queue[key] = max(priority, self.queue.get(key, 0.0))

    def sweep(self, budget: int, alpha: float) -> None:
        """Up to ``budget`` updates of the most urgent pairs, queueing their predecessors."""
        for _ in range(budget):
            if not self.queue:
                return
            s, a = max(self.queue, key=self.queue.__getitem__)  # ties: the pair queued first
            del self.queue[(s, a)]
            self.plan_update(s, a, alpha)
            value = float(self.q.weights[s].max())
            for s_bar, a_bar in zip(*self.model.predecessors(s)):
                target = float(self.model.reward[s_bar, a_bar]) + self.gamma * value
                self.push(s_bar, a_bar, abs(target - float(self.q.weights[s_bar, a_bar])))

    def state_dict(self) -> dict[str, Any]:
        """Dyna-Q's state and the queue (pairs and priorities, in queue order)."""
        pairs = np.array(list(self.queue), dtype=np.int64).reshape(-1, 2)
        return {**super().state_dict(), "queue_pairs": pairs, "queue_priorities": np.array(list(self.queue.values()))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        pairs, priorities = np.asarray(state["queue_pairs"]), np.asarray(state["queue_priorities"])
        self.queue = {(int(s), int(a)): float(p) for (s, a), p in zip(pairs, priorities)}
