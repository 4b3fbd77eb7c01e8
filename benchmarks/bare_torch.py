"""The floor of a task: PPO and DQN on CartPole written as one bare PyTorch + Gymnasium loop, against porcini and SB3.

How fast can these tasks go on this machine at all? Each bare loop does exactly the work of the task module of the
same name in ``benchmarks/tasks/`` (same hyperparameters, networks, gradient steps, batch sizes, env steps and
evaluations), written the fastest plain way a careful engineer would, with no library around it:

- ``ppo_cartpole``: 8 CartPole-v1 envs in Gymnasium's ``SyncVectorEnv`` with same-step autoreset, separate
  64-64 tanh actor and critic (orthogonal init), one inference-mode forward of both per vector step, GAE(0.8) with
  the truncation bootstrap, 20 epochs of one 256-sample minibatch per rollout, clipped loss, fused Adam (eps 1e-5),
  linear learning-rate and clip schedules, ``clip_grad_norm_(0.5)``.
- ``dqn_cartpole``: one CartPole-v1 env, a preallocated NumPy replay buffer, a 256-256 ReLU Q network, ε-greedy
  acting with one inference-mode forward per step, 128 gradient steps of 64 samples every 256 env steps (Huber
  loss, fused Adam, ``clip_grad_norm_(10)``), hard target copies every 10 env steps.

Both flush subnormal floats to zero (``torch.set_flush_denormal(True)``), as porcini does while fitting and SB3
does not (see "Subnormal floats" in benchmarks/README.md; ``vs_sb3.py --peer-flush-denormals`` shows its share).

The three (bare, porcini through its Python API, SB3) run in fresh subprocesses, interleaved (bare, porcini, SB3,
bare, ...) with seeds 0, 1, ..., one torch thread each; the table gives median training wall times (evaluation
excluded) and the ratios. ``bare / porcini`` is how close porcini is to the floor; ``SB3 / bare`` is the largest
speed-up over SB3 any library could reach on this machine with PyTorch doing the same work.

``--kernels`` times only the gradient steps of each task on a fixed random batch, nothing else (the compute
floor of the update): the time per step and that times the task's number of gradient steps.

usage: python benchmarks/bare_torch.py [TASK ...] [--repeats 3] [--libs bare porcini sb3] [--kernels]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402


def _mlp(sizes: list[int], activation: type[nn.Module], out_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(a, b)
        nn.init.orthogonal_(linear.weight, out_gain if i == len(sizes) - 2 else np.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers += [linear, activation()] if i < len(sizes) - 2 else [linear]
    return nn.Sequential(*layers)


def _gae(reward: torch.Tensor, value: torch.Tensor, ended: torch.Tensor, next_value: torch.Tensor, gamma: float,
         lam: float) -> torch.Tensor:
    """GAE(λ) advantages ``[T, B]``; a cut episode's bootstrap is already in its reward."""
    advantage, last = torch.zeros_like(reward), torch.zeros_like(next_value)
    for t in reversed(range(len(reward))):
        following = next_value if t == len(reward) - 1 else value[t + 1]
        delta = reward[t] + gamma * following * (1 - ended[t]) - value[t]
        last = delta + gamma * lam * (1 - ended[t]) * last
        advantage[t] = last
    return advantage


def _ppo_step(actor: nn.Module, critic: nn.Module, optimizer: torch.optim.Optimizer,
              batch: tuple[torch.Tensor, ...], clip: float) -> None:
    """One PPO gradient step on the whole rollout, shuffled as SB3 does (one minibatch of 256)."""
    idx = torch.randperm(len(batch[0]))
    obs, action, old_log_prob, advantage, returns = (x[idx] for x in batch)
    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    ratio = torch.exp(torch.log_softmax(actor(obs), -1).gather(1, action[:, None]).squeeze(1) - old_log_prob)
    policy_loss = -torch.min(advantage * ratio, advantage * ratio.clamp(1 - clip, 1 + clip)).mean()
    value_loss = F.mse_loss(critic(obs).squeeze(-1), returns)
    optimizer.zero_grad()
    (policy_loss + 0.5 * value_loss).backward()
    nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], 0.5, foreach=True)
    optimizer.step()


def bare_ppo_cartpole(seed: int) -> dict:
    """PPO on CartPole-v1 with the RL Zoo settings of ``tasks/ppo_cartpole.py``, as one plain loop."""
    from tasks import ppo_cartpole as task

    torch.manual_seed(seed)
    torch.set_flush_denormal(True)  # subnormal floats slow CPU kernels many times over; porcini flushes them too
    n_envs, n_steps, total = task.N_ENVS, task.N_STEPS, task.TOTAL
    gamma, lam, epochs, lr0, clip0 = 0.98, 0.8, 20, 1e-3, 0.2
    envs = gym.make_vec(task.ENV_ID, num_envs=n_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    obs_np, _ = envs.reset(seed=seed)
    actor, critic = _mlp([4, 64, 64, 2], nn.Tanh, 0.01), _mlp([4, 64, 64, 1], nn.Tanh, 1.0)
    optimizer = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=lr0, eps=1e-5, fused=True)
    obs_buf = torch.zeros(n_steps, n_envs, 4)
    act_buf = torch.zeros(n_steps, n_envs, dtype=torch.long)
    logp_buf, val_buf, rew_buf = (torch.zeros(n_steps, n_envs) for _ in range(3))
    term_buf, end_buf = (torch.zeros(n_steps, n_envs) for _ in range(2))
    clock = common.EvalClock(task.ENV_ID, every=task.EVAL_EVERY, n_episodes=10, threshold=475)

    def act(o: np.ndarray) -> int:
        with torch.inference_mode():
            return int(actor(torch.as_tensor(o, dtype=torch.float32)).argmax())

    steps, rollout = 0, n_steps * n_envs
    n_rollouts = -(-total // rollout)
    start = time.perf_counter()
    for _ in range(n_rollouts):
        for t in range(n_steps):
            obs = torch.from_numpy(obs_np).float()
            with torch.inference_mode():
                logits, value = actor(obs), critic(obs).squeeze(-1)
                action = torch.distributions.Categorical(logits=logits).sample()
            obs_np, reward, terminated, truncated, info = envs.step(action.numpy())
            reward = reward.astype(np.float32)
            if truncated.any():  # bootstrap a cut episode from its true final observation
                cut = truncated & ~terminated
                with torch.inference_mode():
                    final = torch.as_tensor(np.stack(info["final_obs"][cut]), dtype=torch.float32)
                    reward[cut] += gamma * critic(final).squeeze(-1).numpy()
            obs_buf[t], act_buf[t], val_buf[t] = obs, action, value
            logp_buf[t] = torch.log_softmax(logits, -1).gather(1, action[:, None]).squeeze(1)
            rew_buf[t] = torch.from_numpy(reward)
            term_buf[t] = torch.from_numpy(terminated.astype(np.float32))
            end_buf[t] = torch.from_numpy((terminated | truncated).astype(np.float32))
        steps += rollout
        with torch.inference_mode():
            next_value = critic(torch.from_numpy(obs_np).float()).squeeze(-1)
        advantage = _gae(rew_buf, val_buf, end_buf, next_value, gamma, lam)
        returns = advantage + val_buf
        progress = max(1 - steps / total, 0.0)  # SB3's progress remaining after this rollout
        for group in optimizer.param_groups:
            group["lr"] = lr0 * progress
        clip = max(clip0 * progress, 1e-8)
        batch = (obs_buf.reshape(-1, 4), act_buf.reshape(-1), logp_buf.reshape(-1), advantage.reshape(-1),
                 returns.reshape(-1))
        for _ in range(epochs):
            _ppo_step(actor, critic, optimizer, batch, clip)
        clock.maybe_eval(steps, act)
    wall = time.perf_counter() - start
    return common.result("bare", "ppo_cartpole", seed, 1, steps, wall, clock, act, task.ENV_ID)


def bare_dqn_cartpole(seed: int) -> dict:
    """DQN on CartPole-v1 with the RL Zoo settings of ``tasks/dqn_cartpole.py``, as one plain loop."""
    from tasks import dqn_cartpole as task

    torch.manual_seed(seed)
    torch.set_flush_denormal(True)
    rng = np.random.default_rng(seed)
    z = task.ZOO
    total = -(-task.TOTAL // task.TRAIN_FREQ) * task.TRAIN_FREQ
    env = gym.make(task.ENV_ID)
    obs, _ = env.reset(seed=seed)
    q = nn.Sequential(nn.Linear(4, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))
    target = nn.Sequential(nn.Linear(4, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))
    target.load_state_dict(q.state_dict())
    optimizer = torch.optim.Adam(q.parameters(), lr=z["learning_rate"], fused=True)
    size = z["buffer_size"]
    b_obs, b_next = np.zeros((size, 4), np.float32), np.zeros((size, 4), np.float32)
    b_act, b_rew, b_term = np.zeros(size, np.int64), np.zeros(size, np.float32), np.zeros(size, np.float32)
    clock = common.EvalClock(task.ENV_ID, every=task.EVAL_EVERY, n_episodes=10, threshold=475)
    decay_steps = z["exploration_fraction"] * task.TOTAL

    def act(o: np.ndarray) -> int:
        with torch.inference_mode():
            return int(q(torch.as_tensor(o, dtype=torch.float32)).argmax())

    start = time.perf_counter()
    for step in range(total):
        eps = max(1 - step / decay_steps * (1 - z["exploration_final_eps"]), z["exploration_final_eps"])
        action = int(rng.integers(2)) if rng.random() < eps else act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        i = step % size
        b_obs[i], b_next[i], b_act[i], b_rew[i], b_term[i] = obs, next_obs, action, reward, terminated
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
        n = step + 1
        if n % z["target_update_interval"] == 0:
            target.load_state_dict(q.state_dict())
        if n > z["learning_starts"] and n % z["train_freq"] == 0:
            for _ in range(z["gradient_steps"]):
                idx = rng.integers(0, min(n, size), z["batch_size"])
                o, nx = torch.from_numpy(b_obs[idx]), torch.from_numpy(b_next[idx])
                with torch.no_grad():
                    best = target(nx).max(1).values
                    y = torch.from_numpy(b_rew[idx]) + z["gamma"] * (1 - torch.from_numpy(b_term[idx])) * best
                current = q(o).gather(1, torch.from_numpy(b_act[idx])[:, None]).squeeze(1)
                loss = F.smooth_l1_loss(current, y)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(q.parameters(), 10, foreach=True)
                optimizer.step()
        clock.maybe_eval(n, act)
    wall = time.perf_counter() - start
    return common.result("bare", "dqn_cartpole", seed, 1, total, wall, clock, act, task.ENV_ID)


def kernel_times(n: int = 1000) -> dict[str, float]:
    """Seconds per gradient step of each task's update alone, on a fixed random batch (one thread)."""
    torch.set_flush_denormal(True)
    actor, critic = _mlp([4, 64, 64, 2], nn.Tanh, 0.01), _mlp([4, 64, 64, 1], nn.Tanh, 1.0)
    params = [*actor.parameters(), *critic.parameters()]
    ppo_opt = torch.optim.Adam(params, lr=1e-3, eps=1e-5, fused=True)
    obs, act, old, adv, ret = torch.randn(256, 4), torch.randint(0, 2, (256,)), torch.randn(256), torch.randn(256), \
        torch.randn(256)
    q, target = _mlp([4, 256, 256, 2], nn.ReLU, 1.0), _mlp([4, 256, 256, 2], nn.ReLU, 1.0)
    dqn_opt = torch.optim.Adam(q.parameters(), lr=2.3e-3, fused=True)
    o, nx, a, r = torch.randn(64, 4), torch.randn(64, 4), torch.randint(0, 2, (64,)), torch.randn(64)

    def ppo() -> None:
        ratio = torch.exp(torch.log_softmax(actor(obs), -1).gather(1, act[:, None]).squeeze(1) - old)
        loss = -torch.min(adv * ratio, adv * ratio.clamp(0.8, 1.2)).mean()
        loss = loss + 0.5 * F.mse_loss(critic(obs).squeeze(-1), ret)
        ppo_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 0.5, foreach=True)
        ppo_opt.step()

    def dqn() -> None:
        with torch.no_grad():
            y = r + 0.99 * target(nx).max(1).values
        loss = F.smooth_l1_loss(q(o).gather(1, a[:, None]).squeeze(1), y)
        dqn_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(q.parameters(), 10, foreach=True)
        dqn_opt.step()

    times = {}
    for name, step in (("ppo_cartpole", ppo), ("dqn_cartpole", dqn)):
        for _ in range(50):
            step()
        start = time.perf_counter()
        for _ in range(n):
            step()
        times[name] = (time.perf_counter() - start) / n
    return times


# gradient steps of each task: 391 fits x 20 (PPO), 193 fits x 128 (DQN)
GRADIENT_STEPS = {"ppo_cartpole": 391 * 20, "dqn_cartpole": 193 * 128}
BARE = {"ppo_cartpole": bare_ppo_cartpole, "dqn_cartpole": bare_dqn_cartpole}


def run_one(task: str, lib: str, seed: int) -> dict:
    """One run in a fresh one-thread subprocess; its JSON record."""
    call = f"bare_torch.BARE[{task!r}]({seed})" if lib == "bare" else f"tasks.{task}.run_{lib}({seed}, 1)"
    code = (f"import sys, json, torch; sys.path.insert(0, {str(HERE)!r}); torch.set_num_threads(1); "
            f"import bare_torch, tasks.{task}; print(json.dumps({call}))")
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=list(BARE))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--libs", nargs="+", default=["bare", "porcini", "sb3"])
    parser.add_argument("--kernels", action="store_true", help="time the gradient steps alone")
    args = parser.parse_args()
    if args.kernels:
        torch.set_num_threads(1)
        for task, per_step in kernel_times().items():
            print(f"{task}: {per_step * 1e3:.3f} ms per gradient step alone, x {GRADIENT_STEPS[task]:,} = "
                  f"{per_step * GRADIENT_STEPS[task]:.1f} s")
        return
    for task in args.tasks:
        runs: dict[str, list[dict]] = {lib: [] for lib in args.libs}
        for seed in range(args.repeats):
            for lib in args.libs:
                runs[lib].append(run_one(task, lib, seed))
                r = runs[lib][-1]
                print(f"{task} seed {seed} {lib}: train {r['train_wall_s']:.1f} s, eval {r['final_eval_mean']:.1f}",
                      file=sys.stderr)
        times = {lib: [r["train_wall_s"] for r in rs] for lib, rs in runs.items()}
        print(f"\n{task}: median training wall time over {args.repeats} interleaved seeds")
        for lib, ts in times.items():
            returns = ", ".join(f"{r['final_eval_mean']:.0f}" for r in runs[lib])
            print(f"  {lib:8s} {statistics.median(ts):7.1f} s   final returns {returns}")
        for a, b in [("bare", "porcini"), ("sb3", "bare"), ("sb3", "porcini")]:
            if a in times and b in times:
                ratio = statistics.median(x / y for x, y in zip(times[a], times[b]))
                print(f"  {a} / {b}: {ratio:.2f} (median of per-seed ratios)")
        print(json.dumps({task: runs}), file=sys.stderr)


if __name__ == "__main__":
    main()
