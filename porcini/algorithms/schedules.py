"""Schedules: a value (ε, a temperature, a learning rate) as a function of the env step count.

A schedule is a callable ``schedule(step) -> float``, pure NumPy-free Python, so classical and deep agents share
them. ``step`` counts env steps summed over envs (the unit of ``Core.learn(steps=...)``).

Schedules that span the whole run (PPO's linear learning rate and clip range, DQN's ε decay and prioritized
replay's β) need the run's length, its *horizon*: an agent learns it through ``set_horizon(total_env_steps)``,
which :meth:`porcini.core.Core.learn` calls at its start (with the env steps done so far plus ``n_steps``, or the
``horizon`` it is given). No config field holds it, so it can never disagree with the run's ``steps``. An agent
that needs a horizon and was never told one raises :class:`HorizonError` (:func:`require_horizon`).

Example:
    >>> eps = LinearSchedule(1.0, 0.05, decay_steps=1000)
    >>> eps(0), eps(500), eps(5000)
    (1.0, 0.525, 0.05)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from porcini.errors import ConfigError

SCHEDULE_KINDS = ("constant", "linear", "exponential")


class Schedule(Protocol):
    """Anything that maps a step count to a value."""

    def __call__(self, step: int) -> float:
        """The value at env step ``step`` (``step >= 0``)."""
        ...


@dataclass(frozen=True)
class ConstantSchedule:
    """The same value at every step.

    Attributes:
        value: the value.
    """

    value: float

    def __call__(self, step: int) -> float:
        """Return ``value``."""
        return float(self.value)


@dataclass(frozen=True)
class _Decay:
    """A value going from ``start`` at step 0 to ``end`` at ``decay_steps``, then constant at ``end``.

    Attributes:
        start: value at step 0.
        end: value from ``decay_steps`` on.
        decay_steps: steps to go from ``start`` to ``end`` (> 0).
    """

    start: float
    end: float
    decay_steps: int

    def __post_init__(self) -> None:
        if self.decay_steps <= 0:
            raise ValueError(f"{type(self).__name__}.decay_steps = {self.decay_steps} is invalid: must be > 0")


@dataclass(frozen=True)
class LinearSchedule(_Decay):
    """Straight line from ``start`` at step 0 to ``end`` at ``decay_steps``, then constant at ``end``.

    ``value(step) = start + (end - start) * min(step / decay_steps, 1)``.
    """

    def __call__(self, step: int) -> float:
        """Return the interpolated value at ``step``."""
        if step >= self.decay_steps:
            return float(self.end)
        return float(self.start + (self.end - self.start) * max(step, 0) / self.decay_steps)


@dataclass(frozen=True)
class ExponentialSchedule(_Decay):
    """Geometric decay from ``start`` towards ``end``, reaching ``end`` exactly at ``decay_steps``.

    ``value(step) = start * (end / start) ** min(step / decay_steps, 1)``: the value is multiplied by the same
    factor every step, as ``ε ← ε · decay`` in many tabular codes, with the factor chosen so that the floor
    ``end`` is reached at ``decay_steps``. ``start`` and ``end`` must have the same sign and be non-zero.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.start * self.end <= 0:
            raise ValueError(
                f"ExponentialSchedule(start={self.start}, end={self.end}) is invalid: start and end must be "
                "non-zero with the same sign; use LinearSchedule to decay to 0"
            )

    @property
    def factor(self) -> float:
        """The per-step multiplier ``(end / start) ** (1 / decay_steps)``."""
        return (self.end / self.start) ** (1.0 / self.decay_steps)

    def __call__(self, step: int) -> float:
        """Return the decayed value at ``step``."""
        if step >= self.decay_steps:
            return float(self.end)
        return float(self.start * math.exp(max(step, 0) / self.decay_steps * math.log(self.end / self.start)))


def make_schedule(kind: str, start: float, end: float | None = None, decay_steps: int = 1) -> Schedule:
    """Build a schedule from the flat config fields agents use (``kind``, initial, final, steps).

    Args:
        kind: ``"constant"``, ``"linear"`` or ``"exponential"``.
        start: value at step 0.
        end: final value; None means constant at ``start`` whatever ``kind`` says.
        decay_steps: env steps to reach ``end``.

    Returns:
        The schedule.

    Raises:
        ValueError: unknown ``kind`` (the message lists the kinds) or invalid numbers.
    """
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"schedule kind {kind!r} is unknown; choose one of {SCHEDULE_KINDS}")
    if end is None or kind == "constant":
        return ConstantSchedule(start)
    if kind == "linear":
        return LinearSchedule(start, end, decay_steps)
    return ExponentialSchedule(start, end, decay_steps)


class HorizonError(ConfigError):
    """An agent's schedule spans the run, and the agent was never told how long the run is."""


def check_horizon(total_env_steps: int) -> int:
    """Return ``total_env_steps`` as an int after checking that it is a horizon (an int >= 1).

    Raises:
        HorizonError: not a positive integer.
    """
    if isinstance(total_env_steps, bool) or int(total_env_steps) != total_env_steps or total_env_steps < 1:
        raise HorizonError(f"horizon = {total_env_steps!r} is invalid: must be the run's env steps, an int >= 1")
    return int(total_env_steps)


def require_horizon(horizon: int | None, owner: str, needs: str) -> int:
    """Return ``horizon``, or raise the error that says who needs one and how to give it.

    Args:
        horizon: the agent's horizon, None when it was never set.
        owner: the agent, for the message (``"PPO"``).
        needs: what needs the horizon (``"learning_rate_schedule='linear'"``).

    Raises:
        HorizonError: ``horizon`` is None.
    """
    if horizon is None:
        raise HorizonError(
            f"{owner}: {needs} needs the run's length in env steps (its horizon), and none was given; train it "
            "with Core.learn(steps=...) (or Core.learn(..., horizon=N)), which sets it, or call "
            "agent.set_horizon(N) first"
        )
    return horizon
