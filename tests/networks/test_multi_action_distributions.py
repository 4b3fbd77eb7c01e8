"""MultiCategorical and Bernoulli (MultiDiscrete and MultiBinary actions) against torch.distributions per component."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import distributions as td

from porcini.errors import UnsupportedSpaceError
from porcini.networks import Bernoulli, BernoulliHead, MultiCategorical, MultiCategoricalHead
from porcini.networks.actor_critic import ActorCritic
from porcini.networks.kl import kl_divergence

NVEC = (3, 5, 2)  # components of different sizes: padded logits
BATCH = (4, 6)  # [T, B]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def reference_components(flat_logits, nvec):
    """One torch Categorical per component, cut from the flat logits by an explicit loop."""
    out, start = [], 0
    for n in nvec:
        out.append(td.Categorical(logits=flat_logits[..., start:start + n]))
        start += n
    return out


def random_multi_action(nvec, batch):
    return torch.stack([torch.randint(0, n, batch) for n in nvec], dim=-1)


@pytest.mark.parametrize("nvec", [NVEC, (4, 4)])
def test_multi_categorical_matches_one_torch_categorical_per_component(nvec):
    flat = torch.randn(*BATCH, sum(nvec)) * 3
    ours, ref = MultiCategorical.from_flat(flat, nvec), reference_components(flat, nvec)
    action = random_multi_action(nvec, BATCH)
    expected_log_prob = sum(r.log_prob(action[..., i]) for i, r in enumerate(ref))
    torch.testing.assert_close(ours.log_prob(action), expected_log_prob)
    torch.testing.assert_close(ours.entropy(), sum(r.entropy() for r in ref))
    mode = torch.stack([r.probs.argmax(-1) for r in ref], dim=-1)
    assert torch.equal(ours.mode(), mode)
    for i, (n, r) in enumerate(zip(nvec, ref)):
        torch.testing.assert_close(ours.probs[..., i, :n], r.probs)
        assert (ours.probs[..., i, n:] == 0).all()
    sample = ours.sample()
    assert sample.shape == (*BATCH, len(nvec)) and sample.dtype == torch.int64
    assert all(((sample[..., i] >= 0) & (sample[..., i] < n)).all() for i, n in enumerate(nvec))


def test_multi_categorical_sampling_frequencies_per_component():
    probs = [torch.tensor([0.1, 0.2, 0.7]), torch.tensor([0.6, 0.4])]
    flat = torch.cat([p.log() for p in probs]).expand(100_000, 5)
    sample = MultiCategorical.from_flat(flat, (3, 2)).sample(torch.Generator().manual_seed(1))
    for i, p in enumerate(probs):
        counts = torch.bincount(sample[:, i], minlength=len(p)).double() / 100_000
        # standard error at most sqrt(0.25 / 1e5) = 0.0016; allow 5 of them
        torch.testing.assert_close(counts, p.double(), atol=0.008, rtol=0)
    # the components are drawn independently: the joint frequency is the product of the marginals
    joint = ((sample[:, 0] == 2) & (sample[:, 1] == 0)).double().mean()
    assert abs(float(joint) - 0.7 * 0.6) < 0.01


def test_bernoulli_matches_independent_torch_bernoullis():
    logits = torch.randn(*BATCH, 5) * 3
    ours = Bernoulli(logits)
    ref = [td.Bernoulli(logits=logits[..., i]) for i in range(5)]  # one per bit
    action = torch.randint(0, 2, (*BATCH, 5))
    expected = sum(r.log_prob(action[..., i].float()) for i, r in enumerate(ref))
    torch.testing.assert_close(ours.log_prob(action), expected)
    torch.testing.assert_close(ours.log_prob(action.to(torch.int8)), ours.log_prob(action))
    torch.testing.assert_close(ours.entropy(), sum(r.entropy() for r in ref))
    torch.testing.assert_close(ours.probs, torch.sigmoid(logits))
    assert torch.equal(ours.mode(), torch.stack([(r.probs > 0.5).long() for r in ref], dim=-1))
    sample = ours.sample()
    assert sample.shape == (*BATCH, 5) and set(sample.unique().tolist()) <= {0, 1}


def test_bernoulli_sampling_frequencies_and_generator():
    p = torch.tensor([0.05, 0.5, 0.8])
    dist = Bernoulli(torch.logit(p).expand(100_000, 3))
    sample = dist.sample(torch.Generator().manual_seed(2))
    torch.testing.assert_close(sample.double().mean(0), p.double(), atol=0.008, rtol=0)
    assert torch.equal(sample, dist.sample(torch.Generator().manual_seed(2)))
    flat = torch.randn(8, sum(NVEC))
    first = MultiCategorical.from_flat(flat, NVEC).sample(torch.Generator().manual_seed(3))
    assert torch.equal(first, MultiCategorical.from_flat(flat, NVEC).sample(torch.Generator().manual_seed(3)))


def test_kl_is_the_sum_of_the_components_kls():
    p_flat, q_flat = torch.randn(*BATCH, sum(NVEC)), torch.randn(*BATCH, sum(NVEC))
    expected = sum(td.kl_divergence(p, q) for p, q in zip(reference_components(p_flat, NVEC),
                                                           reference_components(q_flat, NVEC)))
    p, q = MultiCategorical.from_flat(p_flat, NVEC), MultiCategorical.from_flat(q_flat, NVEC)
    torch.testing.assert_close(kl_divergence(p, q), expected)
    torch.testing.assert_close(kl_divergence(p, p), torch.zeros(BATCH), atol=1e-6, rtol=0)
    p_bits, q_bits = torch.randn(*BATCH, 4) * 2, torch.randn(*BATCH, 4) * 2
    expected = sum(td.kl_divergence(td.Bernoulli(logits=p_bits[..., i]), td.Bernoulli(logits=q_bits[..., i]))
                   for i in range(4))
    torch.testing.assert_close(kl_divergence(Bernoulli(p_bits), Bernoulli(q_bits)), expected)
    with pytest.raises(TypeError, match="same class"):
        kl_divergence(p, Bernoulli(p_bits))


def test_heads_give_near_uniform_policies_and_gradients():
    head = MultiCategoricalHead(8, NVEC)
    dist = head(torch.randn(*BATCH, 8))
    assert isinstance(dist, MultiCategorical) and dist.logits.shape == (*BATCH, 3, 5)
    torch.testing.assert_close(dist.probs[..., 1, :], torch.full((*BATCH, 5), 0.2), atol=0.02, rtol=0)
    (dist.log_prob(dist.sample()).sum() + dist.entropy().sum()).backward()
    assert torch.isfinite(head.linear.weight.grad).all() and head.linear.weight.grad.abs().sum() > 0
    bits = BernoulliHead(8, 3)
    dist = bits(torch.randn(5, 8))
    torch.testing.assert_close(dist.probs, torch.full((5, 3), 0.5), atol=0.02, rtol=0)
    dist.log_prob(dist.sample()).sum().backward()
    assert bits.linear.weight.grad is not None
    with pytest.raises(ValueError, match="at least one value"):
        MultiCategoricalHead(8, (3, 0))


def test_actor_critic_picks_the_head_by_space_and_refuses_what_it_cannot_act_in():
    obs = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    model = ActorCritic(obs, gym.spaces.MultiDiscrete([3, 2]), (8,))
    assert isinstance(model.policy(torch.zeros(2, 4)), MultiCategorical) and not model.clips
    model = ActorCritic(obs, gym.spaces.MultiBinary(3), (8,))
    assert isinstance(model.policy(torch.zeros(2, 4)), Bernoulli) and not model.clips
    model = ActorCritic(obs, gym.spaces.MultiDiscrete([3, 2], start=[1, 0]), (8,))  # the agent adds ``start``
    assert model.policy(torch.zeros(2, 4)).sample().shape == (2, 2)
    with pytest.raises(UnsupportedSpaceError, match="one-dimensional MultiBinary.*flatten"):
        ActorCritic(obs, gym.spaces.MultiBinary([2, 2]), (8,))
