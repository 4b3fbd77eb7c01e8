"""What every tabular/linear TD agent shares: the config fields, the Q-function, exploration and the fit loop.

An agent subclasses :class:`TDAgent` and writes only its update rule, ``_update(step)``, for one time row of the
batch (all envs at once). The Q-function is :class:`~porcini.approximators.LinearQ` over one-hot features for
Discrete observations (a Q-table) or over tile coding, RBF, Fourier or polynomial features for Box observations,
so the same agent class is tabular or linear by configuration.

On-policy agents (SARSA and its λ variants) bootstrap from ``Q(s', a')`` with ``a'`` the action actually taken
next. The loop calls ``act`` then ``fit`` with the transition, so inside a fit batch ``a'`` is simply the action
of the next row; for the last row it is not known yet. There the agent *samples* ``a'`` from its policy at
``s'`` during ``fit`` and caches it: the next ``act(obs, explore=True)`` plays the cached action for every env
whose episode goes on (checked by comparing ``obs`` with the cached ``s'``). The update is thus exactly
on-policy with no one-step delay. Where an episode ended, the next ``obs`` starts a new episode and nothing is
cached; a truncated transition still bootstraps from a sampled ``a'`` (its expectation is the SARSA target).

Episode ends are read from the batch (``terminated | truncated``), not from ``reset(ended)``: the loop calls
``reset`` before the ``fit`` that contains the ending transition, so per-episode state (eligibility traces) is
cut in ``fit``, after that transition's update. ``reset`` only forgets a cached next action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from porcini.algorithms.exploration import (
    EXPLORATIONS,
    boltzmann,
    boltzmann_probs,
    epsilon_greedy,
    epsilon_greedy_probs,
    greedy,
)
from porcini.algorithms.schedules import SCHEDULE_KINDS, make_schedule
from porcini.algorithms.space_hints import multi_action_hint
from porcini.approximators import FEATURE_KINDS, Features, LinearQ, OneHotFeatures, QTable, make_features
from porcini.core.agent import BaseAgent, q_value_explanation, steps_seen_in, supports_action_space
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.seeding import agent_eval_rng, agent_rng


@dataclass(frozen=True)
class TDConfig:
    """Hyperparameters shared by the tabular/linear TD agents."""

    learning_rate: float = 0.1
    """Step size α: the fraction of the TD error applied to ``Q(s, a)`` (with binary features such as tiles it
    is divided by the number of active features, so it keeps this meaning)."""
    learning_rate_final: float | None = None
    """Final step size, reached after ``decay_steps`` with ``exploration_schedule``'s shape; None: constant."""
    gamma: float | None = None
    """Discount factor; None takes the env's declared discount (``EnvInfo.gamma``) or else 0.99."""
    exploration: str = "epsilon_greedy"
    """Behaviour policy: ``"epsilon_greedy"`` or ``"boltzmann"`` (softmax of Q / temperature)."""
    epsilon: float = 0.1
    """ε of ε-greedy exploration (its initial value when ``exploration_final`` is set)."""
    temperature: float = 1.0
    """Temperature of Boltzmann exploration (its initial value when ``exploration_final`` is set)."""
    exploration_final: float | None = None
    """Final ε (or temperature), reached after ``decay_steps``; None keeps it constant."""
    exploration_schedule: str = "linear"
    """Shape of the decays: ``"linear"``, ``"exponential"`` or ``"constant"``."""
    decay_steps: int = 10_000
    """Env steps (summed over envs) over which ε/temperature and the learning rate reach their final values."""
    initial_value: float = 0.0
    """Initial ``Q(s, a)`` everywhere (optimistic values drive exploration); non-zero needs binary features."""
    features: str = "auto"
    """Feature map: ``"auto"`` (one-hot for Discrete observations, tile coding for Box), ``"one_hot"``,
    ``"tile"``, ``"rbf"``, ``"fourier"`` or ``"polynomial"``."""
    obs_low: tuple[float, ...] | None = None
    """Lower observation bounds for the features; None uses the observation space's (must then be finite)."""
    obs_high: tuple[float, ...] | None = None
    """Upper observation bounds for the features; None uses the observation space's."""
    n_tilings: int = 8
    """Tile coding: number of offset tilings."""
    tiles_per_dim: int = 8
    """Tile coding: tiles per observation dimension across the bounds."""
    hash_size: int | None = None
    """Tile coding: hash the tiles into a table of this size; None keeps exact indices."""
    rbf_centers_per_dim: int = 5
    """RBF features: centers per observation dimension."""
    fourier_order: int = 3
    """Fourier features: the largest frequency per dimension."""
    poly_degree: int = 2
    """Polynomial features: the largest total degree."""
    seed: int = 0
    """Seed of the exploration generator."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        require(self.learning_rate > 0, name, "learning_rate", self.learning_rate, "> 0")
        require(self.learning_rate_final is None or self.learning_rate_final > 0, name, "learning_rate_final",
                self.learning_rate_final, "> 0 or None")
        require(self.gamma is None or 0 <= self.gamma <= 1, name, "gamma", self.gamma, "in [0, 1] or None")
        require(self.exploration in EXPLORATIONS, name, "exploration", self.exploration, f"one of {EXPLORATIONS}")
        require(0 <= self.epsilon <= 1, name, "epsilon", self.epsilon, "in [0, 1]")
        require(self.temperature > 0, name, "temperature", self.temperature, "> 0")
        require(self.exploration_schedule in SCHEDULE_KINDS, name, "exploration_schedule",
                self.exploration_schedule, f"one of {SCHEDULE_KINDS}")
        require(self.decay_steps >= 1, name, "decay_steps", self.decay_steps, ">= 1")
        require(self.features in FEATURE_KINDS, name, "features", self.features, f"one of {FEATURE_KINDS}")
        require(self.n_tilings >= 1, name, "n_tilings", self.n_tilings, ">= 1")
        require(self.tiles_per_dim >= 1, name, "tiles_per_dim", self.tiles_per_dim, ">= 1")
        require(self.hash_size is None or self.hash_size >= 1, name, "hash_size", self.hash_size, ">= 1 or None")


class Step(NamedTuple):
    """One time row of a batch, all envs at once, with features and values precomputed by the fit loop.

    Attributes:
        x: sparse features ``(indices [B, K], values [B, K])`` of ``obs``.
        action: ``[B]`` actions taken.
        reward: ``[B]`` rewards.
        x_next: sparse features of ``next_obs``.
        next_q: ``[B, A]`` action values of ``next_obs`` under the behaviour Q (before this row's update).
        next_action: ``[B]`` on-policy next actions (None for off-policy agents).
        terminated: ``[B]`` bool, no bootstrap.
        episode_end: ``[B]`` bool, ``terminated | truncated``: per-episode state is cut after this row.
        alpha: step size of this row (learning rate times the feature scale).
    """

    x: tuple[np.ndarray, np.ndarray]
    action: np.ndarray
    reward: np.ndarray
    x_next: tuple[np.ndarray, np.ndarray]
    next_q: np.ndarray
    next_action: np.ndarray | None
    terminated: np.ndarray
    episode_end: np.ndarray
    alpha: float


class TDAgent(BaseAgent):
    """Base of the tabular/linear TD agents; subclasses implement :meth:`_update` (see the module docstring).

    Args:
        info: the env's :class:`~porcini.envs.EnvInfo` (Discrete actions).
        config: the config (defaults if None).
        feature_map: a feature map object to use instead of the one the config's feature fields describe.
        **overrides: config fields.
    """

    Config: type[TDConfig] = TDConfig
    on_policy = False
    action_spaces = ("Discrete",)
    exploration_fields = ("_cached",)  # SARSA's next action: an exploring evaluation must not play or drop it

    def __init__(self, info: EnvInfo, config: TDConfig | None = None, *, feature_map: Features | None = None,
                 **overrides: Any) -> None:
        self.config = build_config(self.Config, config, overrides)
        if not supports_action_space(self, info.action_space):
            raise UnsupportedSpaceError(
                f"{type(self).__name__} needs Discrete actions; {info.env_id} has {info.action_space}"
                + multi_action_hint(info.action_space))
        c = self.config
        self.info = info
        if feature_map is None:
            feature_map = make_features(
                info.observation_space, c.features, low=c.obs_low, high=c.obs_high, n_tilings=c.n_tilings,
                tiles_per_dim=c.tiles_per_dim, hash_size=c.hash_size, rbf_centers_per_dim=c.rbf_centers_per_dim,
                fourier_order=c.fourier_order, poly_degree=c.poly_degree)
        self.features = feature_map
        self.q = self._new_q()
        self.gamma = float(c.gamma if c.gamma is not None else (info.gamma if info.gamma is not None else 0.99))
        self.rng = agent_rng(c.seed)
        # greedy evaluation breaks ties with its own generator, so evaluating never shifts the training stream
        self.eval_rng = agent_eval_rng(c.seed)
        self.steps_seen = 0
        start = c.epsilon if c.exploration == "epsilon_greedy" else c.temperature
        self.exploration_schedule = make_schedule(c.exploration_schedule, start, c.exploration_final, c.decay_steps)
        self.learning_rate_schedule = make_schedule(c.exploration_schedule, c.learning_rate,
                                                    c.learning_rate_final, c.decay_steps)
        self.fit_every_steps = info.n_envs
        self._cached: dict[str, np.ndarray] | None = None

    def _new_q(self) -> LinearQ:
        """A fresh action-value function with the configured initial value."""
        n_actions, init = self.info.n_actions, self.config.initial_value
        if isinstance(self.features, OneHotFeatures):
            return QTable(self.features.n_features, n_actions, init)
        return LinearQ(self.features, n_actions, init)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """``[B, A]`` action values the behaviour policy is greedy in."""
        return self.q_values_at(self.features.sparse(obs))

    def q_values_at(self, x: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``[B, A]`` behaviour action values from sparse features (Double Q overrides it with the sum)."""
        return self.q.values_at(*x)

    def action_value_estimates(self, obs: np.ndarray) -> np.ndarray:
        """``[B, A]`` estimates of ``Q(s, a)`` (Double Q-learning's behaviour values are a sum of two estimates)."""
        return self.q_values(obs)

    def explain(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """``q_values`` ``[B, A]`` from the table (or linear function) and ``value = max_a Q(s, a)``."""
        return q_value_explanation(self.action_value_estimates(obs))

    @property
    def exploration_value(self) -> float:
        """The current ε (or temperature)."""
        return self.exploration_schedule(self.steps_seen)

    def explore(self, q: np.ndarray) -> np.ndarray:
        """Sample behaviour actions ``[B]`` from action values ``[B, A]``."""
        if self.config.exploration == "epsilon_greedy":
            return epsilon_greedy(q, self.exploration_value, self.rng)
        return boltzmann(q, self.exploration_value, self.rng)

    def policy_probs(self, q: np.ndarray) -> np.ndarray:
        """``[B, A]`` probabilities of the behaviour policy (the distribution :meth:`explore` samples)."""
        if self.config.exploration == "epsilon_greedy":
            return epsilon_greedy_probs(q, self.exploration_value)
        return boltzmann_probs(q, self.exploration_value)

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """Behaviour actions while exploring (playing a cached on-policy ``a'`` where valid), greedy otherwise."""
        q = self.q_values(obs)
        if not explore:
            return greedy(q, self.eval_rng)
        action = self.explore(q)
        cached, self._cached = self._cached, None
        if cached is not None and len(cached["obs"]) == len(obs):
            same = cached["valid"] & np.all((np.asarray(obs) == cached["obs"]).reshape(len(obs), -1), axis=1)
            action = np.where(same, cached["action"], action)
        return action

    def reset(self, ended: np.ndarray) -> None:
        """Forget the cached next action of envs whose episode ended (traces are cut in ``fit``)."""
        if self._cached is not None:
            self._cached["valid"] = self._cached["valid"] & ~np.asarray(ended, dtype=bool)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Apply the update rule to every time row of the batch, in order; return mean |TD error| and schedules."""
        n_rows, n_envs = batch.n_rows, batch.n_envs
        x_all = self._sparse_rows(batch.obs)
        x_next_all = self._sparse_rows(batch.next_obs)
        terminated = np.asarray(batch.terminated, dtype=bool)
        episode_end = terminated | np.asarray(batch.truncated, dtype=bool)
        action = np.asarray(batch.action, dtype=np.int64)
        td_abs = 0.0
        for t in range(n_rows):
            x_next = (x_next_all[0][t], x_next_all[1][t])
            next_q = self.q_values_at(x_next)
            next_action = self._next_action(t, batch, next_q, episode_end[t]) if self.on_policy else None
            alpha = self.learning_rate_schedule(self.steps_seen) * self.q.step_scale
            step = Step((x_all[0][t], x_all[1][t]), action[t], np.asarray(batch.reward[t], dtype=np.float64),
                        x_next, next_q, next_action, terminated[t], episode_end[t], alpha)
            td_abs += float(np.abs(self._update(step)).mean())
            self.steps_seen += n_envs
        if not np.isfinite(td_abs):
            raise FloatingPointError(
                f"{type(self).__name__} diverged (non-finite TD error after {self.steps_seen} env steps); lower "
                f"learning_rate (now {self.config.learning_rate}), use replacing traces, or fewer envs sharing Q")
        return {"td_error_abs": td_abs / max(n_rows, 1), "exploration": self.exploration_value,
                "learning_rate": self.learning_rate_schedule(self.steps_seen)}

    def _sparse_rows(self, obs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Sparse features of a ``[T, B, ...]`` observation array, as ``[T, B, K]`` indices and values."""
        obs = np.asarray(obs)
        t, b = obs.shape[:2]
        idx, val = self.features.sparse(obs.reshape((t * b,) + obs.shape[2:]))
        return idx.reshape(t, b, -1), val.reshape(t, b, -1)

    def _next_action(self, t: int, batch: TransitionBatch, next_q: np.ndarray, ended: np.ndarray) -> np.ndarray:
        """The on-policy ``a'`` of row ``t``: the next row's action, or one sampled now (and cached to be played)."""
        sampled = self.explore(next_q)
        if t + 1 < batch.n_rows:
            return np.where(ended, sampled, np.asarray(batch.action[t + 1], dtype=np.int64))
        self._cached = {"obs": np.array(batch.next_obs[t]), "action": sampled, "valid": ~ended}
        return sampled

    def _update(self, step: Step) -> np.ndarray:
        """Update the Q-function on one row; return the ``[B]`` TD errors."""
        raise NotImplementedError

    def _q_sa(self, q: LinearQ, x: tuple[np.ndarray, np.ndarray], action: np.ndarray) -> np.ndarray:
        """``[B]`` values ``Q(s_b, a_b)``."""
        return q.values_at(*x)[np.arange(len(action)), action]

    def state_dict(self) -> dict[str, Any]:
        """Weights, generator states, the step counter and the cached next action."""
        return {
            "weights": self.q.weights.copy(),
            "rng": self.rng.bit_generator.state,
            "eval_rng": self.eval_rng.bit_generator.state,
            "steps_seen": self.steps_seen,
            "cached": None if self._cached is None else {k: v.copy() for k, v in self._cached.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`, checking the weights' shape."""
        self.q.weights = self._checked_weights(state["weights"], self.q.weights.shape)
        self.rng.bit_generator.state = state["rng"]
        self.eval_rng.bit_generator.state = state["eval_rng"]
        self.steps_seen = steps_seen_in(state)
        cached = state["cached"]
        self._cached = None if cached is None else {k: np.asarray(v).copy() for k, v in cached.items()}

    def _checked_weights(self, weights: Any, shape: tuple[int, ...]) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != shape:
            raise ValueError(f"{type(self).__name__}: weights of shape {w.shape} do not fit this agent's {shape} "
                             "(different env or features?)")
        return w.copy()


class TraceAgent(TDAgent):
    """A TD agent with one eligibility trace per env, ``traces [B, n_features, n_actions]``, cut at episode ends.

    Subclasses call :meth:`cut_traces` at the end of ``_update`` (after the ending transition's update).
    """

    on_policy = True
    max_trace_entries = 200_000_000

    def __init__(self, info: EnvInfo, config: TDConfig | None = None, **kwargs: Any) -> None:
        super().__init__(info, config, **kwargs)
        shape = (info.n_envs, self.features.n_features, info.n_actions)
        if np.prod(shape) > self.max_trace_entries:
            raise ValueError(f"{type(self).__name__}: traces of shape {shape} are too large; use fewer envs or "
                             "fewer features (hash_size)")
        self.traces = np.zeros(shape)

    def cut_traces(self, ended: np.ndarray) -> None:
        """Zero the traces of the envs whose episode ended at this row."""
        if ended.any():
            self.traces[ended] = 0.0

    def state_dict(self) -> dict[str, Any]:
        """The base state plus the traces."""
        return {**super().state_dict(), "traces": self.traces.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        traces = np.asarray(state["traces"], dtype=np.float64)
        if traces.shape != self.traces.shape:
            raise ValueError(f"{type(self).__name__}: traces of shape {traces.shape} do not fit {self.traces.shape}")
        self.traces = traces.copy()
