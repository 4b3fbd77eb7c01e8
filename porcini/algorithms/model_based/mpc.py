"""Model-predictive control with a known model: plan a short sequence at every step, play its first action.

At every step, for every env: a planner (:mod:`porcini.algorithms.model_based.planners`: ``cem``, ``mppi`` or
``random``) searches ``horizon`` actions that maximize the model's undiscounted return from the current
observation, starting from the previous plan shifted by one step (a warm start, forgotten when the episode ends);
the first action is played. The model is the env's known one (:func:`~porcini.algorithms.model_based.
known_models.known_model`); the agent never fits, so the loop stores nothing for it, and evaluation, checkpoints
and resume treat it as any fixed policy (its state: the generator and the warm starts). It is the baseline of
model-based RL: what planning does when the model is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from porcini.algorithms.model_based.known_models import known_model
from porcini.algorithms.model_based.planners import CEM, MPPI, Planner, RandomShooting, rollout_cost, shift_plan
from porcini.algorithms.space_hints import multi_action_hint
from porcini.core.agent import BaseAgent
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError

PLANNERS = ("cem", "mppi", "random")


@dataclass(frozen=True)
class MPCConfig:
    """Hyperparameters of model-predictive control."""

    planner: str = "cem"
    """``"cem"``, ``"mppi"`` or ``"random"`` (random shooting)."""
    horizon: int = 30
    """Steps planned ahead."""
    population: int = 400
    """Sequences scored per planner iteration."""
    iterations: int = 5
    """Planner iterations per step."""
    elites: int = 40
    """CEM: sequences the distribution is refit to."""
    momentum: float = 0.1
    """CEM: weight of the previous distribution in each refit."""
    temperature: float = 1.0
    """MPPI: λ of the weights ``exp(-cost / λ)``."""
    noise_std: float = 0.5
    """CEM's first and MPPI's standard deviation, as a share of the half-range of the action bounds."""
    seed: int = 0
    """Seed of the planner's samples."""

    def __post_init__(self) -> None:
        require(self.planner in PLANNERS, "MPCConfig", "planner", self.planner, f"one of {PLANNERS}")
        for field in ("horizon", "population", "iterations", "elites"):
            require(getattr(self, field) >= 1, "MPCConfig", field, getattr(self, field), ">= 1")
        require(self.elites <= self.population, "MPCConfig", "elites", self.elites,
                f"<= population ({self.population})")
        require(0 <= self.momentum < 1, "MPCConfig", "momentum", self.momentum, "in [0, 1)")
        require(self.temperature > 0, "MPCConfig", "temperature", self.temperature, "> 0")
        require(self.noise_std > 0, "MPCConfig", "noise_std", self.noise_std, "> 0")


class MPC(BaseAgent):
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
        if not isinstance(info.action_space, gym.spaces.Box):
            raise UnsupportedSpaceError(f"mpc plans continuous actions; {info.env_id} has {info.action_space}"
                                        + multi_action_hint(info.action_space))
        self.info = info
        self.model = known_model(info.env_id)
        self.generator = torch.Generator().manual_seed(c.seed)
        low = torch.as_tensor(info.action_space.low, dtype=torch.float64)
        high = torch.as_tensor(info.action_space.high, dtype=torch.float64)
        common: dict[str, Any] = {"low": low, "high": high, "horizon": c.horizon, "population": c.population,
                  "iterations": c.iterations, "generator": self.generator}
        self.planner: Planner
        if c.planner == "cem":
            self.planner = CEM(elites=c.elites, momentum=c.momentum, initial_std=c.noise_std, **common)
        elif c.planner == "mppi":
            self.planner = MPPI(temperature=c.temperature, noise_std=c.noise_std, **common)
        else:
            self.planner = RandomShooting(**common)
        self.warm: list[torch.Tensor | None] = [None] * info.n_envs

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """The first action of a fresh plan for every env (planning is the same whatever ``explore`` says)."""
        obs = np.asarray(obs, dtype=np.float64)
        if len(self.warm) != len(obs):  # an evaluation env with another number of envs: its own warm starts
            self.warm = [None] * len(obs)
        actions = []
        for row, observation in enumerate(obs):
            state = torch.as_tensor(observation)
            plan = self.planner.plan(partial(rollout_cost, self.model, state), self.warm[row])
            self.warm[row] = shift_plan(plan)
            actions.append(plan[0].numpy())
        return np.stack(actions).astype(self.info.action_space.dtype)

    def reset(self, ended: np.ndarray) -> None:
        """Forget the warm start of envs whose episode ended."""
        for row in np.flatnonzero(np.asarray(ended, dtype=bool)):
            if row < len(self.warm):
                self.warm[row] = None

    def state_dict(self) -> dict[str, Any]:
        """The generator's state and the warm starts."""
        return {"generator": self.generator.get_state(),
                "warm": [None if w is None else w.clone() for w in self.warm]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.generator.set_state(state["generator"])
        self.warm = [None if w is None else torch.as_tensor(w).clone() for w in state["warm"]]
