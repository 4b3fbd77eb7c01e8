import numpy as np
import pytest
import torch

from porcini.networks import NatureCNN


@pytest.mark.parametrize("obs_shape", [(84, 84, 4), (4, 84, 84)])
def test_nature_cnn_on_atari_frames(obs_shape):
    cnn = NatureCNN(obs_shape)
    assert cnn.arch == "nature"
    assert cnn.n_flatten == 64 * 7 * 7  # 84 -> 20 -> 9 -> 7 (Mnih et al. 2015)
    assert cnn.channels_last == (obs_shape[-1] == 4)
    obs = torch.randint(0, 256, (2, *obs_shape), dtype=torch.uint8)
    assert cnn(obs).shape == (2, 512)


@pytest.mark.parametrize(
    ("obs_shape", "n_flatten"), [((10, 10, 3), 64 * 5 * 5), ((3, 10, 10), 64 * 5 * 5), ((10, 7), 64 * 5 * 4)]
)
def test_small_images_fall_back_to_small_stack(obs_shape, n_flatten):
    cnn = NatureCNN(obs_shape, features_dim=64)
    assert cnn.arch == "small" and cnn.n_flatten == n_flatten
    assert cnn(torch.zeros(3, *obs_shape, dtype=torch.uint8)).shape == (3, 64)
    assert NatureCNN((1, 1), features_dim=8)(torch.zeros(2, 1, 1)).shape == (2, 8)


def test_nature_arch_rejects_small_images():
    with pytest.raises(ValueError, match="at least 36x36"):
        NatureCNN((3, 10, 10), arch="nature")
    with pytest.raises(ValueError, match="obs_shape"):
        NatureCNN((4,))


def test_uint8_scaling_and_layouts_agree():
    torch.manual_seed(0)
    cnn_last = NatureCNN((12, 12, 3), features_dim=16)
    cnn_first = NatureCNN((3, 12, 12), features_dim=16)
    cnn_first.load_state_dict(cnn_last.state_dict())
    image = torch.randint(0, 256, (5, 12, 12, 3), dtype=torch.uint8)
    from_uint8 = cnn_last(image)
    torch.testing.assert_close(from_uint8, cnn_last(image.float() / 255.0))
    torch.testing.assert_close(from_uint8, cnn_first(image.permute(0, 3, 1, 2)))


def test_leading_batch_dims_and_shape_errors():
    cnn = NatureCNN((1, 8, 8), features_dim=4)
    obs = torch.as_tensor(np.random.default_rng(0).integers(0, 256, (3, 2, 1, 8, 8), dtype=np.uint8))
    out = cnn(obs)
    assert out.shape == (3, 2, 4)
    torch.testing.assert_close(out[1, 0], cnn(obs[1, 0:1])[0])
    with pytest.raises(ValueError, match="obs_shape"):
        cnn(torch.zeros(2, 8, 8, 1))


def test_orthogonal_cnn_init():
    cnn = NatureCNN((4, 36, 36), features_dim=32, init="orthogonal")
    assert cnn.arch == "nature" and cnn.n_flatten == 64  # 36 -> 8 -> 3 -> 1
    w = cnn.convs[0].weight.detach().reshape(32, -1)
    torch.testing.assert_close(w @ w.T, 2.0 * torch.eye(32), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("channels_last", [True, False])
def test_a_stack_of_colour_frames_is_one_image_of_their_channels(channels_last):
    """[k, H, W, C] (FrameStackObservation over RGB frames) is the image of k * C channels, frame after frame."""
    torch.manual_seed(0)
    frames = torch.randint(0, 256, (5, 4, 12, 12, 3), dtype=torch.uint8)  # [N, k, H, W, C]
    merged = frames.permute(0, 1, 4, 2, 3).reshape(5, 12, 12, 12)  # [N, k * C, H, W]
    stack = frames if channels_last else frames.permute(0, 1, 4, 2, 3)
    cnn = NatureCNN(tuple(stack.shape[1:]), features_dim=16)
    assert cnn.channels_last == channels_last and cnn.image_shape == (12, 12, 12)
    reference = NatureCNN((12, 12, 12), features_dim=16, channels_last=False)
    reference.load_state_dict(cnn.state_dict())
    torch.testing.assert_close(cnn(stack), reference(merged))


@pytest.mark.parametrize(("obs_shape", "channels_last"), [
    ((4, 3, 3), False),  # four stacked 3x3 grayscale frames, as FrameStackObservation gives them
    ((8, 8, 8), False),  # a tie: torch's channels-first
    ((3, 2, 3), False),  # the last axis ties with the first: channels-first
    ((4, 2, 3), False),  # the last axis is not the fewest (the middle one is): channels-first
    ((7, 7, 3), True),  # MiniGrid's image: the channels are strictly the fewest axis
    ((84, 84, 4), True),
])
def test_the_channel_axis_is_last_only_when_strictly_the_fewest(obs_shape, channels_last):
    cnn = NatureCNN(obs_shape, features_dim=8)
    assert cnn.channels_last == channels_last
    expected = (obs_shape[2], obs_shape[0], obs_shape[1]) if channels_last else obs_shape
    assert cnn.image_shape == expected
    torch.manual_seed(0)
    declared = NatureCNN(obs_shape, features_dim=8, channels_last=channels_last)
    declared.load_state_dict(cnn.state_dict())
    obs = torch.randint(0, 256, (2, *obs_shape), dtype=torch.uint8)
    torch.testing.assert_close(cnn(obs), declared(obs))
