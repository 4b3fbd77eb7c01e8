import copy
import math

import pytest
import torch

from porcini.networks import MLP, EnsembleMLP


def _copy_member(ensemble: EnsembleMLP, member: int, hidden, activation) -> MLP:
    mlp = MLP(ensemble.in_dim, ensemble.out_dim, hidden, activation)
    with torch.no_grad():
        for layer, linear in enumerate(mlp.layers):
            linear.weight.copy_(getattr(ensemble, f"weight_{layer}")[member].T)
            linear.bias.copy_(getattr(ensemble, f"bias_{layer}")[member, 0])
    return mlp


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_ensemble_equals_separate_mlps(activation):
    torch.manual_seed(0)
    hidden = (32, 16)
    ensemble = EnsembleMLP(3, 5, 2, hidden, activation)
    members = [_copy_member(ensemble, k, hidden, activation) for k in range(3)]
    shared = torch.randn(9, 5)
    out = ensemble(shared)
    assert out.shape == (3, 9, 2)
    for k, mlp in enumerate(members):
        torch.testing.assert_close(out[k], mlp(shared))
    per_member = torch.randn(3, 9, 5)
    out = ensemble(per_member)
    for k, mlp in enumerate(members):
        torch.testing.assert_close(out[k], mlp(per_member[k]))


def test_chosen_members_run_each_on_its_own_block():
    torch.manual_seed(2)
    ensemble = EnsembleMLP(4, 5, 2, (16,), "silu")
    members = [_copy_member(ensemble, k, (16,), "silu") for k in range(4)]
    chosen = torch.tensor([3, 0, 3])
    blocks = torch.randn(3, 7, 5)
    out = ensemble.forward_members(blocks, chosen)
    assert out.shape == (3, 7, 2)
    for i, k in enumerate(chosen.tolist()):
        torch.testing.assert_close(out[i], members[k](blocks[i]))
    with pytest.raises(ValueError, match=r"\[3, N, 5\]"):
        ensemble.forward_members(torch.randn(4, 7, 5), chosen)


def test_ensemble_gradients_equal_separate_mlps():
    torch.manual_seed(1)
    ensemble = EnsembleMLP(2, 4, 1, (8, 8))
    members = [_copy_member(ensemble, k, (8, 8), "relu") for k in range(2)]
    x = torch.randn(16, 4)
    target = torch.randn(16, 1)
    ((ensemble(x) - target) ** 2).mean(dim=(1, 2)).sum().backward()
    for k, mlp in enumerate(members):
        ((mlp(x) - target) ** 2).mean().backward()
        for layer, linear in enumerate(mlp.layers):
            torch.testing.assert_close(getattr(ensemble, f"weight_{layer}").grad[k], linear.weight.grad.T)
            torch.testing.assert_close(getattr(ensemble, f"bias_{layer}").grad[k, 0], linear.bias.grad)


def test_ensemble_members_are_initialized_independently_like_nn_linear():
    torch.manual_seed(2)
    ensemble = EnsembleMLP(2, 64, 1, (256, 256))
    for layer, fan_in in enumerate((64, 256, 256)):
        weight, bias = getattr(ensemble, f"weight_{layer}"), getattr(ensemble, f"bias_{layer}")
        bound = 1.0 / math.sqrt(fan_in)
        assert weight.abs().max() <= bound and bias.abs().max() <= bound
        # Uniform(-b, b) has standard deviation b / sqrt(3).
        assert float(weight.detach().std()) == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert not torch.allclose(weight[0], weight[1])


def test_ensemble_orthogonal_init():
    ensemble = EnsembleMLP(2, 4, 3, (8,), init="orthogonal", hidden_gain=2.0, output_gain=0.5)
    for layer, gain in ((0, 2.0), (1, 0.5)):
        for member in range(2):
            w = getattr(ensemble, f"weight_{layer}")[member].detach().T  # [out, in]
            gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
            torch.testing.assert_close(gram, gain**2 * torch.eye(gram.shape[0]), atol=1e-5, rtol=1e-5)
        assert torch.count_nonzero(getattr(ensemble, f"bias_{layer}")) == 0


def test_ensemble_errors():
    with pytest.raises(ValueError, match="n_members"):
        EnsembleMLP(0, 4, 1)
    ensemble = EnsembleMLP(2, 4, 1, (8,))
    with pytest.raises(ValueError, match=r"\[2, N, 4\]"):
        ensemble(torch.randn(3, 5, 4))


def test_ensemble_deepcopy_is_an_independent_target():
    ensemble = EnsembleMLP(2, 4, 1, (8,))
    target = copy.deepcopy(ensemble)
    x = torch.randn(5, 4)
    torch.testing.assert_close(target(x), ensemble(x))
    with torch.no_grad():
        ensemble.bias_1.add_(1.0)
    torch.testing.assert_close(ensemble(x), target(x) + 1.0)
    assert [name for name, _ in ensemble.named_parameters()] == ["weight_0", "bias_0", "weight_1", "bias_1"]
