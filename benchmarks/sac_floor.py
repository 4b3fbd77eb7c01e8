"""The floor of SAC on Pendulum: bare PyTorch doing the same gradient steps on the same networks; porcini against it.

Every variant performs the same SAC update (SB3's order: temperature step, critic step on the soft target with
twin target critics, actor step through the updated critics, Polyak update) with the same networks (actor
3→256→256→2, two critics 4→256→256→1, ReLU) and batch size 256, on random data:

- ``floor_plain``: written the obvious way: two ``nn.Sequential`` critics, default Adam, ``actor_loss.backward()``,
  Polyak update in a loop over parameters (what SB3's update does, with no library around it).
- ``floor_tuned``: bare PyTorch with the design porcini uses: the twin critics as one batched ``baddbmm``
  ensemble, fused Adam, the actor loss back-propagated into the actor only, ``torch._foreach_lerp_``.
- ``porcini_fit``: ``porcini.algorithms.SAC.fit`` on a pre-filled replay buffer (sampling and the host-to-torch
  conversion included), one update per fit, as in training.
- ``porcini_loop``: ``Core.learn`` on Pendulum-v1 past ``learning_starts`` (env steps and acting included):
  the time per update of real training.
- ``sb3_train``: Stable-Baselines3's ``SAC.train(gradient_steps=1)`` on a pre-filled buffer (if installed).

The variants run in interleaved rounds so that a noisy machine slows them alike; the table gives the median
time per update over rounds, in process CPU time and wall time, and each one's ratio to ``floor_plain``.

``--device cuda`` runs every variant on the GPU (networks, optimizers, batches; porcini's agents built with
``device="cuda"``, which move each fit's sample there once), synchronizing before each clock read; on a machine
without CUDA it prints "no CUDA device here; skipped" and exits 0.

usage: python benchmarks/sac_floor.py [--updates 100] [--rounds 8] [--threads 1] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OBS, ACT, HIDDEN, BATCH, GAMMA, TAU, LR = 3, 1, 256, 256, 0.99, 0.005, 1e-3
DEVICE = torch.device("cpu")  # set by --device


def mlp(i: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, o))


def squashed_sample(actor: nn.Module, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean, log_std = actor(obs).chunk(2, dim=-1)
    log_std = log_std.clamp(-20, 2)
    eps = torch.randn_like(mean)
    u = mean + log_std.exp() * eps
    log_prob = -0.5 * eps.square() - log_std - 0.5 * math.log(2 * math.pi) - 2 * (math.log(2) - u - F.softplus(-2 * u))
    return torch.tanh(u), log_prob.sum(-1)


def random_batch() -> tuple[torch.Tensor, ...]:
    batch = (torch.randn(BATCH, OBS), torch.rand(BATCH, ACT) * 2 - 1, torch.randn(BATCH), torch.randn(BATCH, OBS),
             torch.zeros(BATCH))
    return tuple(x.to(DEVICE) for x in batch)


def floor_plain() -> callable:
    actor, q1, q2 = mlp(OBS, 2 * ACT).to(DEVICE), mlp(OBS + ACT, 1).to(DEVICE), mlp(OBS + ACT, 1).to(DEVICE)
    critics = nn.ModuleList([q1, q2])
    target = copy.deepcopy(critics)
    log_alpha = torch.zeros(1, requires_grad=True, device=DEVICE)
    opt_a, opt_c = torch.optim.Adam(actor.parameters(), LR), torch.optim.Adam(critics.parameters(), LR)
    opt_alpha = torch.optim.Adam([log_alpha], LR)
    obs, action, reward, next_obs, terminated = random_batch()

    def update() -> None:
        action_pi, log_prob = squashed_sample(actor, obs)
        alpha = log_alpha.detach().exp()
        loss_alpha = -(log_alpha * (log_prob - ACT).detach()).mean()
        opt_alpha.zero_grad()
        loss_alpha.backward()
        opt_alpha.step()
        with torch.no_grad():
            next_action, next_log_prob = squashed_sample(actor, next_obs)
            x = torch.cat([next_obs, next_action], -1)
            next_q = torch.min(target[0](x), target[1](x)).squeeze(-1) - alpha * next_log_prob
            y = reward + GAMMA * (1 - terminated) * next_q
        x = torch.cat([obs, action], -1)
        loss_c = 0.5 * (F.mse_loss(q1(x).squeeze(-1), y) + F.mse_loss(q2(x).squeeze(-1), y))
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()
        x = torch.cat([obs, action_pi], -1)
        loss_a = (alpha * log_prob - torch.min(q1(x), q2(x)).squeeze(-1)).mean()
        opt_a.zero_grad()
        loss_a.backward()
        opt_a.step()
        with torch.no_grad():
            for p, t in zip(critics.parameters(), target.parameters()):
                t.mul_(1 - TAU)
                t.add_(p, alpha=TAU)

    return update


class Ensemble(nn.Module):
    def __init__(self, members: int, i: int, o: int) -> None:
        super().__init__()
        dims = [i, HIDDEN, HIDDEN, o]
        self.w, self.b = nn.ParameterList(), nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:]):
            bound = 1 / math.sqrt(a)
            self.w.append(nn.Parameter(torch.empty(members, a, b).uniform_(-bound, bound)))
            self.b.append(nn.Parameter(torch.empty(members, 1, b).uniform_(-bound, bound)))
        self.members = members

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.expand(self.members, *x.shape)
        for layer in range(3):
            x = torch.baddbmm(self.b[layer], x, self.w[layer])
            if layer < 2:
                x = torch.relu(x)
        return x.squeeze(-1)


def floor_tuned() -> callable:
    actor, critics = mlp(OBS, 2 * ACT).to(DEVICE), Ensemble(2, OBS + ACT, 1).to(DEVICE)
    target = copy.deepcopy(critics)
    log_alpha = torch.zeros((), requires_grad=True, device=DEVICE)
    opt_a = torch.optim.Adam(actor.parameters(), LR, fused=True)
    opt_c = torch.optim.Adam(critics.parameters(), LR, fused=True)
    opt_alpha = torch.optim.Adam([log_alpha], LR, fused=True)
    actor_params, critic_params, target_params = list(actor.parameters()), list(critics.parameters()), list(
        target.parameters())
    obs, action, reward, next_obs, terminated = random_batch()

    def update() -> None:
        action_pi, log_prob = squashed_sample(actor, obs)
        alpha = log_alpha.detach().exp()
        loss_alpha = -(log_alpha * (log_prob - ACT).detach()).mean()
        opt_alpha.zero_grad()
        loss_alpha.backward()
        opt_alpha.step()
        with torch.no_grad():
            next_action, next_log_prob = squashed_sample(actor, next_obs)
            next_q = target(torch.cat([next_obs, next_action], -1)).amin(0) - alpha * next_log_prob
            y = reward + GAMMA * (1 - terminated) * next_q
        loss_c = (critics(torch.cat([obs, action], -1)) - y).square().mean()
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()
        loss_a = (alpha * log_prob - critics(torch.cat([obs, action_pi], -1)).amin(0)).mean()
        opt_a.zero_grad()
        loss_a.backward(inputs=actor_params)
        opt_a.step()
        with torch.no_grad():
            torch._foreach_lerp_(target_params, critic_params, TAU)

    return update


def _pendulum_info():
    from porcini.envs.make import make_env

    env = make_env("Pendulum-v1", seed=0)
    return env, env.info


def porcini_fit_factory() -> callable:
    from porcini.algorithms.actor_critic.sac import SAC
    from porcini.core.batch import TransitionBatch

    _, info = _pendulum_info()
    agent = SAC(info, learning_rate=LR, learning_starts=0, device=str(DEVICE))
    rng = np.random.default_rng(0)
    n = 20_000
    agent.buffer.add(TransitionBatch(
        obs=rng.normal(size=(n, 1, OBS)).astype(np.float32), action=rng.uniform(-1, 1, (n, 1, ACT)).astype(np.float32),
        reward=rng.normal(size=(n, 1)).astype(np.float32), next_obs=rng.normal(size=(n, 1, OBS)).astype(np.float32),
        terminated=np.zeros((n, 1), bool), truncated=np.zeros((n, 1), bool)))
    one = TransitionBatch(obs=np.zeros((1, 1, OBS), np.float32), action=np.zeros((1, 1, ACT), np.float32),
                          reward=np.zeros((1, 1), np.float32), next_obs=np.zeros((1, 1, OBS), np.float32),
                          terminated=np.zeros((1, 1), bool), truncated=np.zeros((1, 1), bool))
    return lambda: agent.fit(one)


def porcini_loop_factory() -> callable:
    from porcini.algorithms.actor_critic.sac import SAC
    from porcini.core import Core

    env, info = _pendulum_info()
    agent = SAC(info, learning_rate=LR, device=str(DEVICE))
    core = Core(agent, env, progress=False)
    core.learn(steps=agent.config.learning_starts)
    return lambda: core.learn(steps=1)


def sb3_train_factory() -> callable | None:
    try:
        import gymnasium as gym
        from stable_baselines3 import SAC as SB3SAC
    except ImportError:
        return None
    model = SB3SAC("MlpPolicy", gym.make("Pendulum-v1"), learning_rate=LR, seed=0, device=str(DEVICE),
                   learning_starts=0)
    model.learn(total_timesteps=1000)  # fills the buffer, sets up the logger
    return lambda: model.train(gradient_steps=1, batch_size=BATCH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100, help="updates per variant per round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="torch device of every variant, e.g. cuda")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here; skipped")
        return
    sync = torch.cuda.synchronize if DEVICE.type == "cuda" else (lambda: None)  # GPU work is asynchronous
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    variants = {"floor_plain": floor_plain(), "floor_tuned": floor_tuned(), "porcini_fit": porcini_fit_factory(),
                "porcini_loop": porcini_loop_factory()}
    sb3 = sb3_train_factory()
    if sb3 is not None:
        variants["sb3_train"] = sb3
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    wall: dict[str, list[float]] = {k: [] for k in variants}
    for update in variants.values():  # warm-up
        for _ in range(10):
            update()
    for _ in range(args.rounds):
        for name, update in variants.items():
            sync()
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(args.updates):
                update()
            sync()
            cpu[name].append((time.process_time() - c0) / args.updates * 1e3)
            wall[name].append((time.perf_counter() - w0) / args.updates * 1e3)
    base_cpu, base_wall = statistics.median(cpu["floor_plain"]), statistics.median(wall["floor_plain"])
    print(f"SAC update on {DEVICE}, batch {BATCH}, [{HIDDEN}, {HIDDEN}] nets, {args.threads} thread(s), "
          f"{args.rounds} rounds x {args.updates} updates; median ms per update")
    print(f"{'variant':14s} {'cpu ms':>8s} {'wall ms':>8s} {'cpu / floor_plain':>18s} {'wall / floor_plain':>19s}")
    for name in variants:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"{name:14s} {c:8.2f} {w:8.2f} {c / base_cpu:18.2f} {w / base_wall:19.2f}")


if __name__ == "__main__":
    main()
