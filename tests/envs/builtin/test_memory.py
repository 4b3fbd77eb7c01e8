import numpy as np
import pytest

from porcini.envs.builtin import CueMemory


def test_the_cue_is_shown_once_and_the_question_after_delay_steps():
    env = CueMemory(delay=3, n_cues=3)
    obs, info = env.reset(seed=0)
    assert obs[:3].sum() == 1.0 and obs[info["cue"]] == 1.0 and obs[3] == 0.0
    for _ in range(2):
        obs, reward, terminated, truncated, _ = env.step(0)
        assert obs.tolist() == [0.0, 0.0, 0.0, 0.0] and reward == 0.0 and not terminated
    obs, reward, terminated, _, _ = env.step(1)
    assert obs.tolist() == [0.0, 0.0, 0.0, 1.0] and reward == 0.0 and not terminated  # answers before it count not
    _, reward, terminated, truncated, _ = env.step(info["cue"])
    assert (reward, terminated, truncated) == (1.0, True, False)


def test_a_policy_without_memory_scores_chance_and_cues_are_uniform():
    env = CueMemory(delay=2, n_cues=2)
    cues, rewards = [], []
    for episode in range(2000):
        _, info = env.reset(seed=episode)
        cues.append(info["cue"])
        for _ in range(2):
            env.step(0)
        rewards.append(env.step(0)[1])  # the best answer without memory: a fixed one
    assert abs(np.mean(cues) - 0.5) < 0.05
    assert abs(np.mean(rewards) - 0.5) < 0.05


def test_bad_arguments_and_actions_are_named():
    with pytest.raises(ValueError, match="delay=0"):
        CueMemory(delay=0)
    env = CueMemory()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action 5 is not in Discrete"):
        env.step(5)


def test_cartpole_without_velocity_is_cartpole_seen_through_position_and_angle():
    import gymnasium as gym

    from porcini.envs.builtin import CartPoleNoVelocity

    full, partial = gym.make("CartPole-v1"), gym.make("porcini/CartPoleNoVel-v1")
    assert partial.spec.max_episode_steps == 500
    obs_full, _ = full.reset(seed=3)
    obs, _ = partial.reset(seed=3)
    scale = CartPoleNoVelocity.SCALE
    for t in range(200):
        np.testing.assert_allclose(obs, obs_full[[0, 2]] / scale, rtol=1e-6)
        assert partial.observation_space.contains(obs)
        action = t % 3 == 0
        obs_full, r_full, term_full, trunc_full, _ = full.step(int(action))
        obs, reward, terminated, truncated, _ = partial.step(int(action))
        assert (reward, terminated, truncated) == (r_full, term_full, trunc_full)
        if terminated or truncated:
            break
    assert terminated  # this policy drops the pole; at the end |x| <= 2.4 or |theta| <= 12 degrees is broken
    assert np.abs(obs).max() > 1.0


@pytest.mark.parametrize(("kwargs", "name"), [({"delay": 2.5}, "delay"), ({"n_cues": 3.0}, "n_cues")])
def test_non_integer_arguments_are_refused_not_rounded(kwargs, name):
    with pytest.raises(ValueError, match=name):
        CueMemory(**kwargs)
