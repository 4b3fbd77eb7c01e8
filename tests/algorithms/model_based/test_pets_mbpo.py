"""PETS and MBPO as agents: what they do before and after their model is fit, exact resume, their model buffer,
their mixed minibatches, and the refusals (spaces, terminations, configs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.model_based.mbpo import MBPO
from porcini.algorithms.model_based.pets import PETS
from porcini.core.batch import TransitionBatch
from porcini.errors import ConfigError, NoModelError, UnsupportedSpaceError

TINY_PETS = {"model_hidden": (16,), "model_epochs": 3, "horizon": 4, "population": 16, "iterations": 2, "elites": 4,
             "particles": 5, "learning_starts": 40, "model_train_freq": 40}
TINY_MBPO = {"net_arch": (16,), "model_hidden": (16,), "model_epochs": 3, "batch_size": 16, "learning_starts": 40,
             "model_train_freq": 40, "rollout_batch_size": 30, "rollout_length": 2, "rollout_retain": 2,
             "gradient_steps": 2}


def test_pets_acts_at_random_until_its_first_model_fit_then_plans():
    env = make_env("Pendulum-v1", seed=0)
    agent = PETS(env.info, **TINY_PETS)
    obs, _ = env.reset(seed=0)
    random_actions = np.concatenate([agent.act(obs, explore=True) for _ in range(50)])
    assert random_actions.min() < -1.5 and random_actions.max() > 1.5  # uniform over [-2, 2]
    Core(agent, env, progress=False).learn(steps=40)
    assert agent.model_fits == 1 and agent.steps_seen == 40
    assert agent.warm == [None]
    action = agent.act(obs, explore=False)
    assert action.shape == (1, 1) and action.dtype == np.float32 and np.all(np.abs(action) <= 2.0)
    assert agent.warm[0] is not None and agent.warm[0].shape == (4, 1)  # the plan, shifted, for the next step
    agent.reset(np.array([True]))
    assert agent.warm == [None]


@pytest.mark.parametrize("learning_starts, expected", [(30, [30, 50, 70]), (10, [10, 30, 50, 70])])
def test_pets_fits_first_at_learning_starts_then_every_model_train_freq(learning_starts, expected):
    env = make_env("Pendulum-v1", seed=0)
    agent = PETS(env.info, **{**TINY_PETS, "learning_starts": learning_starts, "model_train_freq": 20})
    fitted_at, fit = [], agent.fit

    def recording_fit(batch):
        fits = agent.model_fits
        metrics = fit(batch)
        if agent.model_fits > fits:
            fitted_at.append(agent.steps_seen)
        return metrics

    agent.fit = recording_fit
    Core(agent, env, progress=False).learn(steps=75)
    assert fitted_at == expected  # random actions for exactly learning_starts steps, as documented
    """With Pendulum's known reward and a model fit on random data, its first action pushes toward upright."""
    env = make_env("Pendulum-v1", seed=0)
    agent = PETS(env.info, **{**TINY_PETS, "model_hidden": (64, 64), "model_epochs": 60, "learning_starts": 400,
                              "model_train_freq": 400, "population": 64, "horizon": 6, "iterations": 3},
                 reward="known")
    Core(agent, env, progress=False).learn(steps=400)
    # slightly right of upright, at rest: the torque that keeps it up is negative (toward θ = 0)
    theta = 0.3
    obs = np.array([[np.cos(theta), np.sin(theta), 0.0]], dtype=np.float32)
    actions = [float(agent.act(obs, explore=False)[0, 0]) for _ in range(5)]
    assert np.mean(actions) < -0.5, actions


def run_and_record(agent, env, steps):
    core = Core(agent, env, progress=False)
    core.learn(steps=steps)
    obs, _ = env.reset(seed=7)
    return np.concatenate([agent.act(obs, explore=True) for _ in range(3)])


@pytest.mark.parametrize("cls, kwargs", [(PETS, TINY_PETS), (PETS, {**TINY_PETS, "planner": "icem"}),
                                         (MBPO, TINY_MBPO)])
def test_save_load_gives_identical_continuation(cls, kwargs):
    env = make_env("Pendulum-v1", seed=0)
    agent = cls(env.info, **kwargs)
    Core(agent, env, progress=False).learn(steps=60)
    state = agent.state_dict()
    expected = run_and_record(agent, make_env("Pendulum-v1", seed=1), 50)
    restored = cls(make_env("Pendulum-v1").info, **kwargs)
    restored.load_state_dict(state)
    np.testing.assert_array_equal(run_and_record(restored, make_env("Pendulum-v1", seed=1), 50), expected)
    for name, tensor in agent.model.state_dict().items():
        torch.testing.assert_close(restored.model.state_dict()[name], tensor, rtol=0, atol=0)


def test_mbpo_fills_its_model_buffer_with_rollouts_and_keeps_the_last_rounds():
    env = make_env("Pendulum-v1", seed=0)
    agent = MBPO(env.info, **TINY_MBPO)
    core = Core(agent, env, progress=False)
    core.learn(steps=39)
    assert agent.model_fits == 0 and len(agent.model_buffer) == 0
    core.learn(steps=1)
    assert agent.model_fits == 1 and len(agent.model_buffer) == 30 * 2
    core.learn(steps=120)
    assert agent.model_fits == 4 and len(agent.model_buffer) == 30 * 2 * 2  # two rounds retained
    rollouts = agent.model_buffer.gather(np.arange(len(agent.model_buffer)))
    assert not rollouts.terminated.any()
    assert rollouts.truncated.sum() == 2 * 30  # each rollout's last step is marked truncated
    assert np.abs(rollouts.action).max() <= 1.0  # normalized actions, as the real buffer stores them


def test_mbpo_minibatches_mix_real_and_model_transitions_at_the_ratio():
    env = make_env("Pendulum-v1", seed=0)
    agent = MBPO(env.info, **{**TINY_MBPO, "real_ratio": 0.25, "batch_size": 40})
    Core(agent, env, progress=False).learn(steps=40)
    real_rewards = set(agent.buffer.gather(np.arange(len(agent.buffer))).reward.ravel().tolist())
    drawn = agent.draw(3)
    assert drawn.reward.shape[0] == 120
    from_real = np.array([r in real_rewards for r in drawn.reward.ravel().tolist()]).reshape(3, 40)
    assert from_real.sum(axis=1).tolist() == [10, 10, 10]


def test_mbpo_before_any_rollout_draws_real_transitions_only():
    env = make_env("Pendulum-v1", seed=0)
    agent = MBPO(env.info, **{**TINY_MBPO, "learning_starts": 20, "model_train_freq": 1000})
    agent.model_buffer = type(agent.model_buffer)(10, n_envs=1)
    agent.buffer.add(TransitionBatch(np.zeros((5, 1, 3), np.float32), np.zeros((5, 1, 1), np.float32),
                                     np.arange(5, dtype=np.float32)[:, None], np.zeros((5, 1, 3), np.float32),
                                     np.zeros((5, 1), bool), np.zeros((5, 1), bool)))
    assert set(agent.draw(2).reward.ravel().tolist()) <= set(range(5))


@pytest.mark.parametrize("cls, kwargs", [(PETS, TINY_PETS), (MBPO, TINY_MBPO)])
def test_a_task_that_terminates_is_refused_at_the_first_model_fit(cls, kwargs):
    env = make_env("Pendulum-v1", seed=0)
    agent = cls(env.info, **{**kwargs, "learning_starts": 2, "model_train_freq": 2})
    batch = TransitionBatch(np.zeros((2, 1, 3), np.float32), np.zeros((2, 1, 1), np.float32),
                            np.zeros((2, 1), np.float32), np.zeros((2, 1, 3), np.float32),
                            np.array([[False], [True]]), np.zeros((2, 1), bool))
    with pytest.raises(ValueError, match="ended by termination.*never terminate"):
        agent.fit(batch)


@pytest.mark.parametrize("cls", [PETS, MBPO])
def test_spaces_a_model_cannot_handle_are_refused(cls):
    with pytest.raises(UnsupportedSpaceError, match="CartPole-v1"):
        cls(make_env("CartPole-v1").info)


def test_pets_refusals_name_the_field():
    info = make_env("Pendulum-v1").info
    with pytest.raises(ConfigError, match="particles = 7 is invalid: must be a positive multiple of n_elites"):
        PETS(info, particles=7)
    with pytest.raises(ConfigError, match="propagation"):
        PETS(info, propagation="ts2")
    with pytest.raises(ConfigError, match="n_elites = 6"):
        PETS(info, n_elites=6)
    with pytest.raises(NoModelError, match="MountainCarContinuous-v0"):
        PETS(make_env("MountainCarContinuous-v0").info, reward="known")
    with pytest.raises(ConfigError, match="real_ratio"):
        MBPO(info, real_ratio=1.5)


def test_with_a_termination_rule_terminating_tasks_are_accepted_and_rollouts_end_there():
    env = make_env("Pendulum-v1", seed=0)
    batch = TransitionBatch(np.zeros((40, 1, 3), np.float32), np.zeros((40, 1, 1), np.float32),
                            np.zeros((40, 1), np.float32), np.zeros((40, 1, 3), np.float32),
                            np.arange(40)[:, None] % 10 == 9, np.zeros((40, 1), bool))

    def ends_right_of_center(obs, action, next_obs):
        return next_obs[:, 1] > 0  # sin θ > 0

    pets = PETS(env.info, termination_fn=ends_right_of_center, **TINY_PETS)
    pets.fit(batch)
    assert pets.model_fits == 1
    mbpo = MBPO(env.info, termination_fn=ends_right_of_center, **{**TINY_MBPO, "rollout_length": 4})
    mbpo.fit(batch)
    rollouts = mbpo.model_buffer.gather(np.arange(len(mbpo.model_buffer)))
    assert np.array_equal(rollouts.terminated[:, 0], rollouts.next_obs[:, 0, 1] > 0)
    assert not (rollouts.terminated & rollouts.truncated).any()
    assert len(mbpo.model_buffer) < 30 * 4  # terminated rollouts stopped early


@pytest.mark.parametrize("cls, kwargs", [(PETS, TINY_PETS), (MBPO, TINY_MBPO)])
def test_a_model_that_learns_terminations_accepts_tasks_that_terminate(cls, kwargs):
    env = make_env("Pendulum-v1", seed=0)
    agent = cls(env.info, **{**kwargs, "learning_starts": 2, "model_train_freq": 2, "learn_termination": True})
    batch = TransitionBatch(np.zeros((2, 1, 3), np.float32), np.zeros((2, 1, 1), np.float32),
                            np.zeros((2, 1), np.float32), np.zeros((2, 1, 3), np.float32),
                            np.array([[False], [True]]), np.zeros((2, 1), bool))
    agent.fit(batch)
    assert agent.model_fits == 1 and agent.model.learn_termination


def test_pets_takes_a_reward_function_or_the_known_one_not_both():
    info = make_env("Pendulum-v1").info
    with pytest.raises(ValueError, match="either reward_fn or reward='known'"):
        PETS(info, reward="known", reward_fn=lambda obs, action, next_obs: -obs[:, 0])


def test_mbpo_saved_before_its_first_rollout_loads():
    env = make_env("Pendulum-v1", seed=0)
    agent = MBPO(env.info, **TINY_MBPO)
    Core(agent, env, progress=False).learn(steps=10)  # before learning_starts: an empty model buffer
    restored = MBPO(env.info, **TINY_MBPO)
    restored.load_state_dict(agent.state_dict())
    assert len(restored.model_buffer) == 0 and restored.model_buffer.n_envs == 1


def test_pets_plans_stay_inside_a_float64_box_that_float32_bounds_overshoot():
    """The planner clamps to float32 bounds: float32(0.3) = 0.30000001 lies outside Box(-1, 0.3, float64)."""
    import dataclasses

    import gymnasium as gym

    space = gym.spaces.Box(np.array([-1.0]), np.array([0.3]), dtype=np.float64)
    info = dataclasses.replace(make_env("Pendulum-v1", seed=0).info, action_space=space)
    agent = PETS(info, **TINY_PETS)
    assert float(agent.planner.high[0]) == float(np.float32(0.3)) > 0.3
    agent.model_fits = 1  # planning from now on, and every plan on the planner's upper bound
    agent.plan_first_actions = lambda obs, cost_at: agent.planner.high.expand(len(obs), 1).cpu().numpy()
    obs = np.zeros((3, 3), np.float32)
    for explore in (True, False):
        action = agent.act(obs, explore=explore)
        assert action.dtype == np.float64 and all(space.contains(a) for a in action)
