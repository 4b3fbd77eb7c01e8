"""DQN on MountainCar-v0 with the RL Zoo's ``dqn.yml`` entry: porcini's config of record against SB3.

The entry: 1.2e5 steps, learning rate 4e-3, batch 128, buffer 10k, learning_starts 1000, gamma 0.98,
target_update_interval 600, train_freq 16, gradient_steps 8, exploration_fraction 0.2, final ε 0.07,
net_arch [256, 256]. Compare over seeds with
``python benchmarks/final_returns.py dqn_mountaincar --seeds 0-4 --solved -110``.
"""

from __future__ import annotations

from tasks.zoo_record import run_porcini_record, run_sb3_zoo

ENV_ID = "MountainCar-v0"


def run_porcini(seed: int, threads: int) -> dict:
    return run_porcini_record("dqn_mountaincar", "dqn", ENV_ID, seed, threads)


def run_sb3(seed: int, threads: int) -> dict:
    from stable_baselines3 import DQN

    def make_model(env):
        return DQN("MlpPolicy", env, learning_rate=4e-3, batch_size=128, buffer_size=10_000, learning_starts=1000,
                   gamma=0.98, target_update_interval=600, train_freq=16, gradient_steps=8,
                   exploration_fraction=0.2, exploration_final_eps=0.07, policy_kwargs=dict(net_arch=[256, 256]),
                   seed=seed, device="cpu", verbose=0)

    return run_sb3_zoo("dqn_mountaincar", make_model, ENV_ID, 1, 120_000, seed, threads)
