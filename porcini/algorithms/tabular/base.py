"""What every tabular/linear TD agent shares: the config fields, the Q-function, exploration and the fit loop.

An agent subclasses :class:`TDAgent` and writes only its update rule, ``_update(step)``, for one transition
(:class:`Transition`: one env of one time row, with Python scalars where NumPy's per-call cost would outweigh the
arithmetic of a table lookup). ``fit`` applies it to the rows of the batch in order and, within a row, to the envs
in index order, so every transition sees the updates of those before it. The Q-function is
:class:`~porcini.approximators.LinearQ` over one-hot features for Discrete observations (a Q-table) or over tile
coding, RBF, Fourier or polynomial features for Box observations, so the same agent class is tabular or linear by
configuration.

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

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from porcini.algorithms.exploration import (
    EXPLORATIONS,
    boltzmann,
    boltzmann_probs,
    epsilon_greedy_one,
    epsilon_greedy_probs,
    greedy_one,
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
    """Final ε (in [0, 1]) or temperature (> 0), reached after ``decay_steps``; None keeps it constant."""
    exploration_schedule: str = "linear"
    """Shape of the decays: ``"linear"``, ``"exponential"`` (from and to values > 0) or ``"constant"``."""
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
        final = self.exploration_final
        if self.exploration == "epsilon_greedy":  # ε-greedy probabilities outside [0, 1] would be negative
            require(final is None or 0 <= final <= 1, name, "exploration_final", final, "in [0, 1] or None (an ε)")
        else:  # a temperature decayed to 0 would stop training once reached
            require(final is None or final > 0, name, "exploration_final", final, "> 0 or None (a temperature)")
        require(self.exploration_schedule in SCHEDULE_KINDS, name, "exploration_schedule",
                self.exploration_schedule, f"one of {SCHEDULE_KINDS}")
        if self.exploration_schedule == "exponential" and final is not None and self.exploration == "epsilon_greedy":
            # a geometric decay never reaches 0 and cannot start from it
            require(self.epsilon > 0, name, "epsilon", self.epsilon, "> 0 with an exponential schedule")
            require(final > 0, name, "exploration_final", final,
                    "> 0 with an exponential schedule (decay to 0 with exploration_schedule='linear')")
        require(self.decay_steps >= 1, name, "decay_steps", self.decay_steps, ">= 1")
        require(self.features in FEATURE_KINDS, name, "features", self.features, f"one of {FEATURE_KINDS}")
        require(self.n_tilings >= 1, name, "n_tilings", self.n_tilings, ">= 1")
        require(self.tiles_per_dim >= 1, name, "tiles_per_dim", self.tiles_per_dim, ">= 1")
        require(self.hash_size is None or self.hash_size >= 1, name, "hash_size", self.hash_size, ">= 1 or None")


class Transition(NamedTuple):
    """One env's transition of a batch row, with the features and values the fit loop precomputed.

    Attributes:
        env: the env's index ``b`` (its column of the batch; trace agents keep one trace per env).
        x: sparse features ``(indices [K], values [K])`` of ``obs``.
        action: the action taken.
        reward: the reward.
        x_next: sparse features of ``next_obs``.
        next_q: ``[A]`` behaviour action values of ``next_obs`` before this transition's update.
        next_action: the on-policy next action (None for off-policy agents).
        terminated: no bootstrap.
        episode_end: ``terminated or truncated``: per-episode state is cut after this transition.
        alpha: step size (learning rate times the feature scale).
    """

    env: int
    x: tuple[np.ndarray, np.ndarray]
    action: int
    reward: float
    x_next: tuple[np.ndarray, np.ndarray]
    next_q: np.ndarray
    next_action: int | None
    terminated: bool
    episode_end: bool
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
        if not supports_action_space(self, info.action_space) or int(getattr(info.action_space, "start", 0)):
            raise UnsupportedSpaceError(
                f"{type(self).__name__} needs Discrete actions; {info.env_id} has {info.action_space}"
                + (" (they must start at 0)" if supports_action_space(self, info.action_space)
                   else multi_action_hint(info.action_space)))
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
        self._features_key: tuple[Any, ...] | None = None  # the observation batch of _features_value
        self._features_value: tuple[np.ndarray, np.ndarray] = (np.empty((0, 0), np.int64), np.empty((0, 0)))

    def _new_q(self) -> LinearQ:
        """A fresh action-value function with the configured initial value."""
        n_actions, init = self.info.n_actions, self.config.initial_value
        if isinstance(self.features, OneHotFeatures):
            return QTable(self.features.n_features, n_actions, init, self.features.start)
        return LinearQ(self.features, n_actions, init)

    def features_of(self, obs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Sparse features ``(indices [B, K], values [B, K])`` of an observation batch ``[B, ...]``.

        The features of the last batch asked for are kept: the loop fits on the observations it acted on, and acts
        next on the observations the fit saw as next observations, so most calls find their batch computed.
        """
        obs = np.asarray(obs)
        key = (self.features, obs.shape, obs.dtype, obs.tobytes())
        if key != self._features_key:
            self._features_key, self._features_value = key, self.features.sparse(obs)
        return self._features_value

    def behaviour_values(self, x: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``[A]`` action values the behaviour policy is greedy in, of one observation's sparse features ``[K]``.

        Double Q-learning overrides it with the mean of its two estimates.
        """
        return self.q.values_of(*x)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """``[B, A]`` behaviour action values of an observation batch."""
        idx, val = self.features_of(obs)
        return np.array([self.behaviour_values((idx[b], val[b])) for b in range(len(idx))]).reshape(len(idx), -1)

    def action_value_estimates(self, obs: np.ndarray) -> np.ndarray:
        """``[B, A]`` estimates of ``Q(s, a)``: the behaviour values (Double Q-learning's: the mean of its two)."""
        return self.q_values(obs)

    def explain(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """``q_values`` ``[B, A]`` from the table (or linear function) and ``value = max_a Q(s, a)``."""
        return q_value_explanation(self.action_value_estimates(obs))

    @property
    def exploration_value(self) -> float:
        """The current ε (or temperature)."""
        return self.exploration_schedule(self.steps_seen)

    def behaviour_action(self, values: np.ndarray) -> int:
        """Sample a behaviour action from one observation's action values ``[A]``."""
        if self.config.exploration == "epsilon_greedy":
            return epsilon_greedy_one(values, self.exploration_value, self.rng)
        return int(boltzmann(values[None], self.exploration_value, self.rng)[0])

    def behaviour_probs(self, values: np.ndarray) -> np.ndarray:
        """``[A]`` probabilities of the behaviour policy at one observation (what :meth:`behaviour_action` samples)."""
        if self.config.exploration == "epsilon_greedy":
            return epsilon_greedy_probs(values[None], self.exploration_value)[0]
        return boltzmann_probs(values[None], self.exploration_value)[0]

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """Behaviour actions while exploring (playing a cached on-policy ``a'`` where valid), greedy otherwise."""
        idx, val = self.features_of(obs)
        n = len(idx)
        actions = np.empty(n, dtype=np.int64)
        if not explore:
            for b in range(n):
                actions[b] = greedy_one(self.behaviour_values((idx[b], val[b])), self.eval_rng)
            return actions
        cached = self._cached_actions(obs, n)
        for b in range(n):
            chosen = cached[b]
            actions[b] = chosen if chosen is not None else self.behaviour_action(self.behaviour_values((idx[b],
                                                                                                          val[b])))
        return actions

    def _cached_actions(self, obs: Any, n: int) -> list[int | None]:
        """Per env, the on-policy ``a'`` the last fit sampled at this very observation, or None (uses the cache up)."""
        cached, self._cached = self._cached, None
        obs = np.asarray(obs)
        if cached is None or len(cached["obs"]) != n or cached["obs"].dtype != obs.dtype:
            return [None] * n
        # the same observation, byte for byte (one comparison of a few bytes per env)
        kept, actions, valid = cached["obs"], cached["action"].tolist(), cached["valid"].tolist()
        return [actions[b] if valid[b] and obs[b].tobytes() == kept[b].tobytes() else None for b in range(n)]

    def reset(self, ended: np.ndarray) -> None:
        """Forget the cached next action of envs whose episode ended (traces are cut in ``fit``)."""
        if self._cached is not None:
            self._cached["valid"] = self._cached["valid"] & ~np.asarray(ended, dtype=bool)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Apply the update rule to every transition, row by row and in env order within a row.

        Returns:
            The mean |TD error| and the values of the schedules.
        """
        obs, next_obs = np.asarray(batch.obs), np.asarray(batch.next_obs)
        # Python scalars: the rules work on one transition at a time, where NumPy's per-call cost would dominate
        action = np.asarray(batch.action, dtype=np.int64).tolist()
        reward = np.asarray(batch.reward, dtype=np.float64).tolist()
        terminated = np.asarray(batch.terminated, dtype=bool).tolist()
        truncated = np.asarray(batch.truncated, dtype=bool).tolist()
        n_rows, n_envs = len(reward), len(reward[0]) if reward else 0
        next_actions: list[int] = []  # the sampled a' of the last row, cached for the next act
        td_abs = 0.0
        for t in range(n_rows):
            idx, val = self.features_of(obs[t])
            idx_next, val_next = self.features_of(next_obs[t])
            alpha = self.learning_rate_schedule(self.steps_seen) * self.q.step_scale
            for b in range(n_envs):
                x_next = (idx_next[b], val_next[b])
                next_q = self.behaviour_values(x_next)
                ended = terminated[t][b] or truncated[t][b]
                next_action = None
                if self.on_policy:  # a' is the next row's action, or sampled where it is not known (see the top)
                    follows = t + 1 < n_rows and not ended
                    next_action = action[t + 1][b] if follows else self.behaviour_action(next_q)
                    if t + 1 == n_rows:
                        next_actions.append(next_action)
                td = self._update(Transition(b, (idx[b], val[b]), action[t][b], reward[t][b], x_next, next_q,
                                             next_action, terminated[t][b], ended, alpha))
                td_abs += abs(td)
            self.steps_seen += n_envs
        if self.on_policy and n_rows:
            ended_last = np.asarray(batch.terminated[-1], dtype=bool) | np.asarray(batch.truncated[-1], dtype=bool)
            self._cached = {"obs": np.array(next_obs[-1]), "action": np.array(next_actions, dtype=np.int64),
                            "valid": ~ended_last}
        if not math.isfinite(td_abs):
            raise FloatingPointError(
                f"{type(self).__name__} diverged (non-finite TD error after {self.steps_seen} env steps); lower "
                f"learning_rate (now {self.config.learning_rate}), use replacing traces, or fewer envs sharing Q")
        return {"td_error_abs": td_abs / max(n_rows * n_envs, 1), "exploration": self.exploration_value,
                "learning_rate": self.learning_rate_schedule(self.steps_seen)}

    def _update(self, step: Transition) -> float:
        """Update the Q-function on one transition; return its TD error."""
        raise NotImplementedError

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

    Subclasses call :meth:`cut_trace` at the end of ``_update`` (after the ending transition's update).
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

    def cut_trace(self, step: Transition) -> None:
        """Zero the trace of ``step``'s env if the transition ended its episode."""
        if step.episode_end:
            self.traces[step.env] = 0.0

    def episodes_cut(self) -> None:
        """Zero every trace: the episodes in progress were cut after the last fit (``Core.reset``, a resume)."""
        self.traces[:] = 0.0

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
