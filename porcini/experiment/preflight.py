"""Preflight: everything a run needs, checked before its run directory exists.

:func:`validate` is the one place that turns a run config into either a run that can start or a
:class:`~porcini.errors.UserError` naming the problem and the fix: the algorithm and its hyperparameters,
the optional extras of the chosen log sinks, the env id and keyword arguments, the wrappers' names and keyword
arguments, and whether the agent can act in the env's spaces (it builds one env with its wrappers, and the agent
on it). Exceptions that are not porcini's user errors (a bug in the user's env, say) pass through unchanged, with
their traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import inspect
from typing import Any

import gymnasium as gym

from porcini.algorithms.registry import available, get_algorithm
from porcini.envs import make_env
from porcini.envs.info import EnvInfo
from porcini.errors import ConfigError, UnknownNameError, UnsupportedSpaceError, missing_extra
from porcini.experiment.config import RunConfig, make_algo_config
from porcini.experiment.envs import wrapper_specs
from porcini.experiment.expert import check_expert_config, records_demonstrations
from porcini.experiment.learned_reward import check_reward_config
from porcini.experiment.offline import check_dataset_observations, check_has_demonstrations, check_learns_from_data

# log sink -> (module it imports, porcini extra that installs it)
SINK_EXTRAS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}
# never suggested as an alternative: they accept any spaces but learn nothing about the observations
_NOT_SUGGESTED = ("random", "epsilon_greedy", "ucb", "thompson")


def validate(config: RunConfig) -> None:
    """Check that ``config`` can start a run; build nothing on disk.

    Raises:
        UserError: an unknown algorithm, a bad hyperparameter, a device torch cannot use here, a log sink whose
            extra is missing, an unknown env id, a wrapper that does not exist or gets arguments it does not take,
            or an algorithm that cannot act in the env's spaces (the message names the algorithms that can).
    """
    agent_cls = get_algorithm(config.algo_name)
    algo_config = make_algo_config(config, agent_cls.Config)
    check_expert_config(agent_cls, config)
    if config.data.dataset is not None or records_demonstrations(agent_cls, config):
        check_learns_from_data(agent_cls, config.algo_name, config.data.offline_steps)
    check_dataset_observations(config)
    check_has_demonstrations(agent_cls, config.algo_name, config.data.dataset or config.data.expert)
    check_reward_config(config)
    check_device_available(getattr(algo_config, "device", None))
    check_extras(config)
    check_env_id(config.env.id)
    check_env_kwargs(config.env.id, dict(config.env.kwargs))
    wrappers = wrapper_specs(config)
    for entry in config.env.wrappers:
        ((name, kwargs),) = dict({entry: {}} if isinstance(entry, str) else entry).items()
        check_wrapper_arguments(name, dict(kwargs or {}))
    env = make_env(config.env.id, n_envs=1, wrappers=wrappers,
                   vectorization=_preflight_vectorization(config.env.vectorization),
                   max_episode_steps=config.env.max_episode_steps, env_kwargs=dict(config.env.kwargs))
    try:
        # a multi-agent env has a row per agent of each copy: one copy's rows times the copies
        info = dataclasses.replace(env.info, n_envs=config.env.n_envs * int(env.num_envs))
    finally:
        env.close()
    try:
        agent_cls(info, algo_config)
    except UnsupportedSpaceError as err:
        others = [a for a in supporting_algorithms(info) if a != config.algo_name]
        hint = f"; algorithms that can: {', '.join(others)}" if others else ""
        raise UnsupportedSpaceError(f"{config.algo_name} cannot train on {config.env.id}: {err}{hint}") from err


def _preflight_vectorization(vectorization: str) -> str:
    """How preflight builds its one env: as configured for the modes that refuse some of what ``sync`` takes.

    ``native`` and ``vector_entry_point`` refuse ids without such a version, other env kwargs and per-env wrappers;
    every other mode builds the same env as ``sync``, in this process.
    """
    return vectorization if vectorization in ("native", "vector_entry_point") else "sync"


def check_device_available(device: str | None) -> None:
    """Raise ConfigError when torch cannot put a tensor on ``device`` here (``cuda`` on a machine without CUDA)."""
    if device is None or device == "cpu":
        return
    import torch

    try:
        torch.empty(0, device=device)
    except (AssertionError, RuntimeError) as err:  # torch asserts "not compiled with CUDA", or no such ordinal
        raise ConfigError(f"algo.device = {device!r} is not available on this machine ({err}); "
                          "pass --set device=cpu, or a device torch sees here") from err


def check_extras(config: RunConfig) -> None:
    """Raise MissingExtraError when a log sink of ``config`` needs an optional package that is not installed."""
    for sink in config.log.sinks:
        if sink in SINK_EXTRAS:
            module, extra = SINK_EXTRAS[sink]
            if importlib.util.find_spec(module) is None:
                raise missing_extra(f"log sink {sink!r}", extra, ImportError(f"no module named {module!r}"))


def check_video_extra() -> None:
    """Raise MissingExtraError when videos cannot be written (``imageio``, extra ``video``, is not installed)."""
    if importlib.util.find_spec("imageio") is None:
        raise missing_extra("videos", "video", ImportError("no module named 'imageio'"))


def check_env_id(env_id: str) -> None:
    """Raise UnknownNameError naming the closest registered ids when ``env_id`` is not registered.

    Ids of the form ``module:EnvId`` register their env on import, so they are left to ``make_env``.
    """
    import porcini.envs  # noqa: F401  (registers porcini's envs)
    from porcini.envs.locate import register_namespace

    register_namespace(env_id)  # ALE/... ids: ale_py registers them (or the error names porcini[atari])
    if ":" in env_id or env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    if close:
        hint = f"did you mean {close[0]!r}?" + (f" (or {', '.join(map(repr, close[1:]))})" if close[1:] else "")
    else:
        try:
            gym.spec(env_id)
            hint = "it is not registered."
        except gym.error.Error as err:  # Gymnasium's own hint: a missing namespace, the versions that exist
            hint = str(err) if str(err).endswith((".", "?", "!")) else f"{err}."
    raise UnknownNameError(
        f"unknown env {env_id!r}; {hint} Any registered Gymnasium id works; `porcini list envs` shows porcini's"
    )


def env_constructor(env_id: str) -> Any:
    """What ``make_env`` calls to build one copy of ``env_id``: the registered entry point, or the module's class.

    None when it cannot be known without building the env (no entry point, or one that does not import: make_env
    reports that, with its traceback).
    """
    from porcini.envs.locate import resolve_env

    target = resolve_env(env_id)  # imports the module of module:EnvId, which registers the id
    if not isinstance(target, str):
        return target
    spec = gym.registry.get(target)
    if spec is None or spec.entry_point is None:
        return None
    try:
        entry = spec.entry_point
        return gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
    except Exception:
        return None


def check_env_kwargs(env_id: str, kwargs: dict[str, Any]) -> None:
    """Raise ConfigError when the constructor of the env ``env_id`` takes none of a key of ``kwargs``.

    ``env_id`` is a registered id, ``module:EnvId`` (the module's import registers it) or ``module:ClassName``
    (the class or factory is the constructor), as ``make_env`` takes it.
    """
    constructor = env_constructor(env_id) if kwargs else None
    if constructor is None:
        return
    # gym.make itself takes render_mode (and hands it on only to envs that declare the mode)
    _check_arguments(constructor, {k: v for k, v in kwargs.items() if k != "render_mode"}, "env.kwargs", env_id)


def check_renders_frames(env_id: str) -> None:
    """Raise ConfigError when ``env_id`` cannot render the ``rgb_array`` frames a video needs.

    That is an env whose declared render modes leave ``rgb_array`` out and whose constructor takes no
    ``render_mode`` (Gymnasium would only warn about the mode, then the constructor refuses the argument).
    """
    constructor = env_constructor(env_id)
    metadata = getattr(constructor, "metadata", None)
    modes = metadata.get("render_modes") if isinstance(metadata, dict) else None
    try:
        params = inspect.signature(constructor).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: building the env will tell
        return
    takes_mode = any(p.name == "render_mode" or p.kind is p.VAR_KEYWORD for p in params)
    if modes is not None and "rgb_array" not in modes and not takes_mode:
        declared = ", ".join(map(str, modes)) or "none"
        raise ConfigError(f"--video needs rgb_array frames, but {env_id} does not render them (its render modes: "
                          f"{declared}); evaluate without --video, or give the env an rgb_array render mode")


def check_wrapper_arguments(name: str, kwargs: dict[str, Any]) -> None:
    """Raise ConfigError when the wrapper ``name`` does not take ``kwargs`` or needs more (naming the closest).

    The wrapper's first parameter is the env it wraps; the other arguments come from the config.
    """
    from porcini.experiment.envs import resolve_wrapper

    params = _check_arguments(resolve_wrapper(name), kwargs, "env.wrappers", name, skip_first=True)
    missing = [p.name for p in params if p.name not in kwargs and p.default is p.empty
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if missing:
        example = ", ".join(f"{m}: ..." for m in missing)
        raise ConfigError(f"env.wrappers: {name} needs {', '.join(missing)}; write {{{name}: {{{example}}}}}")


def _check_arguments(constructor: Any, kwargs: dict[str, Any], section: str, owner: str,
                     skip_first: bool = False) -> list[inspect.Parameter]:
    """Raise ConfigError for a key of ``kwargs`` that ``constructor`` does not take; return its parameters."""
    try:
        params = list(inspect.signature(constructor).parameters.values())[1 if skip_first else 0:]
    except (TypeError, ValueError):  # no introspectable signature: the constructor will check
        return []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return params
    listed = f"{owner}'s arguments are: {', '.join(names)}" if names else f"{owner} takes no arguments"
    for key in kwargs:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ";"
            raise ConfigError(f"{section}: {owner} has no argument {key!r}{hint} {listed}")
    return params


def supporting_algorithms(info: EnvInfo) -> list[str]:
    """The registered algorithms whose agent, with its default config, accepts the spaces of ``info``."""
    return [name for name in available() if name not in _NOT_SUGGESTED and _accepts(get_algorithm(name), info)]


def _accepts(agent_cls: Any, info: EnvInfo) -> bool:
    try:
        agent_cls(info, agent_cls.Config())
    except UnsupportedSpaceError:
        return False
    except Exception:  # a default config that needs more (a horizon, say) is no objection to the spaces
        return True
    return True
