"""make_env: a Gymnasium id or the user's own env, always returned as a seeded vector env with ``.info``."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
from gymnasium.vector import AutoresetMode

from porcini.envs.async_vector import AsyncVectorEnv
from porcini.envs.checks import sample_action
from porcini.envs.goal import goal_functions
from porcini.envs.info import EnvInfo
from porcini.envs.locate import register_namespace, resolve_env
from porcini.envs.tabular_model import model_source
from porcini.envs.vector import CheckedVectorEnv, SerialVectorEnv
from porcini.envs.wrappers.episode import time_limit
from porcini.errors import ConfigError, EnvCheckError, PorciniError
from porcini.seeding import action_space_seed

Wrapper = Any  # a gymnasium.Wrapper / VectorWrapper class, a callable env -> env, or (callable, kwargs)
VECTORIZATIONS = ("auto", "sync", "async", "ray", "native", "vector_entry_point")
# Above this many seconds per step, "auto" steps envs in subprocesses: IPC then costs less than it saves.
ASYNC_STEP_SECONDS = 3e-3


def _env_name(env: Any) -> str:
    if isinstance(env, str):
        return env
    if isinstance(env, type):
        return env.__name__
    return getattr(env, "__name__", type(env).__name__)


def split_wrappers(wrappers: Sequence[Wrapper]) -> tuple[list[Callable], list[Callable]]:
    """Sort wrappers into per-env ones (applied to each env) and vector ones (applied to the vector env)."""
    per_env, vector = [], []
    for w in wrappers:
        fn, kwargs = (w[0], dict(w[1])) if isinstance(w, tuple) else (w, {})
        bound = _bound_wrapper(fn, kwargs)
        if isinstance(fn, type) and issubclass(fn, gym.vector.VectorWrapper):
            vector.append(bound)
        elif callable(fn):
            per_env.append(bound)
        else:
            raise TypeError(f"wrapper {w!r} is not a wrapper class or callable; pass a class, callable, (cls, kwargs)")
    return per_env, vector


def _bound_wrapper(fn: Callable, kwargs: dict[str, Any]) -> Callable:
    """``env -> fn(env, **kwargs)``; a ValueError there (a bad argument) becomes a ConfigError naming ``fn``'s call."""
    def wrap(env: Any) -> Any:
        try:
            return fn(env, **kwargs)
        except ValueError as err:
            if isinstance(err, PorciniError):  # porcini's own errors name their problem and fix already
                raise
            call = f"{_env_name(fn)}({', '.join(f'{key}={value!r}' for key, value in kwargs.items())})"
            raise ConfigError(f"wrapper {call} could not be built: {err}") from err

    return wrap


def evaluation_wrappers(wrappers: Sequence[Wrapper]) -> list[Wrapper]:
    """The wrappers of an evaluation env: training-only ones left out or switched to their evaluation variant.

    A wrapper class with a classmethod ``evaluation_kwargs(kwargs)`` says what an evaluation env takes instead of
    it: its keyword arguments there, or None to leave it out (``EpisodicLife``, ``SignReward``); ``NatureAtari``
    passes ``training=False``. Every other wrapper is kept as it is. porcini's experiment runner builds its
    evaluation env (and its videos) with these, so evaluation returns are in the env's own units.

    Example:
        >>> from porcini.envs.wrappers import FrameStackObservation, SignReward
        >>> evaluation_wrappers([SignReward, (FrameStackObservation, {"stack_size": 4})])
        [(<class 'porcini.envs.wrappers.frames.FrameStackObservation'>, {'stack_size': 4})]
    """
    out: list[Wrapper] = []
    for w in wrappers:
        fn, kwargs = (w[0], dict(w[1])) if isinstance(w, tuple) else (w, {})
        switch = getattr(fn, "evaluation_kwargs", None)
        if not callable(switch):
            out.append(w)
            continue
        evaluation = switch(kwargs)
        if evaluation is not None:
            out.append((fn, dict(evaluation)))
    return out


# Gymnasium's env families whose dependencies a porcini extra installs: a word of the error message -> the extra
_ENV_EXTRAS = {"box2d": "box2d", "mujoco": "mujoco", "ale": "atari", "ale_py": "atari"}


def _missing_env_extra(env_id: str, exc: Exception) -> Exception:
    """Gymnasium's DependencyNotInstalled, naming the porcini extra that installs what is missing when one does."""
    from porcini.errors import missing_extra

    message = str(exc).lower()
    for word, extra in _ENV_EXTRAS.items():
        if word in message:
            return missing_extra(f"the env {env_id}", extra, exc)
    return exc


def env_factory(env: Any, env_kwargs: dict[str, Any], max_episode_steps: int | None) -> Callable[[], gym.Env]:
    """A zero-argument factory of one env from a Gymnasium id, an ``Env`` subclass or a factory.

    A string may name a module (``"module:EnvId"``, ``"module:ClassName"``): see :mod:`porcini.envs.locate`.

    Raises:
        TypeError: ``env`` is an env instance (each of ``n_envs`` copies needs its own) or not an env at all.
        ConfigError: a ``module:Name`` string whose module or name does not exist.
    """
    if isinstance(env, str):
        env = resolve_env(env)
    if isinstance(env, str):
        env_id = env

        def make_registered() -> gym.Env:
            register_namespace(env_id)  # a worker process that did not fork has not imported ale_py & co. yet
            # porcini checks every step itself, so Gymnasium's passive checker would only repeat the work
            try:
                return gym.make(env_id, disable_env_checker=True, max_episode_steps=max_episode_steps, **env_kwargs)
            except gym.error.DependencyNotInstalled as exc:
                raise _missing_env_extra(env_id, exc) from exc

        return make_registered
    if isinstance(env, gym.Env):
        raise TypeError("make_env got an env instance; pass its class or a factory (lambda: MyEnv(...)) so that each "
                        "of the n_envs gets its own copy")
    if callable(env):

        def build() -> gym.Env:
            made = env(**env_kwargs)
            if not isinstance(made, gym.Env):
                raise TypeError(f"the env factory {_env_name(env)} returned {type(made).__name__}, not a gymnasium.Env")
            if max_episode_steps is not None:
                made = gym.wrappers.TimeLimit(made, max_episode_steps)
            return made

        return build
    raise TypeError(f"make_env takes a Gymnasium id, an Env subclass or a factory, got {env!r}")


def _choose_vectorization(factory: Callable[[], gym.Env], n_envs: int) -> str:
    """In-process for cheap envs; subprocesses when one step costs more than ``ASYNC_STEP_SECONDS``."""
    if n_envs == 1:
        return "sync"
    probe = factory()
    probe.action_space.seed(0)
    probe.reset(seed=0)
    start, n = time.perf_counter(), 10
    for _ in range(n):
        result = probe.step(sample_action(probe.action_space))
        try:
            _, _, terminated, truncated, _ = result
            ended = bool(terminated or truncated)
        except (TypeError, ValueError):  # a malformed step: the checks of the in-process vector env name it
            probe.close()
            return "sync"
        if ended:
            probe.reset()
    per_step = (time.perf_counter() - start) / n
    probe.close()
    return "async" if per_step > ASYNC_STEP_SECONDS else "sync"


def wrapped_factory(base: Callable[[], gym.Env], per_env: Sequence[Callable]) -> Callable[[], gym.Env]:
    """A factory of ``base()`` inside the per-env wrappers, applied in order."""
    def build() -> gym.Env:
        e = base()
        for w in per_env:
            e = w(e)
        return e

    return build


def _vector_env(env: Any, env_kwargs: dict[str, Any], max_episode_steps: int | None, per_env: list[Any],
                n_envs: int, vectorization: str, name: str, check: bool) -> Any:
    """``n_envs`` copies of the env, each with the per-env wrappers, vectorized as ``vectorization`` says."""
    base = env_factory(env, env_kwargs, max_episode_steps)
    factory = wrapped_factory(base, per_env)
    # the probe steps the bare env: wrappers with side effects (video, shared curricula) must not see it
    mode = _choose_vectorization(base, n_envs) if vectorization == "auto" else vectorization
    if mode == "sync":
        return SerialVectorEnv([factory] * n_envs, env_id=name, check=check)
    if mode == "async":
        return CheckedVectorEnv(AsyncVectorEnv([factory] * n_envs, env_id=name, check_dtype=check), name,
                                check=check)
    if mode == "ray":
        from porcini.envs.ray_vector import RayVectorEnv  # imports Ray only when asked for

        return RayVectorEnv([factory] * n_envs, env_id=name, check=check)
    if per_env:
        raise ConfigError(f"per-env wrappers cannot wrap the {vectorization} vector env of {name}; pass VectorWrapper "
                          "classes, or use vectorization 'sync'")
    if mode == "native":
        return _native(env, n_envs, env_kwargs, max_episode_steps, check)
    return _vector_entry_point(env, n_envs, env_kwargs, name, check)


def make_env(
    env: str | Callable[..., gym.Env],
    n_envs: int = 1,
    seed: int | None = None,
    wrappers: Sequence[Wrapper] = (),
    vectorization: str = "auto",
    *,
    check: bool = True,
    max_episode_steps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Build a vector env of ``n_envs`` copies (a single env is a vector of one), with same-step autoreset.

    Args:
        env: a Gymnasium id (``"CartPole-v1"``, ``"porcini/CliffWalking-v0"``), an ``Env`` subclass, a factory, or
            a string naming a module: ``"myenvs:MyEnv-v0"`` imports ``myenvs`` (which registers ``MyEnv-v0``) and
            makes that id, ``"myenvs:MyEnv"`` builds the Env class ``MyEnv`` of ``myenvs``.
        n_envs: number of envs stepped together.
        seed: env ``i`` is reset once here with ``env_reset_seeds(seed, n_envs)[i]`` and the action spaces are
            seeded, from streams of ``seed`` independent of an agent's (see ``porcini.seeding``), so runs repeat.
        wrappers: applied in order; ``gymnasium.Wrapper`` classes and callables wrap each env, ``VectorWrapper``
            classes wrap the vector env. ``(cls, kwargs)`` passes arguments.
        vectorization: ``"sync"`` (in-process), ``"async"`` (a subprocess per env, resumable
            :class:`~porcini.envs.async_vector.AsyncVectorEnv`), ``"ray"`` (Ray actors, ``RayVectorEnv``),
            ``"native"`` (NumPy-vectorized classic control, :mod:`porcini.envs.vectorized`: the steps of ``"sync"``,
            faster), ``"vector_entry_point"`` (the id's vector env, if it autoresets in the same step) or ``"auto"``.
        check: validate actions, observations and rewards on every step, with errors naming env, index and step.
        max_episode_steps: override the time limit (sets ``truncated``, never ``terminated``).
        env_kwargs: keyword arguments for the env constructor (e.g. ``render_mode="rgb_array"``).

    Returns:
        A ``gymnasium.vector.VectorEnv`` with ``.info`` (:class:`EnvInfo`) and ``.spawn(n_envs, seed)`` that builds
        another copy with the same arguments (e.g. an eval env).

    Example:
        >>> env = make_env("CartPole-v1", n_envs=4, seed=0)
        >>> env.info.n_envs, env.observation_space.shape
        (4, (4, 4))
    """
    if not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs = {n_envs!r} is invalid: must be a positive int")
    if vectorization not in VECTORIZATIONS:
        raise ValueError(f"vectorization = {vectorization!r} is invalid: choose one of {VECTORIZATIONS}")
    env_kwargs = dict(env_kwargs or {})
    name = _env_name(env)
    if isinstance(env, str):  # once, so that the factory, the horizon lookup and spawn see what it names
        env = resolve_env(env)
    if (kind := _pettingzoo_kind(env, env_kwargs)) is not None:
        return _pettingzoo(kind, env, n_envs, seed, wrappers, vectorization, check, max_episode_steps, env_kwargs, name)
    per_env, vector_wrappers = split_wrappers(wrappers)
    venv = _vector_env(env, env_kwargs, max_episode_steps, per_env, n_envs, vectorization, name, check)
    for w in vector_wrappers:
        venv = w(venv)
    seed_vector_env(venv, seed)
    registered = max_episode_steps is None and isinstance(env, str)
    horizon = gym.spec(env).max_episode_steps if registered else max_episode_steps  # type: ignore[arg-type]
    attach(venv, name, lambda n, s: make_env(env, n, s, wrappers, vectorization, check=check,
                                             max_episode_steps=max_episode_steps, env_kwargs=env_kwargs),
           horizon=horizon)
    return venv


def _pettingzoo_kind(env: Any, env_kwargs: dict[str, Any]) -> str | None:
    """What a PettingZoo factory builds: ``"turn_based"``, ``"parallel"`` or None; builds one env to find out.

    ``"turn_based"``: a two-player turn-based game (its seats become envs); ``"parallel"``: another PettingZoo env;
    None: anything else (ids, Env classes, factories of Gymnasium envs).
    """
    if isinstance(env, (str, type)) or not callable(env):
        return None
    from porcini.envs.multi_agent import is_multi_agent_env

    probe = env(**env_kwargs)
    try:
        if not is_multi_agent_env(probe):
            return None
        from porcini.envs.two_player import is_two_player_turn_based

        return "turn_based" if is_two_player_turn_based(probe) else "parallel"
    finally:
        probe.close()


def _pettingzoo(kind: str, env: Any, n_envs: int, seed: int | None, wrappers: Sequence[Wrapper],
                vectorization: str, check: bool, max_episode_steps: int | None, env_kwargs: dict[str, Any],
                name: str) -> Any:
    """``make_env`` for a PettingZoo factory of ``kind``: seats of a turn-based game, else a multi-agent vector env."""
    from porcini.envs.multi_agent import make_multi_agent_env

    if kind == "turn_based":
        from porcini.envs.two_player import make_seat_env

        return make_seat_env(env, n_envs, seed, name=name, wrappers=wrappers, vectorization=vectorization,
                             check=check, max_episode_steps=max_episode_steps, env_kwargs=env_kwargs)

    per_env, vector_wrappers = split_wrappers(wrappers)
    if per_env:
        raise ConfigError(f"{name} is a PettingZoo env: single-agent wrappers cannot wrap it; wrap the parallel env "
                          "in its factory (e.g. with SuperSuit) or pass VectorWrapper classes")
    if vectorization not in ("auto", "sync"):
        raise ConfigError(f"{name} is a PettingZoo env, stepped in this process: set vectorization "
                          "(env.vectorization) to auto or sync")
    if max_episode_steps is not None:
        raise ConfigError(f"{name} is a PettingZoo env: set its episode length with the env's own argument (e.g. "
                          "max_cycles in env kwargs), not max_episode_steps")
    venv: Any = make_multi_agent_env(env, n_envs, None if vector_wrappers else seed, check=check,
                                     env_id=name if ":" in name else None, env_kwargs=env_kwargs)
    if vector_wrappers:  # Core and callers see the outermost wrapper: it needs make_env's seed, info and spawn
        inner, venv = venv, functools.reduce(lambda e, w: w(e), vector_wrappers, venv)
        seed_vector_env(venv, seed)
        attach(venv, inner.info.env_id, lambda n, s: make_env(env, n, s, wrappers, vectorization, check=check,
                                                              env_kwargs=env_kwargs), horizon=inner.info.horizon)
    return venv


def seed_vector_env(venv: Any, seed: int | None) -> None:
    """Reset ``venv`` with ``seed``, seed its action spaces (see ``porcini.seeding``) and remember the seed.

    ``venv.reset_seed`` is the seed ``Core.learn`` resets with first, so training starts from these start states.
    """
    venv.reset_seed = seed
    if seed is None:
        return
    venv.reset(seed=seed)
    venv.action_space.seed(action_space_seed(seed))
    venv.single_action_space.seed(action_space_seed(seed))


def _native(env: Any, n_envs: int, env_kwargs: dict[str, Any], max_episode_steps: int | None, check: bool) -> Any:
    """The NumPy-vectorized version porcini has of a Gymnasium id (:mod:`porcini.envs.vectorized`)."""
    from porcini.envs.vectorized import make_native_env

    if not isinstance(env, str):
        raise ConfigError(f"vectorization 'native' needs a Gymnasium id, got {_env_name(env)}; use 'sync' or 'async'")
    return make_native_env(env, n_envs, check=check, max_episode_steps=max_episode_steps, env_kwargs=env_kwargs)


def _vector_entry_point(env: Any, n_envs: int, env_kwargs: dict[str, Any], name: str, check: bool) -> Any:
    """The vector env an id registers as its ``vector_entry_point``, accepted when it autoresets in the same step.

    A next-step vector env cannot be adapted: it would need to reset the envs that just ended on their own, and
    none of Gymnasium's (``CartPoleVectorEnv``, the ``phys2d`` ones) takes ``reset(options={"reset_mask": ...})``
    (they ignore the option and reset every env).
    """
    if not isinstance(env, str):
        raise ConfigError(f"vectorization 'vector_entry_point' needs a Gymnasium id, got {_env_name(env)}")
    venv = gym.make_vec(env, num_envs=n_envs, vectorization_mode="vector_entry_point", **env_kwargs)
    mode = venv.metadata.get("autoreset_mode")
    if mode != AutoresetMode.SAME_STEP:
        venv.close()
        from porcini.envs.vectorized import NATIVE_ENVS

        fix = "'native' (porcini's own, same-step)" if env in NATIVE_ENVS else "'sync' or 'async'"
        raise EnvCheckError(f"{env}'s vector entry point autoresets in mode {getattr(mode, 'name', mode)}, and "
                            f"porcini needs same-step autoreset (true final observations); use vectorization {fix}")
    return CheckedVectorEnv(venv, name, check=check)


def env_info(env: Any, env_id: str | None = None) -> EnvInfo:
    """Build the :class:`EnvInfo` of any Gymnasium vector env."""
    spec = getattr(env, "spec", None)
    horizon = getattr(spec, "max_episode_steps", None) if spec is not None else None
    gamma = env.metadata.get("gamma") if isinstance(getattr(env, "metadata", None), dict) else None
    return EnvInfo(
        env_id=env_id or (spec.id if spec is not None else type(env).__name__),
        observation_space=env.single_observation_space,
        action_space=env.single_action_space,
        n_envs=int(env.num_envs),
        gamma=float(gamma) if gamma is not None else None,
        horizon=int(horizon) if horizon is not None else None,
        goal=goal_functions(env, env_id or (spec.id if spec is not None else type(env).__name__)),
        model=model_source(env, env_id or (spec.id if spec is not None else type(env).__name__)),
        agents=tuple(getattr(env.unwrapped, "possible_agents", ()) if hasattr(env, "unwrapped") else ()),
    )


def attach(venv: Any, env_id: str, spawn: Callable[[int, int | None], Any], horizon: int | None = None) -> None:
    """Give a vector env its ``info`` and a ``spawn(n_envs, seed)`` that builds a fresh copy of it.

    The horizon counts agent steps: the time limit found on the first env's wrappers (``time_limit``: under
    ``RepeatAction(env, 4)`` CartPole-v1's 500 steps are 125), else the env's spec, else the given one.
    """
    info = env_info(venv, env_id)
    base = getattr(venv, "unwrapped", venv)  # under the vector wrappers
    inner = getattr(base, "envs", None)
    # subprocess vector envs read their first env's limit in its worker
    limit = time_limit(inner[0]) if inner else getattr(base, "time_limit", None)
    horizon = limit if limit is not None else info.horizon if info.horizon is not None else horizon
    if horizon is not None:
        info = dataclasses.replace(info, horizon=int(horizon))
    venv.info = info
    venv.spawn = spawn

