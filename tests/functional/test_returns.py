"""Golden tests of porcini.functional.returns: each estimator against a loop over one episode at a time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini.functional import discounted_returns, gae, lambda_returns, n_step_targets, normalize_advantage

N_DRAWS = 60


def successor_value(d: dict, b: int, k: int, last: int) -> float:
    """V of the state after step k in column b: value[k + 1] inside the piece, next_value at its last step."""
    return d["value"][k + 1, b] if k < last else d["next_value"][last, b]


def reference_n_step(d: dict, b: int, t: int, last: int, n: int) -> float:
    """Textbook n-step return from step t, window shortened to the piece ending at ``last``."""
    gamma = d["gamma"]
    m = min(n, last - t + 1)
    total = sum(gamma**k * d["reward"][t + k, b] for k in range(m))
    end = t + m - 1
    if not d["terminated"][end, b]:
        total += gamma**m * successor_value(d, b, end, last)
    return total


def reference(d: dict, split, fn) -> np.ndarray:
    """Apply ``fn(b, t, last)`` to every step, column by column, episode piece by episode piece."""
    out = np.zeros_like(d["reward"])
    for b in range(d["reward"].shape[1]):
        for first, last in split(d["terminated"][:, b], d["truncated"][:, b]):
            for t in range(first, last + 1):
                out[t, b] = fn(b, t, last)
    return out


def args(d: dict, kind, *names: str) -> list:
    return [kind(d[name]) for name in names]


def test_discounted_returns_matches_episode_loop(kind, rollouts, split):
    for seed in range(N_DRAWS):
        d = rollouts(seed)
        # G_t = sum_{k=t}^{last} gamma^(k-t) r_k + gamma^(last-t+1) V(s'_last), no bootstrap if terminated
        expected = reference(d, split, lambda b, t, last, d=d: reference_n_step(d, b, t, last, n=10**6))
        got = discounted_returns(
            *args(d, kind, "reward", "next_value", "terminated", "truncated"), d["gamma"]
        )
        np.testing.assert_allclose(kind.back(got), expected, rtol=1e-10, atol=1e-8, err_msg=f"seed {seed}")


def test_n_step_targets_match_episode_loop(kind, rollouts, split):
    for seed in range(N_DRAWS):
        d = rollouts(seed)
        expected = reference(d, split, lambda b, t, last, d=d: reference_n_step(d, b, t, last, d["n"]))
        got = n_step_targets(
            *args(d, kind, "reward", "next_value", "terminated", "truncated"), d["gamma"], d["n"]
        )
        np.testing.assert_allclose(kind.back(got), expected, rtol=1e-10, atol=1e-8, err_msg=f"seed {seed}")


def reference_lambda(d: dict, b: int, t: int, last: int) -> float:
    """Forward view: (1 - λ) Σ_{n<N} λ^(n-1) G^(n) + λ^(N-1) G^(N), N the steps left in the piece."""
    lam, n_left = d["lambda_"], last - t + 1
    weighted = sum((1 - lam) * lam ** (n - 1) * reference_n_step(d, b, t, last, n) for n in range(1, n_left))
    return weighted + lam ** (n_left - 1) * reference_n_step(d, b, t, last, n_left)


def test_lambda_returns_match_forward_view(kind, rollouts, split):
    for seed in range(N_DRAWS):
        d = rollouts(seed)
        expected = reference(d, split, lambda b, t, last, d=d: reference_lambda(d, b, t, last))
        got = lambda_returns(
            *args(d, kind, "reward", "next_value", "terminated", "truncated"), d["gamma"], d["lambda_"]
        )
        np.testing.assert_allclose(kind.back(got), expected, rtol=1e-10, atol=1e-8, err_msg=f"seed {seed}")


def reference_gae(d: dict, b: int, t: int, last: int) -> float:
    """A_t = Σ_{k=t}^{last} (γλ)^(k-t) δ_k with δ_k = r_k + γ (1 - term_k) V(s_{k+1}) - V(s_k)."""
    gamma, lam = d["gamma"], d["lambda_"]
    total = 0.0
    for k in range(t, last + 1):
        bootstrap = 0.0 if d["terminated"][k, b] else successor_value(d, b, k, last)
        delta = d["reward"][k, b] + gamma * bootstrap - d["value"][k, b]
        total += (gamma * lam) ** (k - t) * delta
    return total


def test_gae_matches_episode_loop(kind, rollouts, split):
    for seed in range(N_DRAWS):
        d = rollouts(seed)
        expected = reference(d, split, lambda b, t, last, d=d: reference_gae(d, b, t, last))
        episode_end = d["terminated"] | d["truncated"]
        advantage, returns = gae(
            *args(d, kind, "reward", "value", "next_value", "terminated"),
            kind(episode_end),
            d["gamma"],
            d["lambda_"],
        )
        np.testing.assert_allclose(
            kind.back(advantage), expected, rtol=1e-10, atol=1e-8, err_msg=f"seed {seed}"
        )
        np.testing.assert_allclose(kind.back(returns), expected + d["value"], rtol=1e-10, atol=1e-8)


def test_hand_worked_discounted_returns(kind):
    # gamma = 0.5, one env, truncated at t = 1:
    #   G_2 = 3 + 0.5 * 30 = 18        (batch end: bootstrap from next_value[2])
    #   G_1 = 2 + 0.5 * 20 = 12        (truncated: bootstrap from next_value[1], not G_2)
    #   G_0 = 1 + 0.5 * G_1 = 7
    reward, next_value = np.array([[1.0], [2.0], [3.0]]), np.array([[10.0], [20.0], [30.0]])
    cut = np.array([[False], [True], [False]])
    none = np.zeros((3, 1), bool)
    got = discounted_returns(kind(reward), kind(next_value), kind(none), kind(cut), 0.5)
    np.testing.assert_allclose(kind.back(got)[:, 0], [7.0, 12.0, 18.0])
    # terminated at t = 1 instead: G_1 = 2 (no bootstrap), G_0 = 1 + 0.5 * 2 = 2
    got = discounted_returns(kind(reward), kind(next_value), kind(cut), kind(none), 0.5)
    np.testing.assert_allclose(kind.back(got)[:, 0], [2.0, 2.0, 18.0])
    # both set at t = 1: termination wins
    got = discounted_returns(kind(reward), kind(next_value), kind(cut), kind(cut), 0.5)
    np.testing.assert_allclose(kind.back(got)[:, 0], [2.0, 2.0, 18.0])


def test_hand_worked_n_step(kind):
    # n = 2, gamma = 0.5, rewards 1, next_value [2, 4, 6, 8], terminated at t = 2:
    #   t=0: 1 + 0.5 * 1 + 0.25 * next_value[1] = 1 + 0.5 + 1 = 2.5
    #   t=1: 1 + 0.5 * 1 (step 2 terminates: no bootstrap)   = 1.5
    #   t=2: 1 (terminated)                                     = 1
    #   t=3: window cut by the batch end: 1 + 0.5 * 8          = 5
    terminated = np.array([[False], [False], [True], [False]])
    got = n_step_targets(
        kind(np.ones((4, 1))), kind(np.array([[2.0], [4.0], [6.0], [8.0]])), kind(terminated),
        kind(np.zeros((4, 1), bool)), 0.5, 2,
    )
    np.testing.assert_allclose(kind.back(got)[:, 0], [2.5, 1.5, 1.0, 5.0])


def test_hand_worked_lambda_returns(kind):
    # gamma = 1, lambda = 0.5, rewards 1, next_value [10, 20]:
    #   G_1 = 1 + 20 = 21;  G_0 = 1 + (1 - 0.5) * 10 + 0.5 * G_1 = 1 + 5 + 10.5 = 16.5
    zeros = np.zeros((2, 1))
    reward, next_value = np.ones((2, 1)), np.array([[10.0], [20.0]])
    got = lambda_returns(kind(reward), kind(next_value), kind(zeros), kind(zeros), 1.0, 0.5)
    np.testing.assert_allclose(kind.back(got)[:, 0], [16.5, 21.0])


def test_hand_worked_gae(kind):
    # gamma = lambda = 0.5, rewards 1, value [2, 4], next_value [4, 8]:
    #   delta_1 = 1 + 0.5 * 8 - 4 = 1;  delta_0 = 1 + 0.5 * 4 - 2 = 1
    #   A_1 = 1;  A_0 = 1 + 0.25 * 1 = 1.25;  returns = A + value = [3.25, 5]
    reward, value, next_value = np.ones((2, 1)), np.array([[2.0], [4.0]]), np.array([[4.0], [8.0]])
    none = np.zeros((2, 1), bool)
    adv, ret = gae(kind(reward), kind(value), kind(next_value), kind(none), kind(none), 0.5, 0.5)
    np.testing.assert_allclose(kind.back(adv)[:, 0], [1.25, 1.0])
    np.testing.assert_allclose(kind.back(ret)[:, 0], [3.25, 5.0])
    # terminated at t = 1: delta_1 = 1 - 4 = -3;  A_0 = 1 + 0.25 * (-3) = 0.25
    end = np.array([[False], [True]])
    adv, _ = gae(kind(reward), kind(value), kind(next_value), kind(end), kind(end), 0.5, 0.5)
    np.testing.assert_allclose(kind.back(adv)[:, 0], [0.25, -3.0])
    # truncated at t = 0 with next_value[0] = 6 (the final obs, not obs[1]): A_0 = delta_0 = 1 + 3 - 2 = 2
    end = np.array([[True], [False]])
    adv, _ = gae(kind(reward), kind(value), kind(np.array([[6.0], [8.0]])), kind(none), kind(end), 0.5, 0.5)
    np.testing.assert_allclose(kind.back(adv)[:, 0], [2.0, 1.0])


def test_special_cases_agree(rollouts):
    # λ = 1 and n >= T reduce to the discounted return; GAE returns with the same λ are the λ-return.
    for seed in range(20):
        d = rollouts(seed)
        base = (d["reward"], d["next_value"], d["terminated"], d["truncated"], d["gamma"])
        full = discounted_returns(*base)
        np.testing.assert_allclose(lambda_returns(*base, 1.0), full, rtol=1e-10, atol=1e-8)
        np.testing.assert_allclose(n_step_targets(*base, d["reward"].shape[0]), full, rtol=1e-10, atol=1e-8)
        _, ret = gae(d["reward"], d["value"], d["next_value"], d["terminated"],
                     d["terminated"] | d["truncated"], d["gamma"], d["lambda_"])
        np.testing.assert_allclose(ret, lambda_returns(*base, d["lambda_"]), rtol=1e-10, atol=1e-6)


def test_dtype_masks_and_empty_batch():
    reward = torch.ones(3, 2, dtype=torch.float32)
    mask = torch.zeros(3, 2, dtype=torch.bool)
    out = discounted_returns(reward, reward, mask, mask, 0.9)
    assert out.dtype == torch.float32 and out.shape == (3, 2)
    as_floats = discounted_returns(reward, reward, mask.float(), mask.float(), 0.9)
    torch.testing.assert_close(out, as_floats)
    zeros = np.zeros((3, 2))
    ints = discounted_returns(np.ones((3, 2), np.int64), np.ones((3, 2)), zeros, zeros, 0.9)
    assert ints.dtype == np.float64
    empty = np.zeros((0, 3))
    assert discounted_returns(empty, empty, empty, empty, 0.9).shape == (0, 3)
    assert n_step_targets(empty, empty, empty, empty, 0.9, 3).shape == (0, 3)
    assert gae(empty, empty, empty, empty, empty, 0.9, 0.9)[0].shape == (0, 3)


def test_torch_estimators_are_differentiable():
    reward = torch.randn(5, 3, requires_grad=True)
    zeros = torch.zeros(5, 3)
    n_step_targets(reward, zeros, zeros, zeros, 0.5, 3).sum().backward()
    # r_j is in the 3-step windows of t = j-2 .. j with weights 0.25, 0.5, 1 (fewer windows for j < 2)
    torch.testing.assert_close(reward.grad[:, 0], torch.tensor([1.0, 1.5, 1.75, 1.75, 1.75]))


def test_torch_autograd_path_matches_numpy(rollouts):
    # Tensors that require grad take the torch loop (CPU tensors without grad take a NumPy fast path).
    for seed in range(10):
        d = rollouts(seed)
        reward = torch.tensor(d["reward"], requires_grad=True)
        others = [torch.tensor(d[k]) for k in ("value", "next_value", "terminated")]
        episode_end = torch.tensor(d["terminated"] | d["truncated"])
        adv, ret = gae(reward, *others, episode_end, d["gamma"], d["lambda_"])
        expected, _ = gae(d["reward"], d["value"], d["next_value"], d["terminated"],
                          d["terminated"] | d["truncated"], d["gamma"], d["lambda_"])
        np.testing.assert_allclose(adv.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
        adv.sum().backward()
        assert reward.grad is not None and reward.grad.shape == reward.shape


def test_shape_errors_name_the_argument():
    good, bad = np.zeros((4, 2)), np.zeros((4, 3))
    with pytest.raises(ValueError, match="next_value"):
        discounted_returns(good, bad, good, good, 0.9)
    with pytest.raises(ValueError, match="truncated"):
        lambda_returns(good, good, good, bad, 0.9, 0.9)
    with pytest.raises(ValueError, match="terminated"):
        n_step_targets(good, good, bad, good, 0.9, 2)
    with pytest.raises(ValueError, match="episode_end"):
        gae(good, good, good, good, bad, 0.9, 0.9)
    with pytest.raises(ValueError, match="value"):
        gae(good, bad, good, good, good, 0.9, 0.9)
    with pytest.raises(ValueError, match=r"reward must be shaped \[T, B\].*x\[:, None\]"):
        discounted_returns(np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(4), 0.9)


def test_scalar_errors_name_the_argument():
    x = np.zeros((2, 2))
    with pytest.raises(ValueError, match="gamma = 1.5"):
        discounted_returns(x, x, x, x, 1.5)
    with pytest.raises(ValueError, match="gae_lambda"):
        gae(x, x, x, x, x, 0.9, -0.1)
    with pytest.raises(ValueError, match="n = 0"):
        n_step_targets(x, x, x, x, 0.9, 0)
    with pytest.raises(TypeError, match="next_value"):
        discounted_returns(torch.zeros(2, 2), x, torch.zeros(2, 2), torch.zeros(2, 2), 0.9)


def test_normalize_advantage(kind):
    # [1, 2, 3]: mean 2, unbiased std 1 -> [-1, 0, 1]
    got = kind.back(normalize_advantage(kind(np.array([1.0, 2.0, 3.0])), eps=0.0))
    np.testing.assert_allclose(got, [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(kind.back(normalize_advantage(kind(np.full((2, 2), 5.0)))), np.zeros((2, 2)))
    np.testing.assert_allclose(kind.back(normalize_advantage(kind(np.array([4.0])))), [0.0])


def test_estimators_import_without_torch():
    # NumPy agents use the estimators; importing them must not pay for torch (losses import it lazily).
    import subprocess
    import sys

    code = "import sys, porcini.functional; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
