"""Multi-task / meta-RL: a task drawn per episode from a task set, its id in ``info`` and optionally in the obs.

A task set is either parameter dicts applied to one env (``MultiTask(env, [{"length": 0.5}, {"length": 1.0}])``)
or a list of env ids / factories (``MultiTask.from_envs(["CartPole-v1", make_heavy_cartpole])``), which
:class:`TaskSwitchEnv` holds and switches between. Tasks are drawn as described in
``porcini.envs.wrappers.randomization`` (from the env's ``np_random``; a seeded reset draws from a stream of its seed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.envs.wrappers.randomization import (
    STREAM_MULTITASK,
    ParamSetter,
    check_env_params,
    episode_rng,
    get_env_params,
    set_env_params,
)
from porcini.errors import EnvCheckError

EnvSource = str | Callable[[], gym.Env]


def _source_name(source: EnvSource) -> str:
    return source if isinstance(source, str) else getattr(source, "__name__", type(source).__name__)


def build_env(source: EnvSource) -> gym.Env:
    """An env from a Gymnasium id (without the passive checker: porcini checks every step) or a factory."""
    if isinstance(source, str):
        return gym.make(source, disable_env_checker=True)
    if isinstance(source, gym.Env):
        raise TypeError("got an env instance where a Gymnasium id or a factory is needed; pass lambda: <your env>")
    if not callable(source):
        raise TypeError(f"{source!r} is neither a Gymnasium id nor an env factory")
    env = source()
    if not isinstance(env, gym.Env):
        raise TypeError(f"the env factory {_source_name(source)} returned {type(env).__name__}, not a gymnasium.Env")
    return env


def check_same_spaces(envs: Sequence[gym.Env], names: Sequence[str], what: str) -> None:
    """Raise EnvCheckError naming the two envs whose observation or action spaces differ."""
    first = envs[0]
    for env, name in zip(envs[1:], names[1:]):
        if env.observation_space != first.observation_space or env.action_space != first.action_space:
            raise EnvCheckError(
                f"{what} must share spaces: {name!r} has {env.observation_space}, {env.action_space} but "
                f"{names[0]!r} has {first.observation_space}, {first.action_space}; choose envs with the same spaces "
                "or wrap them to common ones"
            )


class TaskSwitchEnv(gym.Env):
    """Holds one env per task and passes every call to the active one (set ``active`` between episodes).

    Each reset seeds the active env with a seed drawn from this env's own ``np_random``, so all randomness is a
    function of one generator (and resume-by-replay rebuilds it).

    Args:
        sources: one Gymnasium id or env factory per task; all envs must share observation and action spaces.
        names: a name per task (defaults to the ids / factory names).

    Example:
        >>> env = TaskSwitchEnv(["CartPole-v1", "CartPole-v1"])
        >>> env.active = 1
        >>> env.reset(seed=0)[0].shape
        (4,)
    """

    def __init__(self, sources: Sequence[EnvSource], names: Sequence[str] | None = None) -> None:
        if len(sources) == 0:
            raise ValueError("TaskSwitchEnv needs at least one env id or factory")
        self.names = list(names) if names is not None else [_source_name(s) for s in sources]
        if len(self.names) != len(sources):
            raise ValueError(f"got {len(self.names)} names for {len(sources)} envs; give one name per env")
        self.envs = [build_env(s) for s in sources]
        check_same_spaces(self.envs, self.names, "the envs of a task set")
        self.observation_space = self.envs[0].observation_space
        self.action_space = self.envs[0].action_space
        self.metadata = dict(self.envs[0].metadata)
        self.render_mode = self.envs[0].render_mode
        self._active = 0

    @property
    def active(self) -> int:
        """Index of the env that ``reset`` and ``step`` go to."""
        return self._active

    @active.setter
    def active(self, index: int) -> None:
        if not 0 <= int(index) < len(self.envs):
            raise IndexError(f"task index {index} is out of range for {len(self.envs)} envs ({self.names})")
        self._active = int(index)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the active env with a seed drawn from this env's generator."""
        super().reset(seed=seed)
        return self.envs[self._active].reset(seed=int(self.np_random.integers(2**31 - 1)), options=options)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step the active env."""
        return self.envs[self._active].step(action)

    def render(self) -> Any:
        """Render the active env."""
        return self.envs[self._active].render()

    def close(self) -> None:
        """Close every env."""
        for env in self.envs:
            env.close()


def check_probs(probs: Sequence[float] | None, n: int, owner: str) -> np.ndarray:
    """Validated sampling probabilities (uniform when None)."""
    if probs is None:
        return np.full(n, 1.0 / n)
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (n,):
        raise ValueError(f"{owner}: got {p.size} probabilities for {n} tasks; give one per task")
    if (p < 0).any() or not np.isfinite(p).all():
        raise ValueError(f"{owner}: probabilities {p.tolist()} must be finite and >= 0")
    if abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"{owner}: probabilities {p.tolist()} sum to {p.sum():.6g}; they must sum to 1")
    return p / p.sum()


def check_param_tasks(tasks: Sequence[Any], owner: str) -> list[dict[str, Any]]:
    """Parameter-dict tasks as plain dicts; env ids or factories are pointed to ``from_envs``."""
    if len(tasks) == 0:
        raise ValueError(f"{owner} needs at least one task")
    out = []
    for i, task in enumerate(tasks):
        if not isinstance(task, Mapping):
            raise TypeError(
                f"{owner}: task {i} is {task!r}, not a dict of env parameters; for a set of env ids or factories "
                f"use {owner}.from_envs([...])"
            )
        out.append(dict(task))
    return out


class TaskParams:
    """Applies one task's parameters, first putting back the defaults of every parameter any task sets.

    Restoring the defaults keeps a parameter set by one task from leaking into the next task, which does not set it.
    """

    def __init__(self, env: gym.Env, tasks: list[dict[str, Any]], apply: ParamSetter | None, owner: str) -> None:
        names = sorted({k for task in tasks for k in task})
        self.tasks = tasks
        self.apply = apply or set_env_params
        if apply is None:
            check_env_params(env, names, owner)
            self.defaults = get_env_params(env, names)
        else:
            self.defaults = {}

    def __call__(self, env: gym.Env, index: int) -> None:
        """Set the parameters of task ``index`` on ``env``."""
        self.apply(env, {**self.defaults, **self.tasks[index]})


class MultiTask(gym.Wrapper):
    """Draws a task per episode (at reset) and exposes its index as ``info["task_id"]`` at reset and every step.

    Args:
        env: the env the task parameters are set on (``env.unwrapped`` attributes, dotted paths allowed).
        tasks: one dict of parameter values per task. For a set of env ids or factories use :meth:`from_envs`.
        probs: sampling probability of each task (uniform when None).
        task_in_obs: append a one-hot task id to the observation (needs a 1-D ``Box`` observation space; the
            space grows by ``len(tasks)`` entries in ``[0, 1]``).
        names: a name per task, for logs (``task_names``).
        apply: ``apply(env, params)`` sets a task's parameters; defaults to ``set_env_params`` (which also
            recomputes CartPole's derived masses). With the default, parameters are restored to their initial
            values before each task's are set.

    ``reset(options={"task_id": i})`` runs task ``i`` instead of drawing one (e.g. to evaluate per task).

    Example:
        >>> import gymnasium as gym
        >>> env = MultiTask(gym.make("CartPole-v1"), [{"length": 0.25}, {"length": 1.0}], probs=[0.3, 0.7],
        ...                 task_in_obs=True)
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, info["task_id"] in (0, 1)
        ((6,), True)
    """

    def __init__(
        self,
        env: gym.Env,
        tasks: Sequence[Mapping[str, Any]],
        probs: Sequence[float] | None = None,
        *,
        task_in_obs: bool = False,
        names: Sequence[str] | None = None,
        apply: ParamSetter | None = None,
    ) -> None:
        super().__init__(env)
        param_tasks = check_param_tasks(tasks, "MultiTask")
        self.n_tasks = len(param_tasks)
        self.probs = check_probs(probs, self.n_tasks, "MultiTask")
        self.task_names = list(names) if names is not None else [f"task{i}" for i in range(self.n_tasks)]
        if len(self.task_names) != self.n_tasks:
            raise ValueError(f"MultiTask: got {len(self.task_names)} names for {self.n_tasks} tasks")
        self._params = TaskParams(env, param_tasks, apply, "MultiTask")
        self.task_in_obs = task_in_obs
        if task_in_obs:
            self.observation_space = _with_one_hot(env.observation_space, self.n_tasks)
        self.task_id = 0

    @classmethod
    def from_envs(
        cls,
        envs: Sequence[EnvSource],
        probs: Sequence[float] | None = None,
        *,
        task_in_obs: bool = False,
        names: Sequence[str] | None = None,
    ) -> MultiTask:
        """A task set of env ids or factories (all with the same spaces), one drawn per episode.

        Example:
            >>> env = MultiTask.from_envs(["CartPole-v1", "CartPole-v1"], probs=[0.5, 0.5])
            >>> env.task_names
            ['CartPole-v1', 'CartPole-v1']
        """
        switch = TaskSwitchEnv(envs, names)
        tasks = [{"active": i} for i in range(len(switch.envs))]
        return cls(switch, tasks, probs, task_in_obs=task_in_obs, names=switch.names)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Draw a task (or take ``options["task_id"]``), set it, reset the env."""
        options = dict(options) if options else {}
        forced = options.pop("task_id", None)
        if forced is None:
            self.task_id = int(episode_rng(self.env, seed, STREAM_MULTITASK).choice(self.n_tasks, p=self.probs))
        elif isinstance(forced, (int, np.integer)) and 0 <= forced < self.n_tasks:
            self.task_id = int(forced)
        else:
            raise ValueError(f"MultiTask: options['task_id'] = {forced!r} is not a task index in [0, {self.n_tasks})")
        self._params(self.env, self.task_id)
        obs, info = self.env.reset(seed=seed, options=options or None)
        info["task_id"] = self.task_id
        return self._obs(obs), info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step the env; ``info["task_id"]`` names the episode's task."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["task_id"] = self.task_id
        return self._obs(obs), reward, terminated, truncated, info

    def _obs(self, obs: Any) -> Any:
        if not self.task_in_obs:
            return obs
        one_hot = np.zeros(self.n_tasks, dtype=self.observation_space.dtype)
        one_hot[self.task_id] = 1
        return np.concatenate([np.asarray(obs, dtype=self.observation_space.dtype), one_hot])


def _with_one_hot(space: gym.Space, n_tasks: int) -> gym.spaces.Box:
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise EnvCheckError(
            f"MultiTask(task_in_obs=True) appends a one-hot task id to a 1-D Box observation, but the observation "
            f"space is {space}; flatten it first (FlattenObservation) or read the task from info['task_id']"
        )
    low = np.concatenate([space.low, np.zeros(n_tasks, dtype=space.dtype)])
    high = np.concatenate([space.high, np.ones(n_tasks, dtype=space.dtype)])
    return gym.spaces.Box(low, high, dtype=space.dtype)
