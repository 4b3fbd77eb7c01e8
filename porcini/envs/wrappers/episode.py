"""Episode wrappers: a time limit that truncates, and per-episode return, length and wall time in ``info``."""

from __future__ import annotations

import copy
import time
from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from porcini.envs.wrappers._common import next_step_autoreset, require_env, reset_rows


class TimeLimit(gym.Wrapper):
    """Ends episodes after ``max_episode_steps`` steps with ``truncated=True``; ``terminated`` is never touched.

    A time limit is not part of the MDP: the value of the last observation is not zero, so estimators bootstrap
    from it. An env that terminates on the limit's last step returns both flags. ``env.spec.max_episode_steps``
    reports the limit (porcini's ``EnvInfo.horizon`` reads it).

    Args:
        env: a single env.
        max_episode_steps: steps per episode (>= 1).

    Example:
        >>> from porcini import make_env
        >>> env = make_env("CartPole-v1", wrappers=[(TimeLimit, {"max_episode_steps": 3})], seed=0)
        >>> for _ in range(3):
        ...     _, _, terminated, truncated, _ = env.step(np.array([0]))
        >>> bool(terminated[0]), bool(truncated[0])
        (False, True)
    """

    def __init__(self, env: gym.Env, max_episode_steps: int) -> None:
        require_env("TimeLimit", env, vector=False)
        if (isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, (int, np.integer))
                or max_episode_steps < 1):
            raise ValueError(f"TimeLimit: max_episode_steps = {max_episode_steps!r} is invalid: must be an int >= 1")
        super().__init__(env)
        self.max_episode_steps = int(max_episode_steps)
        self.elapsed_steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the env and the step count."""
        self.elapsed_steps = 0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step; set ``truncated`` once the episode has lasted ``max_episode_steps`` steps."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.elapsed_steps += 1
        if self.elapsed_steps >= self.max_episode_steps:
            truncated = True
        return obs, reward, terminated, truncated, info

    # a read-only property over Wrapper's attribute, as in Gymnasium's TimeLimit (hence the ignore: mypy
    # rejects a read-only override of a writable attribute)
    @property
    def spec(self) -> EnvSpec | None:  # type: ignore[override]
        """The env's spec with ``max_episode_steps`` set to this limit."""
        inner = self.env.spec
        if inner is None:
            return None
        out = copy.copy(inner)
        out.max_episode_steps = self.max_episode_steps
        return out


def time_limit(env: gym.Env) -> int | None:
    """The episode time limit of one env in its own steps, the ones an agent takes (None: unbounded).

    The tightest TimeLimit along the wrapper chain (else the base env's spec): each limit is divided, rounded up,
    by the inner steps that each step of the wrappers above it may take (``inner_steps`` of :class:`RepeatAction`
    and :class:`MaxAndSkip`), so CartPole's 500 steps are 125 steps of ``RepeatAction(env, 4)``, and the smallest
    one counts: a TimeLimit of 1000 around CartPole-v1 still ends its episodes after the registered 500 steps.
    A base env that truncates its own episodes declares its limit as a ``max_episode_steps`` attribute (the
    bandits' ``horizon``, bit flipping's ``max_steps``), which counts as one more limit.
    """
    repeats, limits = 1, []
    while isinstance(env, gym.Wrapper):
        limit = getattr(env, "_max_episode_steps", None) or getattr(env, "max_episode_steps", None)
        if isinstance(limit, (int, float)) and not isinstance(limit, bool):
            limits.append(-(-int(limit) // repeats))
        repeats *= int(getattr(env, "inner_steps", 1))
        env = env.env
    own = getattr(env, "max_episode_steps", None)
    spec = None if limits else getattr(getattr(env, "spec", None), "max_episode_steps", None)
    limits += [-(-int(limit) // repeats) for limit in (own, spec)
               if isinstance(limit, (int, float)) and not isinstance(limit, bool)]
    return min(limits) if limits else None

class RecordEpisodeStatistics(gym.Wrapper):
    """Adds ``info["episode"] = {"r": return, "l": length, "t": wall seconds}`` on the step that ends an episode.

    Wrapping each env of a porcini vector env (``make_env(wrappers=[RecordEpisodeStatistics])``), the ended
    step's info reaches the vector info as ``info["final_info"]["episode"]["r"][i]`` (mask
    ``info["final_info"]["_episode"]``). :class:`VectorRecordEpisodeStatistics` gives the same numbers as
    ``info["episode"]`` of the vector env directly. The last ``buffer_length`` episodes are kept in
    ``return_queue``, ``length_queue`` and ``time_queue``.

    Args:
        env: a single env.
        buffer_length: how many recent episodes the queues keep.

    Example:
        >>> env = RecordEpisodeStatistics(TimeLimit(gym.make("CartPole-v1"), 2))
        >>> _ = env.reset(seed=0)
        >>> _ = env.step(0)
        >>> env.step(0)[-1]["episode"]["l"]
        2
    """

    def __init__(self, env: gym.Env, buffer_length: int = 100) -> None:
        require_env("RecordEpisodeStatistics", env, vector=False)
        super().__init__(env)
        self.return_queue: deque[float] = deque(maxlen=buffer_length)
        self.length_queue: deque[int] = deque(maxlen=buffer_length)
        self.time_queue: deque[float] = deque(maxlen=buffer_length)
        self.episode_return = 0.0
        self.episode_length = 0
        self.episode_start = time.perf_counter()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the env and start counting a new episode."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.episode_return, self.episode_length = 0.0, 0
        self.episode_start = time.perf_counter()
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step and count; add ``info["episode"]`` when the episode ends."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.episode_return += float(reward)
        self.episode_length += 1
        if terminated or truncated:
            elapsed = round(time.perf_counter() - self.episode_start, 6)
            info = {**info, "episode": {"r": self.episode_return, "l": self.episode_length, "t": elapsed}}
            self.return_queue.append(self.episode_return)
            self.length_queue.append(self.episode_length)
            self.time_queue.append(elapsed)
        return obs, reward, terminated, truncated, info


class VectorRecordEpisodeStatistics(gym.vector.VectorWrapper):
    """Per-episode return, length and wall time of every env of a vector env, in ``info["episode"]``.

    On a step where some episodes end, ``info["episode"] = {"r": [B], "l": [B], "t": [B]}`` (zeros where no
    episode ended) and ``info["_episode"]`` is the mask of envs whose episode ended. The last ``buffer_length``
    episodes over all envs are kept in ``return_queue``, ``length_queue`` and ``time_queue``. Place it before
    (inside) ``NormalizeReward`` to record the env's own rewards. Around a Gymnasium vector env with next-step
    autoreset, the step after an episode's end (the reset) counts toward no episode, as in Gymnasium's wrapper.

    Args:
        env: a vector env.
        buffer_length: how many recent episodes the queues keep.

    Example:
        >>> from porcini import make_env
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[VectorRecordEpisodeStatistics])
        >>> _ = env.reset(seed=0)
        >>> while not env.return_queue:
        ...     _, _, _, _, info = env.step(np.zeros(2, dtype=np.int64))
        >>> bool(info["_episode"].any())
        True
    """

    def __init__(self, env: gym.vector.VectorEnv, buffer_length: int = 100) -> None:
        require_env("VectorRecordEpisodeStatistics", env, vector=True)
        super().__init__(env)
        n = env.num_envs
        self.return_queue: deque[float] = deque(maxlen=buffer_length)
        self.length_queue: deque[int] = deque(maxlen=buffer_length)
        self.time_queue: deque[float] = deque(maxlen=buffer_length)
        self.episode_returns = np.zeros(n, dtype=np.float64)
        self.episode_lengths = np.zeros(n, dtype=np.int64)
        self.episode_starts = np.full(n, time.perf_counter())
        self._next_step = next_step_autoreset(env)
        self._ended = np.zeros(n, dtype=np.bool_)  # next-step autoreset: the envs whose next step is a reset

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the envs and the counters of each env reset (all, or those of ``options["reset_mask"]``)."""
        rows = reset_rows(options, self.num_envs)
        obs, info = self.env.reset(seed=seed, options=options)
        self.episode_returns[rows] = 0.0
        self.episode_lengths[rows] = 0
        self.episode_starts[rows] = time.perf_counter()
        self._ended[rows] = False
        return obs, info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step and count; add ``info["episode"]`` and ``info["_episode"]`` when episodes end."""
        obs, reward, terminated, truncated, info = self.env.step(actions)
        counted = ~self._ended
        self.episode_returns[counted] += np.asarray(reward)[counted]
        self.episode_lengths[counted] += 1
        self.episode_starts[self._ended] = time.perf_counter()
        ended = np.logical_or(terminated, truncated)
        if self._next_step:
            self._ended = ended.copy()
        if ended.any():
            now = time.perf_counter()
            elapsed = np.round(now - self.episode_starts, 6)
            episode = {
                "r": np.where(ended, self.episode_returns, 0.0),
                "l": np.where(ended, self.episode_lengths, 0),
                "t": np.where(ended, elapsed, 0.0),
            }
            info = {**info, "episode": episode, "_episode": ended}
            for i in np.flatnonzero(ended):
                self.return_queue.append(float(self.episode_returns[i]))
                self.length_queue.append(int(self.episode_lengths[i]))
                self.time_queue.append(float(elapsed[i]))
            self.episode_returns[ended] = 0.0
            self.episode_lengths[ended] = 0
            self.episode_starts[ended] = now
        return obs, reward, terminated, truncated, info

    def state_dict(self) -> dict[str, Any]:
        """Every env's return, length and wall time of the episode in progress, and whose next step is a reset."""
        return {
            "episode_returns": self.episode_returns.copy(),
            "episode_lengths": self.episode_lengths.copy(),
            "episode_time_s": time.perf_counter() - self.episode_starts,
            "reset_next": self._ended.copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the episodes in progress of :meth:`state_dict` (wall time continues from the saved value)."""
        returns = np.asarray(state["episode_returns"], dtype=np.float64)
        if returns.shape != self.episode_returns.shape:
            raise ValueError(f"VectorRecordEpisodeStatistics state holds {returns.shape[0]} envs, this env has "
                             f"{self.episode_returns.shape[0]}")
        self.episode_returns = returns.copy()
        self.episode_lengths = np.asarray(state["episode_lengths"], dtype=np.int64).copy()
        self.episode_starts = time.perf_counter() - np.asarray(state["episode_time_s"], dtype=np.float64)
        # states saved before next-step autoreset was counted have no "reset_next"
        self._ended = np.asarray(state.get("reset_next", np.zeros_like(self._ended)), dtype=np.bool_).copy()
