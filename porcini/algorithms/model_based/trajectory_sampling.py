"""Trajectory sampling (Chua et al. 2018, PETS): the expected cost of action sequences under a model ensemble.

Every candidate sequence ``[H, A]`` is played from the current state by ``particles`` particles; a particle's
next state is a prediction of one of the ensemble's elites (a sample of its Gaussian when ``sample``), so the
spread of the particles carries both the noise the model learned and the elites' disagreement. The cost of a
candidate is minus the mean over its particles of the undiscounted return. Propagation:

* ``"tsinf"`` (TS-∞): a particle keeps its elite for the whole horizon. Particle ``p`` of every candidate
  rides elite ``p mod E`` (``E`` elites, ``particles`` a multiple of ``E``): each candidate gets the same
  number of particles per elite, so no candidate is scored by fewer members by chance.
* ``"ts1"`` (TS-1): every particle draws a new elite at every step (all rows shuffled and dealt to the
  elites, :meth:`~porcini.algorithms.model_based.dynamics.DynamicsEnsemble.step`).

All candidates and particles go through the model in one forward per step
(:meth:`~porcini.algorithms.model_based.dynamics.DynamicsEnsemble.step_elites`: rows ``[E, Q·N]``, ``Q =
particles / E`` particles of each of the ``N`` candidates per elite). A ``reward_fn(obs, action, next_obs)``
replaces the model's reward where the reward is known (PETS's own experiments give it); a particle ends (earns
nothing after) where the model predicts a termination (a model that learns them) or where a given
``termination_fn(obs, action, next_obs) -> bool`` says so, which replaces the model's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from porcini.algorithms.model_based.dynamics import DynamicsEnsemble

PROPAGATIONS = ("tsinf", "ts1")
TransitionFunction = Callable[[Tensor, Tensor, Tensor], Tensor]


def particle_cost(model: DynamicsEnsemble, state: Tensor, sequences: Tensor, *, particles: int, propagation: str,
                  generator: torch.Generator, sample: bool = True, reward_fn: TransitionFunction | None = None,
                  termination_fn: TransitionFunction | None = None) -> Tensor:
    """Minus the mean return ``[N]`` over ``particles`` model rollouts of each sequence ``[N, H, A]`` from ``state``.

    Args:
        model: the ensemble (its elites predict).
        state: the current observation ``[S]``.
        sequences: candidate action sequences, in the units the model was trained on.
        particles: rollouts per candidate, a multiple of the number of elites.
        propagation: ``"tsinf"`` or ``"ts1"`` (see the module docstring).
        generator: the torch generator of the elites' draws (TS-1) and of the Gaussian samples.
        sample: sample each prediction from its Gaussian (PETS) or take its mean.
        reward_fn: the known reward ``(obs, action, next_obs) -> [R]``; None: the model's.
        termination_fn: the known termination rule ``(obs, action, next_obs) -> [R] bool``; None: the model's.
    """
    n_elites = model.n_elites
    if propagation not in PROPAGATIONS:
        raise ValueError(f"particle_cost: propagation = {propagation!r} is invalid: one of {PROPAGATIONS}")
    if particles < 1 or particles % n_elites:
        raise ValueError(f"particle_cost: particles = {particles} must be a positive multiple of the model's "
                         f"{n_elites} elites")
    n, horizon, action_dim = sequences.shape
    rows = particles // n_elites * n
    sequences = sequences.to(torch.float32)
    states = state.to(torch.float32).expand(n_elites, rows, state.shape[-1])
    alive = torch.ones(n_elites, rows, device=sequences.device)
    total = torch.zeros(n_elites, rows, device=sequences.device)
    for t in range(horizon):
        actions = sequences[:, t].repeat(particles // n_elites, 1).expand(n_elites, rows, action_dim)
        next_states, reward, terminated = _propagate(model, states, actions, propagation, generator, sample)
        if reward_fn is not None:
            reward = _per_row(reward_fn, states, actions, next_states)
        total = total + alive * reward
        if termination_fn is not None:
            terminated = _per_row(termination_fn, states, actions, next_states).bool()
        alive = alive * (~terminated).float()
        states = next_states
    return -total.reshape(particles, n).mean(dim=0)


def _propagate(model: DynamicsEnsemble, states: Tensor, actions: Tensor, propagation: str,
               generator: torch.Generator, sample: bool) -> tuple[Tensor, Tensor, Tensor]:
    """One step of every particle ``[E, R]``; TS-1 deals all the rows to the elites at random first."""
    if propagation == "tsinf":
        return model.step_elites(states, actions, sample, generator)
    e, r = states.shape[:2]
    next_states, reward, terminated = model.step(states.reshape(e * r, -1), actions.reshape(e * r, -1), sample,
                                                 generator)
    return next_states.reshape(states.shape), reward.reshape(e, r), terminated.reshape(e, r)


def _per_row(fn: TransitionFunction, states: Tensor, actions: Tensor, next_states: Tensor) -> Tensor:
    """``fn`` on the rows ``[E, R, ...]`` flattened to ``[E·R, ...]``, its output back to ``[E, R]``."""
    e, r = states.shape[:2]
    out = fn(states.reshape(e * r, -1), actions.reshape(e * r, -1), next_states.reshape(e * r, -1))
    return out.reshape(e, r)
