"""The one logger interface, fan-out to several sinks, and helpers that turn raw values into metrics."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import numpy as np


class Logger:
    """A sink for one run's metrics, parameters and files.

    Metric keys are namespaced with ``/`` (``train/episode_return/mean``, ``loss/value``,
    ``eval_return_mean``); ``step`` is the run's environment step count. Call :meth:`log` once per epoch
    with all of that epoch's metrics (a second call with the same step adds to the same epoch). Subclasses
    implement :meth:`log`; the other methods default to doing nothing.

    A logger is a context manager: leaving the ``with`` block closes it.
    """

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Record scalar ``metrics`` at environment step ``step``."""
        raise NotImplementedError

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record the run's parameters (the resolved config as nested plain data)."""

    def log_artifact(self, path: str | os.PathLike[str]) -> None:
        """Attach a file (summary, plot, checkpoint) to the run, where the sink supports files."""

    def close(self) -> None:
        """Flush and release the sink; the logger is not used afterwards."""

    def __enter__(self) -> Logger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class MultiLogger(Logger):
    """Fan every call out to several loggers, in order.

    ``close`` closes every logger even when one of them raises, then re-raises the first error.

    Example:
        >>> logger = MultiLogger([ConsoleLogger(), CSVLogger("runs/x/metrics.csv")])  # doctest: +SKIP
        >>> logger.log({"eval_return_mean": 200.0}, step=10_000)  # doctest: +SKIP
    """

    def __init__(self, loggers: Iterable[Logger]) -> None:
        self.loggers = list(loggers)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Log ``metrics`` to every logger."""
        for logger in self.loggers:
            logger.log(metrics, step)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log ``params`` to every logger."""
        for logger in self.loggers:
            logger.log_params(params)

    def log_artifact(self, path: str | os.PathLike[str]) -> None:
        """Attach ``path`` in every logger that stores files."""
        for logger in self.loggers:
            logger.log_artifact(path)

    def close(self) -> None:
        """Close every logger; raise the first error afterwards, if any."""
        self._close_all(lambda logger: logger.close())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close_all(lambda logger: logger.__exit__(exc_type, exc, tb))

    def _close_all(self, close: Any) -> None:
        errors = []
        for logger in self.loggers:
            try:
                close(logger)
            except Exception as error:  # noqa: BLE001 - close the rest first, re-raise below
                errors.append(error)
        if errors:
            raise errors[0]


def summarize(prefix: str, values: Iterable[float]) -> dict[str, float]:
    """Return ``{prefix/mean, prefix/std, prefix/min, prefix/max}`` of ``values`` (SpinningUp's epoch stats).

    ``std`` is the population standard deviation. No values give an empty dict (no episode ended this epoch),
    so the key is absent rather than NaN.

    Example:
        >>> summarize("train/episode_return", [1.0, 3.0])
        {'train/episode_return/mean': 2.0, 'train/episode_return/std': 1.0, 'train/episode_return/min': 1.0, \
'train/episode_return/max': 3.0}
    """
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        return {}
    return {
        f"{prefix}/mean": float(array.mean()),
        f"{prefix}/std": float(array.std()),
        f"{prefix}/min": float(array.min()),
        f"{prefix}/max": float(array.max()),
    }


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys: ``{"env": {"n_envs": 8}}`` -> ``{"env.n_envs": 8}``.

    Lists and other values are kept as they are; an empty mapping is kept as ``{}`` under its key.
    """
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def format_number(value: float) -> str:
    """Format a metric for a table: integers whole, others with 4 significant digits (1 decimal if large)."""
    value = float(value)
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if math.isfinite(value) and 1e4 <= abs(value) < 1e9:
        return f"{value:.1f}"
    return f"{value:.4g}"
