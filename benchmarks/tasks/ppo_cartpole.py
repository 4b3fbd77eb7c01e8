"""PPO on CartPole-v1, 100k steps, RL Zoo hyperparameters: porcini against Stable-Baselines3.

Both get the RL Zoo's ``ppo.yml`` CartPole-v1 entry: 8 envs, n_steps 32 (per env), batch 256, gae_lambda 0.8,
gamma 0.98, n_epochs 20, ent_coef 0, learning rate 1e-3 and clip range 0.2 both decayed linearly to 0 over
``total_timesteps = 100_000``; SB3's defaults otherwise (separate 64-64 tanh networks, orthogonal init, Adam
eps 1e-5, vf_coef 0.5, max_grad_norm 0.5). SB3 rounds the run up to whole rollouts (391 x 256 = 100,096 steps),
so porcini is run for the same 100,096 steps: both do 391 fits of 20 gradient steps on 256 samples.
Evaluation every 10k steps (10 episodes) is timed and excluded from the training wall time.
"""

from __future__ import annotations

import time

import common

ENV_ID = "CartPole-v1"
TOTAL = 100_000
N_ENVS, N_STEPS = 8, 32
EVAL_EVERY = 10_000
ZOO = dict(n_steps=N_STEPS, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0)


def run_porcini(seed: int, threads: int) -> dict:
    from porcini import Core, make_env
    from porcini.algorithms import PPO
    from porcini.core import Callback

    rollout = N_STEPS * N_ENVS
    steps = -(-TOTAL // rollout) * rollout  # SB3 runs whole rollouts: 100,096 steps
    env = make_env(ENV_ID, n_envs=N_ENVS, seed=seed)
    agent = PPO(env.info, **ZOO, learning_rate=1e-3, clip_range=0.2, learning_rate_schedule="linear",
                clip_range_schedule="linear", seed=seed)
    clock = common.EvalClock(ENV_ID, every=EVAL_EVERY, n_episodes=10, threshold=475)

    def act(obs):
        return agent.act(obs[None], explore=False)[0]

    class PeriodicEval(Callback):
        # SB3's callback checks the clock after every vector step; checking after each fit is enough here (the
        # policy only changes there) and costs nothing per step. Evaluations land at 10,240, 20,224, ... steps.
        def on_fit(self, core, metrics):
            clock.maybe_eval(core.env_steps, act)

    core = Core(agent, env, callbacks=[PeriodicEval()], progress=False)
    start = time.perf_counter()
    core.learn(steps=steps, horizon=TOTAL)  # the schedules reach 0 at TOTAL, as in SB3
    wall = time.perf_counter() - start
    return common.result("porcini", "ppo_cartpole", seed, threads, core.env_steps, wall, clock, act, ENV_ID)


def run_sb3(seed: int, threads: int) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed)  # DummyVecEnv, as the RL Zoo's default
    model = PPO("MlpPolicy", env, **ZOO, learning_rate=lambda p: p * 1e-3, clip_range=lambda p: p * 0.2,
                seed=seed, device="cpu", verbose=0)
    clock = common.EvalClock(ENV_ID, every=EVAL_EVERY, n_episodes=10, threshold=475)

    def act(obs):
        return model.predict(obs, deterministic=True)[0]

    class PeriodicEval(BaseCallback):
        def _on_step(self):
            clock.maybe_eval(self.num_timesteps, act)
            return True

    start = time.perf_counter()
    model.learn(total_timesteps=TOTAL, callback=PeriodicEval())
    wall = time.perf_counter() - start
    return common.result("sb3", "ppo_cartpole", seed, threads, model.num_timesteps, wall, clock, act, ENV_ID)
