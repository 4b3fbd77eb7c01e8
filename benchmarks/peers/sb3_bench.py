"""Stable-Baselines3's side of ``benchmarks/vs_peers.py``: PPO, DQN or SAC with the task's settings.

Written as SB3's docs show it: ``make_vec_env`` (a ``DummyVecEnv``, the RL Zoo's default), the ``MlpPolicy``
with the settings of ``settings.TASKS`` (SB3's defaults already are the rest: separate 64-64 tanh actor and
critic with orthogonal init for PPO, a 256-256 ReLU Q network given as ``net_arch``, 256-256 ReLU actor and
twin critics for SAC), ``model.learn(total_timesteps=steps)`` timed alone, no callbacks, no logger output.

usage: python benchmarks/peers/sb3_bench.py TASK --seed S [--steps N] [--eval-episodes E] [--threads T]
"""

from __future__ import annotations

from typing import Any

import harness


def build(args: Any) -> Any:
    """The SB3 model of ``args.task``, seeded with ``args.seed``, on CPU."""
    from stable_baselines3 import DQN, PPO, SAC
    from stable_baselines3.common.env_util import make_vec_env

    s, algo = args.settings, harness.TASKS[args.task]["algo"]
    env = make_vec_env(args.env_id, n_envs=s["n_envs"], seed=args.seed)
    common = {"seed": args.seed, "device": "cpu", "verbose": 0, "gamma": s["gamma"]}
    if algo == "ppo":
        return PPO("MlpPolicy", env, n_steps=s["n_steps"], batch_size=s["batch_size"], n_epochs=s["n_epochs"],
                   gae_lambda=s["gae_lambda"], ent_coef=s["ent_coef"], vf_coef=s["vf_coef"],
                   max_grad_norm=s["max_grad_norm"], learning_rate=lambda p: p * s["learning_rate"],
                   clip_range=lambda p: p * s["clip_range"], **common)
    if algo == "dqn":
        return DQN("MlpPolicy", env, learning_rate=s["learning_rate"], batch_size=s["batch_size"],
                   buffer_size=s["buffer_size"], learning_starts=s["learning_starts"],
                   target_update_interval=s["target_update_interval"], train_freq=s["train_freq"],
                   gradient_steps=s["gradient_steps"], exploration_fraction=s["exploration_fraction"],
                   exploration_initial_eps=s["exploration_initial_eps"],
                   exploration_final_eps=s["exploration_final_eps"], max_grad_norm=s["max_grad_norm"],
                   policy_kwargs={"net_arch": list(s["net_arch"])}, **common)
    return SAC("MlpPolicy", env, learning_rate=s["learning_rate"], batch_size=s["batch_size"],
               buffer_size=s["buffer_size"], learning_starts=s["learning_starts"], tau=s["tau"],
               ent_coef=s["ent_coef"], train_freq=s["train_freq"], gradient_steps=s["gradient_steps"],
               policy_kwargs={"net_arch": list(s["net_arch"])}, **common)


def main() -> None:
    """Train, time and score one run; print its JSON record."""
    import stable_baselines3

    args = harness.parse_args()
    model = build(args)
    wall, cpu = harness.timed(lambda: model.learn(total_timesteps=args.steps))

    def act(obs: Any) -> Any:
        """The deterministic action for one observation."""
        return model.predict(obs, deterministic=True)[0]

    n_updates = int(getattr(model, "_n_updates", 0))
    harness.emit(harness.record("sb3", stable_baselines3.__version__, args, model.num_timesteps, wall, cpu, act,
                                n_updates=n_updates))


if __name__ == "__main__":
    main()
