"""KL divergence between two light distributions of the same kind (TRPO's trust region, KL diagnostics).

Written for :mod:`porcini.networks.distributions` (``torch.distributions.kl_divergence`` needs its own
distribution objects). Shapes: ``[*batch]``, summed over action dimensions for Gaussians.
"""

from __future__ import annotations

import torch

from porcini.networks.distributions import Categorical, DiagGaussian


def kl_divergence(p: Categorical | DiagGaussian, q: Categorical | DiagGaussian) -> torch.Tensor:
    r"""``KL(p || q)`` per state, ``[*batch]``.

    Categorical: :math:`\sum_a p(a) (\log p(a) - \log q(a))`; actions that ``p`` masks out (probability 0)
    contribute 0. Diagonal Gaussian, per dimension and summed:
    :math:`\log(\sigma_q / \sigma_p) + (\sigma_p^2 + (\mu_p - \mu_q)^2) / (2 \sigma_q^2) - 1/2`.

    Args:
        p: the first distribution (in TRPO the old, detached policy).
        q: the second, of the same class and batch shape.

    Raises:
        TypeError: the two are not both :class:`Categorical` or both :class:`DiagGaussian`.
    """
    if isinstance(p, Categorical) and isinstance(q, Categorical):
        p_log = p.log_probs
        finite = torch.finfo(p_log.dtype).min
        # clamping keeps 0 * (-inf) = nan out of masked actions
        diff = p_log.clamp(min=finite) - q.log_probs.clamp(min=finite)
        return (p_log.exp() * diff).sum(dim=-1)
    if isinstance(p, DiagGaussian) and isinstance(q, DiagGaussian):
        p_log_std = p.log_std.expand(p.mean.shape)
        q_log_std = q.log_std.expand(q.mean.shape)
        var_ratio = torch.exp(2.0 * (p_log_std - q_log_std))
        mean_term = ((p.mean - q.mean) * torch.exp(-q_log_std)).square()
        return (q_log_std - p_log_std + 0.5 * (var_ratio + mean_term) - 0.5).sum(dim=-1)
    raise TypeError(
        f"kl_divergence needs two Categorical or two DiagGaussian distributions, got {type(p).__name__} and "
        f"{type(q).__name__}"
    )
