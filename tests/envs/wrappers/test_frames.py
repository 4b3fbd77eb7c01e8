import gymnasium as gym
import numpy as np
import pytest

import porcini.envs.wrappers as wrappers
from porcini import Core, make_env
from porcini.envs.testing import CountingEnv, IdentityEnv, SpaceEnv
from porcini.envs.wrappers import (
    FrameStackObservation,
    GrayscaleObservation,
    NumpyResizeObservation,
    OneHotObservation,
)
from porcini.envs.wrappers.frames import resize_image, resize_weights


def _stack(episode, ts):
    return np.array([[episode, t] for t in ts], dtype=np.float32)


def test_frame_stack_order_reset_padding_and_final_obs_through_make_env():
    env = make_env(lambda: CountingEnv(terminate_at=4), n_envs=2,
                   wrappers=[(FrameStackObservation, {"stack_size": 3})])
    assert env.single_observation_space.shape == (3, 2)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs[0], _stack(0, [0, 0, 0]))  # padded with the first observation
    zeros = np.zeros(2, dtype=np.int64)
    obs = env.step(zeros)[0]
    np.testing.assert_array_equal(obs[1], _stack(0, [0, 0, 1]))  # oldest first, newest last
    env.step(zeros)
    obs = env.step(zeros)[0]
    np.testing.assert_array_equal(obs[0], _stack(0, [1, 2, 3]))
    obs, _, terminated, _, info = env.step(zeros)
    assert terminated.all()
    # the final observation is the stack of the ended episode's last frames; obs is the new episode's padding
    np.testing.assert_array_equal(info["final_obs"][0], _stack(0, [2, 3, 4]))
    np.testing.assert_array_equal(obs[0], _stack(1, [0, 0, 0]))


def test_frame_stack_zero_padding():
    env = FrameStackObservation(CountingEnv(), 3, padding_type="zero")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, [[0, 0], [0, 0], [0, 0]])
    env.step(0)
    obs = env.step(0)[0]
    np.testing.assert_array_equal(obs, [[0, 0], [0, 1], [0, 2]])
    obs, _ = env.reset()
    np.testing.assert_array_equal(obs, [[0, 0], [0, 0], [1, 0]])


def test_core_never_stacks_frames_across_episodes(recorder_agent):
    env = make_env(lambda: CountingEnv(terminate_at=5, truncate_at=3), n_envs=2, seed=0,
                   wrappers=[(FrameStackObservation, {"stack_size": 4})])
    agent = recorder_agent(env.info, fit_every_steps=20)
    Core(agent, env, progress=False).learn(steps=200)
    for batch in agent.batches:
        # every transition stays in one episode and advances the newest frame's t by one
        np.testing.assert_array_equal(batch.next_obs[..., -1, 0], batch.obs[..., -1, 0])
        np.testing.assert_array_equal(batch.next_obs[..., -1, 1], batch.obs[..., -1, 1] + 1)
        np.testing.assert_array_equal(batch.next_obs[..., :-1, :], batch.obs[..., 1:, :])
        assert batch.truncated.any()


def test_frame_stack_errors_and_discrete_fix():
    with pytest.raises(TypeError, match="OneHotObservation"):
        FrameStackObservation(IdentityEnv(), 2)
    assert FrameStackObservation(OneHotObservation(IdentityEnv(n=3)), 2).observation_space.shape == (2, 3)
    with pytest.raises(ValueError, match="stack_size"):
        FrameStackObservation(CountingEnv(), 0)
    with pytest.raises(ValueError, match="padding_type"):
        FrameStackObservation(CountingEnv(), 2, padding_type="edge")
    shifted = gym.wrappers.TransformObservation(
        CountingEnv(), lambda o: o + 1, gym.spaces.Box(1.0, 10.0, (2,), np.float32))
    with pytest.raises(ValueError, match="zero padding"):
        FrameStackObservation(shifted, 2, padding_type="zero")
    with pytest.raises(TypeError, match="make_env"):
        FrameStackObservation(make_env("CartPole-v1"), 2)


class ImageEnv(gym.Env):
    """Random RGB images of shape ``[h, w, 3]`` drawn from the env's generator."""

    def __init__(self, h=12, w=10, dtype=np.uint8):
        high = 255 if dtype == np.uint8 else 1.0
        self.observation_space = gym.spaces.Box(0, high, (h, w, 3), dtype)
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self):
        space = self.observation_space
        if space.dtype == np.uint8:
            return self.np_random.integers(0, 256, size=space.shape, dtype=np.uint8)
        return self.np_random.random(space.shape).astype(space.dtype)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(), {}

    def step(self, action):
        return self._obs(), 0.0, False, False, {}


@pytest.mark.parametrize("keep_dim", [False, True])
def test_grayscale_equals_gymnasiums_wrapper(keep_dim):
    """Gymnasium's name, Gymnasium's values: weights, truncation to uint8, keep_dim and the space."""
    ours, theirs = GrayscaleObservation(ImageEnv(), keep_dim), gym.wrappers.GrayscaleObservation(ImageEnv(), keep_dim)
    assert ours.observation_space == theirs.observation_space
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for _ in range(20)]
    frames += [np.full((12, 10, 3), v, np.uint8) for v in (0, 1, 128, 255)]  # weights sum to 1: exact ends
    for frame in frames:
        expected = theirs.observation(frame)
        got = ours.observation(frame)
        assert got.dtype == expected.dtype == np.uint8 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    obs, _ = ours.reset(seed=0)
    assert ours.observation_space.contains(obs)


def test_grayscale_refuses_what_gymnasiums_refuses():
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        GrayscaleObservation(CountingEnv())
    with pytest.raises(ValueError, match="uint8 images with bounds 0 to 255.*convert"):
        GrayscaleObservation(ImageEnv(dtype=np.float32))


def _area_reference(img, out_h, out_w):
    """Slow box filter: each output pixel averages the input area it covers, weighted by overlap."""
    h, w = img.shape[:2]
    out = np.zeros((out_h, out_w, *img.shape[2:]))
    for i in range(out_h):
        for j in range(out_w):
            y0, y1, x0, x1 = i * h / out_h, (i + 1) * h / out_h, j * w / out_w, (j + 1) * w / out_w
            total = np.zeros(img.shape[2:])
            for y in range(h):
                for x in range(w):
                    wy = max(0.0, min(y1, y + 1) - max(y0, y))
                    wx = max(0.0, min(x1, x + 1) - max(x0, x))
                    total = total + wy * wx * img[y, x]
            out[i, j] = total / ((y1 - y0) * (x1 - x0))
    return out


def _bilinear_reference(img, out_h, out_w):
    h, w = img.shape[:2]
    out = np.zeros((out_h, out_w, *img.shape[2:]))
    for i in range(out_h):
        for j in range(out_w):
            y = min(max((i + 0.5) * h / out_h - 0.5, 0.0), h - 1.0)
            x = min(max((j + 0.5) * w / out_w - 0.5, 0.0), w - 1.0)
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            fy, fx = y - y0, x - x0
            out[i, j] = ((1 - fy) * (1 - fx) * img[y0, x0] + (1 - fy) * fx * img[y0, x1]
                         + fy * (1 - fx) * img[y1, x0] + fy * fx * img[y1, x1])
    return out


@pytest.mark.parametrize("size", [(4, 5), (7, 3), (12, 10), (20, 13)])
def test_resize_matches_slow_references(size):
    img = np.random.default_rng(0).random((12, 10, 3))
    for interpolation, reference in (("area", _area_reference), ("bilinear", _bilinear_reference)):
        rows = resize_weights(12, size[0], interpolation)
        cols = resize_weights(10, size[1], interpolation)
        np.testing.assert_allclose(resize_image(img, rows, cols), reference(img, *size), rtol=1e-12, atol=1e-12)


def test_area_resize_by_an_integer_factor_is_a_block_mean():
    img = np.random.default_rng(1).random((12, 10))
    out = resize_image(img, resize_weights(12, 4, "area"), resize_weights(10, 5, "area"))
    np.testing.assert_allclose(out, img.reshape(4, 3, 5, 2).mean(axis=(1, 3)), rtol=1e-12)


def test_resize_agrees_with_pil():
    image = pytest.importorskip("PIL.Image")
    img = np.random.default_rng(2).random((30, 21)).astype(np.float32)
    pil = image.fromarray(img, mode="F")
    # PIL's BOX counts a pixel wholly or not at all, so it equals the exact area average for integer factors only
    area = resize_image(img, resize_weights(30, 10, "area"), resize_weights(21, 7, "area"))
    np.testing.assert_allclose(area, np.asarray(pil.resize((7, 10), image.Resampling.BOX)), atol=1e-5)
    up = resize_image(img, resize_weights(30, 47, "bilinear"), resize_weights(21, 50, "bilinear"))
    np.testing.assert_allclose(up, np.asarray(pil.resize((50, 47), image.Resampling.BILINEAR)), atol=1e-5)


def test_resize_wrapper_keeps_dtype_and_bounds_through_make_env():
    env = make_env(ImageEnv, n_envs=2, seed=0,
                   wrappers=[(NumpyResizeObservation, {"shape": (6, 4)}), GrayscaleObservation,
                             (FrameStackObservation, {"stack_size": 2})])
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 2, 6, 4) and obs.dtype == np.uint8
    assert env.single_observation_space.contains(obs[0])
    single = NumpyResizeObservation(ImageEnv(), (6, 4), interpolation="bilinear")
    img = single.reset(seed=3)[0]
    assert img.shape == (6, 4, 3) and img.dtype == np.uint8
    inf_env = gym.wrappers.TransformObservation(
        ImageEnv(dtype=np.float32), lambda o: o, gym.spaces.Box(-np.inf, np.inf, (12, 10, 3), np.float32))
    assert np.isinf(NumpyResizeObservation(inf_env, (3, 3)).observation_space.low).all()


def test_resize_errors():
    with pytest.raises(ValueError, match="shape"):
        NumpyResizeObservation(ImageEnv(), (0, 4))
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        NumpyResizeObservation(CountingEnv(), (2, 2))
    with pytest.raises(ValueError, match="interpolation"):
        NumpyResizeObservation(ImageEnv(), (2, 2), interpolation="cubic")
    with pytest.raises(TypeError, match="Box"):
        NumpyResizeObservation(IdentityEnv(), (2, 2))


# shrinking an Atari frame and enlarging a small image, each with and without a channel axis
SIZES = [((210, 160, 3), (84, 84)), ((210, 160), (84, 84)), ((10, 12, 3), (47, 50)), ((10, 12), (47, 50))]


def _frames_env(frame_shape):
    return SpaceEnv(gym.spaces.Box(0, 255, frame_shape, np.uint8))  # random uint8 frames, repeatable from the seed


@pytest.mark.parametrize(("frame_shape", "shape"), SIZES)
def test_a_configs_resize_observation_is_gymnasiums(frame_shape, shape):
    """The name ``ResizeObservation`` gives Gymnasium's wrapper: its values, dtype and space, through make_env."""
    pytest.importorskip("cv2", reason="Gymnasium's ResizeObservation needs OpenCV")
    from porcini.experiment.config import EnvConfig, RunConfig
    from porcini.experiment.envs import resolve_wrapper, wrapper_specs

    assert not hasattr(wrappers, "ResizeObservation") and "ResizeObservation" not in wrappers.__all__
    resize = resolve_wrapper("ResizeObservation")
    assert resize is gym.wrappers.ResizeObservation
    env = make_env(lambda: _frames_env(frame_shape), n_envs=2, seed=0, wrappers=[(resize, {"shape": shape})])
    raw = make_env(lambda: _frames_env(frame_shape), n_envs=2, seed=0)
    theirs = gym.wrappers.ResizeObservation(_frames_env(frame_shape), shape)
    assert env.single_observation_space == theirs.observation_space == gym.spaces.Box(
        0, 255, shape + frame_shape[2:], np.uint8)
    pairs = [(env.reset(seed=1)[0], raw.reset(seed=1)[0])]
    pairs += [(env.step(np.zeros(2, dtype=np.int64))[0], raw.step(np.zeros(2, dtype=np.int64))[0]) for _ in range(3)]
    for obs, frames in pairs:
        assert obs.dtype == np.uint8
        np.testing.assert_array_equal(obs, np.stack([theirs.observation(f) for f in frames]))
    # a run config's YAML list: Gymnasium's wrapper takes only a tuple, which the config's wrapper spec gives it
    config = RunConfig(algo_name="random", env=EnvConfig(id="CartPole-v1",
                                                         wrappers=({"ResizeObservation": {"shape": list(shape)}},)))
    ((wrapper, kwargs),) = wrapper_specs(config)
    assert wrapper is resize and kwargs == {"shape": shape}
    from_config = make_env(lambda: _frames_env(frame_shape), n_envs=2, seed=0, wrappers=[(wrapper, kwargs)])
    np.testing.assert_array_equal(from_config.reset(seed=1)[0], env.reset(seed=1)[0])


@pytest.mark.parametrize(("frame_shape", "shape"), SIZES)
def test_numpy_resize_is_not_gymnasiums_resize_hence_its_name(frame_shape, shape):
    """An exact box filter of any dtype: near Gymnasium's (OpenCV ``INTER_AREA``) when shrinking uint8, not equal."""
    cv2 = pytest.importorskip("cv2", reason="Gymnasium's ResizeObservation needs OpenCV")
    frames = np.random.default_rng(0).integers(0, 256, size=(4, *frame_shape), dtype=np.uint8)
    ours = NumpyResizeObservation(_frames_env(frame_shape), shape)
    theirs = gym.wrappers.ResizeObservation(_frames_env(frame_shape), shape)
    assert ours.observation_space == theirs.observation_space
    assert NumpyResizeObservation(_frames_env(frame_shape), list(shape)).observation_space == ours.observation_space
    out = np.stack([ours.observation(f) for f in frames]).astype(int)
    ref = np.stack([theirs.observation(f) for f in frames]).astype(int)
    area = cv2.resize(frames[0], shape[::-1], interpolation=cv2.INTER_AREA)  # what Gymnasium's computes
    np.testing.assert_array_equal(ref[0], area.reshape(ref[0].shape))
    if shape[0] < frame_shape[0]:
        assert np.abs(out - ref).max() <= 1
    assert (out != ref).any()
    floats = gym.spaces.Box(0.0, 255.0, frame_shape, np.float32)
    assert NumpyResizeObservation(SpaceEnv(floats), shape).observation_space.dtype == np.float32
    with pytest.raises(ValueError, match="uint8"):
        gym.wrappers.ResizeObservation(SpaceEnv(floats), shape)
