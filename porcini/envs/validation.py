"""Run-time validation of what crosses the env boundary: actions in, observations and rewards out.

The checks run on every step by default, so they are written to be cheap: bounds are precomputed, NaN and inf
are caught by the same comparisons as the bounds, and the per-element work is a couple of NumPy reductions.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, cast

import gymnasium as gym
import numpy as np

from porcini.errors import EnvCheckError

SMALL_OBS = 32  # up to this many scalars per batch, bounds are checked in Python
BATCH_BOUNDS = 1 << 16  # up to this many scalars per batch, bounds are kept repeated for the whole batch
_BOOLS = (bool, np.bool_)
_REALS = (float, int, np.float64, np.float32)
# spaces without a fixed-size array value: Gymnasium's batch_space makes a Tuple of copies of them
_TUPLE_BATCHED = (gym.spaces.Text, gym.spaces.Sequence, gym.spaces.Graph, gym.spaces.OneOf)


def _is_tree(obs: Any) -> bool:
    # Dict and Tuple observation batches: dicts and tuples of arrays (porcini.core.obs_tree, which envs may not use)
    return isinstance(obs, (dict, tuple))


def _subspace(space: gym.Space | None, key: Any) -> gym.Space | None:
    """The space of a Dict entry or Tuple position of ``space``; None when ``space`` has none there."""
    if isinstance(space, gym.spaces.Dict):
        return space.spaces.get(key)
    if isinstance(space, gym.spaces.Tuple) and isinstance(key, int) and key < len(space.spaces):
        return space.spaces[key]
    return None


def _rows(obs: Any, index: Any, space: gym.Space | None = None) -> Any:
    """``obs[index]`` of every leaf of a Dict or Tuple observation batch (of the array itself otherwise).

    ``space`` (of one observation) tells a Tuple observation from a leaf that Gymnasium batches as a tuple of the
    envs' values (``Text``, ``Sequence``, ``Graph``, ``OneOf``); ``index=None`` makes one observation a batch of one.
    """
    if isinstance(space, _TUPLE_BATCHED):
        return (obs,) if index is None else obs[index]
    if isinstance(obs, dict):
        return {key: _rows(value, index, _subspace(space, key)) for key, value in obs.items()}
    if isinstance(obs, tuple):
        return tuple(_rows(value, index, _subspace(space, i)) for i, value in enumerate(obs))
    return np.asarray(obs)[index]


def _batch_size(obs: Any, space: gym.Space | None = None) -> int:
    """Rows of an observation batch: the length of its first leaf (``space`` as in :func:`_rows`)."""
    while _is_tree(obs) and not isinstance(space, _TUPLE_BATCHED):
        key = next(iter(obs)) if isinstance(obs, dict) else 0
        obs, space = obs[key], _subspace(space, key)
    return len(obs)


def _finite_bounds(space: gym.spaces.Box) -> tuple[np.ndarray, np.ndarray]:
    """Bounds with infinities replaced by the dtype's extremes, so that NaN and inf fail ``low <= x <= high``."""
    # np.issubdtype narrows at run time only, hence the cast
    dtype = (cast("np.dtype[np.floating[Any]]", space.dtype) if np.issubdtype(space.dtype, np.floating)
             else np.dtype(np.float64))
    big = np.finfo(dtype).max
    low = np.where(np.isneginf(space.low), -big, space.low).astype(space.dtype)
    high = np.where(np.isposinf(space.high), big, space.high).astype(space.dtype)
    return low, high


def check_step_result(result: Any, env_id: str, index: int, observation_space: gym.Space) -> None:
    """Raise EnvCheckError unless one env's ``step`` returned what a vector env needs to stack at all.

    Five values, bool flags, a real reward and, for a Box observation space, an array of its shape. For envs
    stepped where porcini's vector env cannot look first (the workers of ``AsyncVectorEnv``).
    """
    where = f"env {env_id} (env index {index})"
    if not isinstance(result, tuple) or len(result) != 5:
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        raise EnvCheckError(f"{where} returned {got} from step; return (obs, reward, terminated, truncated, info) "
                            "(Gymnasium >= 0.26 step API: split the old done into terminated and truncated)")
    obs, reward, terminated, truncated, _ = result
    if type(terminated) not in _BOOLS or type(truncated) not in _BOOLS:
        raise EnvCheckError(f"{where} returned terminated={terminated!r}, truncated={truncated!r} from step; both "
                            "must be bool (Gymnasium >= 0.26 step API)")
    if not isinstance(reward, numbers.Real):
        raise EnvCheckError(f"reward {reward!r} of type {type(reward).__name__} is not a number for {where}; "
                            "return a float")
    shape = np.shape(obs)
    if isinstance(observation_space, gym.spaces.Box) and shape != observation_space.shape:
        raise EnvCheckError(f"{where} returned an observation of shape {shape} from step, but its observation_space "
                            f"is {observation_space}; return an array of shape {observation_space.shape}")


def check_raw_obs(obs: Any, env_id: str, index: int, observation_space: gym.Space) -> None:
    """Raise EnvCheckError unless one env's observation is an array of its ``Box`` space's shape and dtype.

    Casting another dtype silently would hide an env that disagrees with its own space (``check_env`` refuses it).
    """
    space = observation_space
    if isinstance(space, gym.spaces.Box) and (
            not isinstance(obs, np.ndarray) or obs.shape != space.shape or obs.dtype != space.dtype):
        got = f"{type(obs).__name__} {getattr(obs, 'dtype', '')} {getattr(obs, 'shape', '')}".strip()
        raise EnvCheckError(
            f"env {env_id} (env index {index}) returned an observation of {got}, but its "
            f"observation_space is {space}; return np.ndarray of dtype {space.dtype} and shape {space.shape}"
        )


class StepValidator:
    """Checks batched actions, observations and rewards of a vector env against its single-env spaces.

    Args:
        env_id: the env's name, used in error messages.
        observation_space: space of one observation.
        action_space: space of one action.
        n_envs: number of envs in the batch.
    """

    def __init__(self, env_id: str, observation_space: gym.Space, action_space: gym.Space, n_envs: int) -> None:
        self.env_id = env_id
        self.observation_space = observation_space
        self.action_space = action_space
        self.n_envs = n_envs
        self.step_count = 0
        self._obs_bounds: tuple[np.ndarray, np.ndarray] | None = None
        # For a handful of scalars a Python comparison beats NumPy's per-call overhead several times over: the
        # (position, low, high) of every bounded scalar of the batch; unbounded ones only need to be finite
        self._obs_bounded: list[tuple[int, float, float]] | None = None
        # the bounds repeated for a whole batch (up to BATCH_BOUNDS scalars): comparing arrays of one shape skips
        # NumPy's broadcasting, most of the cost for a batch of small observations; fewer rows use the first ones
        self._obs_batch_bounds: tuple[np.ndarray, np.ndarray] | None = None
        if isinstance(observation_space, gym.spaces.Box):
            self._obs_bounds = _finite_bounds(observation_space)
            if int(np.prod(observation_space.shape)) * n_envs <= BATCH_BOUNDS:
                reps = (n_envs,) + (1,) * len(observation_space.shape)
                self._obs_batch_bounds = (np.tile(self._obs_bounds[0], reps), np.tile(self._obs_bounds[1], reps))
            if int(np.prod(observation_space.shape)) * n_envs <= SMALL_OBS:
                low = np.tile(np.asarray(observation_space.low, dtype=np.float64).ravel(), n_envs)
                high = np.tile(np.asarray(observation_space.high, dtype=np.float64).ravel(), n_envs)
                self._obs_bounded = [(i, float(lo), float(hi)) for i, (lo, hi) in enumerate(zip(low, high))
                                     if np.isfinite(lo) or np.isfinite(hi)]
        self._discrete_obs = (
            (int(observation_space.start), int(observation_space.start + observation_space.n))
            if isinstance(observation_space, gym.spaces.Discrete) else None
        )
        self._act_bounds = _finite_bounds(action_space) if isinstance(action_space, gym.spaces.Box) else None
        self._discrete_actions = (
            (int(action_space.start), int(action_space.start + action_space.n))
            if isinstance(action_space, gym.spaces.Discrete) else None
        )
        # per-component [low, high] of MultiDiscrete and MultiBinary actions (both integer grids)
        self._grid_actions: tuple[np.ndarray, np.ndarray] | None = None
        if isinstance(action_space, gym.spaces.MultiDiscrete):
            self._grid_actions = (action_space.start, action_space.start + action_space.nvec - 1)
        elif isinstance(action_space, gym.spaces.MultiBinary):
            self._grid_actions = (np.zeros(action_space.shape, np.int64), np.ones(action_space.shape, np.int64))
        self._action_shape = (n_envs, *(action_space.shape or ()))

    def _where(self, index: int) -> str:
        return f"for env {self.env_id} (env index {index}) at step {self.step_count}"

    def check_actions(self, actions: Any) -> np.ndarray:
        """Return ``actions`` as an array, or raise EnvCheckError if any is outside the action space."""
        a = actions if type(actions) is np.ndarray else np.asarray(actions)
        space = self.action_space
        if a.shape != self._action_shape:
            raise EnvCheckError(
                f"actions have shape {a.shape}, expected {self._action_shape} ([n_envs, *action_shape]) "
                f"for env {self.env_id} with action space {space} at step {self.step_count}; return one action per env"
            )
        if self._discrete_actions is not None:
            if a.dtype.kind not in "iu":
                raise EnvCheckError(
                    f"actions have dtype {a.dtype} but {space} takes integers, for env {self.env_id} at step "
                    f"{self.step_count}; convert with .astype(np.int64)"
                )
            start, stop = self._discrete_actions
            if self.n_envs == 1:
                value = a[0]
                if value < start or value >= stop:
                    self._raise_action(0, value)
            elif a.min() < start or a.max() >= stop:
                bad = int(np.flatnonzero((a < start) | (a >= stop))[0])
                self._raise_action(bad, a[bad])
        elif self._grid_actions is not None:
            self._check_grid_actions(a)
        elif self._act_bounds is not None:
            low, high = self._act_bounds
            if not ((a >= low).all() and (a <= high).all()):
                bad = int(np.flatnonzero(~((a >= low) & (a <= high)).reshape(self.n_envs, -1).all(axis=1))[0])
                if not np.isfinite(a[bad]).all():
                    self._raise_non_finite_action(bad, a[bad])
                raise EnvCheckError(
                    f"action {a[bad].tolist()} is outside {space} {self._where(bad)}; clip or squash actions in the "
                    "agent, or add the ClipAction / ClippedRescaleAction wrapper"
                )
        return a

    def _check_grid_actions(self, a: np.ndarray) -> None:
        """Raise EnvCheckError unless MultiDiscrete/MultiBinary actions are integers within every component's range."""
        space = self.action_space
        if a.dtype.kind not in "iub":
            raise EnvCheckError(
                f"actions have dtype {a.dtype} but {space} takes integers, for env {self.env_id} at step "
                f"{self.step_count}; convert with .astype({space.dtype})"
            )
        low, high = self._grid_actions  # type: ignore[misc]
        inside = ((a >= low) & (a <= high)).reshape(self.n_envs, -1).all(axis=1)
        if not inside.all():
            bad = int(np.flatnonzero(~inside)[0])
            raise EnvCheckError(
                f"action {a[bad].tolist()} is outside {space} {self._where(bad)} (components run from "
                f"{low.tolist()} to {high.tolist()}); the agent must return actions from the env's action space"
            )

    def _raise_non_finite_action(self, index: int, value: np.ndarray) -> None:
        # clipping would hide it: a NaN or inf action means the agent's numbers broke, not that it overshot
        raise EnvCheckError(
            f"the agent returned the non-finite action {value.tolist()} {self._where(index)}: its network or "
            "statistics hold NaN/inf (a diverged update: lower the learning rate, scale or clip rewards and "
            "observations, clip gradients; check the agent's losses in metrics.csv)"
        )

    def _raise_action(self, index: int, value: Any) -> None:
        raise EnvCheckError(
            f"action {value} is outside {self.action_space} {self._where(index)}; "
            "the agent must return actions from the env's action space"
        )

    def check_step(self, obs: Any, reward: np.ndarray, info: dict[str, Any] | None = None) -> None:
        """Raise EnvCheckError on a non-finite reward or an observation outside the observation space."""
        self.step_count += 1
        if self.n_envs == 1:
            if not math.isfinite(reward[0]):
                self._raise_reward(0, reward[0])
        elif not np.isfinite(reward).all():
            bad = int(np.flatnonzero(~np.isfinite(reward))[0])
            self._raise_reward(bad, reward[bad])
        self.check_obs(obs)
        if info is not None and "_final_obs" in info:
            final_mask = info["_final_obs"]
            final_obs = info["final_obs"]
            if type(final_obs) is np.ndarray and final_obs.dtype != object:  # one array: every ended row at once
                rows = np.flatnonzero(final_mask)
                self.check_obs(final_obs[rows], what="final observation", indices=rows)
                return
            for i in np.flatnonzero(final_mask):
                if _is_tree(final_obs):  # Dict/Tuple batches: env i's entries
                    row = _rows(final_obs, slice(i, i + 1), self.observation_space)
                elif _is_tree(final_obs[i]):  # an object array of per-env Dict/Tuple observations
                    row = _rows(final_obs[i], None, self.observation_space)
                else:
                    row = np.asarray(final_obs[i])[None]
                self.check_obs(row, index=int(i), what="final observation")

    def check_one_step(self, obs: Any, reward: Any, terminated: Any, truncated: Any, final_obs: Any) -> None:
        """:meth:`check_step` for a vector of one, on the env's own ``reward`` (the hot path of one env).

        The flags were checked with :meth:`check_flags` first, before the vector env read them.

        Args:
            obs: the observation batch ``[1, ...]`` returned to the agent.
            reward: the env's scalar reward.
            terminated: the env's terminated flag.
            truncated: the env's truncated flag.
            final_obs: the final observation batch ``[1, ...]`` when the episode ended, else None.
        """
        self.step_count += 1
        try:
            finite = math.isfinite(reward)
        except TypeError:
            raise EnvCheckError(
                f"reward {reward!r} of type {type(reward).__name__} is not a number {self._where(0)}; return a float"
            ) from None
        if not finite:
            self._raise_reward(0, reward)
        self.check_obs(obs)
        if final_obs is not None:
            self.check_obs(final_obs, index=0, what="final observation")

    def check_flags(self, index: int, terminated: Any, truncated: Any) -> None:
        """Raise EnvCheckError unless env ``index`` returned bool ``terminated`` and ``truncated`` (before any use)."""
        if type(terminated) in _BOOLS and type(truncated) in _BOOLS:
            return
        raise EnvCheckError(
            f"env {self.env_id} (env index {index}) returned terminated={terminated!r}, truncated={truncated!r} at "
            f"step {self.step_count + 1}; both must be bool (Gymnasium >= 0.26 step API)"
        )

    def check_reward_type(self, index: int, reward: Any) -> None:
        """Raise EnvCheckError unless env ``index`` returned a real number as its reward (finiteness comes later)."""
        if type(reward) in _REALS or isinstance(reward, numbers.Real):
            return
        raise EnvCheckError(
            f"reward {reward!r} of type {type(reward).__name__} is not a number for env {self.env_id} (env index "
            f"{index}) at step {self.step_count + 1}; return a float"
        )

    def _raise_reward(self, index: int, value: Any) -> None:
        raise EnvCheckError(
            f"reward {value} is not finite {self._where(index)}; fix the env's reward computation "
            "(run-time checks are skipped with env.check: false, or check=False in make_env)"
        )

    def check_obs(self, obs: Any, index: int | None = None, what: str = "observation",
                  indices: np.ndarray | None = None) -> None:
        """Raise EnvCheckError if any observation in the batch is outside the observation space or not finite.

        Args:
            obs: a batch of observations.
            index: the env index that all of ``obs`` belongs to, for the message (None: the row's position).
            what: what ``obs`` is, for the message.
            indices: the env index of each row of ``obs``, for the message (a batch of some envs' rows).
        """
        if indices is not None and len(indices) == 0:
            return
        if self._obs_bounds is not None:
            low, high = self._obs_bounds
            bounded = self._obs_bounded
            if bounded is not None and index is None and indices is None:
                values = obs.ravel().tolist()
                # a NaN or inf anywhere makes the sum non-finite (a false alarm on overflow falls through to the
                # exact check below, which then finds nothing and returns)
                if math.isfinite(sum(values)):
                    for i, lo, hi in bounded:
                        if not lo <= values[i] <= hi:
                            break
                    else:
                        return
            batch = self._obs_batch_bounds
            if batch is not None and obs.shape[1:] == low.shape and len(obs) <= self.n_envs:
                low, high = batch[0][:len(obs)], batch[1][:len(obs)]
            if (obs >= low).all() and (obs <= high).all():
                return
            flat = ((obs >= low) & (obs <= high)).reshape(len(obs), -1).all(axis=1)
            bad = int(np.flatnonzero(~flat)[0])
            i = int(indices[bad]) if indices is not None else bad if index is None else index
            raise EnvCheckError(
                f"{what} {np.asarray(obs[bad]).tolist()} is outside {self.observation_space} or not finite "
                f"{self._where(i)}; fix the env or widen its observation_space (env.check: false, or check=False in "
                "make_env, skips run-time checks)"
            )
        if self._discrete_obs is not None:
            start, stop = self._discrete_obs
            # a few scalars (one per env, every step): Python's min and max cost less than NumPy's reductions
            values = obs.ravel().tolist() if obs.size <= SMALL_OBS else None
            if values is not None and values and start <= min(values) and max(values) < stop:
                return
            if obs.min() < start or obs.max() >= stop:
                bad = int(np.flatnonzero((obs < start) | (obs >= stop))[0])
                i = int(indices[bad]) if indices is not None else bad if index is None else index
                raise EnvCheckError(f"{what} {obs[bad]} is outside {self.observation_space} {self._where(i)}")
            return
        tree = _is_tree(obs)
        n_rows = _batch_size(obs, self.observation_space) if tree else len(obs) if hasattr(obs, "__len__") else 0
        for j in range(n_rows):
            try:
                item = _rows(obs, j, self.observation_space) if tree else obs[j]
            except (TypeError, KeyError):
                break
            if not self.observation_space.contains(item):
                i = int(indices[j]) if indices is not None else j if index is None else index
                raise EnvCheckError(f"{what} is outside {self.observation_space} {self._where(i)}")
