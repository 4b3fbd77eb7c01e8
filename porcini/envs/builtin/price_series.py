"""Price series for the trading environments: synthetic regime-switching prices, or a user's CSV file."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: (drift, volatility) per step of the log price: a calm rising market and a nervous falling one.
DEFAULT_REGIMES: tuple[tuple[float, float], ...] = ((0.0005, 0.01), (-0.0005, 0.02))


def regime_switching_gbm(
    n_steps: int,
    rng: np.random.Generator,
    *,
    n_assets: int = 1,
    regimes: Sequence[tuple[float, float]] = DEFAULT_REGIMES,
    switch_prob: float = 0.01,
    initial_price: float = 100.0,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    r"""Geometric Brownian motion whose drift and volatility switch between regimes (a hidden Markov chain).

    Each asset has its own regime chain. In regime :math:`k = (\mu_k, \sigma_k)` one step of the log price is

    .. math::  \log P_{t+1} - \log P_t = \mu_k - \sigma_k^2 / 2 + \sigma_k \varepsilon_t,
               \quad \varepsilon_t \sim \mathcal{N}(0, 1)

    so :math:`E[P_{t+1} / P_t] = e^{\mu_k}`. After each step the regime switches with probability
    ``switch_prob`` to one of the other regimes, uniformly (mean regime length ``1 / switch_prob`` steps).
    The first regime of each asset is uniform.

    Args:
        n_steps: number of steps; the series has ``n_steps + 1`` prices.
        rng: the random generator (an env passes its ``np_random``).
        n_assets: number of independent assets.
        regimes: ``(drift, volatility)`` per step for each regime.
        switch_prob: probability of leaving the current regime after a step.
        initial_price: the first price of every asset.

    Returns:
        ``(prices, regime)``: prices ``[n_steps + 1, n_assets]`` and the regime index ``[n_steps, n_assets]``
        that governed each step ``t -> t + 1``.
    """
    params = np.asarray(regimes, dtype=np.float64)
    if params.ndim != 2 or params.shape[1] != 2 or len(params) == 0 or np.any(params[:, 1] < 0):
        raise ValueError(f"regimes must be a list of (drift, volatility >= 0) pairs, got {regimes!r}")
    if not 0.0 <= switch_prob <= 1.0:
        raise ValueError(f"switch_prob is a probability in [0, 1], got {switch_prob}")
    if n_steps < 1 or n_assets < 1 or initial_price <= 0:
        raise ValueError(
            f"need n_steps >= 1, n_assets >= 1, initial_price > 0; got {n_steps}, {n_assets}, {initial_price}"
        )
    n_regimes = len(params)
    first = rng.integers(n_regimes, size=(1, n_assets))
    switch = rng.random((n_steps - 1, n_assets)) < switch_prob
    # A switch adds a shift in 1 .. n_regimes - 1 (mod n_regimes): one of the *other* regimes, uniformly.
    # Summing the shifts gives the whole chain at once: regime[t] = first + sum of shifts so far (mod n).
    shift = rng.integers(1, max(n_regimes, 2), size=(n_steps - 1, n_assets)) * switch
    regime = (first + np.concatenate([np.zeros((1, n_assets), dtype=np.int64), np.cumsum(shift, 0)])) % n_regimes
    drift, vol = params[regime, 0], params[regime, 1]
    log_returns = drift - 0.5 * vol**2 + vol * rng.standard_normal((n_steps, n_assets))
    growth = np.exp(np.concatenate([np.zeros((1, n_assets)), np.cumsum(log_returns, 0)]))
    return initial_price * growth, regime.astype(np.int64)


def load_price_csv(path: str | Path, columns: Sequence[str]) -> NDArray[np.float64]:
    """Read price columns from a CSV file with a header row (column names match case-insensitively).

    Args:
        path: the CSV file.
        columns: names of the price columns to read, e.g. ``["close"]``.

    Returns:
        Prices ``[T, len(columns)]``, checked positive and finite.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as file:  # -sig: drops the byte order mark spreadsheets write
        reader = csv.DictReader(file)
        header = reader.fieldnames or []
        by_lower = {name.strip().lower(): name for name in header}
        missing = [c for c in columns if c.lower() not in by_lower]
        if missing:
            raise ValueError(f"{path}: no column {missing} in the header {header}; pass price_column(s)=<name>")
        keys = [by_lower[c.lower()] for c in columns]
        rows = []
        for line, record in enumerate(reader, start=2):
            try:
                rows.append([float(record[key]) for key in keys])
            except (TypeError, ValueError) as error:
                raise ValueError(f"{path}, line {line}: cannot read prices {[record[k] for k in keys]}") from error
    return check_prices(np.asarray(rows, dtype=np.float64).reshape(-1, len(columns)), str(path))


def check_prices(prices: ArrayLike, name: str, min_length: int = 2) -> NDArray[np.float64]:
    """Return prices as a float ``[T, n_assets]`` array, raising if any is non-positive or non-finite.

    Args:
        prices: ``[T]`` or ``[T, n_assets]`` prices.
        name: what to call the series in error messages.
        min_length: the fewest prices allowed.

    Returns:
        The prices as ``[T, n_assets]`` float64.
    """
    array = np.asarray(prices, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or len(array) < min_length:
        raise ValueError(f"{name}: need at least {min_length} prices shaped [T] or [T, n_assets], got {array.shape}")
    bad = ~np.isfinite(array) | (array <= 0)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(f"{name}: prices must be positive and finite; row {row} is {array[row].tolist()}")
    return array
