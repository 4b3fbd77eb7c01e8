"""PETS: probabilistic ensembles with trajectory sampling (Chua et al. 2018, arXiv:1805.12114).

The agent is a learned model and a planner, no policy network::

    first learning_starts env steps: uniform random actions
    every model_train_freq env steps: fit the ensemble on all the data so far (held-out early stopping, elites)
    every step: plan `horizon` actions with the planner (CEM by default), each candidate scored by
                `particles` trajectory-sampling rollouts in the ensemble (TS-∞ by default); play the first action

On a task that terminates the model learns terminations (``learn_termination``) or is given the rule
(``termination_fn``); with neither, a fit on data that holds a termination stops with an error.
The ensemble is :class:`~porcini.algorithms.model_based.dynamics.DynamicsEnsemble`; candidates are scored by
:func:`~porcini.algorithms.model_based.trajectory_sampling.particle_cost` (every candidate and particle in one
forward per step), warm-started from the previous plan shifted by one step. ``reward: known`` plans with the
env's reward function (:func:`~porcini.algorithms.model_based.known_models.known_reward`; PETS's own experiments
give it) instead of the model's learned reward. Planning is the same whether or not the loop asks to explore.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from porcini.algorithms.kit import agent_generator, check_device, seeded
from porcini.algorithms.model_based.dynamics import ModelFields, fit_dynamics, make_dynamics, refuse_terminations
from porcini.algorithms.model_based.known_models import known_reward
from porcini.algorithms.model_based.planners import CostFunction
from porcini.algorithms.model_based.receding_horizon import PlannerFields, RecedingHorizon, check_planning_spaces
from porcini.algorithms.model_based.trajectory_sampling import PROPAGATIONS, TransitionFunction, particle_cost
from porcini.core.agent import BaseAgent
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.data.replay import ReplayBuffer
from porcini.envs.info import EnvInfo
from porcini.networks.heads import as_action_dtype
from porcini.seeding import agent_rng

REWARDS = ("model", "known")


@dataclass(frozen=True)
class PETSConfig(PlannerFields, ModelFields):
    """Hyperparameters of PETS: the model's (:class:`ModelFields`), the planner's (:class:`PlannerFields`) and these."""

    horizon: int = 25
    """Steps planned ahead."""
    population: int = 400
    """Sequences scored per planner iteration."""
    particles: int = 20
    """Trajectory-sampling rollouts per candidate, a multiple of ``n_elites``."""
    propagation: str = "tsinf"
    """``"tsinf"`` (a particle keeps its elite) or ``"ts1"`` (a new elite at every step)."""
    reward: str = "model"
    """Plan with the ``"model"``'s learned reward or the env's ``"known"`` reward function."""
    learning_starts: int = 200
    """Env steps of uniform random actions before the first model fit."""
    buffer_size: int = 1_000_000
    """Transitions kept for the model."""
    seed: int = 0
    """Seed of the model's initialization, the random actions, the model fits and the planner's samples."""
    device: str = "cpu"
    """Torch device of the model, its fits and the planning (each fit moves the stored transitions there once)."""

    def __post_init__(self) -> None:
        check_device(type(self).__name__, self.device)
        self.check_model_fields()
        self.check_planner_fields()
        owner = type(self).__name__
        require(self.particles >= 1 and self.particles % self.n_elites == 0, owner, "particles", self.particles,
                f"a positive multiple of n_elites ({self.n_elites})")
        require(self.propagation in PROPAGATIONS, owner, "propagation", self.propagation, f"one of {PROPAGATIONS}")
        require(self.reward in REWARDS, owner, "reward", self.reward, f"one of {REWARDS}")
        require(self.learning_starts >= 1, owner, "learning_starts", self.learning_starts, ">= 1")
        require(self.buffer_size >= 1, owner, "buffer_size", self.buffer_size, ">= 1")


class PETS(RecedingHorizon, BaseAgent):
    """A probabilistic ensemble planned through with trajectory sampling (``pets``); see the module docstring.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> agent = PETS(env.info, model_hidden=(16,), model_epochs=2, horizon=5, population=20, iterations=2,
        ...              elites=4, particles=5, learning_starts=50, model_train_freq=50)
        >>> _ = Core(agent, env, progress=False).learn(steps=60)
        >>> agent.model_fits, agent.act(env.reset(seed=0)[0], explore=False).shape
        (1, (1, 1))

    Args:
        info: the env's description.
        config: a :class:`PETSConfig`; keyword ``overrides`` replace its fields.
        reward_fn: the task's reward ``(obs, action, next_obs) -> [N]`` (torch, batched, env units) to plan with
            instead of the learned one.
        termination_fn: the task's termination rule ``(obs, action, next_obs) -> [N] bool``; with it the agent
            accepts tasks that terminate, and nothing counts after a particle's termination.
    """

    name = "pets"
    Config = PETSConfig
    action_spaces = ("Box",)

    def __init__(self, info: EnvInfo, config: PETSConfig | None = None, *,
                 reward_fn: TransitionFunction | None = None, termination_fn: TransitionFunction | None = None,
                 **overrides: Any) -> None:
        self.config = c = build_config(PETSConfig, config, overrides)
        if reward_fn is not None and c.reward == "known":
            raise ValueError("PETS: give either reward_fn or reward='known' (the env's own reward function), not both")
        check_planning_spaces(info, type(self).__name__)
        self.info = info
        space = info.action_space
        assert isinstance(space, gym.spaces.Box)
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.rng = agent_rng(c.seed)
        self.device = torch.device(c.device)
        self.generator = agent_generator(c.seed, self.device)
        with seeded(c.seed):
            self.model = make_dynamics(c, info.obs_dim, info.action_dim).to(self.device)
        self.reward_fn = known_reward(info.env_id) if c.reward == "known" else reward_fn
        self.termination_fn = termination_fn
        self.buffer = ReplayBuffer(c.buffer_size)
        # fit is called every vector step and fits the model when due: the first fit at learning_starts, not at the
        # first multiple of model_train_freq past it
        self.fit_every_steps = info.n_envs
        self.steps_seen = self.model_fits = self._model_fit_at = 0
        self._setup_planning(c, torch.as_tensor(self.low, dtype=torch.float32, device=self.device),
                             torch.as_tensor(self.high, dtype=torch.float32, device=self.device), info.n_envs)

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """Uniform random actions until the model is first fit, then the first action of a fresh plan per env."""
        obs = np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)
        if self.model_fits == 0:
            action = self.rng.uniform(self.low, self.high, size=(len(obs), *self.low.shape))
        else:
            action = self.plan_first_actions(obs, self.cost_at)
        # the planner clamps to float32 bounds, which may lie just outside a float64 box (0.3 -> 0.30000001)
        return as_action_dtype(np.clip(action, self.low, self.high), self.info.action_space.dtype)

    def cost_at(self, state: torch.Tensor) -> CostFunction:
        """The planner's cost function at ``state`` ``[S]``: trajectory sampling in the ensemble."""
        c = self.config
        return partial(particle_cost, self.model, state, particles=c.particles, propagation=c.propagation,
                       generator=self.generator, reward_fn=self.reward_fn, termination_fn=self.termination_fn)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Store the transitions; fit the model at ``learning_starts`` env steps, then every ``model_train_freq``."""
        self.buffer.add(TransitionBatch(
            np.asarray(batch.obs, dtype=np.float32), np.asarray(batch.action, dtype=np.float32),
            np.asarray(batch.reward, dtype=np.float32), np.asarray(batch.next_obs, dtype=np.float32),
            np.asarray(batch.terminated, dtype=bool), np.asarray(batch.truncated, dtype=bool)))
        self.steps_seen += batch.n_transitions
        c = self.config
        if self.steps_seen < c.learning_starts or (
                self.model_fits and self.steps_seen - self._model_fit_at < c.model_train_freq):
            return {}
        if self.termination_fn is None and not self.config.learn_termination:
            refuse_terminations(self.buffer, "PETS", self.info.env_id)
        metrics = fit_dynamics(self.model, self.buffer, self.config, self.rng)
        self.model_fits, self._model_fit_at = self.model_fits + 1, self.steps_seen
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """The model, the data, the generators, the counters and the planner's warm starts."""
        return {"model": {k: v.clone() for k, v in self.model.state_dict().items()}, "buffer": self.buffer.state_dict(),
                "generator": self.generator.get_state(), "rng": self.rng.bit_generator.state,
                "counters": {"steps_seen": self.steps_seen, "model_fits": self.model_fits,
                             "model_fit_at": self._model_fit_at},
                "planning": self.planning_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (same config and env)."""
        self.model.load_state_dict(state["model"])
        self.buffer = ReplayBuffer(self.config.buffer_size)
        self.buffer.load_state_dict(state["buffer"], source="PETS state")
        self.generator.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        self.steps_seen, self.model_fits = int(state["counters"]["steps_seen"]), int(state["counters"]["model_fits"])
        self._model_fit_at = int(state["counters"].get("model_fit_at", self.steps_seen))  # older checkpoints lack it
        self.load_planning_state(state["planning"])
