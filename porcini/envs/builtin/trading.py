r"""Trading on a price series: discrete positions in one asset, or a continuous allocation over several.

Both environments trade at the current price :math:`P_t`, then the price moves to :math:`P_{t+1}`, and the
reward is the change of portfolio value over that step, transaction costs included. Prices come from a
user's series (an array, or a CSV file with a header row), the same every episode, or, by default, from a
fresh synthetic path each episode (:func:`~porcini.envs.builtin.price_series.regime_switching_gbm`, drawn
with the env's ``np_random``, so ``reset(seed=...)`` fixes it). The observation ends with the current
position or weights; it starts with the last ``window`` log returns :math:`\log(P_t / P_{t-1})`. An episode
is never terminated: it is truncated when the series ends (the market goes on, time ran out).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike, NDArray

from porcini.envs.builtin.price_series import (
    DEFAULT_REGIMES,
    check_prices,
    load_price_csv,
    regime_switching_gbm,
)


class _MarketEnv(gym.Env):
    """The price series, the episode clock and the log-return window shared by both trading envs."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        prices: ArrayLike | None,
        csv_path: str | Path | None,
        price_columns: Sequence[str],
        n_assets: int,
        window: int,
        episode_length: int,
        cost_rate: float,
        initial_value: float,
        regimes: Sequence[tuple[float, float]],
        switch_prob: float,
    ) -> None:
        name = type(self).__name__
        if window < 1 or episode_length < 1:
            raise ValueError(f"{name}: window and episode_length must be positive, got window={window}, "
                             f"episode_length={episode_length}")
        if not 0.0 <= cost_rate < 0.5:
            raise ValueError(f"{name}: cost_rate is a fraction of the traded value in [0, 0.5), got {cost_rate}")
        if initial_value <= 0:
            raise ValueError(f"{name}: initial_value must be positive, got {initial_value}")
        if prices is not None and csv_path is not None:
            raise ValueError(f"{name}: give prices or csv_path, not both")
        self._fixed_prices: NDArray[np.float64] | None = None
        if prices is not None:
            self._fixed_prices = check_prices(prices, f"{name} prices", min_length=window + 2)
        elif csv_path is not None:
            self._fixed_prices = load_price_csv(csv_path, price_columns)
        if self._fixed_prices is not None:
            if len(self._fixed_prices) < window + 2:
                raise ValueError(
                    f"{name}: a window of {window} returns needs at least {window + 2} prices, "
                    f"got {len(self._fixed_prices)}; shorten the window"
                )
            n_assets = self._fixed_prices.shape[1]
        self.n_assets, self.window, self.episode_length = int(n_assets), int(window), int(episode_length)
        self.cost_rate, self.initial_value = float(cost_rate), float(initial_value)
        self.regimes, self.switch_prob = tuple(regimes), float(switch_prob)
        self.prices: NDArray[np.float64] = np.empty((0, self.n_assets))
        self.regime: NDArray[np.int64] | None = None
        self._log_returns: NDArray[np.float64] = np.empty((0, self.n_assets))
        self._t = 0
        self.value = self.initial_value

    def _start_series(self) -> None:
        """Pick this episode's prices and put the clock at the first step that has a full window."""
        if self._fixed_prices is not None:
            self.prices, self.regime = self._fixed_prices, None
        else:
            self.prices, self.regime = regime_switching_gbm(
                self.window + self.episode_length,
                self.np_random,
                n_assets=self.n_assets,
                regimes=self.regimes,
                switch_prob=self.switch_prob,
            )
        self._log_returns = np.diff(np.log(self.prices), axis=0)
        self._t = self.window
        self.value = self.initial_value

    def _return_window(self) -> NDArray[np.float64]:
        """``[window, n_assets]`` log returns up to the current price, oldest first."""
        return self._log_returns[self._t - self.window : self._t]

    def _check_running(self) -> None:
        if self._t == 0 or self._t >= len(self.prices) - 1:
            raise RuntimeError(f"{type(self).__name__}: no episode running (the series has ended); call reset()")

    def _advance(self) -> bool:
        """Move the clock one step; True when the series has ended (truncation)."""
        self._t += 1
        return self._t == len(self.prices) - 1


class TradingEnv(_MarketEnv):
    r"""Trade one asset with discrete positions (default short / flat / long).

    Holding position :math:`p` means holding :math:`p \cdot \text{trade\_size}` units of the asset
    (negative: short). Action ``a`` sets the new position :math:`p' = \text{positions}[a]` at price
    :math:`P_t`; then

    .. math::  r_t = p' \cdot \text{size} \cdot (P_{t+1} - P_t)
               - \text{cost\_rate} \cdot |p' - p| \cdot \text{size} \cdot P_t

    which is the change of the portfolio value ``cash + units * price``. ``trade_size=None`` sizes one unit of
    position as ``initial_value / P_start``: position 1 puts the whole initial value in the asset.

    Observation: ``float32 [window + 1]``, the last ``window`` log returns then the current position.
    ``info``: ``portfolio_value``, ``position``, ``price`` (the new price), ``pnl``, ``cost``.

    Example:
        >>> env = TradingEnv(prices=[100.0, 101.0, 103.0, 102.0], window=1, trade_size=1.0, cost_rate=0.0)
        >>> _ = env.reset(seed=0)
        >>> env.step(2)[1]    # go long at 101, the price moves to 103
        2.0

    Args:
        prices: a price series ``[T]`` used every episode (instead of synthetic prices).
        csv_path: a CSV file with a header row to read the series from.
        price_column: the CSV column holding the price.
        window: number of past log returns in the observation.
        episode_length: steps per episode of a synthetic series.
        positions: the position of each action.
        cost_rate: transaction cost as a fraction of the traded value.
        initial_value: the portfolio value at the start of an episode.
        trade_size: units of the asset per unit of position (None: ``initial_value / P_start``).
        regimes: ``(drift, volatility)`` per step of each synthetic regime.
        switch_prob: probability per step of a synthetic regime switch.
    """

    def __init__(
        self,
        prices: ArrayLike | None = None,
        *,
        csv_path: str | Path | None = None,
        price_column: str = "close",
        window: int = 10,
        episode_length: int = 1000,
        positions: Sequence[float] = (-1.0, 0.0, 1.0),
        cost_rate: float = 0.001,
        initial_value: float = 100.0,
        trade_size: float | None = None,
        regimes: Sequence[tuple[float, float]] = DEFAULT_REGIMES,
        switch_prob: float = 0.01,
    ) -> None:
        super().__init__(
            prices,
            csv_path,
            [price_column],
            1,
            window,
            episode_length,
            cost_rate,
            initial_value,
            regimes,
            switch_prob,
        )
        if self.n_assets != 1:
            raise ValueError(f"TradingEnv trades one asset, got prices with {self.n_assets} columns; see PortfolioEnv")
        self.positions = np.asarray(positions, dtype=np.float64)
        if self.positions.ndim != 1 or len(self.positions) < 2 or not np.all(np.isfinite(self.positions)):
            raise ValueError(f"TradingEnv: positions must be at least two finite numbers, got {positions!r}")
        if trade_size is not None and trade_size <= 0:
            raise ValueError(f"TradingEnv: trade_size must be positive (or None), got {trade_size}")
        self._fixed_trade_size = trade_size
        self.trade_size = 1.0
        self.position = 0.0
        self.action_space = gym.spaces.Discrete(len(self.positions))
        # Log returns are unbounded in principle; the bounds say so honestly. Episodes start flat, so the position's
        # bounds include 0 even when no action is flat.
        low = np.concatenate([np.full(window, -np.inf), [min(self.positions.min(), 0.0)]]).astype(np.float32)
        high = np.concatenate([np.full(window, np.inf), [max(self.positions.max(), 0.0)]]).astype(np.float32)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict]:
        """Start flat at the first price with a full window of returns."""
        super().reset(seed=seed)
        self._start_series()
        self.position = 0.0
        price = float(self.prices[self._t, 0])
        self.trade_size = self.initial_value / price if self._fixed_trade_size is None else self._fixed_trade_size
        return self._obs(), {"portfolio_value": self.value, "position": self.position, "price": price}

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict]:
        """Set the position at the current price, move to the next price, pay costs, book the P&L."""
        if not self.action_space.contains(action):
            raise ValueError(f"TradingEnv: action {action!r} is outside {self.action_space}")
        self._check_running()
        new_position = float(self.positions[int(action)])
        price, next_price = float(self.prices[self._t, 0]), float(self.prices[self._t + 1, 0])
        cost = self.cost_rate * abs(new_position - self.position) * self.trade_size * price
        pnl = new_position * self.trade_size * (next_price - price)
        reward = pnl - cost
        self.position = new_position
        self.value += reward
        truncated = self._advance()
        info = {
            "portfolio_value": self.value,
            "position": new_position,
            "price": next_price,
            "pnl": pnl,
            "cost": cost,
        }
        return self._obs(), reward, False, truncated, info

    def _obs(self) -> NDArray[np.float32]:
        return np.append(self._return_window()[:, 0], self.position).astype(np.float32)


class PortfolioEnv(_MarketEnv):
    r"""Allocate the portfolio over ``n_assets`` risky assets (and optionally cash) at every step.

    Action: ``Box(0, 1, (n,))`` with ``n = n_assets (+ 1 for cash, last)``. The target weights are the action
    normalized onto the simplex, :math:`w' = a / \sum_i a_i` (uniform when the sum is below 1e-8): long
    only, fully invested. The weights before trading, :math:`w`, are last step's weights after the prices
    moved. With value :math:`V_t` and price relatives :math:`y_i = P_{t+1,i} / P_{t,i}` (1 for cash):

    .. math::  c_t = \text{cost\_rate} \cdot V_t \sum_{i \in \text{risky}} |w'_i - w_i|, \qquad
               V_{t+1} = (V_t - c_t)\, w' \cdot y, \qquad r_t = V_{t+1} - V_t

    (cost on the traded value of the risky assets, as in Jiang, Xu & Liang, 2017, with the cost charged
    before the move). An episode starts all in cash, or equally weighted without cash.

    Observation: ``float32 [window * n_assets + n]``, the last ``window`` log returns (row-major
    ``[window, n_assets]``, oldest first) then the current weights. ``info``: ``portfolio_value``,
    ``weights``, ``cost``.

    Args:
        prices: ``[T, n_assets]`` prices used every episode (instead of synthetic prices).
        csv_path: a CSV file with a header row to read the series from.
        price_columns: the CSV columns holding the prices (required with ``csv_path``).
        n_assets: number of assets of a synthetic series.
        window: number of past log returns per asset in the observation.
        episode_length: steps per episode of a synthetic series.
        cost_rate: transaction cost as a fraction of the traded value.
        initial_value: the portfolio value at the start of an episode.
        include_cash: add a riskless cash asset (constant price) as the last weight.
        regimes: ``(drift, volatility)`` per step of each synthetic regime.
        switch_prob: probability per step of a synthetic regime switch.
    """

    def __init__(
        self,
        prices: ArrayLike | None = None,
        *,
        csv_path: str | Path | None = None,
        price_columns: Sequence[str] | None = None,
        n_assets: int = 3,
        window: int = 10,
        episode_length: int = 1000,
        cost_rate: float = 0.001,
        initial_value: float = 100.0,
        include_cash: bool = True,
        regimes: Sequence[tuple[float, float]] = DEFAULT_REGIMES,
        switch_prob: float = 0.01,
    ) -> None:
        if csv_path is not None and not price_columns:
            raise ValueError("PortfolioEnv: reading a CSV needs price_columns=[...] naming one column per asset")
        super().__init__(
            prices,
            csv_path,
            list(price_columns or []),
            n_assets,
            window,
            episode_length,
            cost_rate,
            initial_value,
            regimes,
            switch_prob,
        )
        self.include_cash = bool(include_cash)
        n_weights = self.n_assets + int(self.include_cash)
        self.weights = self._initial_weights()
        self.action_space = gym.spaces.Box(0.0, 1.0, (n_weights,), dtype=np.float32)
        low = np.concatenate([np.full(window * self.n_assets, -np.inf), np.zeros(n_weights)]).astype(np.float32)
        high = np.concatenate([np.full(window * self.n_assets, np.inf), np.ones(n_weights)]).astype(np.float32)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)

    def _initial_weights(self) -> NDArray[np.float64]:
        if self.include_cash:
            return np.eye(self.n_assets + 1)[-1]
        return np.full(self.n_assets, 1.0 / self.n_assets)

    @staticmethod
    def action_to_weights(action: ArrayLike) -> NDArray[np.float64]:
        """Normalize an action in ``[0, 1]^n`` onto the simplex: ``a / sum(a)``, uniform if the sum is ~0."""
        a = np.clip(np.asarray(action, dtype=np.float64), 0.0, None)
        total = a.sum()
        return a / total if total > 1e-8 else np.full(a.shape, 1.0 / a.size)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict]:
        """Start at the first price with a full window of returns, all in cash (or equally weighted)."""
        super().reset(seed=seed)
        self._start_series()
        self.weights = self._initial_weights()
        return self._obs(), {"portfolio_value": self.value, "weights": self.weights.copy()}

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict]:
        """Rebalance to the action's weights, pay costs, let the prices move."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.action_space.shape or not np.all(np.isfinite(action)):
            raise ValueError(
                f"PortfolioEnv: action must be finite with shape {self.action_space.shape}, got {action!r}"
            )
        self._check_running()
        target = self.action_to_weights(action)
        n = self.n_assets
        relatives = self.prices[self._t + 1] / self.prices[self._t]
        if self.include_cash:
            relatives = np.append(relatives, 1.0)
        cost = self.cost_rate * self.value * float(np.abs(target[:n] - self.weights[:n]).sum())
        growth = float(target @ relatives)
        new_value = (self.value - cost) * growth
        reward = new_value - self.value
        self.value = new_value
        self.weights = target * relatives / growth  # the weights drift with the prices
        truncated = self._advance()
        info = {"portfolio_value": self.value, "weights": self.weights.copy(), "cost": cost}
        return self._obs(), reward, False, truncated, info

    def _obs(self) -> NDArray[np.float32]:
        return np.concatenate([self._return_window().ravel(), self.weights]).astype(np.float32)
