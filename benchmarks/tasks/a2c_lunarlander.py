"""A2C on LunarLander-v3 with the RL Zoo's ``a2c.yml`` entry: porcini's config of record against SB3.

The entry (tuned on LunarLander-v2): n_envs 8, 2e5 steps, gamma 0.995, n_steps 5, learning rate 0.00083 decaying
linearly to 0, ent_coef 1e-5; SB3's A2C defaults otherwise (RMSprop, gae_lambda 1, vf_coef 0.5, max_grad_norm 0.5).
Compare over seeds with ``python benchmarks/final_returns.py a2c_lunarlander --seeds 0-4 --solved 200``.
"""

from __future__ import annotations

from tasks.zoo_record import run_porcini_record, run_sb3_zoo

ENV_ID = "LunarLander-v3"


def run_porcini(seed: int, threads: int) -> dict:
    return run_porcini_record("a2c_lunarlander", "a2c", ENV_ID, seed, threads)


def run_sb3(seed: int, threads: int) -> dict:
    from stable_baselines3 import A2C

    def make_model(env):
        def schedule(progress_remaining: float) -> float:
            return 0.00083 * progress_remaining

        return A2C("MlpPolicy", env, gamma=0.995, n_steps=5, learning_rate=schedule, ent_coef=1e-5, seed=seed,
                   device="cpu", verbose=0)

    return run_sb3_zoo("a2c_lunarlander", make_model, ENV_ID, 8, 200_000, seed, threads)
