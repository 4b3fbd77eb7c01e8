"""The envs of a run: training and evaluation envs from an EnvConfig, and what of them a checkpoint holds.

A checkpoint holds every stateful wrapper's state and each env's episode log (a native vector env's whole state
instead); resuming replays the logs or loads that state (exact), or, where an env cannot be replayed, starts new
episodes in every env (resume at episode boundaries).
"""

from __future__ import annotations

import difflib
import warnings
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from porcini.core.obs_tree import map_obs
from porcini.envs import SerialVectorEnv, make_env
from porcini.envs.async_vector import AsyncVectorEnv
from porcini.envs.episode_log import ReplayError
from porcini.envs.make import evaluation_wrappers
from porcini.envs.multi_agent import MultiAgentVectorEnv
from porcini.envs.vectorized import NativeVectorEnv
from porcini.envs.wrappers import share_normalization, vector_wrappers
from porcini.errors import CheckpointError, ConfigError
from porcini.experiment.config import RunConfig
from porcini.experiment.seeding import eval_seed

if TYPE_CHECKING:
    from porcini.envs.ray_vector import RayVectorEnv


def resolve_wrapper(name: str) -> Any:
    """A wrapper class by name: porcini's wrappers first, then Gymnasium's (single-env, then vector).

    Raises:
        ConfigError: no wrapper has that name (a class that is not a wrapper, such as ``RunningMeanStd``, does
            not count); the message names the closest wrapper and porcini's wrappers.
    """
    import porcini.envs.wrappers as porcini_wrappers

    for namespace in (porcini_wrappers, gym.wrappers, gym.wrappers.vector):
        wrapper = getattr(namespace, name, None)
        if _is_wrapper(wrapper):
            return wrapper
    known = [n for n in sorted(getattr(porcini_wrappers, "__all__", [])) if _is_wrapper(getattr(porcini_wrappers, n))]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    what = "is not a wrapper" if isinstance(getattr(porcini_wrappers, name, None), type) else "is not a known wrapper"
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    raise ConfigError(f"env.wrappers: {name!r} {what}{hint} porcini's wrappers are: {', '.join(known)}")


def _is_wrapper(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, (gym.Wrapper, gym.vector.VectorWrapper))


def wrapper_specs(config: RunConfig) -> list[Any]:
    """``env.wrappers`` entries (names or ``{name: kwargs}``) as make_env wrapper arguments.

    YAML has no tuples, so a wrapper that is not porcini's gets each list argument as a tuple (Gymnasium's
    ``ResizeObservation`` takes ``shape`` only as a tuple). porcini's get them as written: they take lists, and
    ``DomainRandomization`` reads a list as choices and a tuple as a range.
    """
    specs: list[Any] = []
    for entry in config.env.wrappers:
        if isinstance(entry, str):
            specs.append(resolve_wrapper(entry))
        else:
            ((name, kwargs),) = dict(entry).items()
            wrapper, kwargs = resolve_wrapper(name), dict(kwargs or {})
            if not wrapper.__module__.startswith("porcini."):
                kwargs = {key: tuple(value) if isinstance(value, list) else value for key, value in kwargs.items()}
            specs.append((wrapper, kwargs))
    return specs


def build_envs(config: RunConfig) -> tuple[Any, Any]:
    """The training env (seeded with the run seed) and the evaluation env (seeds disjoint from training).

    The evaluation env has the training env's wrappers as :func:`~porcini.envs.make.evaluation_wrappers` gives
    them: training-only ones (``EpisodicLife``, ``SignReward``) left out, ``NatureAtari`` with ``training=False``.

    Stateful vector wrappers of the evaluation env (observation normalization) read the training env's
    statistics, frozen, so evaluation sees observations scaled as the agent was trained on them.
    """
    wrappers = wrapper_specs(config)
    env_kwargs = dict(getattr(config.env, "kwargs", None) or {})
    env = make_env(config.env.id, n_envs=config.env.n_envs, seed=config.seed, wrappers=wrappers,
                   vectorization=config.env.vectorization, max_episode_steps=config.env.max_episode_steps,
                   env_kwargs=env_kwargs, check=config.env.check)
    base = _resumable_base(env)
    if base is not None:
        base.record_for_resume()
    n_eval = max(1, min(config.env.n_envs, config.eval_episodes))
    # training-only wrappers (episodic life, sign rewards) are left out: evaluation returns are the env's own
    eval_env = make_env(config.env.id, n_envs=n_eval, seed=eval_seed(config.seed),
                        wrappers=evaluation_wrappers(wrappers), vectorization=config.env.vectorization,
                        max_episode_steps=config.env.max_episode_steps, env_kwargs=env_kwargs, check=config.env.check)
    share_normalization(eval_env, env)
    return env, eval_env


def _resumable_base(
    env: Any,
) -> SerialVectorEnv | AsyncVectorEnv | RayVectorEnv | MultiAgentVectorEnv | NativeVectorEnv | None:
    """The vector env under ``env``'s wrappers when it is porcini's (it can rebuild its episodes), else None.

    A native vector env (``env.vectorization: native``) saves and restores its whole state instead of a log.
    """
    while isinstance(env, gym.vector.VectorWrapper):
        env = env.env
    from porcini.envs.ray_vector import RayVectorEnv  # without Ray: it is imported when a RayVectorEnv is built

    if isinstance(env, RayVectorEnv):
        return env  # rebuilds episodes like the other two, through its actors
    return env if isinstance(env, (SerialVectorEnv, AsyncVectorEnv, MultiAgentVectorEnv, NativeVectorEnv)) else None


def resumable_base(
    env: Any,
) -> SerialVectorEnv | AsyncVectorEnv | RayVectorEnv | MultiAgentVectorEnv | NativeVectorEnv:
    """The vector env under ``env``'s wrappers, porcini's in-process or subprocess one, which can rebuild episodes.

    Raises:
        CheckpointError: the env is another vector env (e.g. Gymnasium's, ``vector_entry_point``).
    """
    base = _resumable_base(env)
    if base is None:
        raise CheckpointError(
            "rebuilding episodes on resume needs porcini's vector env; set env.vectorization: sync, async, ray or "
            "native"
        )
    return base


def stateful_wrappers(env: Any) -> list[Any]:
    """Wrappers with ``state_dict``: vector wrappers outermost first, then each env's wrappers, env by env.

    Per-env wrappers of envs stepped in subprocesses are :class:`~porcini.envs.async_vector.WorkerWrapper` proxies.
    """
    out = [w for w in vector_wrappers(env) if callable(getattr(w, "state_dict", None))]
    base = _resumable_base(env)
    if base is None:
        return out
    if isinstance(base, (MultiAgentVectorEnv, NativeVectorEnv)):  # no per-env wrappers inside
        return out
    if not isinstance(base, SerialVectorEnv):  # envs in subprocesses or Ray actors: proxies
        return out + list(base.stateful_wrappers())
    for sub in base.envs:
        while isinstance(sub, gym.Wrapper):
            if callable(getattr(sub, "state_dict", None)):
                out.append(sub)
            sub = sub.env
    return out


def wrapper_states(env: Any) -> list[dict[str, Any]]:
    """The ``state_dict`` of every stateful wrapper, in :func:`stateful_wrappers` order."""
    states = [w.state_dict() for w in stateful_wrappers(env)]
    if any(not isinstance(s, dict) for s in states):
        raise CheckpointError("a wrapper's state_dict did not return a dict")
    return states


class ResumeWarning(UserWarning):
    """A run resumed at episode boundaries instead of exactly where its checkpoint was written."""


def env_resume_state(env: Any) -> dict[str, Any] | None:
    """What a checkpoint keeps of the training env's episodes in progress: the episode log (None: not replayable)."""
    base = _resumable_base(env)
    return base.resume_state() if base is not None else None


def restore_envs(env: Any, state: dict[str, Any], seed: int) -> Any | None:
    """Put a checkpoint's envs back: wrapper states, then each env's episode in progress.

    Every episode is rebuilt by replaying its log (in the workers for envs in subprocesses); the function then
    returns None and the checkpoint's observations stand. When that is impossible (an env that draws randomness
    outside ``np_random``, or a vector env that cannot replay) it warns in one line and starts a new episode in
    every env, reset with a seed derived from ``seed`` and the checkpoint's step count, and returns their first
    observations: see :func:`at_episode_boundary` for what happens to the loop's state.

    Raises:
        CheckpointError: the checkpoint's wrappers or envs do not fit this env.
    """
    wrappers = stateful_wrappers(env)
    if len(wrappers) != len(state["wrappers"]):
        raise CheckpointError(f"the checkpoint holds {len(state['wrappers'])} wrapper states, this run's env has "
                              f"{len(wrappers)} stateful wrappers: was the wrapper list changed?")

    def restore_wrappers() -> None:
        for wrapper, wrapper_state in zip(wrappers, state["wrappers"]):
            wrapper.load_state_dict(wrapper_state)

    # wrapper state goes in before the replay (a curriculum's level decides the replayed reset) and again after it
    # (the replay's own updates, e.g. to running statistics, must not count twice)
    restore_wrappers()
    base = _resumable_base(env)
    if state["env"] is None:
        reason = "the checkpoint holds no episode log (its run's vector env, e.g. vector_entry_point, keeps none)"
    elif base is None:
        reason = "this run's vector env cannot replay episodes (env.vectorization: sync, async, ray and native can)"
    else:
        try:
            base.load_resume_state(state["env"])
            restore_wrappers()
            for wrapper in vector_wrappers(env):  # one that keeps the observations acted in (LearnedReward)
                getattr(wrapper, "resume_at", lambda obs: None)(state["core"]["obs"])
            return None
        except ReplayError as err:
            reason = str(err)
            restore_wrappers()  # undo what the failed replay did to them
    warnings.warn(f"{reason}; resuming at episode boundaries instead: every env starts a new episode", ResumeWarning,
                  stacklevel=2)
    if base is not None:
        base.record_for_resume()  # the new episodes make the next checkpoint exact again
    steps = int(state["core"]["env_steps"])
    obs, _ = env.reset(seed=int(np.random.SeedSequence([seed, steps]).generate_state(1)[0]) >> 1)
    return obs


def at_episode_boundary(core_state: dict[str, Any]) -> dict[str, Any]:
    """The loop's checkpointed state for envs that all started new episodes on resume.

    The episodes cut by the stop are dropped from the episode statistics, and the transitions gathered since the
    last fit end with the cut: their last step is marked truncated (its ``next_obs`` is the observation the
    episode stopped at, so value bootstrapping stays right).
    """
    state = dict(core_state)
    state["ep_return"] = np.zeros_like(np.asarray(state["ep_return"]))
    state["ep_length"] = np.zeros_like(np.asarray(state["ep_length"]))
    storage = state.get("storage")
    if storage is not None and int(storage["t"]) > 0:
        fields = [map_obs(lambda a: np.array(a, copy=True), f) for f in storage["fields"]]  # Dict obs: per key
        terminated, truncated = fields[4].astype(bool), fields[5].astype(bool)
        fields[5] = truncated.copy()
        fields[5][-1] = truncated[-1] | ~terminated[-1]
        state["storage"] = {**storage, "fields": fields}
    return state
