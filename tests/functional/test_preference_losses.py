"""The Bradley–Terry preference loss and masked segment returns against slow, obviously-correct references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from porcini.functional import preference_loss, preference_probability, segment_returns


def reference_returns(rewards: np.ndarray, mask: np.ndarray) -> list[float]:
    """Each segment's rewards summed step by step until its first masked step (then nothing more counts)."""
    out = []
    for row_r, row_m in zip(rewards, mask):
        total = 0.0
        for r, m in zip(row_r, row_m):
            if m == 0:
                break
            total += r
        out.append(total)
    return out


def reference_loss(ra: list[float], rb: list[float], p: list[float]) -> float:
    terms = []
    for a, b, q in zip(ra, rb, p):
        chance_a = math.exp(a) / (math.exp(a) + math.exp(b))
        terms.append(-(q * math.log(chance_a) + (1 - q) * math.log(1 - chance_a)))
    return sum(terms) / len(terms)


def random_masks(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """Live up to and with a random terminating step for half the segments, all live for the others."""
    mask = np.ones((n, length))
    for row in range(n):
        if rng.random() < 0.5:
            mask[row, rng.integers(0, length) + 1:] = 0.0
    return mask


def test_segment_returns_count_only_the_steps_up_to_the_termination():
    rng = np.random.default_rng(0)
    rewards, mask = rng.normal(size=(9, 6)), random_masks(rng, 9, 6)
    out = segment_returns(torch.tensor(rewards), torch.tensor(mask))
    np.testing.assert_allclose(out.numpy(), reference_returns(rewards, mask), rtol=1e-12)


def test_preference_loss_matches_the_bradley_terry_reference_with_ties_and_soft_answers():
    rng = np.random.default_rng(1)
    ra, rb = rng.normal(0, 3, 10), rng.normal(0, 3, 10)
    answers = np.array([1, 0, 0.5, 1, 0, 0.5, 0.9, 0.1, 1, 0], dtype=float)
    out = preference_loss(torch.tensor(ra), torch.tensor(rb), torch.tensor(answers))
    assert out["loss_preference"].item() == pytest.approx(reference_loss(list(ra), list(rb), list(answers)), rel=1e-9)
    clear = answers != 0.5
    right = np.where(answers > 0.5, ra > rb, rb > ra)[clear]
    assert out["preference_accuracy"].item() == pytest.approx(right.mean())
    np.testing.assert_allclose(preference_probability(torch.tensor(ra), torch.tensor(rb)).numpy(),
                               1 / (1 + np.exp(rb - ra)), rtol=1e-12)


def test_the_loss_gradient_raises_the_preferred_segments_return():
    ra, rb = torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    preference_loss(ra, rb, torch.tensor([1.0, 0.0, 0.5]))["loss_preference"].backward()
    assert ra.grad[0] < 0 < ra.grad[1] and ra.grad[2] == 0  # descent raises a's return where a is preferred
    torch.testing.assert_close(ra.grad, -rb.grad)


def test_an_earlier_termination_loses_reward_when_rewards_are_positive():
    rewards = torch.ones(2, 5)
    mask = torch.tensor([[1.0, 1, 1, 1, 1], [1.0, 1, 0, 0, 0]])
    returns = segment_returns(rewards, mask)
    assert returns.tolist() == [5.0, 2.0]


def test_a_tie_in_learned_returns_ranks_no_clear_answer_right():
    # a reward model that cannot tell the segments apart (equal returns) has ranked neither answer right
    returns = torch.tensor([2.0, 2.0, 1.0, 3.0])
    other = torch.tensor([2.0, 2.0, 0.0, 4.0])
    answers = torch.tensor([0.0, 1.0, 1.0, 0.0])
    out = preference_loss(returns, other, answers)
    assert out["preference_accuracy"].item() == pytest.approx(0.5)  # only the last two pairs are ranked right
