"""LoopSchedule: the pure counters that say whether to keep stepping, fit now, or end an epoch."""

from __future__ import annotations

from dataclasses import dataclass

from porcini.errors import ConfigError


@dataclass(frozen=True)
class LoopSchedule:
    """When the loop stops, fits and closes an epoch; no env, no agent, only counters.

    Exactly one of ``steps``/``episodes`` sets the length; at most one of ``fit_every_steps``/
    ``fit_every_episodes`` sets the fit cadence (neither: never fit). Steps count env transitions summed over envs
    (``Core.learn_offline`` counts gradient steps with it instead, ``fit_every_steps`` of them per ``update``).

    Attributes:
        steps: stop once this many env steps were taken in this call.
        episodes: stop once this many episodes ended in this call.
        fit_every_steps: fit after every this many env steps (rounded up to whole vector steps).
        fit_every_episodes: fit after every this many ended episodes.
        steps_per_epoch: close an epoch (callbacks: evaluate, log, checkpoint) after this many env steps.

    Example:
        >>> s = LoopSchedule(steps=100, fit_every_steps=32)
        >>> s.keep_going(steps=96, episodes=0), s.fit_due(steps_since_fit=32, episodes_since_fit=0)
        (True, True)
    """

    steps: int | None = None
    episodes: int | None = None
    fit_every_steps: int | None = None
    fit_every_episodes: int | None = None
    steps_per_epoch: int | None = None

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.episodes is None):
            raise ConfigError(f"give exactly one of steps={self.steps} or episodes={self.episodes} to learn()")
        if self.fit_every_steps is not None and self.fit_every_episodes is not None:
            raise ConfigError("give at most one of fit_every_steps and fit_every_episodes")
        for name in ("steps", "episodes", "fit_every_steps", "fit_every_episodes", "steps_per_epoch"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} = {value!r} is invalid: must be a positive int or None")

    @classmethod
    def for_agent(cls, agent: object, steps: int | None = None, episodes: int | None = None,
                  fit_every_steps: int | None = None, fit_every_episodes: int | None = None,
                  steps_per_epoch: int | None = None) -> LoopSchedule:
        """A schedule whose fit cadence, when neither is given, is the agent's ``fit_every_steps``/``_episodes``."""
        if fit_every_steps is None and fit_every_episodes is None:
            fit_every_steps = getattr(agent, "fit_every_steps", None)
            fit_every_episodes = None if fit_every_steps else getattr(agent, "fit_every_episodes", None)
        return cls(steps, episodes, fit_every_steps, fit_every_episodes, steps_per_epoch)

    def keep_going(self, steps: int, episodes: int) -> bool:
        """True while the requested steps or episodes are not yet done."""
        if self.steps is not None:
            return steps < self.steps
        assert self.episodes is not None  # __post_init__ requires exactly one of steps/episodes
        return episodes < self.episodes

    def fit_due(self, steps_since_fit: int, episodes_since_fit: int) -> bool:
        """True when enough steps or episodes have been gathered since the last fit."""
        if self.fit_every_steps is not None:
            return steps_since_fit >= self.fit_every_steps
        if self.fit_every_episodes is not None:
            return episodes_since_fit >= self.fit_every_episodes
        return False

    def epoch_due(self, steps_since_epoch: int) -> bool:
        """True when an epoch's worth of steps has been taken."""
        return self.steps_per_epoch is not None and steps_since_epoch >= self.steps_per_epoch

    @property
    def fits(self) -> bool:
        """Whether this schedule ever fits (the loop then keeps transitions)."""
        return self.fit_every_steps is not None or self.fit_every_episodes is not None

    def rows_per_fit(self, n_envs: int) -> int | None:
        """Time rows ``T`` of one fit batch under a step cadence: ``ceil(fit_every_steps / n_envs)``."""
        if self.fit_every_steps is None:
            return None
        return -(-self.fit_every_steps // n_envs)
