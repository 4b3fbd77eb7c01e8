"""Model-predictive control with a known model: plan a short sequence at every step, play its first action.

At every step, for every env: a planner (:mod:`porcini.algorithms.model_based.planners`: ``cem``, ``icem``,
``mppi`` or ``random``) searches ``horizon`` actions that maximize the model's undiscounted return from the current
observation, starting from the previous plan shifted by one step (a warm start, forgotten when the episode ends);
the first action is played. One planner serves every env: what it carries between calls (iCEM's kept elites, its
:meth:`~porcini.algorithms.model_based.planners.Planner.state`) is kept per env beside the warm start, loaded
before that env's plan and stored after it, and forgotten with it. The model is the env's known one
(:func:`~porcini.algorithms.model_based.known_models.known_model`); the agent never fits, so the loop stores
nothing for it, and evaluation, checkpoints and resume treat it as any fixed policy (its state: the generator, the
warm starts and the planner's memories). It is the baseline of model-based RL: what planning does when the model
is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from porcini.algorithms.model_based.known_models import known_model
from porcini.algorithms.model_based.planners import CostFunction, rollout_cost
from porcini.algorithms.model_based.receding_horizon import PlannerFields, RecedingHorizon, check_planning_spaces
from porcini.core.agent import BaseAgent
from porcini.core.config import build_config
from porcini.envs.info import EnvInfo
from porcini.networks.heads import as_action_dtype


@dataclass(frozen=True)
class MPCConfig(PlannerFields):
    """Hyperparameters of model-predictive control: the planner's (:class:`PlannerFields`) and its seed."""

    seed: int = 0
    """Seed of the planner's samples."""

    def __post_init__(self) -> None:
        self.check_planner_fields()


class MPC(RecedingHorizon, BaseAgent):
    """Plans with the env's known model at every step and plays the plan's first action (``mpc``).

    Example:
        >>> from porcini import make_env
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> agent = MPC(env.info, horizon=10, population=50, iterations=2, elites=5)
        >>> obs, _ = env.reset(seed=0)
        >>> agent.act(obs, explore=False).shape
        (1, 1)
    """

    name = "mpc"
    Config = MPCConfig
    action_spaces = ("Box",)

    def __init__(self, info: EnvInfo, config: MPCConfig | None = None, **overrides: Any) -> None:
        self.config = c = build_config(MPCConfig, config, overrides)
        check_planning_spaces(info, "mpc")
        self.info = info
        self.model = known_model(info.env_id)
        self.generator = torch.Generator().manual_seed(c.seed)
        space = info.action_space
        assert isinstance(space, gym.spaces.Box)
        self._setup_planning(c, torch.as_tensor(space.low, dtype=torch.float64),
                             torch.as_tensor(space.high, dtype=torch.float64), info.n_envs)

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """The first action of a fresh plan for every env (planning is the same whatever ``explore`` says)."""
        actions = self.plan_first_actions(np.asarray(obs, dtype=np.float64), self.cost_at)
        return as_action_dtype(actions, self.info.action_space.dtype)

    def cost_at(self, state: torch.Tensor) -> CostFunction:
        """The planner's cost function at ``state`` ``[S]``: minus the known model's return."""
        return partial(rollout_cost, self.model, state)

    def state_dict(self) -> dict[str, Any]:
        """The generator's state, the warm starts and the planner's memories (one per env)."""
        return {"generator": self.generator.get_state(), **self.planning_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.generator.set_state(state["generator"])
        self.load_planning_state(state)
