"""Per-call cost of acting with a small policy: porcini's networks vs nn.Sequential + torch.distributions.

The PPO/DQN CartPole benchmarks act on 1-8 envs with a 4->64->64->2 network: the arithmetic is tiny, so the
time goes to Python and dispatcher overhead. This script times, with one torch thread and under no_grad:

- ``forward``: the network alone (MLP trunk + CategoricalHead logits vs nn.Sequential);
- ``sample``: forward, build the distribution, draw an action;
- ``sample+log_prob``: the PPO rollout step (action and its log-probability);
- ``train``: forward + log_prob + entropy + backward on a batch of 256 (the PPO minibatch);
- ``twin critic``: SAC's two Q(s, a) critics (Pendulum: 3+1 -> 256 -> 256 -> 1), forward + backward on a batch of
  256, as one EnsembleMLP vs two nn.Sequential critics one after the other (arithmetic bound: expect ~1x).

The torch path is what an SB3-style policy does: ``torch.distributions.Categorical(logits=...)`` with argument
validation at its default (on, as in SB3), and also with validation off.

Usage: python benchmarks/networks_forward.py [--repeats 5] [--calls 5000]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from common import best_times_us
from torch import distributions as td
from torch import nn

from porcini.networks import MLP, CategoricalHead, EnsembleMLP


def build(seed: int = 0) -> tuple[nn.Module, nn.Module, nn.Sequential]:
    torch.manual_seed(seed)
    trunk = MLP(4, None, hidden=(64, 64), activation="tanh", init="orthogonal")
    head = CategoricalHead(trunk.out_dim, 2)
    reference = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))
    with torch.no_grad():
        for ref, ours in zip([reference[0], reference[2], reference[4]], [*trunk.layers, head.linear]):
            ref.weight.copy_(ours.weight)
            ref.bias.copy_(ours.bias)
    return trunk, head, reference


def cases(batch: int, validate: bool) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    trunk, head, reference = build()
    obs = torch.randn(batch, 4)

    def ours_sample() -> object:
        return head(trunk(obs)).sample()

    def torch_sample() -> object:
        return td.Categorical(logits=reference(obs), validate_args=validate).sample()

    def ours_sample_log_prob() -> object:
        dist = head(trunk(obs))
        action = dist.sample()
        return action, dist.log_prob(action)

    def torch_sample_log_prob() -> object:
        dist = td.Categorical(logits=reference(obs), validate_args=validate)
        action = dist.sample()
        return action, dist.log_prob(action)

    return {
        "forward": (lambda: head(trunk(obs)).logits, lambda: reference(obs)),
        "sample": (ours_sample, torch_sample),
        "sample+log_prob": (ours_sample_log_prob, torch_sample_log_prob),
    }


def train_case(validate: bool, batch: int = 256) -> tuple[Callable[[], object], Callable[[], object]]:
    trunk, head, reference = build()
    obs, action = torch.randn(batch, 4), torch.randint(0, 2, (batch,))

    def ours() -> None:
        dist = head(trunk(obs))
        (dist.log_prob(action).mean() + 0.01 * dist.entropy().mean()).backward()

    def plain() -> None:
        dist = td.Categorical(logits=reference(obs), validate_args=validate)
        (dist.log_prob(action).mean() + 0.01 * dist.entropy().mean()).backward()

    return ours, plain


def twin_critic_case(batch: int = 256) -> tuple[Callable[[], object], Callable[[], object]]:
    ensemble = EnsembleMLP(2, 4, 1, (256, 256))
    critics = [
        nn.Sequential(nn.Linear(4, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1)) for _ in range(2)
    ]
    obs_action, target = torch.randn(batch, 4), torch.randn(batch, 1)

    def ours() -> None:
        ((ensemble(obs_action) - target) ** 2).mean(dim=(1, 2)).sum().backward()

    def plain() -> None:
        sum(((critic(obs_action) - target) ** 2).mean() for critic in critics).backward()

    return ours, plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, best of {args.repeats} x {args.calls} calls")
    print(
        f"{'case':<22}{'batch':>6}{'porcini us':>12}{'torch us':>10}{'ratio':>7}"
        f"{'torch (no valid.) us':>22}{'ratio':>7}"
    )
    rows = []
    for batch in (1, 8):
        with torch.no_grad():
            validated, unvalidated = cases(batch, validate=True), cases(batch, validate=False)
            for name, (ours, plain) in validated.items():
                fns = [ours, plain, unvalidated[name][1]]
                rows.append((name, batch, *best_times_us(fns, args.calls, args.repeats)))
    ours, plain = train_case(validate=True)
    fns = [ours, plain, train_case(validate=False)[1]]
    rows.append(("train (fwd+bwd)", 256, *best_times_us(fns, max(args.calls // 10, 100), args.repeats)))
    ours, plain = twin_critic_case()
    critic_ours, critic_plain = best_times_us([ours, plain], max(args.calls // 20, 50), args.repeats)
    for name, batch, t_ours, t_plain, t_novalid in rows:
        print(
            f"{name:<22}{batch:>6}{t_ours:>12.1f}{t_plain:>10.1f}{t_plain / t_ours:>7.2f}"
            f"{t_novalid:>22.1f}{t_novalid / t_ours:>7.2f}"
        )
    ratio = critic_plain / critic_ours
    print(f"{'twin critic (fwd+bwd)':<22}{256:>6}{critic_ours:>12.1f}{critic_plain:>10.1f}{ratio:>7.2f}")


if __name__ == "__main__":
    main()
