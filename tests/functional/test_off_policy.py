"""Golden tests of V-trace and Retrace: the papers' sums over one episode at a time vs the scans."""

from __future__ import annotations

import math

import numpy as np
import pytest

from porcini.functional import discounted_returns, gae, retrace, vtrace

N_DRAWS = 60


def reference_vtrace(d: dict, split, rho_bar: float, c_bar: float, pg_bar: float):
    """IMPALA eq. 1 as a double sum per step, and the §4.2 advantage, column by column, piece by piece."""
    gamma, lam = d["gamma"], d["lambda_"]
    vs, adv = np.zeros_like(d["reward"]), np.zeros_like(d["reward"])
    for b in range(d["reward"].shape[1]):
        ratio = np.exp(d["log_rho"][:, b])
        for first, last in split(d["terminated"][:, b], d["truncated"][:, b]):

            def v_next(k: int, last: int = last, b: int = b) -> float:
                if d["terminated"][k, b]:
                    return 0.0
                return d["value"][k + 1, b] if k < last else d["next_value"][last, b]

            for s in range(first, last + 1):
                total = d["value"][s, b]
                for t in range(s, last + 1):
                    traces = math.prod(lam * min(c_bar, ratio[i]) for i in range(s, t))
                    td = d["reward"][t, b] + gamma * v_next(t) - d["value"][t, b]
                    delta = min(rho_bar, ratio[t]) * td
                    total += gamma ** (t - s) * traces * delta
                vs[s, b] = total
            for s in range(first, last + 1):
                if d["terminated"][s, b]:
                    following = 0.0
                else:
                    following = vs[s + 1, b] if s < last else d["next_value"][last, b]
                adv[s, b] = min(pg_bar, ratio[s]) * (d["reward"][s, b] + gamma * following - d["value"][s, b])
    return vs, adv


@pytest.mark.parametrize("thresholds", [(1.0, 1.0, 1.0), (2.0, 0.8, math.inf)])
def test_vtrace_matches_episode_loop(kind, rollouts, split, thresholds):
    rho_bar, c_bar, pg_bar = thresholds
    for seed in range(N_DRAWS):
        d = rollouts(seed)
        exp_vs, exp_adv = reference_vtrace(d, split, rho_bar, c_bar, pg_bar)
        out = vtrace(
            *(kind(d[k]) for k in ("reward", "value", "next_value", "log_rho", "terminated", "truncated")),
            d["gamma"],
            lambda_=d["lambda_"],
            clip_rho_threshold=rho_bar,
            clip_c_threshold=c_bar,
            clip_pg_rho_threshold=pg_bar,
        )
        np.testing.assert_allclose(kind.back(out.vs), exp_vs, rtol=1e-10, atol=1e-8, err_msg=f"seed {seed}")
        np.testing.assert_allclose(
            kind.back(out.pg_advantage), exp_adv, rtol=1e-10, atol=1e-8, err_msg=f"seed {seed}"
        )


def reference_retrace(d: dict, split, c_bar: float, next_expected_q: np.ndarray) -> np.ndarray:
    """Munos et al. eq. 3: Q_ret(t) = Q(t) + Σ_u γ^(u-t) (Π_{i=t+1}^{u} c_i) δ_u, per episode piece."""
    gamma, lam, q = d["gamma"], d["lambda_"], d["value"]  # "value" plays Q(s_t, a_t) here
    out = np.zeros_like(d["reward"])
    for b in range(d["reward"].shape[1]):
        ratio = np.exp(d["log_rho"][:, b])
        for first, last in split(d["terminated"][:, b], d["truncated"][:, b]):
            for t in range(first, last + 1):
                total = q[t, b]
                for u in range(t, last + 1):
                    traces = math.prod(lam * min(c_bar, ratio[i]) for i in range(t + 1, u + 1))
                    bootstrap = 0.0 if d["terminated"][u, b] else next_expected_q[u, b]
                    delta = d["reward"][u, b] + gamma * bootstrap - q[u, b]
                    total += gamma ** (u - t) * traces * delta
                out[t, b] = total
    return out


@pytest.mark.parametrize("c_bar", [1.0, 1.5])
def test_retrace_matches_episode_loop(kind, rollouts, split, c_bar):
    for seed in range(N_DRAWS):
        d = rollouts(seed)
        next_expected_q = d["next_value"]  # E_π Q(next_obs[t]); huge (ignored) where terminated
        expected = reference_retrace(d, split, c_bar, next_expected_q)
        got = retrace(
            kind(d["reward"]), kind(d["value"]), kind(next_expected_q), kind(d["log_rho"]),
            kind(d["terminated"]), kind(d["truncated"]), d["gamma"],
            lambda_=d["lambda_"], clip_c_threshold=c_bar,
        )
        np.testing.assert_allclose(kind.back(got), expected, rtol=1e-10, atol=1e-8, err_msg=f"seed {seed}")


def test_hand_worked_vtrace(kind):
    # gamma = 1, thresholds 1, rho = [2, 0.5] -> clipped rho = c = [1, 0.5]
    # rewards 1, V = [1, 2], V' = [2, 3]
    #   delta_1 = 0.5 * (1 + 3 - 2) = 1;  delta_0 = 1 * (1 + 2 - 1) = 2
    #   v_1 = 2 + 1 = 3;  v_0 = 1 + 2 + 1 * c_0 * delta_1 = 4
    #   pg_0 = min(1, 2) * (1 + v_1 - 1) = 3
    #   pg_1 = 0.5 * (1 + 3 - 2) = 1   (v_2 is V'_1 at the batch end)
    zeros = np.zeros((2, 1))
    out = vtrace(
        kind(np.ones((2, 1))), kind(np.array([[1.0], [2.0]])), kind(np.array([[2.0], [3.0]])),
        kind(np.log(np.array([[2.0], [0.5]]))), kind(zeros), kind(zeros), 1.0,
    )
    np.testing.assert_allclose(kind.back(out.vs)[:, 0], [4.0, 3.0])
    np.testing.assert_allclose(kind.back(out.pg_advantage)[:, 0], [3.0, 1.0])


def test_hand_worked_retrace(kind):
    # gamma = lambda = 1, rewards 1, Q(s_t, a_t) = [1, 2], E_π Q(s'_t) = [3, 4], rho = [0.5, 0.25]:
    #   Q_ret_1 = 1 + 4 = 5 (batch end)
    #   Q_ret_0 = 1 + 3 + c_1 * (Q_ret_1 - Q_1) = 4 + 0.25 * 3 = 4.75   (c_0 = 0.5 is never used)
    zeros = np.zeros((2, 1))
    got = retrace(
        kind(np.ones((2, 1))), kind(np.array([[1.0], [2.0]])), kind(np.array([[3.0], [4.0]])),
        kind(np.log(np.array([[0.5], [0.25]]))), kind(zeros), kind(zeros), 1.0,
    )
    np.testing.assert_allclose(kind.back(got)[:, 0], [4.75, 5.0])
    # truncated at t = 0: no correction from step 1, Q_ret_0 = 1 + 3 = 4
    got = retrace(
        kind(np.ones((2, 1))), kind(np.array([[1.0], [2.0]])), kind(np.array([[3.0], [4.0]])),
        kind(np.log(np.array([[0.5], [0.25]]))), kind(zeros), kind(np.array([[1.0], [0.0]])), 1.0,
    )
    np.testing.assert_allclose(kind.back(got)[:, 0], [4.0, 5.0])


def test_on_policy_vtrace_is_the_lambda_return(rollouts):
    for seed in range(20):
        d = rollouts(seed)
        zero = np.zeros_like(d["reward"])
        out = vtrace(d["reward"], d["value"], d["next_value"], zero, d["terminated"], d["truncated"],
                     d["gamma"], lambda_=d["lambda_"])
        _, ret = gae(d["reward"], d["value"], d["next_value"], d["terminated"],
                     d["terminated"] | d["truncated"], d["gamma"], d["lambda_"])
        np.testing.assert_allclose(out.vs, ret, rtol=1e-10, atol=1e-6)
        out = vtrace(d["reward"], d["value"], d["next_value"], zero, d["terminated"], d["truncated"],
                     d["gamma"])
        full = discounted_returns(d["reward"], d["next_value"], d["terminated"], d["truncated"], d["gamma"])
        np.testing.assert_allclose(out.vs, full, rtol=1e-10, atol=1e-6)


def test_errors_name_the_argument():
    good, bad = np.zeros((3, 2)), np.zeros((2, 2))
    with pytest.raises(ValueError, match="log_rho"):
        vtrace(good, good, good, bad, good, good, 0.9)
    with pytest.raises(ValueError, match="next_expected_q"):
        retrace(good, good, bad, good, good, good, 0.9)
    with pytest.raises(ValueError, match="clip_rho_threshold"):
        vtrace(good, good, good, good, good, good, 0.9, clip_rho_threshold=0.0)
    with pytest.raises(ValueError, match="lambda_"):
        retrace(good, good, good, good, good, good, 0.9, lambda_=2.0)
