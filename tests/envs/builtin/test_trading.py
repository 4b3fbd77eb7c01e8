import numpy as np
import pytest

from porcini.envs.builtin import PortfolioEnv, TradingEnv, load_price_csv, regime_switching_gbm

PRICES_CSV = """date,Open,Close
2024-01-01,99,100
2024-01-02,101,102
2024-01-03,102,101
2024-01-04,101,105
2024-01-05,105,104
2024-01-06,104,104
2024-01-07,104,110
"""


def test_trading_pnl_on_a_hand_computed_path(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(PRICES_CSV)
    env = TradingEnv(csv_path=path, price_column="close", window=2, trade_size=1.0, cost_rate=0.01)
    obs, info = env.reset(seed=0)
    # Closes 100 102 101 105 104 104 110; a window of 2 returns puts the first trade at 101 (t = 2).
    np.testing.assert_allclose(obs, [np.log(102 / 100), np.log(101 / 102), 0.0], rtol=1e-6)
    assert info["price"] == 101.0 and info["portfolio_value"] == 100.0
    # By hand, cost = 0.01 * |new - old position| * price at the trade; pnl = new position * price change:
    #   long  at 101 -> 105: cost 0.01 * 1 * 101 = 1.01, pnl +4   -> reward  2.99, value 102.99
    #   hold  at 105 -> 104: cost 0,                     pnl -1   -> reward -1.00, value 101.99
    #   short at 104 -> 104: cost 0.01 * 2 * 104 = 2.08, pnl  0   -> reward -2.08, value  99.91
    #   flat  at 104 -> 110: cost 0.01 * 1 * 104 = 1.04, pnl  0   -> reward -1.04, value  98.87, series ends
    expected = [(2.99, 102.99, 1.0), (-1.0, 101.99, 1.0), (-2.08, 99.91, -1.0), (-1.04, 98.87, 0.0)]
    long, flat, short = 2, 1, 0
    for step, (action, (reward, value, position)) in enumerate(zip([long, long, short, flat], expected)):
        obs, r, terminated, truncated, info = env.step(action)
        assert r == pytest.approx(reward)
        assert info["portfolio_value"] == pytest.approx(value)
        assert obs[-1] == position == info["position"]
        assert not terminated and truncated == (step == 3)
    np.testing.assert_allclose(obs[:2], [np.log(104 / 104), np.log(110 / 104)], atol=1e-7)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(long)


def test_default_trade_size_invests_the_initial_value():
    env = TradingEnv(prices=[100.0, 100.0, 110.0], window=1, cost_rate=0.0, initial_value=50.0)
    env.reset(seed=0)
    # Position 1 holds 50 / 100 = 0.5 units: a 10% rise earns 5.
    assert env.step(2)[1] == pytest.approx(5.0)


def test_portfolio_on_a_hand_computed_path():
    prices = np.array([[10.0, 20.0], [10.0, 20.0], [11.0, 18.0], [12.1, 18.0]])
    env = PortfolioEnv(prices=prices, window=1, cost_rate=0.01, initial_value=100.0)
    obs, info = env.reset(seed=0)
    np.testing.assert_allclose(info["weights"], [0.0, 0.0, 1.0])  # all cash
    # All in asset 0: turnover 1, cost 0.01 * 100 = 1; (100 - 1) * 11/10 = 108.9.
    obs, reward, _, truncated, info = env.step(np.array([1.0, 0.0, 0.0], dtype=np.float32))
    assert reward == pytest.approx(8.9) and info["cost"] == pytest.approx(1.0) and not truncated
    np.testing.assert_allclose(info["weights"], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(obs, [np.log(11 / 10), np.log(18 / 20), 1.0, 0.0, 0.0], rtol=1e-6)
    # Switch to asset 1: turnover |0 - 1| + |1 - 0| = 2, cost 0.01 * 108.9 * 2 = 2.178; asset 1 stays at 18.
    obs, reward, _, truncated, info = env.step(np.array([0.0, 0.7, 0.0], dtype=np.float32))
    assert reward == pytest.approx(-2.178) and info["portfolio_value"] == pytest.approx(106.722)
    assert truncated


def test_portfolio_weights_drift_and_normalize():
    np.testing.assert_allclose(PortfolioEnv.action_to_weights([0.2, 0.6, 0.2]), [0.2, 0.6, 0.2])
    np.testing.assert_allclose(PortfolioEnv.action_to_weights([0.0, 0.0]), [0.5, 0.5])
    prices = np.array([[10.0, 10.0], [10.0, 10.0], [20.0, 10.0], [20.0, 10.0]])
    env = PortfolioEnv(prices=prices, window=1, cost_rate=0.0, include_cash=False)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0.5, 0.5]))
    # Half in an asset that doubles: value 100 -> 150, weights drift to (100, 50) / 150.
    assert reward == pytest.approx(50.0)
    np.testing.assert_allclose(info["weights"], [2 / 3, 1 / 3])


def test_regime_switching_gbm_statistics():
    regimes = [(0.001, 0.01), (-0.002, 0.04)]
    prices, regime = regime_switching_gbm(100_000, np.random.default_rng(0), regimes=regimes, switch_prob=0.02)
    assert prices.shape == (100_001, 1) and regime.shape == (100_000, 1) and prices[0, 0] == 100.0
    switches = np.mean(regime[1:, 0] != regime[:-1, 0])
    assert switches == pytest.approx(0.02, abs=5 * np.sqrt(0.02 * 0.98 / len(regime)))
    log_returns = np.diff(np.log(prices[:, 0]))
    for k, (mu, sigma) in enumerate(regimes):
        r = log_returns[regime[:, 0] == k]
        assert r.std() == pytest.approx(sigma, rel=0.03)
        assert r.mean() == pytest.approx(mu - sigma**2 / 2, abs=5 * sigma / np.sqrt(len(r)))


def test_synthetic_episodes_follow_the_reset_seed():
    env = TradingEnv(episode_length=50)
    env.reset(seed=5)
    first = env.prices.copy()
    env.reset(seed=5)
    np.testing.assert_array_equal(env.prices, first)
    env.reset()
    assert not np.array_equal(env.prices, first)  # a fresh path each episode
    n_steps = 0
    env.reset(seed=5)
    while not env.step(1)[3]:
        n_steps += 1
    assert n_steps + 1 == 50


def test_csv_and_price_errors(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("date,price\n1,10\n2,-3\n")
    with pytest.raises(ValueError, match=r"no column \['close'\]"):
        TradingEnv(csv_path=path)
    with pytest.raises(ValueError, match="positive and finite; row 1"):
        load_price_csv(path, ["price"])
    with pytest.raises(ValueError, match="at least 12 prices"):
        TradingEnv(prices=np.linspace(1, 2, 5))
    with pytest.raises(ValueError, match="price_columns"):
        PortfolioEnv(csv_path=path)


def test_a_csv_saved_with_a_byte_order_mark_reads_its_first_column(tmp_path):
    # spreadsheet programs save "UTF-8 CSV" with a byte order mark, which glued itself to the first column's name
    path = tmp_path / "excel.csv"
    path.write_bytes("Close,Volume\n10,1\n11,2\n12.5,3\n".encode("utf-8-sig"))
    np.testing.assert_array_equal(load_price_csv(path, ["close"]), [[10.0], [11.0], [12.5]])
