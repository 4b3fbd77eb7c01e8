"""Curriculum: ordered levels, moving to the next when the mean return of the last k episodes meets a threshold.

:class:`CurriculumSchedule` holds the counters (pure, no env), :class:`Curriculum` applies the current level to the
env at every reset. Give several envs one schedule (``schedule=``) and they advance together on their pooled
episodes; by default each env has its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.envs.wrappers.multitask import EnvSource, TaskParams, TaskSwitchEnv, check_param_tasks
from porcini.envs.wrappers.randomization import ParamSetter


class CurriculumSchedule:
    """The level and the returns of the last ``window_episodes`` episodes played at it.

    After an episode at the current level ends, its return joins the window; once the window is full and its mean
    is ``>= thresholds[level]``, the level goes up by one and the window empties (returns of an easier level never
    count toward the next). Episodes of another level (one that began before the level changed) are ignored.

    Args:
        n_levels: number of levels.
        threshold: mean return that moves level ``i`` to ``i + 1``; a single number or one per move
            (``n_levels - 1`` values).
        window_episodes: k, the number of most recent episodes whose mean return is compared with the threshold.

    Example:
        >>> schedule = CurriculumSchedule(3, threshold=10.0, window_episodes=2)
        >>> [schedule.record(r) for r in (9.0, 12.0, 12.0)], schedule.level
        ([False, True, False], 1)
    """

    def __init__(self, n_levels: int, threshold: float | Sequence[float], window_episodes: int = 10) -> None:
        if n_levels < 1:
            raise ValueError(f"CurriculumSchedule: n_levels = {n_levels}; give at least one level")
        if window_episodes < 1:
            raise ValueError(f"CurriculumSchedule: window_episodes = {window_episodes}; must be >= 1")
        thresholds = np.asarray(threshold, dtype=np.float64)
        if thresholds.ndim == 0:
            thresholds = np.full(n_levels - 1, float(thresholds))
        if thresholds.shape != (n_levels - 1,):
            raise ValueError(
                f"CurriculumSchedule: got {thresholds.size} thresholds for {n_levels} levels; give one number or "
                f"{n_levels - 1} (one per move to the next level)"
            )
        self.n_levels = n_levels
        self.thresholds = thresholds.copy()
        self.window_episodes = window_episodes
        self.level = 0
        self.returns: deque[float] = deque(maxlen=window_episodes)

    def record(self, episode_return: float, level: int | None = None) -> bool:
        """Count an episode played at ``level`` (the current one when None); return True if the level went up."""
        if level is not None and level != self.level:
            return False
        self.returns.append(float(episode_return))
        if (
            self.level < self.n_levels - 1
            and len(self.returns) == self.window_episodes
            and float(np.mean(self.returns)) >= self.thresholds[self.level]
        ):
            self.level += 1
            self.returns.clear()
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        """Level and window (plain Python values)."""
        return {"level": self.level, "returns": list(self.returns)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        level = int(state["level"])
        if not 0 <= level < self.n_levels:
            raise ValueError(f"CurriculumSchedule: saved level {level} is outside [0, {self.n_levels})")
        self.level = level
        self.returns = deque((float(r) for r in state["returns"]), maxlen=self.window_episodes)


class Curriculum(gym.Wrapper):
    """Plays the current level of a curriculum and moves up when the recent mean return meets the threshold.

    The level of the running episode is in ``info["level"]`` at reset and at every step. The return is summed from
    the rewards this wrapper sees, so put it below any reward scaling.

    Args:
        env: the env the level parameters are set on (``env.unwrapped`` attributes, dotted paths allowed).
        levels: one dict of parameter values per level, easiest first. For env ids or factories use
            :meth:`from_envs`.
        threshold: mean return that moves level ``i`` up; one number or one per move.
        window_episodes: number of recent episodes averaged.
        schedule: share one :class:`CurriculumSchedule` between several envs so they advance together; by default
            this env has its own. Sharing needs the envs in one process: ``make_env(..., vectorization="sync")``
            (``"auto"`` may pick subprocesses, and its speed probe would step a throwaway copy).
        apply: ``apply(env, params)`` sets a level's parameters (defaults to ``set_env_params``).
        fixed_level: play this level (``-1``: the last) in every episode and never move or record returns: an
            evaluation env. ``evaluation_kwargs`` sets ``-1``, so porcini's experiment runner evaluates on the task
            the curriculum leads to, unmoved by its evaluation episodes.

    Example:
        >>> import gymnasium as gym
        >>> env = Curriculum(gym.make("CartPole-v1"), [{"length": 0.25}, {"length": 0.5}], threshold=100.0,
        ...                  window_episodes=5)
        >>> env.reset(seed=0)[1]["level"]
        0
    """

    def __init__(
        self,
        env: gym.Env,
        levels: Sequence[Mapping[str, Any]],
        threshold: float | Sequence[float],
        window_episodes: int = 10,
        *,
        schedule: CurriculumSchedule | None = None,
        apply: ParamSetter | None = None,
        fixed_level: int | None = None,
    ) -> None:
        super().__init__(env)
        param_levels = check_param_tasks(levels, "Curriculum")
        n = len(param_levels)
        if fixed_level is not None and (isinstance(fixed_level, bool) or not isinstance(fixed_level, (int, np.integer))
                                        or not -n <= fixed_level < n):
            raise ValueError(f"Curriculum: fixed_level = {fixed_level!r} is not one of the {n} levels; give an int "
                             f"in [{-n}, {n - 1}] (-1: the last)")
        if schedule is None:
            schedule = CurriculumSchedule(len(param_levels), threshold, window_episodes)
        elif schedule.n_levels != len(param_levels):
            raise ValueError(f"Curriculum: the shared schedule has {schedule.n_levels} levels, got {len(levels)}")
        self.schedule = schedule
        self.n_levels = len(param_levels)
        self.fixed_level = None if fixed_level is None else int(fixed_level) % self.n_levels
        self._params = TaskParams(env, param_levels, apply, "Curriculum")
        self.episode_level = 0
        self._episode_return = 0.0
        self._resumed_level: int | None = None  # the level of the episode a checkpoint was taken in

    @classmethod
    def from_envs(
        cls,
        envs: Sequence[EnvSource],
        threshold: float | Sequence[float],
        window_episodes: int = 10,
        *,
        schedule: CurriculumSchedule | None = None,
    ) -> Curriculum:
        """A curriculum over env ids or factories (all with the same spaces), easiest first."""
        switch = TaskSwitchEnv(envs)
        levels = [{"active": i} for i in range(len(switch.envs))]
        return cls(switch, levels, threshold, window_episodes, schedule=schedule)

    @classmethod
    def evaluation_kwargs(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """An evaluation env's arguments: these with ``fixed_level=-1`` (see ``porcini.envs.make.evaluation_wrappers``).

        Its own schedule would start at level 0 and move with the evaluation returns (and start over on resume).
        """
        return {"fixed_level": -1, **kwargs}

    @property
    def level(self) -> int:
        """The level the next episode plays: the schedule's current one, or ``fixed_level``."""
        return self.schedule.level if self.fixed_level is None else self.fixed_level

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Set the current level (after :meth:`load_state_dict`, the saved episode's), reset the env."""
        self.episode_level = self.level if self._resumed_level is None else self._resumed_level
        self._resumed_level = None
        self._episode_return = 0.0
        self._params(self.env, self.episode_level)
        obs, info = self.env.reset(seed=seed, options=options)
        info["level"] = self.episode_level
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step the env; at the end of an episode its return goes to the schedule."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._resumed_level = None
        self._episode_return += float(reward)
        if (terminated or truncated) and self.fixed_level is None:
            self.schedule.record(self._episode_return, self.episode_level)
        info["level"] = self.episode_level
        return obs, reward, terminated, truncated, info

    def state_dict(self) -> dict[str, Any]:
        """The schedule's state (level and window) and the level of the episode in progress."""
        return {**self.schedule.state_dict(), "episode_level": self.episode_level}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; a reset before the next step plays the saved episode's level.

        That reset is the resume's replay of the episode in progress, which began at that level: with a shared
        schedule, another env may have moved the level since. Later episodes play the schedule's level.
        """
        self.schedule.load_state_dict(state)
        if "episode_level" in state:  # absent from states saved before it was kept
            level = int(state["episode_level"])
            if not 0 <= level < self.n_levels:
                raise ValueError(f"Curriculum: saved episode level {level} is outside [0, {self.n_levels})")
            self._resumed_level = level
