"""The envs of a run: training and evaluation envs from an EnvConfig, and what of them a checkpoint holds."""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym

from porcini.core.errors import CheckpointError, ConfigError
from porcini.envs import SyncVectorEnv, make_env
from porcini.experiment.config import RunConfig
from porcini.experiment.seeding import eval_seed


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
    """``env.wrappers`` entries (names or ``{name: kwargs}``) as make_env wrapper arguments."""
    specs: list[Any] = []
    for entry in config.env.wrappers:
        if isinstance(entry, str):
            specs.append(resolve_wrapper(entry))
        else:
            ((name, kwargs),) = dict(entry).items()
            specs.append((resolve_wrapper(name), dict(kwargs or {})))
    return specs


def build_envs(config: RunConfig) -> tuple[Any, Any]:
    """The training env (seeded with the run seed) and the evaluation env (seeds disjoint from training).

    Stateful vector wrappers of the evaluation env (observation normalization) read the training env's
    statistics, frozen, so evaluation sees observations scaled as the agent was trained on them.
    """
    wrappers = wrapper_specs(config)
    env_kwargs = dict(getattr(config.env, "kwargs", None) or {})
    env = make_env(config.env.id, n_envs=config.env.n_envs, seed=config.seed, wrappers=wrappers,
                   vectorization=config.env.vectorization, max_episode_steps=config.env.max_episode_steps,
                   env_kwargs=env_kwargs, check=config.env.check)
    base = _sync_base(env)
    if base is not None:
        base.record_for_resume()
    n_eval = max(1, min(config.env.n_envs, config.eval_episodes))
    eval_env = env.spawn(n_eval, eval_seed(config.seed))
    for train_wrapper, eval_wrapper in zip(_vector_wrappers(env), _vector_wrappers(eval_env)):
        share = getattr(eval_wrapper, "share_statistics", None)
        if callable(share):
            share(train_wrapper)
    return env, eval_env


def _vector_wrappers(env: Any) -> list[Any]:
    out = []
    while isinstance(env, gym.vector.VectorWrapper):
        out.append(env)
        env = env.env
    return out


def _sync_base(env: Any) -> SyncVectorEnv | None:
    while isinstance(env, gym.vector.VectorWrapper):
        env = env.env
    return env if isinstance(env, SyncVectorEnv) else None


def resumable_base(env: Any) -> SyncVectorEnv:
    """The in-process vector env under ``env``'s wrappers, which can rebuild its episodes on resume.

    Raises:
        CheckpointError: the env steps in subprocesses; exact resume needs ``env.vectorization: sync``.
    """
    base = _sync_base(env)
    if base is None:
        raise CheckpointError(
            "checkpoints with exact resume need the in-process vector env; set env.vectorization: sync"
        )
    return base


def stateful_wrappers(env: Any) -> list[Any]:
    """Wrappers with ``state_dict``: vector wrappers outermost first, then each env's wrappers, env by env."""
    out = [w for w in _vector_wrappers(env) if callable(getattr(w, "state_dict", None))]
    base = _sync_base(env)
    for sub in base.envs if base is not None else []:
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
