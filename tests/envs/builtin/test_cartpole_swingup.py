"""CartPoleSwingUp: Gymnasium's cart-pole equations, the pole hanging at reset, the wall stop, the reward's bounds
and maximum, a 200-step episode that is never terminated."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control import CartPoleEnv

from porcini.envs import check_env
from porcini.envs.builtin import CartPoleSwingUp, register_builtin_envs

register_builtin_envs()
ENV_ID = "porcini/CartPoleSwingUp-v0"


def test_passes_porcini_check_env_for_whole_episodes():
    check_env(gym.make(ENV_ID), steps=450)  # the time limit resets it twice on the way


def test_reset_hangs_the_pole_down_with_small_noise_and_repeats_under_a_seed():
    env = CartPoleSwingUp()
    starts = np.array([env.reset(seed=seed)[0] for seed in range(200)])
    x, x_dot, cos, sin, theta_dot = starts.T
    assert np.all(np.abs(x) <= 0.05) and np.all(np.abs(x_dot) <= 0.05) and np.all(np.abs(theta_dot) <= 0.05)
    assert np.all(cos <= -np.cos(0.05) + 1e-6) and np.all(np.abs(sin) <= np.sin(0.05) + 1e-6)
    assert len(np.unique(x)) == 200 and x.min() < -0.04 and x.max() > 0.04  # uniform noise, not a fixed start
    np.testing.assert_array_equal(env.reset(seed=7)[0], starts[7])


def test_a_start_state_given_as_an_array_is_not_changed_by_reset():
    # reset wraps the angle into [-pi, pi); it did so in the caller's own array (a planner's stored states)
    env = CartPoleSwingUp()
    state = np.array([0.5, 0.1, 4.0, -1.0])
    obs, _ = env.reset(options={"state": state})
    np.testing.assert_array_equal(state, [0.5, 0.1, 4.0, -1.0])
    np.testing.assert_allclose(obs, np.array([0.5, 0.1, np.cos(4.0), np.sin(4.0), -1.0], np.float32), rtol=1e-6)


def test_the_dynamics_are_gymnasiums_cartpole_in_two_semi_implicit_substeps():
    reference = CartPoleEnv()  # Gymnasium's independent implementation, run at a quarter of our dt per step
    reference.tau, reference.kinematics_integrator = 0.025, "semi-implicit euler"
    env, rng = CartPoleSwingUp(), np.random.default_rng(0)
    for _ in range(50):
        state = rng.uniform([-1.0, -2.0, -np.pi, -6.0], [1.0, 2.0, np.pi, 6.0])
        push = int(rng.integers(2))  # Gymnasium's 0 / 1 are our forces -1 / +1
        env.reset(options={"state": state})
        obs, *_ = env.step([2.0 * push - 1.0])
        reference.state = state.copy()
        for _ in range(2):
            reference.steps_beyond_terminated = None  # past its 12 degrees: Gymnasium only warns, we go on
            reference.step(push)
        x, x_dot, theta, theta_dot = reference.state
        expected = [x, x_dot, np.cos(theta), np.sin(theta), theta_dot]
        np.testing.assert_allclose(obs, expected, rtol=1e-5, atol=1e-5)


def test_a_free_swing_keeps_its_energy():
    env = CartPoleSwingUp()
    m_p, half, g = env.pole_mass, env.half_length, env.gravity

    def energy(x_dot, theta, theta_dot):  # the cart, the pole's centre of mass, its rotation about it, its height
        v_x, v_y = x_dot + half * theta_dot * np.cos(theta), -half * theta_dot * np.sin(theta)
        return (env.cart_mass * x_dot**2 + m_p * (v_x**2 + v_y**2) + m_p * half**2 / 3 * theta_dot**2) / 2 + (
            m_p * g * half * np.cos(theta)
        )

    env.reset(options={"state": [0.0, 0.0, 0.3, 0.0]})
    start = energy(0.0, 0.3, 0.0)
    for _ in range(200):  # full swings through the bottom, no force: the cart stays well inside the track
        env.step([0.0])
        x, x_dot, theta, theta_dot = env.state
        assert abs(x) < 1.0
        # semi-implicit Euler's energy error is first order in the substep: bounded, not zero
        assert abs(energy(x_dot, theta, theta_dot) - start) < 0.08 * 2 * m_p * g * half  # of the pole's height range


def test_the_wall_stops_the_cart_without_ending_the_episode():
    env = CartPoleSwingUp()
    env.reset(options={"state": [2.2, 1.0, np.pi, 0.0]})
    positions = []
    for _ in range(10):
        obs, _, terminated, truncated, _ = env.step([1.0])
        positions.append(obs[0])
        assert not terminated and not truncated
    assert positions[-1] == np.float32(2.4) and obs[1] == 0.0 and np.all(np.diff(positions) >= 0)
    assert env.observation_space.contains(obs)
    obs, *_ = env.step([-1.0])
    assert obs[0] < 2.4 and obs[1] < 0.0  # pushed back, it leaves the wall
    env.reset(options={"state": [-2.3, -3.0, 0.0, 0.0]})
    obs, *_ = env.step([-1.0])
    assert obs[0] == np.float32(-2.4) and obs[1] == 0.0


def test_the_reward_is_one_upright_centred_and_idle_and_lies_in_zero_one():
    env = CartPoleSwingUp()
    env.reset(options={"state": [0.0, 0.0, 0.0, 0.0]})
    obs, reward, *_ = env.step([0.0])
    assert reward == 1.0 and obs.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]  # the equilibrium stays put
    env.reset(options={"state": [0.0, 0.0, 0.0, 0.0]})
    _, reward, *_ = env.step([1.0])
    x, _, theta, _ = env.state
    assert reward == pytest.approx(0.8 * (1 + np.cos(theta)) / 2 * (1 + np.exp(-(x**2))) / 2)  # full force: 4/5
    env.reset(options={"state": [0.0, 0.0, np.pi, 0.0]})
    assert env.step([0.0])[1] == 0.0  # hanging down
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    rewards = [env.step(rng.uniform(-3.0, 3.0, 1))[1] for _ in range(2000)]  # beyond the bounds: clipped
    assert 0.0 <= min(rewards) and max(rewards) <= 1.0


def test_episodes_truncate_at_200_steps_and_never_terminate():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    env.action_space.seed(0)
    flags = [env.step(env.action_space.sample())[2:4] for _ in range(200)]
    assert flags == [(False, False)] * 199 + [(False, True)]
    assert env.spec.max_episode_steps == 200


def test_the_picture_shows_the_pole_above_the_cart_when_up():
    env = CartPoleSwingUp(render_mode="rgb_array")
    env.reset(options={"state": [0.0, 0.0, 0.0, 0.0]})
    image = env.render()
    assert image.shape == (64, 128, 3) and image.dtype == np.uint8
    assert tuple(image[20, 64]) == (150, 90, 40)  # the pole, straight up from the centre
    env.reset(options={"state": [0.0, 0.0, np.pi, 0.0]})
    assert tuple(env.render()[20, 64]) == (255, 255, 255)
    assert CartPoleSwingUp().render() is None


def test_bad_actions_options_and_render_modes_are_named():
    env = CartPoleSwingUp()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="one finite number"):
        env.step([np.nan])
    with pytest.raises(ValueError, match="one finite number"):
        env.step([0.0, 1.0])
    with pytest.raises(ValueError, match=r"options\['state'\]"):
        env.reset(options={"state": [3.0, 0.0, 0.0, 0.0]})
    with pytest.raises(ValueError, match="render_mode 'human'"):
        CartPoleSwingUp(render_mode="human")
