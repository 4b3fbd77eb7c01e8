"""AsyncVectorEnv: Gymnasium's subprocess vector env, resumable like porcini's ``SerialVectorEnv``.

Each env in a worker process is wrapped, outermost, in an :class:`EpisodeRecorder` that keeps the env's
:class:`~porcini.envs.episode_log.EpisodeLog` inside the worker. The worker is where the recording must happen:
same-step autoreset resets an ended env there, unseeded, and only the worker can read the env's ``np_random`` state
just before that reset. A checkpoint fetches every worker's log through Gymnasium's ``call``; resuming sends the
logs back and each worker replays its own env's episode in place. Stateful per-env wrappers living in the workers
are reached through :class:`WorkerWrapper` proxies with the usual ``state_dict``/``load_state_dict``.

``call`` goes to every worker with the same arguments, so requests meant for one env carry its index and the
other workers answer None.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Sequence
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import concatenate, create_empty_array

from porcini.envs.episode_log import EpisodeLog, ReplayError, check_replayed
from porcini.envs.validation import check_raw_obs, check_step_result
from porcini.envs.wrappers.episode import time_limit
from porcini.errors import CheckpointError


class EpisodeRecorder(gym.Wrapper):
    """Records how the env's current episode began and its actions, and replays them on request.

    The ``porcini_*`` methods are called from the parent process through ``AsyncVectorEnv.call``.

    Args:
        env: the env of one worker (with its per-env wrappers).
        index: the env's index in the vector env.
        env_id: the name used in error messages.
        check_dtype: refuse a ``Box`` observation of another dtype than the space's (Gymnasium's worker would cast
            it into shared memory silently), as ``SerialVectorEnv`` does with its checks on.
    """

    def __init__(self, env: gym.Env, index: int, env_id: str = "env", check_dtype: bool = False) -> None:
        super().__init__(env)
        self.index, self.env_id = index, env_id
        self._log: EpisodeLog | None = None
        space = env.observation_space
        self._checked_dtype = space.dtype if check_dtype and isinstance(space, gym.spaces.Box) else None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Note the episode's start (seed or RNG state), then reset."""
        if self._log is not None:
            self._log.before_reset(0, self.env, seed)
        obs, info = self.env.reset(seed=seed, options=options)
        if self._checked_dtype is not None and getattr(obs, "dtype", None) != self._checked_dtype:
            check_raw_obs(obs, self.env_id, self.index, self.observation_space)
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Note the action, then step; a malformed result is refused here (Gymnasium's worker would fail on it)."""
        if self._log is not None:
            self._log.actions[0].append(np.array(action))
        result = self.env.step(action)
        check_step_result(result, self.env_id, self.index, self.observation_space)
        if self._checked_dtype is not None and getattr(result[0], "dtype", None) != self._checked_dtype:
            check_raw_obs(result[0], self.env_id, self.index, self.observation_space)
        return result

    def porcini_describe(self) -> dict[str, Any]:
        """The env's ``spec`` (None if it does not pickle) and time limit, which the parent reports as its own."""
        spec = self.env.spec
        try:
            pickle.dumps(spec)
        except Exception:  # e.g. a lambda among the spec's kwargs: the parent then has no spec, as Gymnasium's
            spec = None
        return {"spec": spec, "time_limit": time_limit(self.env)}

    def porcini_record(self) -> None:
        """Start recording from the next reset."""
        self._log = EpisodeLog(1)

    def porcini_episode_log(self) -> dict[str, Any] | None:
        """The episode start and actions of this worker's env (None when not recording)."""
        if self._log is None:
            return None
        state = self._log.state_dict()
        return {"start": state["starts"][0], "actions": state["actions"][0]}

    def porcini_replay(self, starts: list[dict[str, Any]], actions: list[np.ndarray]) -> dict[str, Any]:
        """Rebuild this env's episode from the whole vector's log; ``{"obs": ...}`` or ``{"error": message}``.

        A failed replay is answered, not raised: an exception would shut the worker down, and the parent may
        still restart the episode instead.
        """
        start, own_actions = starts[self.index], actions[self.index]
        try:
            (obs,) = EpisodeLog.replay([self.env], {"starts": [start], "actions": [own_actions]})
        except ReplayError as err:
            return {"error": str(err).replace("env index 0", f"env index {self.index}")}
        self._log = EpisodeLog(1)
        self._log.starts[0] = dict(start)
        self._log.actions[0] = list(np.asarray(own_actions))
        return {"obs": obs}

    def _stateful(self) -> list[Any]:
        out, env = [], self.env
        while isinstance(env, gym.Wrapper):
            if callable(getattr(env, "state_dict", None)):
                out.append(env)
            env = env.env
        return out

    def porcini_stateful_wrappers(self) -> list[str]:
        """Class names of this env's wrappers with ``state_dict``, outermost first."""
        return [type(w).__name__ for w in self._stateful()]

    def porcini_wrapper_state(self, index: int, position: int) -> dict[str, Any] | None:
        """The ``state_dict`` of stateful wrapper ``position`` when this is env ``index``, else None."""
        return self._stateful()[position].state_dict() if index == self.index else None

    def porcini_load_wrapper_state(self, index: int, position: int, state: dict[str, Any]) -> None:
        """Load ``state`` into stateful wrapper ``position`` when this is env ``index``."""
        if index == self.index:
            self._stateful()[position].load_state_dict(state)


def _recorded(factory: Callable[[], gym.Env], index: int, env_id: str, check_dtype: bool) -> gym.Env:
    return EpisodeRecorder(factory(), index, env_id, check_dtype)


class WorkerWrapper:
    """A stateful per-env wrapper inside a worker process, seen from the parent.

    Args:
        venv: the vector env whose worker holds the wrapper.
        env_index: the env's index.
        position: the wrapper's place among that env's stateful wrappers, outermost first.
        name: the wrapper's class name (for messages).
    """

    def __init__(self, venv: AsyncVectorEnv, env_index: int, position: int, name: str) -> None:
        self.venv = venv
        self.env_index = env_index
        self.position = position
        self.name = name

    def __repr__(self) -> str:
        return f"WorkerWrapper({self.name}, env index {self.env_index})"

    def state_dict(self) -> dict[str, Any]:
        """The wrapper's ``state_dict``, fetched from its worker."""
        return cast("dict[str, Any]", self.venv.call("porcini_wrapper_state", self.env_index,
                                                     self.position)[self.env_index])

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Send ``state`` to the wrapper's ``load_state_dict`` in its worker."""
        self.venv.call("porcini_load_wrapper_state", self.env_index, self.position, state)


class AsyncVectorEnv(gym.vector.AsyncVectorEnv):
    """Steps ``n`` environments in subprocesses, with same-step autoreset and resume by replay in the workers.

    Args:
        env_fns: one factory per env; all envs must share observation and action spaces.
        env_id: the name used in error messages.
        check_dtype: refuse, in the workers, a ``Box`` observation of another dtype than the space's instead of
            casting it (``make_env`` sets it from its ``check``; the rest of the checks run in the parent).

    Example:
        >>> import gymnasium as gym
        >>> env = AsyncVectorEnv([lambda: gym.make("CartPole-v1")] * 2, env_id="CartPole-v1")
        >>> env.record_for_resume()
        >>> obs, info = env.reset(seed=0)
        >>> sorted(env.resume_state())
        ['actions', 'last_obs', 'starts']
        >>> env.close()
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], *, env_id: str = "env",
                 check_dtype: bool = False) -> None:
        super().__init__([functools.partial(_recorded, fn, i, env_id, check_dtype) for i, fn in enumerate(env_fns)],
                         autoreset_mode=AutoresetMode.SAME_STEP)
        self.env_id = env_id
        # the first env's spec and time limit, as SerialVectorEnv reports them (EnvInfo.horizon reads them)
        first = self.call("porcini_describe")[0]
        self.spec, self.time_limit = first["spec"], first["time_limit"]
        self._recording = False
        self._last_obs: Any = None

    def record_for_resume(self) -> None:
        """Keep each env's episode start and actions in its worker; takes effect from the next ``reset``."""
        self.call("porcini_record")
        self._recording = True

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset every env; an int seed seeds env ``i`` with ``seed + i``."""
        obs, info = super().reset(seed=seed, options=options)
        self._last_obs = obs
        return obs, info

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env; ended envs are reset in their worker in the same call."""
        result = super().step(actions)
        self._last_obs = result[0]
        return result

    def resume_state(self) -> dict[str, Any]:
        """The state needed to rebuild every env mid-episode, in ``SerialVectorEnv.resume_state``'s format."""
        logs = self.call("porcini_episode_log") if self._recording else ()
        if not self._recording or any(log is None for log in logs):
            raise CheckpointError("call record_for_resume() before the first reset to make this env resumable")
        return {"starts": [log["start"] for log in logs], "actions": [log["actions"] for log in logs],
                "last_obs": self._last_obs}

    def load_resume_state(self, state: dict[str, Any]) -> Any:
        """Rebuild every env's current episode inside its worker; return the current observation batch.

        Raises:
            ReplayError: an env's replay ended its episode early or gave other observations than were recorded
                (the env draws randomness outside ``env.np_random``).
            CheckpointError: the state holds another number of envs.
        """
        if len(state["starts"]) != self.num_envs:
            raise CheckpointError(f"the checkpoint holds {len(state['starts'])} envs, this run has {self.num_envs}")
        answers = self.call("porcini_replay", list(state["starts"]), list(state["actions"]))
        errors = [answer["error"] for answer in answers if "error" in answer]
        if errors:
            raise ReplayError(errors[0])
        empty = create_empty_array(self.single_observation_space, self.num_envs)
        batch = concatenate(self.single_observation_space, [answer["obs"] for answer in answers],
                            cast("tuple[Any, ...] | dict[str, Any] | np.ndarray", empty))
        check_replayed(self.env_id, state.get("last_obs"), batch)
        self._recording = True
        self._last_obs = batch
        return batch

    def stateful_wrappers(self) -> list[WorkerWrapper]:
        """Proxies of every env's wrappers with ``state_dict``, env by env, outermost first."""
        names = self.call("porcini_stateful_wrappers")
        return [WorkerWrapper(self, i, position, name)
                for i, env_names in enumerate(names) for position, name in enumerate(env_names)]
