"""Policy iteration as an agent: plans in the env's known model when built, then acts on the stable policy.

Howard (1960); Sutton & Barto (2018), §4.3. The math is
:func:`porcini.algorithms.model_based.dynamic_programming.policy_iteration`; the model comes from the env
(:mod:`porcini.algorithms.model_based.planning`).
"""

from __future__ import annotations

from dataclasses import dataclass

from porcini.algorithms.model_based.dynamic_programming import DPResult, policy_iteration
from porcini.algorithms.model_based.planning import PlanningAgent
from porcini.core.config import require
from porcini.envs.tabular_model import TabularModel


@dataclass(frozen=True)
class PolicyIterationConfig:
    """Hyperparameters of policy iteration."""

    gamma: float | None = None
    """Discount factor; None takes the env's declared discount (``EnvInfo.gamma``) or else 0.99. With 1, the
    initial policy (action 0 everywhere) and every later one must reach a terminal state."""
    max_iterations: int = 10_000
    """Improvement steps allowed before giving up (an error)."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        require(self.gamma is None or 0 <= self.gamma <= 1, name, "gamma", self.gamma, "in [0, 1] or None")
        require(self.max_iterations >= 1, name, "max_iterations", self.max_iterations, ">= 1")


class PolicyIteration(PlanningAgent):
    """Howard's policy iteration on the env's transition model, starting from action 0 everywhere.

    On ties a state keeps the action it had (see
    :func:`~porcini.algorithms.model_based.dynamic_programming.policy_iteration`), so its policy can differ from
    value iteration's (the first maximizer) where actions are equally good.

    Example:
        >>> from porcini import make_env
        >>> env = make_env("FrozenLake-v1", env_kwargs={"is_slippery": False})
        >>> PolicyIteration(env.info, gamma=0.9).policy.tolist()[:4]
        [1, 2, 1, 0]
    """

    name = "policy_iteration"
    Config = PolicyIterationConfig

    def solve(self, model: TabularModel) -> DPResult:
        """Exact evaluation and greedy improvement until the policy is stable."""
        return policy_iteration(model.P, model.R, self.gamma, model.terminal,
                                max_iterations=self.config.max_iterations)
