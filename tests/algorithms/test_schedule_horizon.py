"""The horizon of schedules that span the run comes from Core.learn, never from a config field.

PPO's linear learning rate and clip range, DQN's ε decay and prioritized replay's β end at the run's length. It is
handed over by ``Core.learn`` (``set_horizon``: env steps done + ``n_steps``, or ``horizon=``); an agent that needs
one and never got it says so.
"""

import dataclasses

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms import DQN, PPO
from porcini.algorithms.combinators import SharedRollout
from porcini.algorithms.schedules import HorizonError, LinearSchedule
from porcini.core import Callback
from porcini.core.batch import TransitionBatch

LR, CLIP = 1e-3, 0.2
LINEAR_PPO = dict(n_steps=10, batch_size=20, n_epochs=1, learning_rate=LR, clip_range=CLIP,
                  learning_rate_schedule="linear", clip_range_schedule="linear", net_arch=(8,))


class FitMetrics(Callback):
    """Every fit's metrics, in order."""

    def __init__(self):
        self.fits = []

    def on_fit(self, core, metrics):
        self.fits.append(dict(metrics))


def ppo_core(seed=0):
    env = make_env("CartPole-v1", n_envs=2, seed=seed)
    agent = PPO(env.info, **LINEAR_PPO, seed=seed)
    record = FitMetrics()
    return agent, Core(agent, env, callbacks=[record], progress=False), record


def test_ppo_without_a_horizon_decays_over_the_steps_core_learn_is_given():
    agent, core, record = ppo_core()
    core.learn(steps=100)  # fits of 20 env steps at 20, 40, ..., 100: progress remaining 1 - k * 20 / 100
    assert agent.horizon == 100
    assert [m["learning_rate"] for m in record.fits] == pytest.approx([LR * (1 - s / 100) for s in (20, 40, 60, 80)]
                                                                      + [0.0])
    assert [m["clip_range"] for m in record.fits[:4]] == pytest.approx([CLIP * (1 - s / 100) for s in (20, 40, 60, 80)])


def test_a_second_learn_recomputes_progress_against_the_running_total():
    # Stable-Baselines3's learn(N, reset_num_timesteps=False): the horizon is the steps done plus the new N
    agent, core, record = ppo_core()
    core.learn(steps=100)
    core.learn(steps=100)
    assert agent.horizon == 200
    assert [m["learning_rate"] for m in record.fits[5:]] == pytest.approx(
        [LR * (1 - s / 200) for s in (120, 140, 160, 180, 200)])
    assert agent.optimizer.param_groups[0]["lr"] == 0.0


def test_chunks_given_the_whole_horizon_train_exactly_as_one_call():
    whole, whole_core, _ = ppo_core()
    whole_core.learn(steps=100)
    chunked, chunked_core, _ = ppo_core()
    chunked_core.learn(steps=50, horizon=100)
    chunked_core.learn(steps=50, horizon=100)
    for a, b in zip(whole.model.parameters(), chunked.model.parameters(), strict=True):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())


def test_dqn_epsilon_and_beta_follow_the_total_of_core_learn():
    env = make_env("CartPole-v1", seed=0)
    agent = DQN(env.info, learning_starts=100, train_freq=50, batch_size=16, exploration_fraction=0.5,
                prioritized_replay=True, net_arch=(8,), seed=0)
    metrics = Core(agent, env, progress=False).learn(steps=1000).last_metrics
    assert agent.epsilon == LinearSchedule(1.0, 0.05, 500)  # half of the 1000 steps, not of a default length
    assert agent.exploration_rate == pytest.approx(0.05)
    assert metrics["beta"] == pytest.approx(0.4 + 0.6 * 1000 / 1000)


def test_shared_rollout_hands_the_horizon_to_every_learner():
    env = make_env("CartPole-v1", seed=0)
    ppo = PPO(env.info, **{**LINEAR_PPO, "n_steps": 20})
    dqn = DQN(env.info, learning_starts=10, train_freq=10, batch_size=8, net_arch=(8,))
    Core(SharedRollout({"ppo": ppo, "dqn": dqn}, actor="ppo"), env, progress=False).learn(steps=40)
    assert ppo.horizon == dqn.horizon == 40


def rollout(n_steps=10, n_envs=2):
    obs = np.zeros((n_steps, n_envs, 4), np.float32)
    false = np.zeros((n_steps, n_envs), bool)
    return TransitionBatch(obs, np.zeros((n_steps, n_envs), np.int64), np.ones((n_steps, n_envs), np.float32),
                           obs.copy(), false, false.copy())


def test_an_agent_that_needs_a_horizon_and_never_got_one_says_so():
    info = make_env("CartPole-v1", n_envs=2, seed=0).info
    with pytest.raises(HorizonError, match=r"PPO: learning_rate_schedule='linear' and clip_range_schedule='linear' "
                                           r"needs the run's length.*Core.learn\(steps=.*agent.set_horizon"):
        PPO(info, **LINEAR_PPO).fit(rollout())
    obs = np.zeros((2, 4), np.float32)
    with pytest.raises(HorizonError, match=r"DQN: exploration_fraction=0.1 needs the run's length"):
        DQN(info).act(obs, explore=True)
    prioritized = DQN(info, prioritized_replay=True, exploration_fraction=0.0, learning_starts=0, batch_size=4)
    with pytest.raises(HorizonError, match=r"prioritized_replay .*needs the run's length"):
        prioritized.fit(rollout())
    # schedules that do not span the run need no horizon
    constant = dataclasses.replace(PPO.Config(**LINEAR_PPO), learning_rate_schedule="constant",
                                   clip_range_schedule="constant")
    assert PPO(info, constant).fit(rollout())["learning_rate"] == LR
    assert DQN(info, exploration_initial_eps=0.1, exploration_final_eps=0.1).act(obs, explore=True).shape == (2,)
    # and a horizon given by hand is used
    by_hand = PPO(info, **LINEAR_PPO)
    by_hand.set_horizon(40)
    assert by_hand.fit(rollout())["learning_rate"] == pytest.approx(LR * (1 - 20 / 40))
    with pytest.raises(HorizonError, match="horizon = 0 is invalid"):
        by_hand.set_horizon(0)


def test_the_horizon_is_part_of_the_agent_state():
    info = make_env("CartPole-v1", n_envs=2, seed=0).info
    agent, dqn = PPO(info, **LINEAR_PPO), DQN(info, exploration_fraction=0.5)
    agent.set_horizon(40)
    dqn.set_horizon(1000)
    clone, dqn_clone = PPO(info, **LINEAR_PPO), DQN(info, exploration_fraction=0.5)
    clone.load_state_dict(agent.state_dict())
    dqn_clone.load_state_dict(dqn.state_dict())
    assert clone.fit(rollout())["learning_rate"] == pytest.approx(LR * (1 - 20 / 40))
    assert dqn_clone.epsilon == LinearSchedule(1.0, 0.05, 500)
