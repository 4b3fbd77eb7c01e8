"""Value iteration as an agent: plans in the env's known model when built, then acts greedily on it.

Bellman (1957); Sutton & Barto (2018), §4.4. The math is
:func:`porcini.algorithms.model_based.dynamic_programming.value_iteration`; the model comes from the env
(:mod:`porcini.algorithms.model_based.planning`).
"""

from __future__ import annotations

from dataclasses import dataclass

from porcini.algorithms.model_based.dynamic_programming import DPResult, value_iteration
from porcini.algorithms.model_based.planning import PlanningAgent
from porcini.core.config import require
from porcini.envs.tabular_model import TabularModel


@dataclass(frozen=True)
class ValueIterationConfig:
    """Hyperparameters of value iteration."""

    gamma: float | None = None
    """Discount factor; None takes the env's declared discount (``EnvInfo.gamma``) or else 0.99."""
    tol: float = 1e-10
    """Stop once no state value changes by ``tol`` or more in a sweep."""
    max_iterations: int = 100_000
    """Sweeps allowed before giving up (an error)."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        require(self.gamma is None or 0 <= self.gamma <= 1, name, "gamma", self.gamma, "in [0, 1] or None")
        require(self.tol > 0, name, "tol", self.tol, "> 0")
        require(self.max_iterations >= 1, name, "max_iterations", self.max_iterations, ">= 1")


class ValueIteration(PlanningAgent):
    """Synchronous value iteration on the env's transition model; acts greedily on the values found.

    Example:
        >>> from porcini import make_env
        >>> env = make_env("FrozenLake-v1", env_kwargs={"is_slippery": False})
        >>> ValueIteration(env.info, gamma=0.9).policy.tolist()[:4]
        [1, 2, 1, 0]
    """

    name = "value_iteration"
    Config = ValueIterationConfig

    def solve(self, model: TabularModel) -> DPResult:
        """Value iteration from ``V = 0``."""
        return value_iteration(model.P, model.R, self.gamma, model.terminal, tol=self.config.tol,
                               max_iterations=self.config.max_iterations)
