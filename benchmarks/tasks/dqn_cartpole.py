"""DQN on CartPole-v1, 50k steps, RL Zoo hyperparameters: porcini against Stable-Baselines3.

Both get the RL Zoo's ``dqn.yml`` CartPole-v1 entry: learning rate 2.3e-3, batch 64, buffer 100k, learning_starts
1000, gamma 0.99, target_update_interval 10, train_freq 256, gradient_steps 128, exploration_fraction 0.16 (of
``total_timesteps = 50_000``), final ε 0.04, a [256, 256] ReLU Q network; SB3's defaults otherwise (Huber loss,
max_grad_norm 10, Adam eps 1e-8, hard target copies). SB3 rounds the run up to whole rollouts (196 x 256 = 50,176
steps), so porcini is run for the same 50,176 steps: both do 193 fits of 128 gradient steps on 64 samples.
Evaluation every 10k steps (10 episodes) is timed and excluded from the training wall time; both check the clock
after every env step, so both evaluate the same snapshot (the policy of the last fit before the 10k mark).
One run's final return is chaotic (a 1e-7 change in the weights after the first fit gives an unrelated run two
fits later): compare final returns over many seeds with ``benchmarks/final_returns.py dqn_cartpole``.
"""

from __future__ import annotations

import time

import common

ENV_ID = "CartPole-v1"
TOTAL = 50_000
TRAIN_FREQ = 256
EVAL_EVERY = 10_000
ZOO = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
           target_update_interval=10, train_freq=TRAIN_FREQ, gradient_steps=128, exploration_fraction=0.16,
           exploration_final_eps=0.04)


def run_porcini(seed: int, threads: int) -> dict:
    from porcini import Core, make_env
    from porcini.algorithms import DQN
    from porcini.core import Callback

    steps = -(-TOTAL // TRAIN_FREQ) * TRAIN_FREQ  # SB3 runs whole rollouts: 50,176 steps
    env = make_env(ENV_ID, n_envs=1, seed=seed)
    agent = DQN(env.info, **ZOO, net_arch=(256, 256), seed=seed)
    clock = common.EvalClock(ENV_ID, every=EVAL_EVERY, n_episodes=10, threshold=475)

    def act(obs):
        return agent.act(obs[None], explore=False)[0]

    class PeriodicEval(Callback):
        def on_step(self, core, action, reward, terminated, truncated, info):
            clock.maybe_eval(core.env_steps, act)

    core = Core(agent, env, callbacks=[PeriodicEval()], progress=False)
    start = time.perf_counter()
    core.learn(steps=steps, horizon=TOTAL)  # ε decays over a fraction of TOTAL, as in SB3
    wall = time.perf_counter() - start
    return common.result("porcini", "dqn_cartpole", seed, threads, core.env_steps, wall, clock, act, ENV_ID)


def run_sb3(seed: int, threads: int) -> dict:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(ENV_ID, n_envs=1, seed=seed)
    model = DQN("MlpPolicy", env, **ZOO, policy_kwargs=dict(net_arch=[256, 256]), seed=seed, device="cpu",
                verbose=0)
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
    return common.result("sb3", "dqn_cartpole", seed, threads, model.num_timesteps, wall, clock, act, ENV_ID)
