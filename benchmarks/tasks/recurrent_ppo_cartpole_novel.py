"""RecurrentPPO on CartPole without velocities, 100k steps, RL Zoo hyperparameters: porcini against SB3-contrib.

Both get the RL Zoo's ``ppo_lstm.yml`` CartPoleNoVel-v1 entry: 8 envs, n_steps 32 (per env), batch 256,
gae_lambda 0.8, gamma 0.98, n_epochs 20, ent_coef 0, learning rate 1e-3 and clip range 0.2 both decayed linearly
to 0, a 64-unit LSTM for the policy and another for the critic (``enable_critic_lstm``), then 64 ReLU units,
no orthogonal init; SB3-contrib's defaults otherwise. Both run porcini's ``porcini/CartPoleNoVel-v1`` (position
and angle scaled by their termination bounds; the Zoo's VecNormalize is left out of both). The batch of 256 is
the whole rollout, so both take one minibatch of all 8 env sequences per epoch: 20 gradient steps per fit, 391
fits. Evaluation every 10k steps (10 episodes, the LSTM state reset at each episode start) is excluded from the
training time.
"""

from __future__ import annotations

import time

import common

ENV_ID = "porcini/CartPoleNoVel-v1"
TOTAL = 100_000
N_ENVS, N_STEPS = 8, 32
EVAL_EVERY = 10_000
ZOO = dict(n_steps=N_STEPS, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0)


def run_porcini(seed: int, threads: int) -> dict:
    from porcini import Core, make_env
    from porcini.algorithms import RecurrentPPO
    from porcini.core import Callback

    rollout = N_STEPS * N_ENVS
    steps = -(-TOTAL // rollout) * rollout  # SB3 runs whole rollouts: 100,096 steps
    env = make_env(ENV_ID, n_envs=N_ENVS, seed=seed)
    agent = RecurrentPPO(env.info, **ZOO, learning_rate=1e-3, clip_range=0.2, learning_rate_schedule="linear",
                         clip_range_schedule="linear", ortho_init=False, activation="relu",
                         lstm_hidden_size=64, net_arch=(64,), seed=seed)
    clock = common.EvalClock(ENV_ID, every=EVAL_EVERY, n_episodes=10, threshold=475)
    state = {"eval": None}

    def act(obs):  # one evaluation episode's own LSTM state; the training state is put back after the step
        training = agent.recurrent_state()
        agent.set_recurrent_state(state["eval"])
        action = agent.act(obs[None], explore=False)[0]
        state["eval"] = agent.recurrent_state()
        agent.set_recurrent_state(training)
        return action

    def episode_start():
        state["eval"] = None

    class PeriodicEval(Callback):
        def on_fit(self, core, metrics):
            clock.maybe_eval(core.env_steps, act, episode_start)

    core = Core(agent, env, callbacks=[PeriodicEval()], progress=False)
    start = time.perf_counter()
    core.learn(steps=steps, horizon=TOTAL)  # the schedules reach 0 at TOTAL, as in SB3
    wall = time.perf_counter() - start
    return common.result("porcini", "recurrent_ppo_cartpole_novel", seed, threads, core.env_steps, wall, clock,
                         act, ENV_ID, episode_start)


def run_sb3(seed: int, threads: int) -> dict:
    import numpy as np
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from torch import nn

    import porcini.envs  # noqa: F401  (registers porcini/CartPoleNoVel-v1)

    env = make_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed)
    model = RecurrentPPO("MlpLstmPolicy", env, **ZOO, learning_rate=lambda p: p * 1e-3,
                         clip_range=lambda p: p * 0.2, seed=seed, device="cpu", verbose=0,
                         policy_kwargs=dict(ortho_init=False, activation_fn=nn.ReLU, lstm_hidden_size=64,
                                            enable_critic_lstm=True, net_arch=dict(pi=[64], vf=[64])))
    clock = common.EvalClock(ENV_ID, every=EVAL_EVERY, n_episodes=10, threshold=475)
    state = {"lstm": None, "start": True}

    def act(obs):
        action, state["lstm"] = model.predict(obs, state=state["lstm"], episode_start=np.array([state["start"]]),
                                              deterministic=True)
        state["start"] = False
        return action

    def episode_start():
        state["lstm"], state["start"] = None, True

    class PeriodicEval(BaseCallback):
        def _on_rollout_start(self):  # after the previous fit, as porcini's on_fit
            clock.maybe_eval(self.num_timesteps, act, episode_start)

        def _on_step(self):
            return True

    start = time.perf_counter()
    model.learn(total_timesteps=TOTAL, callback=PeriodicEval())
    wall = time.perf_counter() - start
    return common.result("sb3-contrib", "recurrent_ppo_cartpole_novel", seed, threads, model.num_timesteps, wall,
                         clock, act, ENV_ID, episode_start)
