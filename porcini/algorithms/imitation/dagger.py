"""DAgger: imitation by dataset aggregation (Ross, Gordon & Bagnell 2011, arXiv:1011.0686).

Behaviour cloning learns from the states the expert visits only; once the clone errs it reaches states the expert
never showed, and its errors compound over the episode. DAgger asks the expert what it would have done in the
states the learner itself reaches, and clones the union::

    D ← the expert's demonstrations, if any (add_dataset)
    for round i = 0, 1, 2, ...:
        act for ``round_steps`` env steps with π_i: in each env at each step, the expert's action with
            probability β_i, else the learner's (deterministic) one
        D ← D ∪ {(s, π*(s)) : s visited in round i}          the expert labels every visited state, one call
        ``updates_per_round`` BC gradient steps on D, continuing from the current clone
    β_i = beta_decay ** i                                      (the paper's β_i = p^(i-1)); 0: the learner from round 1

A round is one of the loop's fits (``fit_every_steps = round_steps``), so ``Core.learn(steps=N)`` runs
``N / round_steps`` rounds, and evaluation (``explore=False``) measures the clone alone. The cloning loss, the
network and acting are :class:`~porcini.algorithms.offline.bc.BC`'s. The expert is any callable from observations
``[B, ...]`` to env actions ``[B, ...]``: a scripted controller, or a trained agent's ``act`` (see
:func:`agent_expert`). The aggregated data is part of the agent's state, so a resumed run continues exactly.

From the command line the expert is a trained run directory: ``porcini train dagger ENV --expert RUN_DIR``
(its best checkpoint's agent, deterministic; ``data.expert`` in a config).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.offline.bc import BC, BCConfig
from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.core.obs_tree import map_obs, obs_batch_size
from porcini.data.dataset import Dataset
from porcini.envs.info import EnvInfo
from porcini.errors import ConfigError

Expert = Callable[[Any], Any]


@dataclass(frozen=True)
class DAggerConfig(BCConfig):
    """Hyperparameters of DAgger: BC's (see :class:`BCConfig`) plus the rounds and the β schedule."""

    round_steps: int = 1000
    """Env steps (summed over envs) the learner acts in each round before the expert labels them."""
    updates_per_round: int = 1000
    """BC gradient steps on the aggregated data after each round."""
    beta_decay: float = 0.5
    """β_i = beta_decay ** i, the probability that the expert acts in round i (round 0: the expert alone)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(self.round_steps >= 1, name, "round_steps", self.round_steps, ">= 1")
        require(self.updates_per_round >= 0, name, "updates_per_round", self.updates_per_round, ">= 0")
        require(0.0 <= self.beta_decay <= 1.0, name, "beta_decay", self.beta_decay, "in [0, 1]")


def agent_expert(agent: Any) -> Expert:
    """A trained agent as an expert: its deterministic actions (``agent.act(obs, explore=False)``)."""
    return lambda obs: agent.act(obs, explore=False)


class DAgger(BC):
    """DAgger for Box or Discrete actions: BC on the expert's labels of the states the learner visits.

    Args:
        info: the env's description.
        config: a :class:`DAggerConfig`, or None for the defaults changed by ``overrides``.
        expert: observations ``[B, ...]`` → env actions ``[B, ...]``; may be given later with :meth:`set_expert`
            (acting deterministically needs none: evaluating a trained clone does not ask the expert).

    Raises:
        UnsupportedSpaceError: Dict or Tuple observations (the aggregated dataset holds arrays), or BC's refusals.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0)
        >>> agent = DAgger(env.info, expert=lambda obs: (obs[:, 2] > 0).astype(int), round_steps=100,
        ...                updates_per_round=10, net_arch=(32,), batch_size=32)
        >>> _ = Core(agent, env, progress=False).learn(steps=300)
        >>> agent.rounds, agent.labels
        (3, 300)
    """

    name = "dagger"
    Config: type[DAggerConfig] = DAggerConfig
    config: DAggerConfig
    learns_from_expert = True

    def __init__(self, info: EnvInfo, config: DAggerConfig | None = None, *, expert: Expert | None = None,
                 **overrides: Any) -> None:
        super().__init__(info, config, **overrides)
        self.expert: Expert | None = None
        if expert is not None:
            self.set_expert(expert)
        self.fit_every_steps = self.config.round_steps
        self.rounds = 0  # rounds finished: the next round's β is beta_decay ** rounds
        self.labels = 0  # states the expert labelled in the rounds (demonstrations not counted)
        self.expert_calls = 0

    def set_expert(self, expert: Expert) -> None:
        """Use ``expert`` (observations ``[B, ...]`` → env actions ``[B, ...]``) from now on."""
        if not callable(expert):
            raise TypeError(f"DAgger's expert must be a callable obs -> action, got {type(expert).__name__}")
        self.expert = expert

    @property
    def beta(self) -> float:
        """The probability that the expert acts in the current round."""
        return float(self.config.beta_decay ** self.rounds)

    def label(self, obs: Any) -> np.ndarray:
        """The expert's actions ``[N, *action_shape]`` for observations ``[N, ...]``, checked against the space."""
        if self.expert is None:
            raise ConfigError("DAgger has no expert: give expert=CALLABLE (Python) or --expert RUN_DIR (CLI)")
        self.expert_calls += 1
        action = np.asarray(self.expert(obs))
        expected = (obs_batch_size(obs), *self.info.action_shape)
        if action.shape != expected:
            raise ValueError(f"DAgger's expert returned actions of shape {action.shape} for {expected[0]} "
                             f"observations; expected {expected}: the expert must act on a batch of observations")
        return action

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """The clone's deterministic actions; exploring, each env takes the expert's action with probability β."""
        action = super().act(obs, explore=False)
        if not explore:
            return action
        use_expert = self.rng.random(len(action)) < self.beta
        if use_expert.any():
            action = action.copy()
            action[use_expert] = self.label(map_obs(lambda x: x[use_expert], obs))
        return action

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """End a round: the expert labels the batch's states, they join the data, BC takes its gradient steps.

        The metric ``beta`` is the β the round just ended acted with (``self.beta`` is the next round's).
        """
        beta = self.beta
        flat = batch.flatten()  # [T * B, 1]
        states = map_obs(lambda x: x[:, 0], flat.obs)
        labelled = TransitionBatch(flat.obs, self.label(states)[:, None], flat.reward, flat.next_obs,
                                   flat.terminated, flat.truncated)
        self._aggregate(labelled)
        self.rounds += 1
        self.labels += obs_batch_size(states)
        metrics = self.update(self.config.updates_per_round)
        size = len(self.dataset) if self.dataset is not None else 0
        return {**metrics, "beta": beta, "rounds": float(self.rounds), "dataset_size": float(size)}

    def _aggregate(self, labelled: TransitionBatch) -> None:
        """Add env-unit transitions ``[N, 1, ...]`` to the data (stored as the loss takes them)."""
        new = TransitionBatch(labelled.obs, self.stored_actions(labelled.action), labelled.reward, labelled.next_obs,
                              labelled.terminated, labelled.truncated)
        if self.dataset is None:
            self.dataset = Dataset(new, {"policy": "dagger"})
        else:
            self.dataset = Dataset(TransitionBatch.concatenate([self.dataset.batch.flatten(), new]),
                                   self.dataset.metadata)

    def state_dict(self) -> dict[str, Any]:
        """BC's state, the round counters and the aggregated data (it was made during the run)."""
        state = {**super().state_dict(), "rounds": self.rounds, "labels": self.labels,
                 "expert_calls": self.expert_calls}
        if self.dataset is not None:
            flat = self.dataset.batch.flatten()
            state["data"] = {name: getattr(flat, name) for name in
                             ("obs", "action", "reward", "next_obs", "terminated", "truncated")}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        self.rounds, self.labels = int(state["rounds"]), int(state["labels"])
        self.expert_calls = int(state["expert_calls"])
        data = state.get("data")
        if data is None:
            self.dataset = None
            return
        fields = {str(name): np.asarray(value) for name, value in data.items()}
        self.dataset = Dataset(TransitionBatch(fields["obs"], fields["action"], fields["reward"], fields["next_obs"],
                                               fields["terminated"], fields["truncated"]), {"policy": "dagger"})
