"""Golden tests of the one-step TD targets: per-sample Python loops over random inputs, in [N] and [T, B]."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini.functional import (
    discrete_soft_q_target,
    discrete_soft_value,
    double_q_target,
    expected_sarsa_target,
    q_learning_target,
    sarsa_target,
    soft_q_target,
)

SHAPES = [(7,), (4, 3), (1,)]


def draw(seed: int, shape: tuple[int, ...], per_sample_gamma: bool) -> dict:
    rng = np.random.default_rng(seed)
    n_actions = int(rng.integers(1, 5))
    logits = rng.normal(size=(*shape, n_actions))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return {
        "reward": rng.normal(size=shape),
        "terminated": rng.random(shape) < 0.3,
        "next_q": rng.normal(size=(*shape, n_actions)),
        "next_q_2": rng.normal(size=(*shape, n_actions)),
        "probs": probs,
        "log_probs": np.log(probs),
        "next_action": rng.integers(0, n_actions, size=shape),
        "q1": rng.normal(size=shape),
        "q2": rng.normal(size=shape),
        "log_prob": rng.normal(size=shape),
        # per-sample discounts gamma ** k of n-step transitions with k in 1..3
        "gamma": 0.9 ** rng.integers(1, 4, size=shape).astype(float) if per_sample_gamma else 0.9,
    }


def per_sample(d: dict, bootstrap) -> np.ndarray:
    """y = r + gamma (1 - terminated) * bootstrap(index), one sample at a time."""
    out = np.zeros_like(d["reward"])
    for i in np.ndindex(d["reward"].shape):
        g = d["gamma"][i] if isinstance(d["gamma"], np.ndarray) else d["gamma"]
        out[i] = d["reward"][i] + (0.0 if d["terminated"][i] else g * bootstrap(i))
    return out


def cases():
    for shape in SHAPES:
        for per_sample_gamma in (False, True):
            for seed in range(8):
                yield draw(seed, shape, per_sample_gamma)


def test_q_learning_sarsa_double_expected(kind):
    for d in cases():
        r, term, g = kind(d["reward"]), kind(d["terminated"]), kind(d["gamma"])
        q, q2 = kind(d["next_q"]), kind(d["next_q_2"])
        got = kind.back(q_learning_target(r, q, term, g))
        np.testing.assert_allclose(got, per_sample(d, lambda i, d=d: max(d["next_q"][i])))
        got = kind.back(sarsa_target(r, q, kind(d["next_action"]), term, g))
        np.testing.assert_allclose(got, per_sample(d, lambda i, d=d: d["next_q"][i][d["next_action"][i]]))
        got = kind.back(double_q_target(r, q, q2, term, g))
        expected = per_sample(d, lambda i, d=d: d["next_q_2"][i][int(np.argmax(d["next_q"][i]))])
        np.testing.assert_allclose(got, expected)
        got = kind.back(expected_sarsa_target(r, q, kind(d["probs"]), term, g))
        expected = per_sample(d, lambda i, d=d: sum(p * v for p, v in zip(d["probs"][i], d["next_q"][i])))
        np.testing.assert_allclose(got, expected)


def test_soft_targets(kind):
    alpha = 0.3
    for d in cases():
        r, term, g = kind(d["reward"]), kind(d["terminated"]), kind(d["gamma"])
        expected = per_sample(d, lambda i, d=d: min(d["q1"][i], d["q2"][i]) - alpha * d["log_prob"][i])
        ensemble = kind(np.stack([d["q1"], d["q2"]]))
        for next_q in (ensemble, [kind(d["q1"]), kind(d["q2"])]):
            got = soft_q_target(r, next_q, kind(d["log_prob"]), term, g, alpha)
            np.testing.assert_allclose(kind.back(got), expected)
        single = per_sample(d, lambda i, d=d: d["q1"][i] - alpha * d["log_prob"][i])
        got = soft_q_target(r, kind(d["q1"]), kind(d["log_prob"]), term, g, alpha)
        np.testing.assert_allclose(kind.back(got), single)

        def soft_v(i, d=d):
            q_min = [min(a, b) for a, b in zip(d["next_q"][i], d["next_q_2"][i])]
            return sum(p * (q - alpha * lp) for p, q, lp in zip(d["probs"][i], q_min, d["log_probs"][i]))

        got = discrete_soft_q_target(
            r, kind(np.stack([d["next_q"], d["next_q_2"]])), kind(d["probs"]), kind(d["log_probs"]), term, g, alpha
        )
        np.testing.assert_allclose(kind.back(got), per_sample(d, soft_v))
        value = discrete_soft_value(kind(d["next_q"]), kind(d["probs"]), kind(d["log_probs"]), alpha)
        expected = [sum(p * (q - alpha * lp) for p, q, lp in zip(d["probs"][i], d["next_q"][i], d["log_probs"][i]))
                    for i in np.ndindex(d["reward"].shape)]
        np.testing.assert_allclose(kind.back(value).reshape(-1), expected)


def test_hand_worked_targets():
    # r = 1, gamma = 0.5, next_q = [1, 3] (online), [10, 20] (target):
    #   Q-learning: 1 + 0.5 * 3 = 2.5;  Double Q: argmax online = 1 -> 1 + 0.5 * 20 = 11
    #   expected SARSA with π = [0.25, 0.75]: 1 + 0.5 * (0.25 + 2.25) = 2.25;  terminated -> 1
    r, term = np.array([1.0, 1.0]), np.array([False, True])
    online, target = np.array([[1.0, 3.0], [1.0, 3.0]]), np.array([[10.0, 20.0], [10.0, 20.0]])
    np.testing.assert_allclose(q_learning_target(r, online, term, 0.5), [2.5, 1.0])
    np.testing.assert_allclose(double_q_target(r, online, target, term, 0.5), [11.0, 1.0])
    probs = np.array([[0.25, 0.75], [0.25, 0.75]])
    np.testing.assert_allclose(expected_sarsa_target(r, online, probs, term, 0.5), [2.25, 1.0])
    # soft: min(2, 4) - 0.5 * (-1) = 2.5 -> 1 + 0.5 * 2.5 = 2.25
    got = soft_q_target(r, np.array([[2.0, 2.0], [4.0, 4.0]]), np.array([-1.0, -1.0]), term, 0.5, 0.5)
    np.testing.assert_allclose(got, [2.25, 1.0])


def test_torch_dtype_device_and_alpha_tensor():
    r = torch.zeros(5, dtype=torch.float32)
    term = torch.zeros(5, dtype=torch.bool)
    q = torch.ones(2, 5, dtype=torch.float32)
    out = soft_q_target(r, q, torch.zeros(5), term, 0.99, torch.tensor(0.2))
    assert out.dtype == torch.float32 and out.shape == (5,)
    torch.testing.assert_close(out, torch.full((5,), 0.99))


def test_errors_name_the_argument():
    r, term = np.zeros(4), np.zeros(4, bool)
    with pytest.raises(ValueError, match="terminated"):
        q_learning_target(r, np.zeros((4, 2)), np.zeros(3, bool), 0.9)
    with pytest.raises(ValueError, match=r"next_q has shape \(4,\)"):
        q_learning_target(r, np.zeros(4), term, 0.9)
    with pytest.raises(ValueError, match="next_q_target"):
        double_q_target(r, np.zeros((4, 2)), np.zeros((4, 3)), term, 0.9)
    with pytest.raises(ValueError, match="next_probs"):
        expected_sarsa_target(r, np.zeros((4, 2)), np.zeros((4, 3)), term, 0.9)
    with pytest.raises(ValueError, match="next_action"):
        sarsa_target(r, np.zeros((4, 2)), np.zeros(5, int), term, 0.9)
    with pytest.raises(ValueError, match="gamma"):
        q_learning_target(r, np.zeros((4, 2)), term, np.zeros(3))
    with pytest.raises(ValueError, match="gamma = 2"):
        q_learning_target(r, np.zeros((4, 2)), term, 2.0)
    with pytest.raises(ValueError, match="next_q"):
        soft_q_target(r, np.zeros((2, 5)), np.zeros(4), term, 0.9, 0.1)
    with pytest.raises(ValueError, match="next_log_prob"):
        soft_q_target(r, np.zeros(4), np.zeros(3), term, 0.9, 0.1)
    with pytest.raises(TypeError, match="next_q"):
        soft_q_target(r, [torch.zeros(4)], np.zeros(4), term, 0.9, 0.1)
