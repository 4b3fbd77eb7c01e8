"""Does ``torch.compile`` pay on a CPU for these small networks? One PPO and one DQN gradient step, eager vs compiled.

The gradient steps of the CartPole tasks (``benchmarks/tasks/``), on random data, written in bare PyTorch:

- ``ppo``: separate 64-64 tanh actor and critic, batch 256, clipped policy loss + 0.5 · value MSE, fused Adam;
- ``dqn``: a 256-256 ReLU Q network and its target, batch 64, Huber loss on the max-target, fused Adam.

The loss (forward) is compiled with ``torch.compile`` (inductor, default mode); the backward and the optimizer
step are the same in both variants. Rounds alternate eager and compiled so that load changes hit both alike; the
table gives the compile time (first call, in this process) and the median time per gradient step. A compiled
function pays for itself after ``compile time / (eager - compiled)`` gradient steps.

usage: python benchmarks/torch_compile.py [--steps 300] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def _mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def ppo_step() -> tuple[Callable[[], torch.Tensor], torch.optim.Optimizer, Callable]:
    """The PPO loss on a fixed batch, its optimizer, and a way to compile it."""
    actor, critic = _mlp([4, 64, 64, 2], nn.Tanh), _mlp([4, 64, 64, 1], nn.Tanh)
    opt = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=1e-3, eps=1e-5, fused=True)
    obs, act = torch.randn(256, 4), torch.randint(0, 2, (256,))
    old, adv, ret, clip = torch.randn(256) * 0.1 - 0.7, torch.randn(256), torch.randn(256), torch.tensor(0.2)

    def loss(obs, act, old, adv, ret, clip):
        ratio = torch.exp(torch.log_softmax(actor(obs), -1).gather(1, act[:, None]).squeeze(1) - old)
        policy = -torch.min(adv * ratio, adv * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
        return policy + 0.5 * F.mse_loss(critic(obs).squeeze(-1), ret)

    return (lambda f: lambda: f(obs, act, old, adv, ret, clip)), opt, loss


def dqn_step() -> tuple[Callable[[], torch.Tensor], torch.optim.Optimizer, Callable]:
    """The DQN loss on a fixed batch, its optimizer, and a way to compile it."""
    q, target = _mlp([4, 256, 256, 2], nn.ReLU), _mlp([4, 256, 256, 2], nn.ReLU)
    opt = torch.optim.Adam(q.parameters(), lr=2.3e-3, fused=True)
    obs, nxt, act = torch.randn(64, 4), torch.randn(64, 4), torch.randint(0, 2, (64,))
    rew, term = torch.randn(64), torch.zeros(64)

    def loss(obs, nxt, act, rew, term):
        with torch.no_grad():
            y = rew + 0.99 * (1 - term) * target(nxt).max(1).values
        return F.smooth_l1_loss(q(obs).gather(1, act[:, None]).squeeze(1), y)

    return (lambda f: lambda: f(obs, nxt, act, rew, term)), opt, loss


def time_steps(call: Callable[[], torch.Tensor], opt: torch.optim.Optimizer, n: int) -> float:
    """Seconds per gradient step over ``n`` steps."""
    start = time.perf_counter()
    for _ in range(n):
        opt.zero_grad()
        call().backward()
        opt.step()
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print("| update | compile s | eager ms/step | compiled ms/step | speed-up | steps to pay back |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, build in (("PPO 64-64 tanh, batch 256", ppo_step), ("DQN 256-256 ReLU, batch 64", dqn_step)):
        bind, opt, loss = build()
        eager, compiled = bind(loss), bind(torch.compile(loss))
        start = time.perf_counter()
        time_steps(compiled, opt, 1)
        compile_s = time.perf_counter() - start
        times: dict[str, list[float]] = {"eager": [], "compiled": []}
        for _ in range(args.rounds):
            for variant, call in (("eager", eager), ("compiled", compiled)):
                time_steps(call, opt, 20)
                times[variant].append(time_steps(call, opt, args.steps))
        e, c = statistics.median(times["eager"]), statistics.median(times["compiled"])
        payback = f"{compile_s / (e - c):,.0f}" if e > c else "never"
        print(f"| {name} | {compile_s:.1f} | {e * 1e3:.3f} | {c * 1e3:.3f} | {e / c:.2f} | {payback} |")


if __name__ == "__main__":
    main()
