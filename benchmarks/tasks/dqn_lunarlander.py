"""DQN on LunarLander-v3 with the RL Zoo's ``dqn.yml`` entry: porcini's config of record against SB3.

The entry (tuned on LunarLander-v2): 1e5 steps, learning rate 6.3e-4, batch 128, buffer 50k, learning_starts 0,
gamma 0.99, target_update_interval 250, train_freq 4, gradient_steps -1, exploration_fraction 0.12, final ε 0.1,
net_arch [256, 256]. Compare over seeds with
``python benchmarks/final_returns.py dqn_lunarlander --seeds 0-4 --solved 200``.
"""

from __future__ import annotations

from tasks.zoo_record import run_porcini_record, run_sb3_zoo

ENV_ID = "LunarLander-v3"


def run_porcini(seed: int, threads: int) -> dict:
    return run_porcini_record("dqn_lunarlander", "dqn", ENV_ID, seed, threads)


def run_sb3(seed: int, threads: int) -> dict:
    from stable_baselines3 import DQN

    def make_model(env):
        return DQN("MlpPolicy", env, learning_rate=6.3e-4, batch_size=128, buffer_size=50_000, learning_starts=0,
                   gamma=0.99, target_update_interval=250, train_freq=4, gradient_steps=-1,
                   exploration_fraction=0.12, exploration_final_eps=0.1, policy_kwargs=dict(net_arch=[256, 256]),
                   seed=seed, device="cpu", verbose=0)

    return run_sb3_zoo("dqn_lunarlander", make_model, ENV_ID, 1, 100_000, seed, threads)
