"""The Atari wrappers, one behaviour each, against a small fake Atari env whose frames and rewards encode its steps."""

import sys

import gymnasium as gym
import numpy as np
import pytest

from porcini.envs.make import evaluation_wrappers
from porcini.envs.wrappers import (
    EpisodicLife,
    FireReset,
    FrameStackObservation,
    GrayscaleResize,
    MaxAndSkip,
    NatureAtari,
    NoopReset,
    SignReward,
)
from porcini.envs.wrappers.frames import resize_image, resize_weights
from porcini.errors import MissingExtraError

cv2 = pytest.importorskip("cv2", reason='OpenCV is not installed: pip install "porcini[atari]"')


class FakeAle:
    def __init__(self):
        self.n_lives = 0

    def lives(self):
        return self.n_lives


class FakeAtari(gym.Env):
    """Frame t (t = frames stepped since reset): row 1 holds t, pixel (0, 0) is 100 on odd frames only and pixel
    (0, 1) is 50 on even frames only (flicker). The reward of frame t is ``rewards[t % len(rewards)]``. A life is
    lost every ``life_every`` frames; the game is over when no lives remain (``terminated``); ``truncate_at``
    frames end it with ``truncated``."""

    def __init__(self, meanings=("NOOP", "FIRE", "RIGHT", "LEFT"), lives=3, life_every=10, rewards=(1.0,),
                 truncate_at=None, shape=(12, 10, 3), frameskip=1):
        self.meanings = list(meanings)
        self.start_lives, self.life_every, self.rewards, self.truncate_at = lives, life_every, rewards, truncate_at
        self.observation_space = gym.spaces.Box(0, 255, shape, np.uint8)
        self.action_space = gym.spaces.Discrete(len(meanings))
        self.ale = FakeAle()
        self._frameskip = frameskip
        self.actions, self.resets, self.t = [], 0, 0

    def get_action_meanings(self):
        return list(self.meanings)

    def frame(self):
        f = np.zeros(self.observation_space.shape, np.uint8)
        f[0, 0] = 100 if self.t % 2 else 0
        f[0, 1] = 0 if self.t % 2 else 50
        f[1] = self.t % 256
        return f

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.resets += 1
        self.t = 0
        self.ale.n_lives = self.start_lives
        return self.frame(), {"lives": self.ale.n_lives}

    def step(self, action):
        self.actions.append(int(action))
        self.t += 1
        if self.t % self.life_every == 0:
            self.ale.n_lives -= 1
        reward = float(self.rewards[self.t % len(self.rewards)])
        truncated = self.truncate_at is not None and self.t >= self.truncate_at
        return self.frame(), reward, self.ale.n_lives == 0, truncated, {"lives": self.ale.n_lives}


def noop_count(seed, noop_max=5):
    env = NoopReset(FakeAtari(life_every=1000), noop_max=noop_max)
    env.reset(seed=seed)
    assert set(env.unwrapped.actions) <= {0}
    return env.unwrapped.t


def test_noop_reset_takes_1_to_noop_max_noops_repeatable_from_the_seed():
    counts = [noop_count(seed) for seed in range(40)]
    assert set(counts) == {1, 2, 3, 4, 5}  # every count in bounds is drawn, none outside
    assert [noop_count(seed) for seed in range(40)] == counts


def test_noop_reset_resets_again_when_the_noops_end_the_game():
    env = NoopReset(FakeAtari(lives=1, life_every=2), noop_max=30)
    counts = set()
    for seed in range(10):
        obs, _ = env.reset(seed=seed)
        counts.add(env.unwrapped.resets)
        assert env.unwrapped.t < 2 and obs[1, 0, 0] == env.unwrapped.t  # a live game, its observation
    assert max(counts) > 1


def test_noop_reset_needs_an_atari_env_whose_action_0_is_noop():
    with pytest.raises(TypeError, match="needs an Atari env"):
        NoopReset(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="action 0 to be NOOP"):
        NoopReset(FakeAtari(meanings=("FIRE", "NOOP", "UP")))


def test_fire_reset_presses_fire_then_action_2_after_a_reset_only():
    env = FireReset(FakeAtari())
    obs, _ = env.reset(seed=0)
    assert env.unwrapped.actions == [1, 2] and obs[1, 0, 0] == 2
    for _ in range(10):  # a life is lost on frame 10: without fire_on_life_loss, nothing is pressed for the agent
        env.step(3)
    assert env.unwrapped.actions == [1, 2] + [3] * 10


def test_fire_reset_for_evaluation_fires_after_each_lost_life_within_the_step():
    env = FireReset(FakeAtari(rewards=(1.0,)), fire_on_life_loss=True)
    env.reset(seed=0)
    for _ in range(7):
        env.step(3)
    _, reward, terminated, _, _ = env.step(3)  # frame 10 loses a life; FIRE and 2 follow in the same step
    assert env.unwrapped.actions == [1, 2] + [3] * 8 + [1, 2]
    assert reward == 3.0 and not terminated


def test_fire_reset_needs_a_fire_action():
    with pytest.raises(ValueError, match="action 1 to be FIRE"):
        FireReset(FakeAtari(meanings=("NOOP", "UP", "DOWN")))


def test_episodic_life_terminates_on_a_lost_life_but_resets_the_game_only_when_it_is_over():
    env = EpisodicLife(FakeAtari(lives=2, life_every=3))
    env.reset(seed=0)
    flags = [env.step(2)[2] for _ in range(3)]
    assert flags == [False, False, True]  # frame 3: a life lost -> terminated for the learner
    obs, _ = env.reset()
    assert env.unwrapped.resets == 1 and env.unwrapped.actions[-1] == 0  # no reset: one NOOP continued the game
    assert obs[1, 0, 0] == 4 and env.lives == 1
    flags = [env.step(2)[2] for _ in range(2)]
    assert flags == [False, True] and env.unwrapped.ale.n_lives == 0  # frame 6: the game is over
    env.reset()
    assert env.unwrapped.resets == 2 and env.unwrapped.t == 0 and env.lives == 2


def test_episodic_life_seeded_reset_and_truncation_reset_the_game():
    env = EpisodicLife(FakeAtari(lives=3, life_every=3, truncate_at=5))
    env.reset(seed=0)
    for _ in range(3):
        env.step(2)
    env.reset(seed=1)  # a seeded reset after a lost life: a real one, so the seed decides the start
    assert env.unwrapped.resets == 2
    results = [env.step(2) for _ in range(5)]
    assert [(r[2], r[3]) for r in results][-1] == (False, True)  # the time limit stays a truncation
    env.reset()
    assert env.unwrapped.resets == 3


def test_sign_reward():
    env = SignReward(FakeAtari(rewards=(-3.0, 0.0, 2.5, 0.25)))
    env.reset(seed=0)
    assert [env.step(0)[1] for _ in range(4)] == [0.0, 1.0, 1.0, -1.0]


def test_max_and_skip_max_pools_the_last_two_frames_and_sums_the_rewards():
    env = MaxAndSkip(FakeAtari(rewards=tuple(range(100)), life_every=1000), skip=4)
    env.reset(seed=0)
    obs, reward, terminated, truncated, _ = env.step(2)
    assert env.unwrapped.actions == [2, 2, 2, 2] and reward == 1 + 2 + 3 + 4
    assert obs[0, 0, 0] == 100 and obs[0, 1, 0] == 50  # frame 3 shows one sprite, frame 4 the other
    assert obs[1, 0, 0] == 4 and obs[2, 0, 0] == 0  # the max of frames 3 and 4, nothing of older frames
    assert not (terminated or truncated)


def test_max_and_skip_stops_at_the_end_of_an_episode_with_its_real_last_frames():
    env = MaxAndSkip(FakeAtari(rewards=tuple(range(100)), life_every=1000, truncate_at=6), skip=4)
    env.reset(seed=0)
    env.step(2)
    obs, reward, _, truncated, _ = env.step(2)  # frames 5 and 6: the episode is truncated on frame 6
    assert truncated and len(env.unwrapped.actions) == 6 and reward == 5 + 6
    assert obs[1, 0, 0] == 6 and (obs[0, 0, 0], obs[0, 1, 0]) == (100, 50)
    env = MaxAndSkip(FakeAtari(life_every=1000, truncate_at=5), skip=4)
    env.reset(seed=0)
    env.step(2)
    obs, *_ = env.step(2)  # frame 5 ends it: the observation is frame 5 itself, not a max with a stale frame
    np.testing.assert_array_equal(obs, env.unwrapped.frame())


def test_the_horizon_under_max_and_skip_counts_agent_steps():
    """A limit of 10 frames is 3 agent steps of 4 frames (4 + 4 + 2), also inside NatureAtari."""
    from porcini import make_env

    env = make_env(lambda: FakeAtari(life_every=1000), seed=0, max_episode_steps=10,
                   wrappers=[(MaxAndSkip, {"skip": 4})])
    ends = [bool(env.step(np.zeros(1, dtype=np.int64))[3][0]) for _ in range(3)]
    assert env.info.horizon == 3 and ends == [False, False, True]
    nature = make_env(lambda: FakeAtari(life_every=1000), seed=0, max_episode_steps=10,
                      wrappers=[(NatureAtari, {"noop_max": 0, "stack_size": 1})])
    assert nature.info.horizon == 3


def test_grayscale_resize_gives_84x84_uint8_near_bt601_grayscale_and_porcinis_area_resize():
    env = GrayscaleResize(FakeAtari(shape=(210, 160, 3)), (84, 84))
    assert env.observation_space == gym.spaces.Box(0, 255, (84, 84), np.uint8)
    frame = np.random.default_rng(0).integers(0, 256, (210, 160, 3), dtype=np.uint8)
    out = env.observation(frame)
    assert out.shape == (84, 84) and out.dtype == np.uint8
    # OpenCV's BT.601 weights, not those of GrayscaleObservation (Gymnasium's)
    gray = np.rint(frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    expected = resize_image(gray, resize_weights(210, 84, "area"), resize_weights(160, 84, "area")).astype(int)
    assert np.abs(out.astype(int) - expected).max() <= 2  # two roundings apart, the same image
    red = np.zeros((210, 160, 3), np.uint8)
    red[..., 0] = 255
    assert set(np.unique(env.observation(red))) == {76}  # 0.299 * 255, BT.601


def test_grayscale_resize_without_opencv_names_the_atari_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(MissingExtraError, match=r'pip install "porcini\[atari\]"'):
        GrayscaleResize(FakeAtari())


def test_nature_atari_stacks_four_84x84_frames_and_ends_learner_episodes_at_lost_lives():
    env = NatureAtari(FakeAtari(shape=(210, 160, 3), lives=3, life_every=40, rewards=(5.0,)))
    assert env.observation_space == FrameStackObservation(
        GrayscaleResize(FakeAtari(shape=(210, 160, 3))), 4).observation_space
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    steps = 0
    while True:
        obs, reward, terminated, truncated, _ = env.step(2)
        steps += 1
        assert reward == 1.0  # 4 frames of 5 points, signed
        if terminated:
            break
    assert env.unwrapped.ale.n_lives == 2 and steps < 10  # a lost life, not the game


def test_nature_atari_for_evaluation_plays_whole_games_with_real_rewards():
    (cls, kwargs), = evaluation_wrappers([(NatureAtari, {"noop_max": 10})])
    assert cls is NatureAtari and kwargs == {"noop_max": 10, "training": False}
    env = cls(FakeAtari(shape=(210, 160, 3), lives=3, life_every=40, rewards=(5.0,)), **kwargs)
    env.reset(seed=0)
    frames_in_reset = env.unwrapped.t  # the no-ops and the two FIREs (4 frames each)
    rewards = []
    while True:
        _, reward, terminated, truncated, _ = env.step(2)
        rewards.append(reward)
        if terminated or truncated:
            break
    assert terminated and env.unwrapped.ale.n_lives == 0 and env.unwrapped.resets == 1  # one whole game
    assert sum(rewards) == 5.0 * (120 - frames_in_reset)  # every frame's 5 points, none clipped
    # FIRE (4 frames each) after the reset and after each of the 2 lives lost before the game ended
    assert env.unwrapped.actions.count(1) == 3 * 4


def test_training_only_wrappers_are_left_out_of_evaluation_envs():
    kept = (FrameStackObservation, {"stack_size": 4})
    assert evaluation_wrappers([EpisodicLife, (SignReward, {}), kept, NoopReset]) == [kept, NoopReset]


def test_nature_atari_refuses_an_env_that_skips_frames_itself():
    with pytest.raises(ValueError, match="frameskip=4.*frameskip=1"):
        NatureAtari(FakeAtari(shape=(210, 160, 3), frameskip=4))
