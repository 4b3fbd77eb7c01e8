import numpy as np
import pytest

from porcini.envs.builtin import GridWorld, PixelGridWorld, PointHazardEnv


def test_hazard_cost_accounting_on_the_diagonal():
    env = PointHazardEnv(start_noise=0.0)  # start (-0.7, -0.7), goal (0.7, 0.7) r 0.1, hazard (0, 0) r 0.3
    env.reset(seed=0)
    costs, rewards, terminated, n_steps = [], [], False, 0
    while not terminated:
        _, reward, terminated, truncated, info = env.step(np.array([3.0, 1.0]))  # clipped to (1, 1)
        costs.append(info["cost"])
        rewards.append(reward)
        n_steps += 1
        assert not truncated and n_steps < 100
    # After k steps the point is at (-0.7 + 0.05 k) on both axes, sqrt(2) |x| from the hazard centre: inside
    # (< 0.3) for |x| < 0.212, i.e. k = 10..18 (9 steps). The goal (distance sqrt(2) |0.7 - x| < 0.1) is
    # reached at k = 27, where the distance left is sqrt(2) * 0.05.
    assert n_steps == 27
    assert costs == [0.0] * 9 + [1.0] * 9 + [0.0] * 9
    assert sum(rewards) == pytest.approx(np.sqrt(2) * 1.4 - np.sqrt(2) * 0.05 + 1.0)


def test_point_stays_in_the_square_and_reports_cost_every_step():
    env = PointHazardEnv(start=(-0.95, 0.0), start_noise=0.0, hazard_center=(-0.9, 0.0), hazard_radius=0.2)
    env.reset(seed=0)
    for _ in range(5):
        obs, _, _, _, info = env.step([-1.0, 0.0])
        assert info["cost"] == 1.0
    assert obs[0] == -1.0 and env.observation_space.contains(obs)
    with pytest.raises(ValueError, match="velocity"):
        env.step([np.nan, 0.0])


def test_point_hazard_renders():
    env = PointHazardEnv(render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert tuple(image[32, 32]) == (255, 80, 80)  # the hazard sits in the middle


def test_pixel_observation_draws_agent_and_goal():
    env = PixelGridWorld()  # 5x5 cells of 2x2 pixels, goal bottom right
    obs, info = env.reset(seed=0)
    assert obs.shape == (10, 10, 3) and obs.dtype == np.uint8
    for _ in range(20):
        row, col = env.cell_position(info["state"])
        agent = np.argwhere(obs[:, :, 2] == 255)
        assert {(int(y) // 2, int(x) // 2) for y, x in agent} == {(row, col)} and len(agent) == 4
        assert np.all(obs[8:10, 8:10, 1] == 255)  # the goal
        assert np.all(obs[2:4, 2:4] == 128)  # the wall at (1, 1)
        obs, _, terminated, _, info = env.step(env.action_space.sample())
        if terminated:
            obs, info = env.reset()


def test_pixel_channels_first_and_same_dynamics_as_grid():
    env = PixelGridWorld(channels_first=True, cell_size=3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape == (3, 15, 15)
    layout = ["".join(row) for row in env.grid]
    grid = GridWorld(layout, step_reward=0.0, terminal_rewards={"G": 1.0}, slip=0.0, random_start=True)
    for a, b in zip(env.transition_model(), grid.transition_model()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="render_mode"):
        PixelGridWorld(render_mode="ansi")
