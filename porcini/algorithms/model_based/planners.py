"""Sampling-based planners: random shooting, CEM and MPPI over any batched model of the world.

A planner looks for an action sequence ``[H, A]`` inside the action bounds that minimizes a cost. It never sees
the model itself: it calls ``cost_of(sequences [N, H, A]) -> costs [N]`` once per iteration on its whole
population, so a model scores every candidate in one batched forward (:func:`rollout_cost` turns a model's
``step`` into such a function). ``plan(cost_of, initial)`` starts from ``initial`` (a warm start: the previous
plan shifted by one step, see :func:`shift_plan`) or from the middle of the bounds.

* :class:`RandomShooting`: ``iterations × population`` uniform sequences, the cheapest one.
* :class:`CEM` (Rubinstein 1999; PETS's optimizer): Gaussian sampling clipped to the bounds, refit to the
  ``elites`` cheapest (:func:`porcini.functional.cem_update`) ``iterations`` times; the plan is the final mean.
* :class:`MPPI` (Williams et al. 2017): Gaussian perturbations of the current plan, averaged with weights
  ``exp(-cost / temperature)`` (:func:`porcini.functional.mppi_update`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

from porcini.functional.planning import cem_update, mppi_update

CostFunction = Callable[[Tensor], Tensor]


class DynamicsModel(Protocol):
    """A batched model: ``step(states [N, S], actions [N, A]) -> (next_states, rewards [N], terminated [N])``."""

    def step(self, states: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step of every state under its action."""
        ...


def rollout_cost(model: DynamicsModel, state: Tensor, sequences: Tensor) -> Tensor:
    """Minus the return ``[N]`` of each sequence ``[N, H, A]`` played from ``state`` ``[S]`` in ``model``.

    Undiscounted; a sequence whose rollout terminates earns nothing after it.
    """
    n, horizon = sequences.shape[:2]
    states = state.expand(n, *state.shape)
    alive = torch.ones(n, dtype=sequences.dtype, device=sequences.device)
    total = torch.zeros(n, dtype=sequences.dtype, device=sequences.device)
    for t in range(horizon):
        states, reward, terminated = model.step(states, sequences[:, t])
        total = total + alive * reward
        alive = alive * (1.0 - terminated.to(sequences.dtype))
    return -total


def shift_plan(plan: Tensor) -> Tensor:
    """The plan ``[H, A]`` one step later: its tail, then its last action repeated."""
    return torch.cat([plan[1:], plan[-1:]])


class Planner:
    """Base of the planners: bounds ``low``/``high`` ``[A]``, ``horizon``, ``population``, ``iterations``.

    Args:
        low: lower action bounds ``[A]``.
        high: upper action bounds ``[A]``.
        horizon: steps H of a sequence.
        population: sequences N scored per iteration.
        iterations: sampling rounds per plan.
        generator: the torch generator of the samples (the agent's, so plans are reproducible).
    """

    def __init__(self, low: Tensor, high: Tensor, horizon: int, population: int, iterations: int,
                 generator: torch.Generator) -> None:
        if horizon < 1 or population < 1 or iterations < 1:
            raise ValueError(f"{type(self).__name__}: horizon, population and iterations must be >= 1, got "
                             f"{horizon}, {population}, {iterations}")
        self.low, self.high = low, high
        self.horizon, self.population, self.iterations = horizon, population, iterations
        self.generator = generator

    def start(self, initial: Tensor | None) -> Tensor:
        """The first mean ``[H, A]``: ``initial`` or the middle of the bounds."""
        if initial is not None:
            return initial.clone()
        return ((self.low + self.high) / 2).expand(self.horizon, *self.low.shape).clone()

    def normal(self, mean: Tensor, std: Tensor) -> Tensor:
        """``population`` sequences from ``N(mean, std²)``, clipped to the bounds ``[N, H, A]``."""
        noise = torch.randn((self.population, *mean.shape), generator=self.generator, dtype=mean.dtype)
        return torch.clamp(mean + std * noise, self.low, self.high)

    def plan(self, cost_of: CostFunction, initial: Tensor | None = None) -> Tensor:
        """The planned sequence ``[H, A]``."""
        raise NotImplementedError


class RandomShooting(Planner):
    """The cheapest of ``iterations × population`` sequences drawn uniformly in the bounds (``initial`` unused)."""

    def plan(self, cost_of: CostFunction, initial: Tensor | None = None) -> Tensor:
        """The cheapest sequence found."""
        best, best_cost = self.start(None), torch.tensor(float("inf"))
        for _ in range(self.iterations):
            shape = (self.population, self.horizon, *self.low.shape)
            u = torch.rand(shape, generator=self.generator, dtype=self.low.dtype)
            sequences = self.low + (self.high - self.low) * u
            costs = cost_of(sequences)
            i = int(torch.argmin(costs))
            if costs[i] < best_cost:
                best, best_cost = sequences[i], costs[i]
        return best


class CEM(Planner):
    """The cross-entropy method: sample, keep the ``elites`` cheapest, refit the Gaussian, repeat.

    Args:
        elites: sequences the distribution is refit to.
        momentum: weight of the previous distribution in each refit.
        initial_std: the first standard deviation, as a share of the half-range of the bounds.
        **planner: :class:`Planner`'s arguments.
    """

    def __init__(self, *, elites: int, momentum: float = 0.1, initial_std: float = 0.5, **planner: Any) -> None:
        super().__init__(**planner)
        if not 1 <= elites <= self.population:
            raise ValueError(f"CEM: elites = {elites} is invalid: must lie in [1, population = {self.population}]")
        self.elites, self.momentum, self.initial_std = elites, momentum, initial_std

    def plan(self, cost_of: CostFunction, initial: Tensor | None = None) -> Tensor:
        """The final mean of the sampling distribution."""
        mean = self.start(initial)
        std = (self.initial_std * (self.high - self.low) / 2).expand_as(mean).clone()
        for _ in range(self.iterations):
            sequences = self.normal(mean, std)
            mean, std = cem_update(sequences, cost_of(sequences), self.elites, mean, std, self.momentum)
        return mean


class MPPI(Planner):
    """Model-predictive path integral control: perturb the plan, average the perturbations by exp(-cost / λ).

    Args:
        temperature: λ > 0; small: close to the cheapest sequence, large: close to the plain mean.
        noise_std: the perturbations' standard deviation, as a share of the half-range of the bounds.
        **planner: :class:`Planner`'s arguments.
    """

    def __init__(self, *, temperature: float = 1.0, noise_std: float = 0.5, **planner: Any) -> None:
        super().__init__(**planner)
        if temperature <= 0:
            raise ValueError(f"MPPI: temperature = {temperature} is invalid: must be > 0")
        self.temperature, self.noise_std = temperature, noise_std

    def plan(self, cost_of: CostFunction, initial: Tensor | None = None) -> Tensor:
        """The weighted average after ``iterations`` rounds."""
        mean = self.start(initial)
        std = (self.noise_std * (self.high - self.low) / 2).expand_as(mean)
        for _ in range(self.iterations):
            sequences = self.normal(mean, std)
            mean = torch.clamp(mppi_update(sequences, cost_of(sequences), self.temperature), self.low, self.high)
        return mean
