"""Receding-horizon control, the acting part every planning agent shares (MPC, PETS).

At every step, for every env: plan ``horizon`` actions from the current observation with a planner of
:mod:`porcini.algorithms.model_based.planners`, starting from that env's previous plan shifted by one step (a
warm start, forgotten when its episode ends), and play the first action. One planner serves every env: what it
carries between calls (iCEM's kept elites, :meth:`~porcini.algorithms.model_based.planners.Planner.state`) is
kept per env beside the warm start and loaded before that env's plan. :class:`PlannerFields` are the config
fields of the planner; :class:`RecedingHorizon` holds the planner, the warm starts and the memories, and saves
them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from porcini.algorithms.model_based.planners import PLANNERS, CostFunction, Planner, make_planner, shift_plan
from porcini.algorithms.space_hints import DECLARE_BOUNDS, UNBOUNDED_BOX_AGENTS, multi_action_hint
from porcini.core.config import require
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError


@dataclass(frozen=True)
class PlannerFields:
    """Hyperparameters of a planning agent's planner; the agent's config inherits them."""

    planner: str = "cem"
    """``"cem"``, ``"icem"``, ``"mppi"`` or ``"random"`` (random shooting)."""
    horizon: int = 30
    """Steps planned ahead."""
    population: int = 400
    """Sequences scored per planner iteration (iCEM: in its first iteration)."""
    iterations: int = 5
    """Planner iterations per step."""
    elites: int = 40
    """CEM, iCEM: sequences the distribution is refit to."""
    momentum: float = 0.1
    """CEM, iCEM: weight of the previous distribution in each refit."""
    temperature: float = 1.0
    """MPPI: λ of the weights ``exp(-cost / λ)``."""
    noise_std: float = 0.5
    """CEM's and iCEM's first and MPPI's standard deviation, as a share of the half-range of the action bounds."""
    noise_beta: float = 2.0
    """iCEM: exponent β of the colored noise (power spectrum ∝ 1/f^β; 0 is white noise)."""
    population_decay: float = 1.25
    """iCEM: the population shrinks by this factor at every iteration."""
    keep_elites: float = 0.3
    """iCEM: share of the elites carried into the next iteration and, shifted, into the next step's plan."""

    def check_planner_fields(self) -> None:
        """Raise ConfigError naming the first invalid planner field."""
        owner = type(self).__name__
        require(self.planner in PLANNERS, owner, "planner", self.planner, f"one of {PLANNERS}")
        for field in ("horizon", "population", "iterations", "elites"):
            require(getattr(self, field) >= 1, owner, field, getattr(self, field), ">= 1")
        require(self.elites <= self.population, owner, "elites", self.elites, f"<= population ({self.population})")
        require(0 <= self.momentum < 1, owner, "momentum", self.momentum, "in [0, 1)")
        require(self.temperature > 0, owner, "temperature", self.temperature, "> 0")
        require(self.noise_std > 0, owner, "noise_std", self.noise_std, "> 0")
        require(self.noise_beta >= 0, owner, "noise_beta", self.noise_beta, ">= 0")
        require(self.population_decay >= 1, owner, "population_decay", self.population_decay, ">= 1")
        require(0 <= self.keep_elites <= 1, owner, "keep_elites", self.keep_elites, "in [0, 1]")


def check_planning_spaces(info: EnvInfo, owner: str) -> None:
    """Refuse, with the reason, spaces a planner cannot work in: non-Box actions, non-flat observations."""
    action, observation = info.action_space, info.observation_space
    if not isinstance(action, gym.spaces.Box):
        raise UnsupportedSpaceError(f"{owner} plans continuous actions; {info.env_id} has {action}"
                                    + multi_action_hint(action))
    if not (np.all(np.isfinite(action.low)) and np.all(np.isfinite(action.high))):
        raise UnsupportedSpaceError(f"{owner} samples actions between finite bounds; {info.env_id} has {action}; "
                                    f"{DECLARE_BOUNDS}, {UNBOUNDED_BOX_AGENTS}")
    if not isinstance(observation, gym.spaces.Box) or len(observation.shape) != 1:
        raise UnsupportedSpaceError(f"{owner} models flat Box observations; {info.env_id} has {observation} "
                                    "(flatten it with gymnasium's FlattenObservation)")


class RecedingHorizon:
    """The planner and the per-env warm starts of a planning agent (it provides ``generator`` and ``info``)."""

    generator: torch.Generator
    rng: np.random.Generator  # PETS's (random actions before its first model fit); MPC has none
    planner: Planner
    warm: list[Tensor | None]
    memory: list[dict[str, Tensor]]

    def _setup_planning(self, fields: PlannerFields, low: Tensor, high: Tensor, n_envs: int) -> None:
        """Build the planner ``fields`` describe between the bounds ``low``/``high`` ``[A]``; no warm starts yet."""
        self.planner = make_planner(
            fields.planner, low=low, high=high, horizon=fields.horizon, population=fields.population,
            iterations=fields.iterations, generator=self.generator, elites=fields.elites, momentum=fields.momentum,
            temperature=fields.temperature, noise_std=fields.noise_std, noise_beta=fields.noise_beta,
            population_decay=fields.population_decay, keep_elites=fields.keep_elites)
        self.warm, self.memory = [None] * n_envs, [{} for _ in range(n_envs)]

    def plan_first_actions(self, obs: np.ndarray, cost_at: Callable[[Tensor], CostFunction]) -> np.ndarray:
        """The first action ``[B, A]`` of a fresh plan from every observation of ``obs`` ``[B, S]``.

        ``cost_at(state)`` is the planner's cost function at one observation.
        """
        if len(self.warm) != len(obs):  # an evaluation env with another number of envs: its own warm starts
            self.warm, self.memory = [None] * len(obs), [{} for _ in obs]
        actions = []
        states = torch.as_tensor(obs, dtype=self.planner.low.dtype, device=self.planner.low.device)  # one copy
        for row, state in enumerate(states):
            self.planner.load_state(self.memory[row])
            plan = self.planner.plan(cost_at(state), self.warm[row])
            self.warm[row], self.memory[row] = shift_plan(plan), self.planner.state()
            actions.append(plan[0])
        return torch.stack(actions).cpu().numpy()  # one copy back for all the envs

    def reset(self, ended: np.ndarray) -> None:
        """Forget the warm start and the planner's memory of envs whose episode ended."""
        for row in np.flatnonzero(np.asarray(ended, dtype=bool)):
            if row < len(self.warm):
                self.warm[row], self.memory[row] = None, {}

    def recurrent_state(self) -> dict[str, Any]:
        """What acting carries from one step to the next: warm starts, planner memories and the random generators.

        Defined so that an evaluation plans its episodes from no warm start, forgets it at their ends and puts the
        training env's back after, with the generators its plans (and PETS's random first actions) drew from: a
        greedy evaluation changes nothing of what training does next (see :class:`~porcini.core.Agent`).
        """
        state: dict[str, Any] = {"planning": self.planning_state(), "generator": self.generator.get_state()}
        rng = getattr(self, "rng", None)
        if rng is not None:
            state["rng"] = rng.bit_generator.state
        return state

    def set_recurrent_state(self, state: dict[str, Any] | None) -> None:
        """Restore :meth:`recurrent_state` (None: no warm start and no memory for any env; generators go on)."""
        if state is None:
            self.warm, self.memory = [None] * len(self.warm), [{} for _ in self.warm]
            return
        self.load_planning_state(state["planning"])
        self.generator.set_state(state["generator"])
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]

    def planning_state(self) -> dict[str, Any]:
        """The warm starts and the planner's memories (one per env), to save with the agent."""
        return {"warm": [None if w is None else w.clone() for w in self.warm],
                "memory": [{k: v.clone() for k, v in m.items()} for m in self.memory]}

    def load_planning_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`planning_state`."""
        device = self.planner.low.device
        self.warm = [None if w is None else torch.as_tensor(w, device=device).clone() for w in state["warm"]]
        memory = state.get("memory", [{} for _ in self.warm])  # MPC checkpoints from before iCEM carry none
        self.memory = [{k: torch.as_tensor(v, device=device).clone() for k, v in m.items()} for m in memory]
