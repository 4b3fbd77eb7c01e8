import copy
import math

import pytest
import torch
from torch import nn

from porcini.networks import MLP, orthogonal_init_


def _sequential_copy(mlp: MLP, activation: type[nn.Module]) -> nn.Sequential:
    modules: list[nn.Module] = []
    for i, layer in enumerate(mlp.layers):
        linear = nn.Linear(layer.in_features, layer.out_features)
        linear.load_state_dict(layer.state_dict())
        modules.append(linear)
        if i < mlp.n_hidden:
            modules.append(activation())
    return nn.Sequential(*modules)


@pytest.mark.parametrize(("activation", "module"), [("tanh", nn.Tanh), ("relu", nn.ReLU)])
def test_mlp_equals_sequential_reference(activation, module):
    torch.manual_seed(0)
    mlp = MLP(4, 2, hidden=(64, 32), activation=activation)
    reference = _sequential_copy(mlp, module)
    x = torch.randn(7, 4)
    torch.testing.assert_close(mlp(x), reference(x))


def test_mlp_shapes_with_leading_dims_and_flatten():
    mlp = MLP((3, 5), 2, hidden=(8,))
    assert mlp.in_dim == 15 and mlp.out_dim == 2
    assert mlp(torch.randn(6, 3, 5)).shape == (6, 2)
    assert mlp(torch.randn(4, 6, 3, 5)).shape == (4, 6, 2)
    flat = MLP(4, 3, hidden=())
    assert len(flat.layers) == 1 and flat(torch.randn(2, 4)).shape == (2, 3)


def test_mlp_trunk_without_output_layer():
    trunk = MLP(4, None, hidden=(16, 8), activation="tanh")
    assert trunk.out_dim == 8 and len(trunk.layers) == 2
    out = trunk(torch.randn(5, 4) * 100)
    assert out.shape == (5, 8) and out.abs().max() <= 1.0  # ends in the activation


def test_mlp_output_activation():
    mlp = MLP(4, 3, hidden=(8,), output_activation="tanh")
    out = mlp(torch.randn(50, 4) * 100)
    assert out.abs().max() <= 1.0


def test_orthogonal_init_gains():
    torch.manual_seed(0)
    mlp = MLP(4, 2, hidden=(64, 64), init="orthogonal", hidden_gain=math.sqrt(2), output_gain=0.01)
    gains = [math.sqrt(2), math.sqrt(2), 0.01]
    for layer, gain in zip(mlp.layers, gains):
        w = layer.weight.detach()
        # Orthogonal with gain g: the smaller Gram matrix is g^2 I.
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        torch.testing.assert_close(gram, gain**2 * torch.eye(gram.shape[0]), atol=1e-5, rtol=1e-5)
        assert torch.count_nonzero(layer.bias) == 0


def test_default_init_is_pytorch_linear_range():
    mlp = MLP(16, 4, hidden=(32,))
    for layer in mlp.layers:
        bound = 1.0 / math.sqrt(layer.in_features)
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound


def test_orthogonal_init_on_conv():
    conv = orthogonal_init_(nn.Conv2d(3, 8, 3), 2.0)
    w = conv.weight.detach().reshape(8, -1)
    torch.testing.assert_close(w @ w.T, 4.0 * torch.eye(8), atol=1e-5, rtol=1e-5)


def test_parameter_swaps_are_seen_by_forward():
    mlp = MLP(4, 2, hidden=(8,))
    x = torch.randn(3, 4)
    zeros = {name: torch.zeros_like(p) for name, p in mlp.named_parameters()}
    out = torch.func.functional_call(mlp, zeros, (x,))
    torch.testing.assert_close(out, torch.zeros(3, 2))
    clone = copy.deepcopy(mlp)
    with torch.no_grad():
        clone.layers[-1].bias.fill_(1.0)
    assert not torch.allclose(clone(x), mlp(x))  # the copy reads its own parameters
    mlp.load_state_dict(clone.state_dict())
    torch.testing.assert_close(mlp(x), clone(x))
    mlp.load_state_dict({k: v + 1 for k, v in clone.state_dict().items()}, assign=True)
    torch.testing.assert_close(mlp(x), _sequential_copy(mlp, nn.Tanh)(x))
    double = MLP(4, 2).to(torch.float64)
    assert double(x.double()).dtype == torch.float64


def test_state_dict_keys_are_the_usual_ones():
    assert list(MLP(4, 2, hidden=(8,)).state_dict()) == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]


def test_gradients_reach_every_parameter():
    mlp = MLP(4, 2, hidden=(8, 8))
    mlp(torch.randn(5, 4)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mlp.parameters())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_dim": 0, "out_dim": 2}, "in_dim"),
        ({"in_dim": 4, "out_dim": 0}, "out_dim"),
        ({"in_dim": 4, "out_dim": 2, "hidden": (8, 0)}, "hidden"),
        ({"in_dim": 4, "out_dim": 2, "activation": "swish2"}, "activation"),
        ({"in_dim": 4, "out_dim": 2, "init": "xavier"}, "init"),
        ({"in_dim": 4, "out_dim": None, "output_activation": "tanh"}, "output_activation"),
    ],
)
def test_mlp_errors_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)
