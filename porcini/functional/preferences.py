"""Reward learning from preferences (Christiano et al. 2017, arXiv:1706.03741): the Bradley–Terry model.

A person (or a script) is shown two trajectory segments ``a`` and ``b`` and says which is better. Under the
Bradley–Terry model, with a learned reward ``r̂``, ``P(a ≻ b) = σ(R̂_a - R̂_b)`` where ``R̂`` is the sum of ``r̂`` over
a segment's steps. Steps after a segment's episode terminated are *masked*: they add nothing (the absorbing state
has reward 0), which is what makes an early end worse than going on when ``r̂ > 0``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def segment_returns(rewards: Tensor, mask: Tensor) -> Tensor:
    """Sum of ``rewards`` ``[P, L]`` over each segment's live steps (``mask`` ``[P, L]``, 1 live, 0 after the end)."""
    return (rewards * mask).sum(dim=-1)


def preference_probability(return_a: Tensor, return_b: Tensor) -> Tensor:
    """Bradley–Terry ``P(a ≻ b) = σ(R_a - R_b)`` ``[P]``."""
    return torch.sigmoid(return_a - return_b)


def preference_loss(return_a: Tensor, return_b: Tensor, preference: Tensor) -> dict[str, Tensor]:
    r"""Cross-entropy of the Bradley–Terry model against the answers.

    .. math::
        L = -\mathrm{mean}\big[\,p \log \sigma(R_a - R_b) + (1 - p) \log \sigma(R_b - R_a)\,\big]

    Args:
        return_a: ``[P]`` segment returns ``R̂_a`` of the learned reward (with gradient).
        return_b: ``[P]`` the same for ``b``.
        preference: ``[P]`` the answers ``p = P(a ≻ b)`` in ``[0, 1]``: 1 ``a`` is better, 0 ``b``, 0.5 equal.

    Returns:
        ``loss_preference`` (with gradient) and ``preference_accuracy``: the share of pairs with a clear answer
        (``p ≠ 0.5``) whose better segment has the larger ``R̂`` (no gradient; NaN when no answer is clear).
    """
    loss = F.binary_cross_entropy_with_logits(return_a - return_b, preference)
    with torch.no_grad():
        clear = preference != 0.5
        # strictly larger: a tie ranks neither segment above the other, so it gets no clear answer right
        right = torch.where(preference > 0.5, return_a > return_b, return_b > return_a) & clear
        accuracy = right.float().sum() / clear.float().sum()
    return {"loss_preference": loss, "preference_accuracy": accuracy}
