"""KL divergence between two light distributions of the same kind (TRPO's trust region, KL diagnostics).

Written for :mod:`porcini.networks.distributions` (``torch.distributions.kl_divergence`` needs its own
distribution objects). Shapes: ``[*batch]``, summed over action dimensions for Gaussians and over components for
:class:`MultiCategorical` and :class:`Bernoulli`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from porcini.networks.distributions import Bernoulli, Categorical, DiagGaussian, MultiCategorical, PolicyDistribution


def _categorical_kl(p: Categorical, q: Categorical) -> torch.Tensor:
    p_log = p.log_probs
    finite = torch.finfo(p_log.dtype).min
    # clamping keeps 0 * (-inf) = nan out of masked actions
    diff = p_log.clamp(min=finite) - q.log_probs.clamp(min=finite)
    return (p_log.exp() * diff).sum(dim=-1)


def kl_divergence(p: PolicyDistribution, q: PolicyDistribution) -> torch.Tensor:
    r"""``KL(p || q)`` per state, ``[*batch]``.

    Categorical: :math:`\sum_a p(a) (\log p(a) - \log q(a))`; actions that ``p`` masks out (probability 0)
    contribute 0. Diagonal Gaussian, per dimension and summed:
    :math:`\log(\sigma_q / \sigma_p) + (\sigma_p^2 + (\mu_p - \mu_q)^2) / (2 \sigma_q^2) - 1/2`.
    Independent components (MultiCategorical, Bernoulli): the sum of the components' KLs; for one bit with
    probabilities :math:`p, q` of a 1, :math:`p \log(p/q) + (1 - p) \log((1 - p)/(1 - q))`.

    Args:
        p: the first distribution (in TRPO the old, detached policy).
        q: the second, of the same class and batch shape.

    Raises:
        TypeError: the two are not of the same class.
    """
    if isinstance(p, Categorical) and isinstance(q, Categorical):
        return _categorical_kl(p, q)
    if isinstance(p, MultiCategorical) and isinstance(q, MultiCategorical):
        return _categorical_kl(p.components, q.components).sum(dim=-1)
    if isinstance(p, Bernoulli) and isinstance(q, Bernoulli):
        p_one, p_zero = F.logsigmoid(p.logits), F.logsigmoid(-p.logits)
        q_one, q_zero = F.logsigmoid(q.logits), F.logsigmoid(-q.logits)
        return (p_one.exp() * (p_one - q_one) + p_zero.exp() * (p_zero - q_zero)).sum(dim=-1)
    if isinstance(p, DiagGaussian) and isinstance(q, DiagGaussian):
        p_log_std = p.log_std.expand(p.mean.shape)
        q_log_std = q.log_std.expand(q.mean.shape)
        var_ratio = torch.exp(2.0 * (p_log_std - q_log_std))
        mean_term = ((p.mean - q.mean) * torch.exp(-q_log_std)).square()
        return (q_log_std - p_log_std + 0.5 * (var_ratio + mean_term) - 0.5).sum(dim=-1)
    raise TypeError(
        "kl_divergence needs two distributions of the same class (Categorical, MultiCategorical, Bernoulli or "
        f"DiagGaussian), got {type(p).__name__} and {type(q).__name__}"
    )
