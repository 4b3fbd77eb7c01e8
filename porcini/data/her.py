"""HerReplayBuffer: Hindsight Experience Replay (Andrychowicz et al. 2017) for goal-conditioned envs.

Goal envs follow Gymnasium-Robotics' protocol: observations are dicts with ``observation``, ``achieved_goal``
and ``desired_goal``, and the env's ``compute_reward(achieved_goal, desired_goal, info)`` gives the reward of
any goal for a batch of goal pairs. The buffer stores every env's transitions in time order (a
:class:`~porcini.data.ReplayBuffer` ring) together with the episode each belongs to, and relabels at sample
time: each sampled transition ``i``, with probability ``k / (k + 1)`` (``k = n_sampled_goal``), gets a new
desired goal, the achieved goal ``next_obs["achieved_goal"]`` of a transition ``j`` of its own episode:

- ``future``: ``j`` uniform in ``[i, end)``, so the goal is a state reached after ``obs`` (SB3, baselines);
- ``final``: ``j = end - 1``, the goal the episode ended in;
- ``episode``: ``j`` uniform over the episode's transitions still stored.

``end`` is one past the episode's last transition; for an episode in progress it is the newest stored
transition, so goals never come from beyond what was observed. The relabelled transition's ``desired_goal``
(in ``obs`` and ``next_obs``) is the new goal and its reward is ``compute_reward(next achieved goal, new goal,
info)``. Its ``terminated`` flag is ``compute_terminated(next achieved goal, new goal, info)`` when the env
defines that method (reaching the new goal ends the relabelled episode exactly when the env would end it); else
the stored flag, as Stable-Baselines3 does. ``truncated`` is the stored flag: a truncated episode's last
transition still bootstraps. Per-step ``info`` dicts are not stored (a checkpoint holds arrays only), so
``compute_reward`` receives a list of empty dicts; an env whose reward needs more than the goals must put it in
the goals.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.data._npz import DataFileError, read_npz, require_format, write_npz
from porcini.data.arguments import check_count, check_rng
from porcini.data.replay import ReplayBuffer

STRATEGIES = ("future", "final", "episode")
GOAL_KEYS = ("achieved_goal", "desired_goal")
_FORMAT = "porcini.HerReplayBuffer"
_VERSION = 1
_OBS, _NEXT, _EXTRA = "obs.", "next_obs.", "extra."  # storage extras: dict entries and the batch's own extras

GoalFunction = Callable[[np.ndarray, np.ndarray, Any], Any]


class HerReplayBuffer:
    """Replay of goal-conditioned transitions, relabelled with hindsight goals at sample time.

    Args:
        capacity: the most transitions kept (summed over envs), as for :class:`~porcini.data.ReplayBuffer`.
        compute_reward: the env's ``compute_reward(achieved_goal, desired_goal, info)``, vectorized over a
            leading batch axis.
        strategy: ``"future"``, ``"final"`` or ``"episode"`` (module docstring).
        n_sampled_goal: ``k``, relabelled goals per real one: a sample is relabelled with probability
            ``k / (k + 1)``; 0 replays the real goals only.
        compute_terminated: the env's ``compute_terminated(achieved_goal, desired_goal, info)``, or None to
            keep the stored ``terminated`` flags of relabelled transitions.
        n_envs: number of envs ``B`` of the batches to add; None takes it from the first batch.

    Example:
        >>> from porcini.envs.builtin import BitFlippingEnv
        >>> env = BitFlippingEnv(n_bits=3)
        >>> buf = HerReplayBuffer(100, env.compute_reward, compute_terminated=env.compute_terminated)
        >>> obs, _ = env.reset(seed=0)
        >>> next_obs, reward, terminated, truncated, _ = env.step(0)
        >>> step = lambda x: {k: np.asarray(v)[None, None] for k, v in x.items()}
        >>> buf.add(TransitionBatch(obs=step(obs), action=np.zeros((1, 1), np.int64),
        ...     reward=np.full((1, 1), reward, np.float32), next_obs=step(next_obs),
        ...     terminated=np.full((1, 1), terminated), truncated=np.full((1, 1), truncated)))
        >>> sample = buf.sample(8, np.random.default_rng(0))
        >>> sample.obs["desired_goal"].shape, sample.reward.shape
        ((8, 1, 3), (8, 1))
    """

    def __init__(
        self,
        capacity: int,
        compute_reward: GoalFunction,
        strategy: str = "future",
        n_sampled_goal: int = 4,
        compute_terminated: GoalFunction | None = None,
        n_envs: int | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"HerReplayBuffer: strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
        if not callable(compute_reward) or (compute_terminated is not None and not callable(compute_terminated)):
            raise TypeError(
                "HerReplayBuffer needs compute_reward (and compute_terminated, if given) to be callables like a "
                "goal env's methods: pass env.unwrapped.compute_reward"
            )
        self.strategy = strategy
        self.n_sampled_goal = check_count(n_sampled_goal, "HerReplayBuffer", "n_sampled_goal", minimum=0)
        self.compute_reward, self.compute_terminated = compute_reward, compute_terminated
        self._storage = ReplayBuffer(capacity, n_envs)
        self._obs_keys: tuple[str, ...] = ()  # the observation dict's keys, known from the first batch
        self._episode_start = np.zeros((0, 0), np.int64)  # [rows, B]: step clock of the episode's first transition
        self._episode_end = np.zeros((0, 0), np.int64)  # [rows, B]: one past its last transition; -1 in progress
        self._open_start = np.zeros(0, np.int64)  # [B]: step clock at which each env's current episode started
        if n_envs is not None:  # B is known: even an empty buffer's state then has the shapes a load checks
            self._allocate_episode_arrays(int(n_envs))
            self._open_start = np.zeros(int(n_envs), np.int64)

    @property
    def relabel_probability(self) -> float:
        """``k / (k + 1)``: the probability that a sampled transition gets a hindsight goal."""
        return self.n_sampled_goal / (self.n_sampled_goal + 1)

    @property
    def capacity(self) -> int:
        """The most transitions kept (see :attr:`ReplayBuffer.capacity`)."""
        return self._storage.capacity

    @property
    def n_envs(self) -> int | None:
        """Number of env columns ``B`` (None until given or until the first add)."""
        return self._storage.n_envs

    @property
    def n_added(self) -> int:
        """Transitions ever added (kept across save and load), overwritten ones included."""
        return self._storage.n_added

    def __len__(self) -> int:
        return len(self._storage)

    def add(self, batch: TransitionBatch) -> None:
        """Append a ``[T, B]`` batch of ``B`` envs' next ``T`` steps; ``obs`` and ``next_obs`` are goal dicts.

        An episode ends at a transition marked ``terminated`` or ``truncated``; the next transition of that env
        starts a new one.

        Raises:
            ValueError: the observations are not dicts with ``achieved_goal`` and ``desired_goal``, or the batch
                does not fit the stored ones (see :meth:`ReplayBuffer.add`).
        """
        if not isinstance(batch, TransitionBatch):
            raise TypeError(f"HerReplayBuffer.add needs a TransitionBatch, got {type(batch).__name__}")
        self._check_goal_obs(batch)
        n_envs = batch.n_envs
        if self._storage.n_envs not in (None, n_envs):
            raise ValueError(
                f"HerReplayBuffer holds {self._storage.n_envs} envs per time step but the batch has {n_envs}; "
                f"use one buffer per env count (or HerReplayBuffer(..., n_envs={n_envs}))"
            )
        ended = np.asarray(batch.episode_end, dtype=bool)
        t0 = self._clock()
        if len(self._storage) == 0:  # the first batch: every env starts an episode at step 0
            self._obs_keys = tuple(batch.obs)
            self._open_start = np.zeros(n_envs, np.int64)
        start, end = self._episode_bounds(ended, t0)
        self._close_stored_episodes(ended, t0)
        self._storage.add(self._to_storage(batch))
        self._allocate_episode_arrays(n_envs)
        kept = min(batch.n_rows, self._rows())
        rows = self._row_of(np.arange(t0 + batch.n_rows - kept, t0 + batch.n_rows))
        self._episode_start[rows] = start[-kept:]
        self._episode_end[rows] = end[-kept:]
        if ended.any():
            last = batch.n_rows - 1 - np.argmax(ended[::-1], axis=0)  # each env's last episode end in the batch
            self._open_start = np.where(ended.any(axis=0), t0 + last + 1, self._open_start)

    def sample(self, n: int, rng: np.random.Generator) -> TransitionBatch:
        """Draw ``n`` transitions uniformly with replacement, each relabelled with probability ``k / (k + 1)``.

        Returns a batch shaped ``[n, 1, ...]`` like :meth:`ReplayBuffer.sample`, whose ``obs`` and ``next_obs``
        are dicts of the env's observation entries.

        Raises:
            ValueError: the buffer is empty, ``n < 1``, or ``compute_reward`` does not return one reward per goal.
        """
        n = check_count(n, "HerReplayBuffer.sample", "n")
        check_rng(rng, "HerReplayBuffer.sample")
        if len(self) == 0:
            raise ValueError("HerReplayBuffer.sample: the buffer is empty; add transitions first")
        flat = rng.integers(0, len(self), size=n)
        relabel = rng.random(n) < self.relabel_probability
        goal_flat = self.goal_indices(flat, rng)
        return self._relabelled(self._storage.gather(flat), relabel, goal_flat[relabel])

    def goal_indices(self, flat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Flat indices ``[n]`` of the transitions whose achieved goals the strategy picks for transitions ``flat``.

        The goal of transition ``i`` is ``next_obs["achieved_goal"]`` of the returned transition, which lies in
        ``i``'s own episode (env column) and never beyond its last stored transition.
        """
        b = self._storage.n_envs or 1
        row, env = np.divmod(np.asarray(flat, dtype=np.int64), b)
        t = self._time_of(row)
        end = self._episode_end[row, env]
        end = np.where(end < 0, self._clock(), end)  # an episode in progress ends, for now, at the newest step
        if self.strategy == "future":
            goal_t = rng.integers(t, end)
        elif self.strategy == "final":
            goal_t = end - 1
        else:
            oldest = self._clock() - self._storage.n_rows
            goal_t = rng.integers(np.maximum(self._episode_start[row, env], oldest), end)
        return self._row_of(goal_t) * b + env

    def truncate_last(self) -> None:
        """End every env's episode in progress at its newest stored step, marked ``truncated`` (the envs were reset).

        Goals are then drawn from that episode's stored steps only, and the next added step begins a new episode.
        """
        self._storage.truncate_last()
        for env in np.flatnonzero(self._open_start < self._clock()):  # envs whose newest step did not end an episode
            self._end_stored_episode(env, self._clock())
        self._open_start[:] = self._clock()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Contents, positions and episode bounds as NumPy arrays only: ready for ``np.savez``."""
        size = self._storage.n_rows
        state = {"storage." + k: v for k, v in self._storage.state_dict().items()}
        state.update(
            format=np.array(_FORMAT),
            version=np.array(_VERSION),
            obs_keys=np.array(self._obs_keys, dtype=str),
            episode_start=self._episode_start[:size].copy(),
            episode_end=self._episode_end[:size].copy(),
            open_start=self._open_start.copy(),
        )
        return state

    def load_state_dict(self, state: Mapping[str, Any], source: str = "state") -> None:
        """Restore :meth:`state_dict`; sampling then continues exactly as it would have.

        Raises:
            DataFileError: the state is of another format or version, inconsistent, or does not fit this buffer.
        """
        require_format(state, source, _FORMAT, _VERSION)
        missing = [k for k in ("obs_keys", "episode_start", "episode_end", "open_start") if k not in state]
        if missing:
            raise DataFileError(f"{source} misses the entries {missing}; it is not a complete HER-buffer state")
        storage = {k[len("storage.") :]: v for k, v in state.items() if k.startswith("storage.")}
        starts, ends = np.asarray(state["episode_start"]), np.asarray(state["episode_end"])
        open_start = np.asarray(state["open_start"])
        size, n_envs = int(np.asarray(storage.get("size", -1))), int(np.asarray(storage.get("n_envs", -1)))
        if starts.shape != (size, n_envs) or ends.shape != starts.shape or open_start.shape != (n_envs,):
            raise DataFileError(
                f"{source} is inconsistent: episode bounds {starts.shape} {ends.shape} {open_start.shape} for "
                f"{size} stored steps of {n_envs} envs; the file is corrupt"
            )
        self._storage.load_state_dict(storage, source)
        self._obs_keys = tuple(str(k) for k in np.asarray(state["obs_keys"]).reshape(-1))
        self._episode_start = np.zeros((0, 0), np.int64)
        self._allocate_episode_arrays(n_envs)
        self._episode_start[:size], self._episode_end[:size] = starts, ends
        self._open_start = open_start.astype(np.int64)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write contents, positions and episode bounds to ``path`` as an ``.npz`` (atomically, no pickle)."""
        write_npz(path, self.state_dict())

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace the contents with those saved at ``path`` by :meth:`save`.

        Raises:
            FileNotFoundError: no file at ``path``.
            DataFileError: the file is corrupt, of another format, or does not fit this buffer.
        """
        self.load_state_dict(read_npz(path, "HER buffer"), source=f"HER-buffer file {str(path)!r}")

    def _check_goal_obs(self, batch: TransitionBatch) -> None:
        for name in ("obs", "next_obs"):
            value = getattr(batch, name)
            if not isinstance(value, Mapping) or not set(GOAL_KEYS) <= set(value):
                raise ValueError(
                    f"HerReplayBuffer needs {name} as a dict with 'achieved_goal' and 'desired_goal' (a goal env's "
                    f"Dict observation), got {type(value).__name__}"
                    f"{' with keys ' + str(sorted(value)) if isinstance(value, Mapping) else ''}; use a goal env "
                    "or a plain ReplayBuffer"
                )
        if set(batch.obs) != set(batch.next_obs) or (self._obs_keys and set(batch.obs) != set(self._obs_keys)):
            raise ValueError(
                f"HerReplayBuffer: observation keys {sorted(batch.obs)} / next {sorted(batch.next_obs)} differ from "
                f"the stored {sorted(self._obs_keys or batch.obs)}; add batches of one goal env"
            )

    def _to_storage(self, batch: TransitionBatch) -> TransitionBatch:
        """The batch with its dict entries as storage extras (the ring stores arrays)."""
        placeholder = np.zeros(batch.reward.shape, dtype=bool)
        extras = {_OBS + k: np.asarray(v) for k, v in batch.obs.items()}
        extras.update({_NEXT + k: np.asarray(v) for k, v in batch.next_obs.items()})
        extras.update({_EXTRA + k: np.asarray(v) for k, v in batch.extras.items()})
        return TransitionBatch(obs=placeholder, action=batch.action, reward=batch.reward, next_obs=placeholder,
                               terminated=batch.terminated, truncated=batch.truncated, extras=extras)

    def _relabelled(self, stored: TransitionBatch, relabel: np.ndarray, goal_flat: np.ndarray) -> TransitionBatch:
        """The gathered transitions ``[n, 1]`` as goal dicts, those in ``relabel`` with the goals at ``goal_flat``."""
        obs = {k: stored.extras[_OBS + k] for k in self._obs_keys}
        next_obs = {k: stored.extras[_NEXT + k] for k in self._obs_keys}
        reward, terminated = stored.reward.copy(), stored.terminated.copy()
        if goal_flat.size:
            goals = self._storage.gather(goal_flat).extras[_NEXT + "achieved_goal"][:, 0]
            achieved = next_obs["achieved_goal"][relabel, 0]
            infos: list[dict[str, Any]] = [{} for _ in range(goal_flat.size)]
            reward[relabel, 0] = self._per_goal(self.compute_reward(achieved, goals, infos), goals, "compute_reward")
            if self.compute_terminated is not None:
                flags = self._per_goal(self.compute_terminated(achieved, goals, infos), goals, "compute_terminated")
                terminated[relabel, 0] = np.asarray(flags, dtype=bool)
            for entries in (obs, next_obs):
                entries["desired_goal"] = entries["desired_goal"].copy()
                entries["desired_goal"][relabel, 0] = goals
        extras = {k[len(_EXTRA) :]: v for k, v in stored.extras.items() if k.startswith(_EXTRA)}
        return TransitionBatch(obs=obs, action=stored.action, reward=reward, next_obs=next_obs,
                               terminated=terminated, truncated=stored.truncated, extras=extras)

    @staticmethod
    def _per_goal(values: Any, goals: np.ndarray, name: str) -> np.ndarray:
        """``values`` as one entry per goal ``[m]``; a scalar (an env that never ends, say) is broadcast."""
        values = np.asarray(values)
        if values.ndim == 0:
            return np.broadcast_to(values, (len(goals),))
        if values.shape != (len(goals),):
            raise ValueError(
                f"HerReplayBuffer: {name} returned shape {values.shape} for {len(goals)} goal pairs; it must "
                "work on a batch of goals [m, ...] like Gymnasium-Robotics' GoalEnv and return [m]"
            )
        return values

    def _episode_bounds(self, ended: np.ndarray, t0: int) -> tuple[np.ndarray, np.ndarray]:
        """Step clocks ``[T, B]`` of the first transition and one past the last of each new transition's episode."""
        steps = np.arange(ended.shape[0])[:, None]
        last_end = np.maximum.accumulate(np.where(ended, steps, -1), axis=0)  # last episode end at or before t
        before = np.vstack([np.full((1, ended.shape[1]), -1), last_end[:-1]])  # ... strictly before t
        start = np.where(before >= 0, t0 + before + 1, self._open_start[None, :])
        next_end = np.minimum.accumulate(np.where(ended, steps, ended.shape[0])[::-1], axis=0)[::-1]
        end = np.where(next_end < ended.shape[0], t0 + next_end + 1, -1)
        return start.astype(np.int64), end.astype(np.int64)

    def _close_stored_episodes(self, ended: np.ndarray, t0: int) -> None:
        """Set the end of each env's episode in progress on its already stored transitions, if it ends now."""
        if not len(self._storage):
            return
        for env in np.flatnonzero(ended.any(axis=0)):
            self._end_stored_episode(env, t0 + int(np.argmax(ended[:, env])) + 1)

    def _end_stored_episode(self, env: int | np.integer, end: int) -> None:
        """Set ``end`` (a step clock) as the end of ``env``'s episode in progress on its stored transitions."""
        oldest = self._clock() - self._storage.n_rows
        rows = self._row_of(np.arange(max(int(self._open_start[env]), oldest), self._clock()))
        self._episode_end[rows, env] = end

    def _allocate_episode_arrays(self, n_envs: int) -> None:
        if self._episode_start.shape != (self._rows(), n_envs):
            self._episode_start = np.zeros((self._rows(), n_envs), np.int64)
            self._episode_end = np.full((self._rows(), n_envs), -1, np.int64)

    def _rows(self) -> int:
        return self._storage.capacity // (self._storage.n_envs or 1)

    def _clock(self) -> int:
        """Time steps ever added (per env): the step clock of the next transition."""
        return self._storage.n_added // (self._storage.n_envs or 1)

    def _row_of(self, t: np.ndarray) -> np.ndarray:
        """Ring rows of stored step clocks ``t``: the newest step sits just before the write position."""
        return (self._storage.position - self._clock() + np.asarray(t)) % self._rows()

    def _time_of(self, row: np.ndarray) -> np.ndarray:
        """Step clocks of stored ring rows (inverse of :meth:`_row_of`)."""
        return self._clock() - 1 - (self._storage.position - 1 - np.asarray(row)) % self._rows()
