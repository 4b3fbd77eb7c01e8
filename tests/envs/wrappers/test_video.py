import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.envs.wrappers import RecordVideo

imageio = pytest.importorskip("imageio.v2")
pytest.importorskip("imageio_ffmpeg")


class PaintEnv(gym.Env):
    """Renders a ``[h, w, 3]`` frame whose red channel is 20 * t: every frame of an episode differs."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode="rgb_array", length=4, h=16, w=24):
        self.render_mode = render_mode
        self.length, self.h, self.w = length, h, w
        self.observation_space = gym.spaces.Box(0.0, 100.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(1, self.t, np.float32), 1.0, self.t >= self.length, False, {}

    def render(self):
        frame = np.zeros((self.h, self.w, 3), np.uint8)
        frame[..., 0] = 20 * self.t
        return frame


def test_every_kth_episode_to_gif_with_one_frame_per_step_plus_reset(tmp_path, recorder_agent):
    env = make_env(PaintEnv, seed=0, wrappers=[(RecordVideo, {"video_folder": tmp_path, "every_episodes": 2,
                                                              "video_format": "gif"})])
    core = Core(recorder_agent(env.info), env, progress=False)
    core.learn(episodes=5)  # Core's extra reset before the first step does not count as an episode
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"rl-video-episode-{i}.gif" for i in (0, 2, 4)]
    frames = imageio.mimread(tmp_path / "rl-video-episode-2.gif")
    assert len(frames) == 4 + 1
    np.testing.assert_array_equal([f[0, 0, 0] for f in frames], [0, 20, 40, 60, 80])


def test_cartpole_to_mp4_through_make_env(tmp_path):
    pytest.importorskip("pygame")
    # 5 steps always pushing left end at the time limit, before the pole can fall from any start state
    env = make_env("CartPole-v1", seed=0, max_episode_steps=5, env_kwargs={"render_mode": "rgb_array"},
                   wrappers=[(RecordVideo, {"video_folder": tmp_path, "name_prefix": "cartpole"})])
    for _ in range(5):
        env.step(np.array([0]))
    path = tmp_path / "cartpole-episode-0.mp4"
    assert path.exists()
    reader = imageio.get_reader(path)
    assert reader.count_frames() == 5 + 1
    assert reader.get_meta_data()["size"] == (600, 400)
    reader.close()


def test_only_one_env_of_a_vector_records_and_close_writes_the_partial_episode(tmp_path):
    env = make_env(lambda: PaintEnv(h=9, w=13), n_envs=3, seed=0,
                   wrappers=[(RecordVideo, {"video_folder": tmp_path, "video_format": "mp4"})], vectorization="sync")
    recorders = [e for e in env.envs if e.is_recorder]
    assert len(recorders) == 1
    for _ in range(2):
        env.step(np.zeros(3, dtype=np.int64))
    env.close()
    assert [p.name for p in tmp_path.iterdir()] == ["rl-video-episode-0.mp4"]
    reader = imageio.get_reader(tmp_path / "rl-video-episode-0.mp4")
    assert reader.count_frames() == 2 + 1
    assert reader.get_meta_data()["size"] == (14, 10)  # odd sizes padded by one pixel for the encoder
    reader.close()
    # closed recorders release their folder
    again = RecordVideo(PaintEnv(), tmp_path)
    assert again.is_recorder
    again.close()


def test_episode_trigger_and_state_dict(tmp_path):
    env = RecordVideo(PaintEnv(length=1), tmp_path, episode_trigger=lambda i: i == 3, video_format="gif")
    for _ in range(5):
        env.reset()
        env.step(0)
    assert [p.name for p in tmp_path.iterdir()] == ["rl-video-episode-3.gif"]
    assert env.state_dict() == {"episode_id": 4, "episode_steps": 1}
    other = RecordVideo(PaintEnv(length=1), tmp_path / "other", video_format="gif")
    other.load_state_dict(env.state_dict())
    other.reset()
    assert other.episode_id == 5
    env.close()
    other.close()


def test_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        make_env("CartPole-v1", wrappers=[(RecordVideo, {"video_folder": tmp_path})])
    with pytest.raises(ValueError, match="video_format"):
        RecordVideo(PaintEnv(), tmp_path, video_format="avi")
    with pytest.raises(ValueError, match="every_episodes"):
        RecordVideo(PaintEnv(), tmp_path, every_episodes=0)
    with pytest.raises(ValueError, match="not both"):
        RecordVideo(PaintEnv(), tmp_path, every_episodes=2, episode_trigger=lambda i: True)
    with pytest.raises(TypeError, match="make_env"):
        RecordVideo(make_env(PaintEnv), tmp_path)


def _video_run(folder, actions, stop=None, every_episodes=1):
    """Videos of ``actions`` in a PaintEnv of 5-step episodes; with ``stop``, checkpointed there and resumed."""
    from porcini.experiment.envs import env_resume_state, restore_envs, wrapper_states

    def build():
        env = make_env(lambda: PaintEnv(length=5), n_envs=1, seed=0, vectorization="sync",
                       wrappers=[(RecordVideo, {"video_folder": folder, "every_episodes": every_episodes})])
        env.unwrapped.record_for_resume()
        return env

    env = build()
    obs, _ = env.reset(seed=0)
    for t, action in enumerate(actions):
        if t == stop:
            state = {"wrappers": wrapper_states(env), "env": env_resume_state(env), "core": {"obs": obs}}
            env.close()
            env = build()
            assert restore_envs(env, state, seed=0) is None  # replayed exactly
        obs, *_ = env.step(np.array([action]))
    env.close()
    return {p.name: [int(f[0, 0, 0]) for f in imageio.mimread(p)] for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("every_episodes", [1, 2])
@pytest.mark.parametrize("stop", [5, 7])  # at the start of episode 1 (no step yet), 2 steps into it
def test_a_resumed_run_records_the_episode_in_progress_under_its_own_index(tmp_path, every_episodes, stop):
    # the resume replays the episode in progress through the wrapper, whose reset counted it as a new episode:
    # the rest of episode 1 went to episode-2's file, which the real episode 2 then overwrote
    actions = [0] * 12  # episodes 0 and 1 end, episode 2 is 2 steps in
    uninterrupted = _video_run(tmp_path / "straight", actions, every_episodes=every_episodes)
    assert sorted(uninterrupted) == [f"rl-video-episode-{i}.mp4" for i in range(0, 3, every_episodes)]
    assert _video_run(tmp_path / "resumed", actions, stop=stop, every_episodes=every_episodes) == uninterrupted
