"""The tasks of ``benchmarks/vs_peers.py``: one table of hyperparameters that every library's script reads.

Each task is an RL Baselines3 Zoo entry (the numbers of porcini's config of record for that algorithm and env,
``porcini/configs/ALGO/ENV.yaml``; the light test checks that they agree) and Stable-Baselines3's defaults for
what the entry leaves out. Keys are porcini's config fields, which are SB3's names; ``n_envs`` is the number of
envs. The module imports nothing but the standard library, so the peer scripts read it in their own virtual
environments.
"""

from __future__ import annotations

from typing import Any

TASKS: dict[str, dict[str, Any]] = {
    "ppo_cartpole": {
        "algo": "ppo", "env_id": "CartPole-v1", "steps": 100_000,
        "settings": {"n_envs": 8, "n_steps": 32, "batch_size": 256, "n_epochs": 20, "gae_lambda": 0.8,
                     "gamma": 0.98, "ent_coef": 0.0, "vf_coef": 0.5, "max_grad_norm": 0.5,
                     "learning_rate": 1e-3, "learning_rate_schedule": "linear", "clip_range": 0.2,
                     "clip_range_schedule": "linear", "normalize_advantage": True, "net_arch": (64, 64),
                     "activation": "tanh", "ortho_init": True, "adam_eps": 1e-5},
    },
    "dqn_cartpole": {
        "algo": "dqn", "env_id": "CartPole-v1", "steps": 50_000,
        "settings": {"n_envs": 1, "learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000,
                     "learning_starts": 1000, "gamma": 0.99, "target_update_interval": 10, "train_freq": 256,
                     "gradient_steps": 128, "exploration_fraction": 0.16, "exploration_initial_eps": 1.0,
                     "exploration_final_eps": 0.04, "net_arch": (256, 256), "activation": "relu",
                     "loss": "huber", "max_grad_norm": 10.0, "double_q": False},
    },
    "sac_pendulum": {
        # the record runs 20,000 steps; SAC is slow in every library, so the default budget is half of it
        "algo": "sac", "env_id": "Pendulum-v1", "steps": 10_000,
        "settings": {"n_envs": 1, "learning_rate": 1e-3, "batch_size": 256, "buffer_size": 1_000_000,
                     "learning_starts": 100, "gamma": 0.99, "tau": 0.005, "ent_coef": "auto",
                     "target_entropy": "auto", "train_freq": 1, "gradient_steps": 1, "net_arch": (256, 256),
                     "activation": "relu", "n_critics": 2},
    },
}

EVAL_SEED = 20_000  # env seeds of the final evaluation: EVAL_SEED, EVAL_SEED + 1, ...


def rollout_steps(task: str) -> int:
    """Env steps between two fits (summed over envs): every library runs whole rollouts of this many steps."""
    s = TASKS[task]["settings"]
    if TASKS[task]["algo"] == "ppo":
        return int(s["n_steps"] * s["n_envs"])
    return int(s["train_freq"] * s["n_envs"])


def run_steps(task: str, steps: int | None = None) -> int:
    """The env steps of a run: ``steps`` (default: the task's) rounded up to whole rollouts, as SB3 does.

    Every library runs exactly this many steps, and its schedules (PPO's learning rate and clip range, DQN's ε)
    span exactly this many, so all do the same number of fits and gradient steps.
    """
    wanted = int(TASKS[task]["steps"] if steps is None else steps)
    if wanted < 1:
        raise ValueError(f"steps = {wanted} for {task}: give at least 1 env step")
    rollout = rollout_steps(task)
    return -(-wanted // rollout) * rollout


def fits(task: str, steps: int) -> int:
    """The fits (updates of the networks on one rollout) a run of ``steps`` env steps makes in SB3's schedule."""
    s = TASKS[task]["settings"]
    rollout = rollout_steps(task)
    if TASKS[task]["algo"] == "ppo":
        return steps // rollout
    # off-policy: a fit at the end of each rollout once more than learning_starts steps were taken
    return sum(1 for end in range(rollout, steps + 1, rollout) if end > s["learning_starts"])
