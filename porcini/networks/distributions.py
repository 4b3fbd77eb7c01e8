"""Light action distributions: the log-prob, entropy and sampling math written directly, for the hot path.

``torch.distributions`` validates its arguments (a constraint check per construction, on by default) and
builds several intermediate objects, which at batch 1–8 on a CPU costs about as much as the network itself
(benchmarks/README.md, "Acting"). These classes hold the tensors and
compute only what is asked for, lazily: a ``sample()`` from :class:`Categorical` uses the Gumbel-max trick on
the raw logits and never normalizes them. They agree with ``torch.distributions`` (tests compare them on
random inputs).

Shapes: a distribution over ``[*batch]`` states; :class:`Categorical` actions are integer ``[*batch]``,
Gaussian actions are ``[*batch, action_dim]``, :class:`MultiCategorical` actions integer ``[*batch, k]`` (one
value per component) and :class:`Bernoulli` actions ``[*batch, n]`` of 0s and 1s; ``log_prob`` and ``entropy``
return ``[*batch]`` (summed over action dimensions and components).
``sample`` accepts an optional ``torch.Generator``, so an agent can own its random stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
LOG_2 = math.log(2.0)


class Categorical:
    """A categorical distribution over ``n`` actions, from unnormalized ``logits`` ``[*batch, n]``.

    Args:
        logits: unnormalized log-probabilities; ``-inf`` masks an action out.
    """

    __slots__ = ("logits", "_log_probs")

    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits
        self._log_probs: torch.Tensor | None = None

    @property
    def log_probs(self) -> torch.Tensor:
        """Normalized log-probabilities ``[*batch, n]`` (computed once, on first use)."""
        if self._log_probs is None:
            self._log_probs = torch.log_softmax(self.logits, dim=-1)
        return self._log_probs

    @property
    def probs(self) -> torch.Tensor:
        """Probabilities ``[*batch, n]``."""
        return self.log_probs.exp()

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw actions ``[*batch]`` (int64) by the Gumbel-max trick: ``argmax(logits - log E)``, E ~ Exp(1).

        ``-log E`` is a standard Gumbel variable, and the argmax of logits plus independent Gumbel noise is
        distributed as ``softmax(logits)`` (Gumbel 1954; Maddison et al. 2014). It needs no normalization and
        no ``multinomial`` call, the costly part of sampling at small batch (benchmarks/README.md, "Acting").
        """
        logits = self.logits.detach()
        noise = torch.empty_like(logits).exponential_(generator=generator)
        return (logits - noise.log_()).argmax(dim=-1)

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        """Log-probability ``[*batch]`` of integer actions ``[*batch]``."""
        return self.log_probs.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        """Entropy ``-sum_a p(a) log p(a)`` ``[*batch]``; masked (``-inf``) actions contribute zero."""
        # Clamping keeps 0 * (-inf) = nan out of masked actions, as torch.distributions.Categorical does.
        log_probs = self.log_probs.clamp(min=torch.finfo(self.logits.dtype).min)
        return -(log_probs.exp() * log_probs).sum(dim=-1)

    def mode(self) -> torch.Tensor:
        """Return the most probable action ``[*batch]`` (the greedy action for evaluation)."""
        return self.logits.argmax(dim=-1)


class MultiCategorical:
    """Independent categoricals, one per action component (``MultiDiscrete`` actions), from padded logits.

    Components may have different sizes: ``logits`` is ``[*batch, k, max_n]`` with ``-inf`` at the values a
    component does not have (:meth:`from_flat` builds it from the ``[*batch, sum(nvec)]`` logits a linear layer
    gives). The components are independent, so the log-probability and the entropy are the sums over them.

    Args:
        logits: unnormalized log-probabilities ``[*batch, k, max_n]``; ``-inf`` masks a value out.
    """

    __slots__ = ("components",)

    def __init__(self, logits: torch.Tensor) -> None:
        self.components = Categorical(logits)

    @staticmethod
    def padding_index(nvec: Sequence[int]) -> torch.Tensor:
        """Where each padded logit comes from: ``[k * max_n]`` indices into ``[*flat, -inf]``.

        Entry ``i * max_n + j`` is the position of component ``i``'s value ``j`` in the flat ``[sum(nvec)]``
        logits, or ``sum(nvec)`` (the appended ``-inf``) where ``j >= nvec[i]``.
        """
        sizes = [int(n) for n in nvec]
        total, width = sum(sizes), max(sizes)
        index, offset = [], 0
        for size in sizes:
            index += [offset + j if j < size else total for j in range(width)]
            offset += size
        return torch.tensor(index, dtype=torch.int64)

    @classmethod
    def from_flat(cls, logits: torch.Tensor, nvec: Sequence[int],
                  index: torch.Tensor | None = None) -> MultiCategorical:
        """The distribution of flat logits ``[*batch, sum(nvec)]``: component ``i`` owns the next ``nvec[i]``.

        Args:
            logits: the flat logits, component after component.
            nvec: the number of values of each component.
            index: :meth:`padding_index` of ``nvec`` on ``logits``' device, when the caller keeps it (a head
                does, to build it once); None computes it.
        """
        sizes = [int(n) for n in nvec]
        if min(sizes) == max(sizes):  # equal sizes need no padding, a view does
            return cls(logits.unflatten(-1, (len(sizes), sizes[0])))
        if index is None:
            index = cls.padding_index(sizes).to(logits.device)
        masked = torch.full((*logits.shape[:-1], 1), -math.inf, dtype=logits.dtype, device=logits.device)
        padded = torch.cat([logits, masked], dim=-1).index_select(-1, index)
        return cls(padded.unflatten(-1, (len(sizes), max(sizes))))

    @property
    def logits(self) -> torch.Tensor:
        """The padded logits ``[*batch, k, max_n]``."""
        return self.components.logits

    @property
    def probs(self) -> torch.Tensor:
        """Probabilities ``[*batch, k, max_n]`` (0 at padded values)."""
        return self.components.probs

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw actions ``[*batch, k]`` (int64), every component independently (Gumbel-max)."""
        return self.components.sample(generator)

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        """Log-probability ``[*batch]`` of integer actions ``[*batch, k]``: the sum over components."""
        return self.components.log_prob(action).sum(dim=-1)

    def entropy(self) -> torch.Tensor:
        """Entropy ``[*batch]``: the sum of the components' entropies (they are independent)."""
        return self.components.entropy().sum(dim=-1)

    def mode(self) -> torch.Tensor:
        """The most probable action ``[*batch, k]``: each component's most probable value."""
        return self.components.mode()


class Bernoulli:
    """Independent Bernoulli variables (``MultiBinary`` actions), from logits ``[*batch, n]``.

    ``p_i = sigmoid(logits_i)`` is the probability that bit ``i`` is 1. The log-probability and the entropy are the
    sums over the bits.

    Args:
        logits: log-odds ``log(p / (1 - p))`` of each bit ``[*batch, n]``.
    """

    __slots__ = ("logits",)

    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits

    @property
    def probs(self) -> torch.Tensor:
        """The probability that each bit is 1, ``[*batch, n]``."""
        return torch.sigmoid(self.logits)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw actions ``[*batch, n]`` (int64 0/1): bit ``i`` is 1 when ``U < p_i``, ``U ~ Uniform(0, 1)``."""
        logits = self.logits.detach()
        uniform = torch.rand(logits.shape, dtype=logits.dtype, device=logits.device, generator=generator)
        return (uniform < torch.sigmoid(logits)).long()

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        """``sum_i [a_i log p_i + (1 - a_i) log(1 - p_i)]`` ``[*batch]`` for 0/1 actions ``[*batch, n]``.

        Computed as ``a l - softplus(l)`` (``l`` the logits), exact for any finite logit.
        """
        return (action.to(self.logits.dtype) * self.logits - F.softplus(self.logits)).sum(dim=-1)

    def entropy(self) -> torch.Tensor:
        """``sum_i H(p_i)`` ``[*batch]``, with ``H(p) = softplus(l) - l p`` for logit ``l``."""
        return (F.softplus(self.logits) - self.logits * torch.sigmoid(self.logits)).sum(dim=-1)

    def mode(self) -> torch.Tensor:
        """The most probable action ``[*batch, n]`` (int64): 1 where ``p_i > 1/2``."""
        return (self.logits > 0).long()


class DiagGaussian:
    """A Gaussian with diagonal covariance over actions ``[*batch, action_dim]``.

    Args:
        mean: the mean ``[*batch, action_dim]``.
        log_std: the log standard deviation, broadcastable to ``mean`` (``[action_dim]`` for the
            state-independent parameter that PPO/A2C use, or ``[*batch, action_dim]``).
    """

    __slots__ = ("mean", "log_std")

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        self.mean = mean
        self.log_std = log_std

    @property
    def std(self) -> torch.Tensor:
        """Standard deviation, broadcastable to ``mean``."""
        return self.log_std.exp()

    def rsample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reparameterized sample ``mean + std * eps`` ``[*batch, action_dim]``; gradients reach mean, std."""
        eps = torch.randn(self.mean.shape, dtype=self.mean.dtype, device=self.mean.device, generator=generator)
        return self.mean + self.log_std.exp() * eps

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw a sample without gradient, ``[*batch, action_dim]``."""
        mean = self.mean.detach()
        eps = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device, generator=generator)
        return eps.mul_(self.log_std.detach().exp()).add_(mean)

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        """``sum_i [-(a_i - mu_i)^2 / (2 sigma_i^2) - log sigma_i - log sqrt(2 pi)]``, shape ``[*batch]``."""
        z = (action - self.mean) * torch.exp(-self.log_std)
        return -(0.5 * z.square() + self.log_std).sum(dim=-1) - self.mean.shape[-1] * HALF_LOG_2PI

    def entropy(self) -> torch.Tensor:
        """``sum_i [1/2 + log sqrt(2 pi) + log sigma_i]``, shape ``[*batch]``."""
        log_std = self.log_std.expand(self.mean.shape)
        return log_std.sum(dim=-1) + self.mean.shape[-1] * (0.5 + HALF_LOG_2PI)

    def mode(self) -> torch.Tensor:
        """Return the mean (the deterministic action for evaluation)."""
        return self.mean


def tanh_log_det_jacobian(pre_tanh: torch.Tensor) -> torch.Tensor:
    """``log(1 - tanh(u)^2)`` elementwise, computed stably as ``2 (log 2 - u - softplus(-2u))``.

    The naive form ``log(1 - tanh(u)^2 + 1e-6)`` (the SAC paper's appendix C, as many implementations write
    it) saturates to ``log(1e-6)`` for ``|u| > 7`` and biases the entropy; the identity
    ``1 - tanh(u)^2 = 4 / (e^u + e^-u)^2`` gives the form above, exact and finite for every finite ``u``.
    """
    return 2.0 * (LOG_2 - pre_tanh - F.softplus(-2.0 * pre_tanh))


class TanhGaussian:
    """A diagonal Gaussian squashed by ``tanh`` into (-1, 1): the SAC policy (Haarnoja et al. 2018, app. C).

    ``a = tanh(u)``, ``u ~ N(mean, std^2)``, and ``log pi(a) = log N(u) - sum_i log(1 - tanh(u_i)^2)``.
    Rescaling to the environment's bounds is left to the agent (see
    :func:`porcini.networks.heads.scale_action`); the log-probability is that of the ``(-1, 1)`` action, as in
    SB3, which shifts the entropy by a constant and leaves every gradient unchanged.

    Args:
        mean: mean of the pre-squash Gaussian ``[*batch, action_dim]``.
        log_std: its log standard deviation, broadcastable to ``mean`` (already clamped by the head).
    """

    __slots__ = ("mean", "log_std")

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        self.mean = mean
        self.log_std = log_std

    def rsample_with_log_prob(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterized action ``[*batch, action_dim]`` and its log-probability ``[*batch]`` (SAC update).

        The log-probability is computed from the pre-squash sample, never through ``atanh(a)``, so it stays
        exact when ``tanh`` saturates to ±1 in float32.
        """
        eps = torch.randn(self.mean.shape, dtype=self.mean.dtype, device=self.mean.device, generator=generator)
        pre_tanh = self.mean + self.log_std.exp() * eps
        log_prob = -(0.5 * eps.square() + self.log_std + tanh_log_det_jacobian(pre_tanh)).sum(dim=-1)
        return torch.tanh(pre_tanh), log_prob - self.mean.shape[-1] * HALF_LOG_2PI

    def rsample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reparameterized action ``tanh(mean + std * eps)`` ``[*batch, action_dim]``."""
        eps = torch.randn(self.mean.shape, dtype=self.mean.dtype, device=self.mean.device, generator=generator)
        return torch.tanh(self.mean + self.log_std.exp() * eps)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw an action without gradient, ``[*batch, action_dim]`` in ``(-1, 1)``."""
        mean = self.mean.detach()
        eps = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device, generator=generator)
        return eps.mul_(self.log_std.detach().exp()).add_(mean).tanh_()

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        """Log-probability ``[*batch]`` of squashed actions ``[*batch, action_dim]``.

        ``u = atanh(a)`` is recovered after clamping ``a`` to ``±(1 - eps)`` (``eps`` the dtype's machine
        epsilon), so actions on the bounds (replayed or clipped ones) get a finite, very low log-probability
        instead of ``-inf``/``nan``. Where a pre-squash sample is at hand, :meth:`rsample_with_log_prob` is
        exact.
        """
        bound = 1.0 - torch.finfo(action.dtype).eps
        pre_tanh = torch.atanh(action.clamp(-bound, bound))
        z = (pre_tanh - self.mean) * torch.exp(-self.log_std)
        log_prob = -(0.5 * z.square() + self.log_std + tanh_log_det_jacobian(pre_tanh)).sum(dim=-1)
        return log_prob - self.mean.shape[-1] * HALF_LOG_2PI

    def entropy(self) -> torch.Tensor:
        """Estimate the entropy by one reparameterized sample: ``-log pi(a)``, ``a ~ pi``, shape ``[*batch]``.

        The squashed Gaussian has no closed-form entropy; SAC uses exactly this estimate in its objective.
        """
        return -self.rsample_with_log_prob()[1]

    def mode(self) -> torch.Tensor:
        """``tanh(mean)``: the deterministic action for evaluation."""
        return torch.tanh(self.mean)


#: The distributions an on-policy agent's policy head returns, by action space: ``Discrete``, ``Box``,
#: ``MultiDiscrete``, ``MultiBinary``.
PolicyDistribution = Categorical | DiagGaussian | MultiCategorical | Bernoulli
