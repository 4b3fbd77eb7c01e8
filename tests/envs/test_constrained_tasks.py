"""The constrained classic-control tasks: the cost is the documented function of the state, the rest is Gymnasium's."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.envs.builtin import CartPoleBand, PendulumSpeed


def test_cartpole_band_costs_exactly_the_steps_outside_the_band():
    env, reference = CartPoleBand(band=0.1), gym.make("CartPole-v1").unwrapped
    obs, _ = env.reset(seed=4)
    reference.reset(seed=4)
    rng = np.random.default_rng(0)
    outside = 0
    for _ in range(200):
        action = int(rng.integers(2)) if abs(obs[0]) < 0.3 else int(obs[0] < 0)  # wander, but stay on the track
        obs, reward, terminated, truncated, info = env.step(action)
        ref_obs, ref_reward, ref_terminated = reference.step(action)[:3]
        np.testing.assert_array_equal(obs, ref_obs)
        assert (reward, terminated) == (ref_reward, ref_terminated)
        assert info["cost"] == (1.0 if abs(obs[0]) > 0.1 else 0.0)
        outside += abs(obs[0]) > 0.1
        if terminated:
            break
    assert outside > 0 and outside < 200  # both kinds of step were seen


def test_pendulum_speed_costs_the_fast_steps_and_scales_the_action_to_the_torque():
    env, reference = PendulumSpeed(max_safe_speed=4.0), gym.make("Pendulum-v1").unwrapped
    env.reset(seed=1)
    reference.reset(seed=1)
    costs = []
    for t in range(150):
        action = np.array([1.0 if (t // 25) % 2 == 0 else -1.0], np.float32)  # pump energy back and forth
        obs, reward, _, _, info = env.step(action)
        ref_obs, ref_reward = reference.step(2.0 * action)[:2]
        np.testing.assert_allclose(obs, ref_obs)
        assert reward == pytest.approx(ref_reward)
        assert info["cost"] == (1.0 if abs(obs[2]) > 4.0 else 0.0)
        costs.append(info["cost"])
    assert 0 < sum(costs) < len(costs)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)


@pytest.mark.parametrize(("env_id", "limit"), [("porcini/CartPoleBand-v0", 500), ("porcini/PendulumSpeed-v0", 200)])
def test_registered_with_their_time_limits_and_a_cost_on_every_step(env_id, limit):
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == limit
    env.reset(seed=0)
    for _ in range(5):
        assert env.step(env.action_space.sample())[-1]["cost"] in (0.0, 1.0)
    assert make_env(env_id, n_envs=2, seed=0).info.horizon == limit


@pytest.mark.parametrize(("make", "message"), [
    (lambda: CartPoleBand(band=0.0), "band must be in"), (lambda: CartPoleBand(band=3.0), "band must be in"),
    (lambda: PendulumSpeed(max_safe_speed=9.0), "max_safe_speed must be in"),
])
def test_bad_thresholds_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()
