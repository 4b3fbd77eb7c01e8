"""Micro-benchmarks behind design choices in porcini's networks and agents (see benchmarks/README.md).

Each case times two ways of doing the same work, with one torch thread, best of ``--repeats`` rounds, rounds
alternating between the two so that load changes hit both alike:

- ``optimizer``: zero the gradients, clip their global norm and take an Adam step for a 64-64 actor-critic,
  per tensor (``foreach=False``), multi-tensor (``foreach=True``), and over one flat buffer
  (``porcini.networks.optim.FlatParameters``, fused Adam);
- ``target chunks``: the forward of a 256-256 MLP over 8,192 rows, in chunks of 512 rows against all at once;
- ``1-unit layer``: the output layer of two twin critics (256 -> 1), forward and backward, as ``baddbmm`` against
  an elementwise product and a sum;
- ``categorical sample``: one draw per row from logits ``[B, 2]``, ``torch.multinomial(softmax)`` against the
  Gumbel-max trick (``porcini.networks.distributions.Categorical.sample``);
- ``subnormal Adam``: an Adam step on a 256-256 MLP whose second-moment state is subnormal, with the CPU's
  flush-to-zero mode off and on (``torch.set_flush_denormal``; x86 only).

Ratios are slower / faster as printed. Absolute times depend on the machine; ratios are what the README quotes.

usage: python benchmarks/micro_steps.py [--repeats 5] [--calls 300]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from common import best_times_us
from torch import nn

from porcini.networks.distributions import Categorical
from porcini.networks.optim import FlatParameters


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers[:-1])


def optimizer_cases() -> dict[str, Callable[[], object]]:
    def per_tensor(foreach: bool) -> Callable[[], object]:
        net = nn.ModuleList([mlp([4, 64, 64, 2]), mlp([4, 64, 64, 1])])
        opt = torch.optim.Adam(net.parameters(), lr=3e-4, foreach=foreach)
        for p in net.parameters():
            p.grad = torch.randn_like(p)

        def step() -> None:
            nn.utils.clip_grad_norm_(net.parameters(), 0.5, foreach=foreach)
            opt.step()
            for p in net.parameters():
                assert p.grad is not None
                p.grad.zero_()
        return step

    net = nn.ModuleList([mlp([4, 64, 64, 2]), mlp([4, 64, 64, 1])])
    flat = FlatParameters(net.parameters())
    opt = torch.optim.Adam([flat.data], lr=3e-4, fused=True)
    flat.grad.normal_()

    def flat_step() -> None:
        scale = 0.5 / (torch.linalg.vector_norm(flat.grad) + 1e-6)
        flat.grad.mul_(scale.clamp_(max=1.0))
        opt.step()
        flat.grad.zero_()

    return {"per tensor": per_tensor(False), "multi-tensor": per_tensor(True), "flat buffer": flat_step}


def target_chunk_cases() -> dict[str, Callable[[], object]]:
    net, rows = mlp([4, 256, 256, 2]), torch.randn(8192, 4)
    with torch.no_grad():
        return {"one forward": lambda: net(rows),
                "chunks of 512": lambda: [net(chunk) for chunk in rows.split(512)]}


def unit_layer_cases() -> dict[str, Callable[[], object]]:
    x = torch.randn(2, 256, 256, requires_grad=True)
    w, b = torch.randn(2, 256, 1, requires_grad=True), torch.randn(2, 1, 1, requires_grad=True)

    def bmm() -> None:
        torch.baddbmm(b, x, w).sum().backward()

    def product_sum() -> None:
        ((x * w.transpose(1, 2)).sum(-1, keepdim=True) + b).sum().backward()

    return {"baddbmm": bmm, "product and sum": product_sum}


def sample_cases(batch: int) -> dict[str, Callable[[], object]]:
    logits = torch.randn(batch, 2)
    return {"multinomial": lambda: torch.multinomial(torch.softmax(logits, -1), 1),
            "Gumbel-max": lambda: Categorical(logits).sample()}


def subnormal_cases() -> dict[str, Callable[[], object]]:
    net = mlp([4, 256, 256, 2])
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, fused=True)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for state in opt.state.values():
        state["exp_avg_sq"].fill_(1e-39)  # where Adam's decaying state ends up for dead units

    def step(flush: bool) -> Callable[[], object]:
        def run() -> None:
            torch.set_flush_denormal(flush)
            opt.step()
            torch.set_flush_denormal(False)
            for s in opt.state.values():
                s["exp_avg_sq"].fill_(1e-39)
        return run

    return {"subnormals kept": step(False), "flushed to zero": step(True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    groups = {"optimizer (64-64 actor-critic)": optimizer_cases(), "target chunks (256-256, 8192 rows)":
              target_chunk_cases(), "1-unit layer (twin critics, fwd+bwd)": unit_layer_cases(),
              "categorical sample (B=1)": sample_cases(1), "categorical sample (B=8)": sample_cases(8),
              "subnormal Adam (256-256)": subnormal_cases()}
    for title, cases in groups.items():
        times = best_times_us(list(cases.values()), args.calls, args.repeats)
        print(title)
        for name, t in zip(cases, times):
            print(f"  {name:<18}{t:>10.1f} µs   x{max(times) / t:.2f} vs slowest")


if __name__ == "__main__":
    main()
