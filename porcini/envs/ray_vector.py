"""RayVectorEnv: the sub-envs of a vector env in Ray actors, with same-step autoreset and restarted workers.

The ``n`` sub-envs are split into contiguous chunks, one per Ray actor; each actor holds a porcini
:class:`~porcini.envs.vector.SerialVectorEnv` of its chunk and steps it as a batch, so a vector step costs one
remote call per actor. Results follow ``SerialVectorEnv``'s contract (same-step autoreset, stacked
``info["final_obs"]``, the same per-index reset seeds) and are validated here, in the parent.

A worker whose actor dies is replaced: the new actor's envs start new episodes, and that step reports the chunk's
envs as ``truncated`` with reward 0, their last known observation as ``final_obs`` and
``info["ray_worker_restarted"]``; the other chunks' results of the step are kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn, cast

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from porcini.envs.episode_log import ReplayError, check_replayed
from porcini.envs.ray_worker import ChunkWorker
from porcini.envs.validation import StepValidator
from porcini.envs.vector import EnvFactory, reset_seeds
from porcini.errors import CheckpointError, EnvCheckError, PorciniError
from porcini.ray_runtime import ensure_ray

StepResult = tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]


class RayWorkerRestartWarning(UserWarning):
    """A Ray actor holding some sub-envs died and was replaced; those envs started new episodes."""


class RayWorkerError(PorciniError):
    """A Ray actor holding sub-envs could not be started (e.g. the env factory raised inside it)."""


def _merge_info(out: dict[str, Any], info: dict[str, Any], start: int, n_envs: int) -> None:
    """Copy a chunk's vector info (``key`` arrays with ``_key`` masks) into ``out`` at env indices ``start...``."""
    for key, value in info.items():
        if key.startswith("_") and key[1:] in info:
            continue
        mask = info.get(f"_{key}")
        if isinstance(value, dict):
            _merge_info(out.setdefault(key, {}), value, start, n_envs)
            size = len(mask) if mask is not None else 0
        else:
            value = np.asarray(value)
            size = len(value)
            if key not in out:
                out[key] = (np.full(n_envs, None, dtype=object) if value.dtype == object
                            else np.zeros((n_envs, *value.shape[1:]), dtype=value.dtype))
            out[key][start:start + size] = value
        flags = out.setdefault(f"_{key}", np.zeros(n_envs, dtype=np.bool_))
        flags[start:start + size] = mask if mask is not None else True


def _split(space: gym.Space, batch: Any) -> list[Any]:
    """Each env's observation of a batch (Gymnasium's ``iterate`` refuses a Discrete inside a Dict)."""
    if isinstance(space, (gym.spaces.Dict, gym.spaces.Tuple)):
        keys: list[Any] = list(space.spaces.keys()) if isinstance(space, gym.spaces.Dict) else [*range(len(space))]
        parts = [_split(space.spaces[key], batch[key]) for key in keys]
        rows = zip(*parts)
        return [dict(zip(keys, row)) for row in rows] if isinstance(space, gym.spaces.Dict) else list(rows)
    return list(batch)


def _shift_index(offset: int, match: re.Match[str]) -> str:
    return f"env index {offset + int(match.group(1))}"


@dataclasses.dataclass(frozen=True)
class RayWorkerWrapper:
    """A stateful per-env wrapper inside a Ray actor, seen from the parent (``state_dict``/``load_state_dict``).

    Attributes:
        venv: the vector env whose actor holds the wrapper.
        env_index: the env's index in the vector env.
        position: the wrapper's place among that env's stateful wrappers, outermost first.
        name: the wrapper's class name (for messages).
    """

    venv: RayVectorEnv = dataclasses.field(repr=False)
    env_index: int
    position: int
    name: str

    def state_dict(self) -> dict[str, Any]:
        """The wrapper's ``state_dict``, fetched from its actor."""
        return dict(self.venv._call_env(self.env_index, "call_wrapper", self.position, "state_dict"))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Send ``state`` to the wrapper's ``load_state_dict`` in its actor."""
        self.venv._call_env(self.env_index, "call_wrapper", self.position, "load_state_dict", state)


def _raise_env_check_error(err: Exception) -> NoReturn:
    """Raise a worker's EnvCheckError without Ray's traceback text around it; re-raise anything else."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, EnvCheckError):
        raise EnvCheckError(str(cause)) from None
    raise err


class RayVectorEnv(VectorEnv):
    """Steps ``n`` environments in Ray actors, a contiguous chunk per actor, with same-step autoreset.

    The contract of :class:`~porcini.envs.vector.SerialVectorEnv`: when env ``i`` ends, ``obs[i]`` is the next
    episode's first observation and ``info["final_obs"][i]`` the ended one's last; an int reset seed gives env
    ``i`` the seed ``porcini.seeding.env_reset_seeds(seed, n)[i]``. An actor that dies is replaced (see the module
    docstring); ``restarts`` counts the replacements. Ray is started by :func:`porcini.ray_runtime.ensure_ray`
    unless the caller already did.

    Args:
        env_fns: one factory per env (sent to the actors, so they must pickle with cloudpickle); all envs must
            share observation and action spaces.
        env_id: the name used in error messages.
        workers: number of actors; default ``min(n_envs, the CPUs Ray reports)``, at least 1.
        check: validate actions, observations and rewards on every step (see ``StepValidator``).

    Example:
        >>> import gymnasium as gym
        >>> env = RayVectorEnv([lambda: gym.make("CartPole-v1")] * 4, env_id="CartPole-v1", workers=2)
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape
        (4, 4)
        >>> env.close()
    """

    # no sub-env lives in this process: per-env wrappers are reached through stateful_wrappers()
    envs: tuple[()] = ()

    def __init__(self, env_fns: Sequence[EnvFactory], *, env_id: str = "env", workers: int | None = None,
                 check: bool = True) -> None:
        if len(env_fns) == 0:
            raise ValueError("RayVectorEnv needs at least one env factory")
        self._ray: Any = ensure_ray(what="env.vectorization: ray")
        self.closed = True  # until the actors exist, so that close() on a failed construction does nothing
        self.num_envs = n = len(env_fns)
        self.env_id = env_id
        self.env_fns = list(env_fns)  # public, as on Gymnasium's AsyncVectorEnv: goal envs copy env 0 from it
        self._check = check
        if workers is None:
            workers = min(n, max(1, int(self._ray.cluster_resources().get("CPU", 1))))
        if not 1 <= workers <= n:
            raise ValueError(f"workers = {workers!r} is invalid: give 1 to n_envs = {n} actors")
        bounds = np.cumsum([0] + [n // workers + (c < n % workers) for c in range(workers)])
        self._chunks = [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
        self._remote = self._ray.remote(ChunkWorker)
        self._actors: list[Any] = [None] * workers
        self.closed = False
        try:
            descriptions = [self._start_actor(c) for c in range(workers)]
            obs_space, act_space, metadata, self.render_mode, self.spec, self.time_limit = descriptions[0]
            for c, (other_obs, other_act, *_) in enumerate(descriptions[1:], start=1):
                if other_obs != obs_space or other_act != act_space:
                    raise EnvCheckError(f"env index {self._chunks[c][0]} of {env_id} has spaces {other_obs}, "
                                        f"{other_act} but env 0 has {obs_space}, {act_space}; all envs of a vector "
                                        "env must share spaces")
        except BaseException:
            self.close()  # the actors started so far
            raise
        self.single_observation_space, self.single_action_space = obs_space, act_space
        self.observation_space = batch_space(obs_space, n)
        self.action_space = batch_space(act_space, n)
        self.metadata = dict(metadata)
        self._is_array = isinstance(obs_space, (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete,
                                                gym.spaces.MultiBinary))
        self._validator = StepValidator(env_id, obs_space, act_space, n) if check else None
        self.restarts, self._steps = 0, 0
        self._seed: int | None = None
        self._recording = False
        self._last_obs: Any = None

    def _describe_chunk(self, chunk: int) -> str:
        lo, hi = self._chunks[chunk]
        return f"Ray worker {chunk} of env {self.env_id} (env indices {list(range(lo, hi))})"

    def _start_actor(self, chunk: int) -> tuple[gym.Space, gym.Space, dict[str, Any], Any, Any, int | None]:
        """Create chunk ``chunk``'s actor; return its spaces, metadata, render mode, spec and first time limit."""
        lo, hi = self._chunks[chunk]
        actor = self._remote.remote(self.env_fns[lo:hi], f"{self.env_id} (Ray worker {chunk})", self._check)
        self._actors[chunk] = actor
        try:
            return tuple(self._ray.get(actor.describe.remote()))
        except self._ray.exceptions.RayActorError as err:
            reason = str(err).strip().splitlines()[-1]  # the factory's exception, below Ray's traceback
            raise RayWorkerError(f"could not start {self._describe_chunk(chunk)}: {reason}") from err

    def _gather(self, refs: list[Any]) -> list[Any]:
        """Every actor's answer, None for an actor that died; an env's EnvCheckError is raised as the one line it is."""
        exceptions = self._ray.exceptions
        try:
            return list(self._ray.get(refs))
        except exceptions.RayActorError:
            pass
        except exceptions.RayTaskError as err:
            _raise_env_check_error(err)
        answers: list[Any] = []
        for ref in refs:
            try:
                answers.append(self._ray.get(ref))
            except exceptions.RayActorError:
                answers.append(None)
            except exceptions.RayTaskError as err:
                _raise_env_check_error(err)
        return answers

    def _restart(self, chunk: int, seeds: list[int | None] | None) -> tuple[Any, dict[str, Any]]:
        """Replace chunk ``chunk``'s dead actor and reset its envs; return their first observations and infos."""
        with contextlib.suppress(Exception):  # it is gone already; killing it only makes sure
            self._ray.kill(self._actors[chunk], no_restart=True)
        self.restarts += 1
        lo, hi = self._chunks[chunk]
        if seeds is None and self._seed is not None:
            derived = np.random.SeedSequence([self._seed, chunk, self.restarts]).generate_state(1, np.uint32)[0]
            seeds = reset_seeds(int(derived), hi - lo)
        self._start_actor(chunk)
        actor = self._actors[chunk]
        if self._recording:
            actor.run.remote("record_for_resume")
        try:
            obs, info = self._ray.get(actor.run.remote("reset", seed=seeds or [None] * (hi - lo)))
        except self._ray.exceptions.RayActorError as err:
            raise RayWorkerError(f"{self._describe_chunk(chunk)} died again while resetting: {err}") from err
        warnings.warn(f"{self._describe_chunk(chunk)} died at step {self._steps}; it was restarted and its envs "
                      "start new episodes (reported as truncated)", RayWorkerRestartWarning, stacklevel=3)
        return obs, info

    def _rows(self, batch: Any) -> list[Any]:
        return list(batch) if self._is_array else _split(self.single_observation_space, batch)

    def _concat(self, batches: list[Any]) -> Any:
        if self._is_array:
            return np.concatenate(batches)
        return self._stack([row for batch in batches for row in self._rows(batch)])

    def _stack(self, rows: list[Any]) -> Any:
        if self._is_array:
            return np.stack(rows)
        # create_empty_array gives None for a custom Space, which concatenate accepts (its stub says otherwise)
        empty = create_empty_array(self.single_observation_space, len(rows))
        return concatenate(self.single_observation_space, rows,
                           cast("tuple[Any, ...] | dict[str, Any] | np.ndarray", empty))

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset every env; an int seed seeds env ``i`` with ``porcini.seeding.env_reset_seeds(seed, n)[i]``.

        Raises:
            ValueError: ``options`` holds Gymnasium's ``reset_mask`` (refused, as ``SerialVectorEnv`` refuses it).
        """
        if options is not None and "reset_mask" in options:
            raise ValueError(f"RayVectorEnv of {self.env_id} resets all its envs (and ended ones by itself in step); "
                             "reset without options['reset_mask']")
        seeds = reset_seeds(seed, self.num_envs)
        self._seed = int(seed) if isinstance(seed, (int, np.integer)) else None
        refs = [actor.run.remote("reset", seed=seeds[lo:hi], options=options)
                for actor, (lo, hi) in zip(self._actors, self._chunks)]
        answers = self._gather(refs)
        for c, answer in enumerate(answers):
            if answer is None:
                answers[c] = self._restart(c, seeds[slice(*self._chunks[c])])
        infos: dict[str, Any] = {}
        for (lo, _), (_, info) in zip(self._chunks, answers):
            _merge_info(infos, info, lo, self.num_envs)
        batch = self._concat([obs for obs, _ in answers])
        if self._validator is not None:
            self._validator.check_obs(batch, what="reset observation")
        self._last_obs = batch
        return batch, infos

    def step(self, actions: Any) -> StepResult:
        """Step every env with its action; ended envs are reset in the same call, dead actors are replaced."""
        if self._validator is not None:
            actions = self._validator.check_actions(actions)
        self._steps += 1
        refs = [actor.run.remote("step", actions[lo:hi]) for actor, (lo, hi) in zip(self._actors, self._chunks)]
        answers = self._gather(refs)
        for c, answer in enumerate(answers):
            if answer is None:
                answers[c] = self._restarted_result(c)
        n = self.num_envs
        infos: dict[str, Any] = {}
        final_rows: list[Any] = [None] * n
        for (lo, _), (_, _, _, _, info) in zip(self._chunks, answers):
            if "_final_obs" in info:
                rows = self._rows(info["final_obs"])
                for j in np.flatnonzero(info["_final_obs"]):
                    final_rows[lo + int(j)] = rows[j]
            _merge_info(infos, {k: v for k, v in info.items() if k not in ("final_obs", "_final_obs")}, lo, n)
        batch = self._concat([answer[0] for answer in answers])
        rewards = np.concatenate([answer[1] for answer in answers]).astype(np.float64, copy=False)
        terminated = np.concatenate([answer[2] for answer in answers])
        truncated = np.concatenate([answer[3] for answer in answers])
        ended = [i for i, row in enumerate(final_rows) if row is not None]
        if ended:
            filler = self._rows(batch)[ended[0]]  # as SerialVectorEnv: rows of envs that did not end are placeholders
            infos["final_obs"] = self._stack([row if row is not None else filler for row in final_rows])
            infos["_final_obs"] = np.array([row is not None for row in final_rows], dtype=np.bool_)
        if self._validator is not None:
            self._validator.check_step(batch, rewards, infos if ended else None)
        self._last_obs = batch
        return batch, rewards, terminated, truncated, infos

    def _restarted_result(self, chunk: int) -> StepResult:
        """A restarted chunk's step: truncated, reward 0, the last observation known here as ``final_obs``."""
        obs, info = self._restart(chunk, None)
        lo, hi = self._chunks[chunk]
        m = hi - lo
        info = dict(info)
        info["final_obs"] = self._stack(self._rows(self._last_obs)[lo:hi]) if self._last_obs is not None else obs
        info["_final_obs"] = np.ones(m, dtype=np.bool_)
        info["ray_worker_restarted"] = np.ones(m, dtype=np.bool_)
        info["_ray_worker_restarted"] = np.ones(m, dtype=np.bool_)
        return obs, np.zeros(m), np.zeros(m, dtype=np.bool_), np.ones(m, dtype=np.bool_), info

    def _chunk_of(self, index: int) -> int:
        return next(c for c, (lo, hi) in enumerate(self._chunks) if lo <= index < hi)

    def _call_env(self, index: int, method: str, *args: Any) -> Any:
        """Call ``method(local index, *args)`` on the actor holding env ``index``."""
        chunk = self._chunk_of(index)
        return self._ray.get(getattr(self._actors[chunk], method).remote(index - self._chunks[chunk][0], *args))

    def stateful_wrappers(self) -> list[RayWorkerWrapper]:
        """Proxies of every env's wrappers with ``state_dict``, env by env, outermost first."""
        names = self._ray.get([actor.stateful_wrapper_names.remote() for actor in self._actors])
        per_env = [env_names for chunk_names in names for env_names in chunk_names]
        return [RayWorkerWrapper(self, i, position, name)
                for i, env_names in enumerate(per_env) for position, name in enumerate(env_names)]

    def record_for_resume(self) -> None:
        """Keep each env's episode start and actions in its actor; takes effect from the next ``reset``."""
        self._ray.get([actor.run.remote("record_for_resume") for actor in self._actors])
        self._recording = True

    def resume_state(self) -> dict[str, Any]:
        """The state needed to rebuild every env mid-episode, in ``SerialVectorEnv.resume_state``'s format."""
        if not self._recording:
            raise CheckpointError("call record_for_resume() before the first reset to make this env resumable")
        states = self._ray.get([actor.run.remote("resume_state") for actor in self._actors])
        return {"starts": [s for state in states for s in state["starts"]],
                "actions": [a for state in states for a in state["actions"]], "last_obs": self._last_obs}

    def load_resume_state(self, state: dict[str, Any]) -> Any:
        """Rebuild every env's current episode inside its actor; return the current observation batch.

        Raises:
            ReplayError: a replay ended its episode early or gave other observations than were recorded.
            CheckpointError: the state holds another number of envs.
        """
        if len(state["starts"]) != self.num_envs:
            raise CheckpointError(f"the checkpoint holds {len(state['starts'])} envs, this run has {self.num_envs}")
        refs = [actor.load_resume_state.remote({"starts": state["starts"][lo:hi], "actions": state["actions"][lo:hi]})
                for actor, (lo, hi) in zip(self._actors, self._chunks)]
        answers = self._ray.get(refs)
        for (lo, _), answer in zip(self._chunks, answers):
            if "error" in answer:
                error = ReplayError if answer["replay"] else CheckpointError
                # the actor numbers its envs from 0; the message names the index in this vector env
                raise error(re.sub(r"env index (\d+)", functools.partial(_shift_index, lo), answer["error"]))
        batch = self._concat([answer["obs"] for answer in answers])
        check_replayed(self.env_id, state.get("last_obs"), batch)
        self._recording = True
        self._last_obs = batch
        return batch

    def render(self) -> Any:
        """Render the first env (in the first actor)."""
        return self._ray.get(self._actors[0].run.remote("render"))

    def close_extras(self, **kwargs: Any) -> None:
        """Close every env and end the actors."""
        ray = self._ray
        if not ray.is_initialized():
            return
        live = [actor for actor in self._actors if actor is not None]
        with contextlib.suppress(ray.exceptions.RayError):  # a dead or hung actor has nothing left to close
            ray.get([actor.run.remote("close") for actor in live], timeout=30)
        for actor in live:
            ray.kill(actor, no_restart=True)
