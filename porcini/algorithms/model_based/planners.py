"""Sampling-based planners: random shooting, CEM, iCEM and MPPI over any batched model of the world.

A planner looks for an action sequence ``[H, A]`` inside the action bounds that minimizes a cost. It never sees
the model itself: it calls ``cost_of(sequences [N, H, A]) -> costs [N]`` once per iteration on its whole
population, so a model scores every candidate in one batched forward (:func:`rollout_cost` turns a model's
``step`` into such a function; :func:`simulator_cost` plays each candidate in a copy of a Gymnasium env, for a
simulator with no batched model). ``plan(cost_of, initial)`` starts from ``initial`` (a warm start: the previous
plan shifted by one step, see :func:`shift_plan`) or from the middle of the bounds. :func:`make_planner` builds
one by name (:data:`PLANNERS`).

* :class:`RandomShooting`: ``iterations × population`` uniform sequences, the cheapest one.
* :class:`CEM` (Rubinstein 1999; PETS's optimizer): Gaussian sampling clipped to the bounds, refit to the
  ``elites`` cheapest (:func:`porcini.functional.cem_update`) ``iterations`` times; the plan is the final mean.
* :class:`ICEM` (Pinneri et al. 2020): CEM with colored noise along the horizon, a population that shrinks each
  iteration, elites kept from one iteration and one call to the next; the plan is the cheapest sequence seen.
* :class:`MPPI` (Williams et al. 2017): Gaussian perturbations of the current plan, averaged with weights
  ``exp(-cost / temperature)`` (:func:`porcini.functional.mppi_update`).

Memory between calls: the warm start belongs to the caller (``initial``). Whatever else a planner carries from one
``plan`` to the next (only iCEM's kept elites) is its :meth:`Planner.state`: a dict of tensors the caller can save,
swap (one per env, as ``mpc`` does) and restore with :meth:`Planner.load_state`, or drop with :meth:`Planner.reset`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from porcini.functional.planning import cem_update, colored_noise, mppi_update

CostFunction = Callable[[Tensor], Tensor]
PLANNERS = ("cem", "icem", "mppi", "random")


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


def simulator_cost(env: gym.Env, sequences: Tensor) -> Tensor:
    """Minus the return ``[N]`` of each sequence ``[N, H, A]`` played in its own copy of ``env`` from its state now.

    ``env`` is one Gymnasium env whose state ``copy.deepcopy`` copies (most simulators written in Python); it is
    not stepped itself. One copy and one short episode per candidate, one after the other: the plain way to plan
    with a simulator that has no batched model. Undiscounted; a candidate earns nothing after its copy's episode
    ends (terminated or truncated).
    """
    dtype = env.action_space.dtype
    costs = []
    for sequence in sequences.detach().cpu().numpy():
        copied, total = copy.deepcopy(env), 0.0
        for action in sequence:
            _, reward, terminated, truncated, _ = copied.step(np.asarray(action, dtype=dtype))
            total += float(reward)
            if terminated or truncated:
                break
        costs.append(-total)
    return torch.tensor(costs, dtype=sequences.dtype, device=sequences.device)


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
        noise = torch.randn((self.population, *mean.shape), generator=self.generator, dtype=mean.dtype,
                            device=mean.device)
        return torch.clamp(mean + std * noise, self.low, self.high)

    def plan(self, cost_of: CostFunction, initial: Tensor | None = None) -> Tensor:
        """The planned sequence ``[H, A]``."""
        raise NotImplementedError

    def state(self) -> dict[str, Tensor]:
        """What the planner carries from one ``plan`` to the next: nothing, except for :class:`ICEM`."""
        return {}

    def load_state(self, state: dict[str, Tensor]) -> None:
        """Restore :meth:`state` (an empty dict forgets everything)."""
        self.reset()

    def reset(self) -> None:
        """Forget what the planner carries between calls (the warm start is the caller's ``initial``)."""


class RandomShooting(Planner):
    """The cheapest of ``iterations × population`` sequences drawn uniformly in the bounds (``initial`` unused)."""

    def plan(self, cost_of: CostFunction, initial: Tensor | None = None) -> Tensor:
        """The cheapest sequence found."""
        best, best_cost = self.start(None), torch.tensor(float("inf"))
        for _ in range(self.iterations):
            shape = (self.population, self.horizon, *self.low.shape)
            u = torch.rand(shape, generator=self.generator, dtype=self.low.dtype, device=self.low.device)
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


class ICEM(Planner):
    """The improved cross-entropy method: CEM with colored noise, a shrinking population and memory.

    Pinneri et al. 2020, "Sample-efficient Cross-Entropy Method for Real-time Planning", arXiv:2008.06389.
    Iteration ``i`` of a plan:

    1. draws ``population_at(i) = max(2 · elites, ⌊population · population_decay^(-i)⌋)`` sequences from
       ``N(mean, std²)`` with noise colored along the horizon (:func:`porcini.functional.colored_noise`,
       exponent ``noise_beta``), clipped to the bounds;
    2. adds, at ``i = 0``, the elites kept by the previous call, shifted by one step, and at the last iteration
       the mean (clipped); these are scored with the fresh draws, in one ``cost_of`` call;
    3. adds, at ``i > 0``, the cheapest ``⌊keep_elites · elites⌋`` of the previous iteration with their costs
       (the same sequences in the same state are not scored again; with a sampling model their first score
       stands, as in the paper's code);
    4. refits mean and std to the ``elites`` cheapest of them all (:func:`porcini.functional.cem_update`,
       ``momentum`` as in CEM).

    The plan is the cheapest sequence seen during the call, not the final mean, as in the paper (it executes the
    best action sequence): its cost was measured, while the mean of elites from two modes can lie between them
    and was scored only once, at the last iteration. The cheapest ``⌊keep_elites · elites⌋`` of the final
    iteration, shifted by one step, are kept for the next call (:meth:`state`). Deviations from the paper's code:
    the next call starts from the caller's ``initial`` (``mpc`` passes the plan, i.e. the best sequence, shifted)
    rather than from the shifted final mean; a shifted elite repeats its last action (:func:`shift_plan`) instead
    of drawing a new one; the mean joins the last population instead of replacing one of its draws.

    Args:
        elites: sequences the distribution is refit to (``1 <= elites <= population``).
        momentum: weight of the previous distribution in each refit.
        initial_std: the first standard deviation, as a share of the half-range of the bounds.
        noise_beta: exponent β of the noise's spectrum ``1 / f^β`` along the horizon (0 white, 2 smooth).
        population_decay: the population of iteration ``i`` is ``population / population_decay^i`` (``>= 1``).
        keep_elites: share of the elites carried to the next iteration and the next call, in ``[0, 1]``.
        **planner: :class:`Planner`'s arguments.
    """

    def __init__(self, *, elites: int, momentum: float = 0.1, initial_std: float = 0.5, noise_beta: float = 2.0,
                 population_decay: float = 1.25, keep_elites: float = 0.3, **planner: Any) -> None:
        super().__init__(**planner)
        for ok, field, value, allowed in ((1 <= elites <= self.population, "elites", elites,
                                           f"in [1, population = {self.population}]"),
                                          (noise_beta >= 0, "noise_beta", noise_beta, ">= 0"),
                                          (population_decay >= 1, "population_decay", population_decay, ">= 1"),
                                          (0 <= keep_elites <= 1, "keep_elites", keep_elites, "in [0, 1]")):
            if not ok:
                raise ValueError(f"ICEM: {field} = {value} is invalid: must be {allowed}")
        self.elites, self.momentum, self.initial_std = elites, momentum, initial_std
        self.noise_beta, self.population_decay = noise_beta, population_decay
        self.n_kept = int(keep_elites * elites + 1e-9)  # 0.3 · 40 is 12, not 11.999…
        self.carried: Tensor | None = None

    def population_at(self, iteration: int) -> int:
        """Fresh sequences drawn at ``iteration`` (from 0): ``max(2 · elites, ⌊population · decay^(-i)⌋)``."""
        # 121 / 1.1² is 100, which float arithmetic puts just below: floored, it would lose a sequence
        return max(2 * self.elites, int(self.population * self.population_decay ** -iteration + 1e-9))

    def colored(self, mean: Tensor, std: Tensor, n: int) -> Tensor:
        """``n`` sequences ``mean + std · colored noise``, clipped to the bounds ``[n, H, A]``."""
        noise = colored_noise(self.noise_beta, (n, *mean.shape), self.generator, mean.dtype, mean.device)
        return torch.clamp(mean + std * noise, self.low, self.high)

    def plan(self, cost_of: CostFunction, initial: Tensor | None = None) -> Tensor:
        """The cheapest sequence seen; the cheapest final elites, shifted, are kept for the next call."""
        mean = self.start(initial)
        std = (self.initial_std * (self.high - self.low) / 2).expand_as(mean).clone()
        best, best_cost = torch.clamp(mean, self.low, self.high), float("inf")
        kept = kept_costs = None
        for i in range(self.iterations):
            candidates = [self.colored(mean, std, self.population_at(i))]
            if i == 0 and self.carried is not None:
                candidates.append(self.carried)
            if i == self.iterations - 1:
                candidates.append(torch.clamp(mean, self.low, self.high)[None])
            sequences = torch.cat(candidates)
            costs = cost_of(sequences)
            if kept is not None and kept_costs is not None:
                sequences, costs = torch.cat([sequences, kept]), torch.cat([costs, kept_costs])
            mean, std = cem_update(sequences, costs, self.elites, mean, std, self.momentum)
            cheapest = torch.topk(costs, max(self.n_kept, 1), largest=False).indices
            if float(costs[cheapest[0]]) < best_cost:
                best, best_cost = sequences[cheapest[0]], float(costs[cheapest[0]])
            kept, kept_costs = sequences[cheapest[:self.n_kept]], costs[cheapest[:self.n_kept]]
        if kept is not None and self.n_kept > 0:
            self.carried = torch.cat([kept[:, 1:], kept[:, -1:]], dim=1)  # shift_plan of every kept elite
        return best.clone()

    def state(self) -> dict[str, Tensor]:
        """The kept elites, shifted, ``{"elites": [k, H, A]}``; empty before the first plan or after :meth:`reset`."""
        return {} if self.carried is None else {"elites": self.carried.clone()}

    def load_state(self, state: dict[str, Tensor]) -> None:
        """Restore :meth:`state`."""
        elites = state.get("elites")
        if elites is not None and tuple(elites.shape[1:]) != (self.horizon, *self.low.shape):
            raise ValueError(f"ICEM.load_state: elites of shape {tuple(elites.shape)} do not fit horizon "
                             f"{self.horizon} and actions {tuple(self.low.shape)}")
        self.carried = None if elites is None else torch.as_tensor(elites, device=self.low.device).clone()

    def reset(self) -> None:
        """Forget the kept elites."""
        self.carried = None


def make_planner(name: str, *, low: Tensor, high: Tensor, horizon: int, population: int, iterations: int,
                 generator: torch.Generator, elites: int = 40, momentum: float = 0.1, temperature: float = 1.0,
                 noise_std: float = 0.5, noise_beta: float = 2.0, population_decay: float = 1.25,
                 keep_elites: float = 0.3) -> Planner:
    """The planner ``name``, one of :data:`PLANNERS`; the arguments it has no use for are ignored.

    Args:
        name: ``"cem"``, ``"icem"``, ``"mppi"`` or ``"random"`` (random shooting).
        low: lower action bounds ``[A]``.
        high: upper action bounds ``[A]``.
        horizon: steps H of a sequence.
        population: sequences N scored per iteration (iCEM: in its first iteration).
        iterations: sampling rounds per plan.
        generator: the torch generator of the samples.
        elites: CEM's and iCEM's elites.
        momentum: CEM's and iCEM's momentum.
        temperature: MPPI's λ.
        noise_std: CEM's and iCEM's first standard deviation and MPPI's, as a share of the bounds' half-range.
        noise_beta: iCEM's noise exponent β.
        population_decay: iCEM's population decay.
        keep_elites: iCEM's share of kept elites.
    """
    common: dict[str, Any] = {"low": low, "high": high, "horizon": horizon, "population": population,
                              "iterations": iterations, "generator": generator}
    if name == "cem":
        return CEM(elites=elites, momentum=momentum, initial_std=noise_std, **common)
    if name == "icem":
        return ICEM(elites=elites, momentum=momentum, initial_std=noise_std, noise_beta=noise_beta,
                    population_decay=population_decay, keep_elites=keep_elites, **common)
    if name == "mppi":
        return MPPI(temperature=temperature, noise_std=noise_std, **common)
    if name == "random":
        return RandomShooting(**common)
    raise ValueError(f"make_planner: name = {name!r} is invalid: must be one of {PLANNERS}")
