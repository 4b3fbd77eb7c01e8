import pytest
import torch

from porcini.networks import LSTMCore
from porcini.networks.recurrent import layouts_to, sequence_layout


def _reference(core: LSTMCore, x, state, episode_start):
    """Step by step with nn.LSTMCell semantics: zero the state where an episode starts."""
    h, c = state
    outs = []
    for t in range(x.shape[0]):
        keep = (~episode_start[t]).float()[None, :, None]
        out, (h, c) = core.lstm(x[t : t + 1], (h * keep, c * keep))
        outs.append(out[0])
    return torch.stack(outs), (h, c)


def test_lstm_core_resets_where_episodes_start():
    torch.manual_seed(0)
    core = LSTMCore(3, hidden_size=5)
    x = torch.randn(6, 4, 3)
    state = (torch.randn(1, 4, 5), torch.randn(1, 4, 5))
    episode_start = torch.zeros(6, 4, dtype=torch.bool)
    episode_start[0, 1] = episode_start[3, 2] = episode_start[5, 0] = True
    out, (h, c) = core(x, state, episode_start)
    ref_out, (ref_h, ref_c) = _reference(core, x, state, episode_start)
    assert out.shape == (6, 4, 5)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(h, ref_h)
    torch.testing.assert_close(c, ref_c)
    # A fresh start gives the same output as a zero initial state.
    zeros = (torch.zeros(1, 1, 5), torch.zeros(1, 1, 5))
    fresh, _ = core(x[3:, 2:3], zeros, torch.zeros(3, 1, dtype=torch.bool))
    torch.testing.assert_close(out[3:, 2:3], fresh)


def test_lstm_core_fast_path_and_single_step():
    torch.manual_seed(1)
    core = LSTMCore(3, hidden_size=4, n_layers=2)
    x = torch.randn(5, 2, 3)
    state = core.initial_state(2)
    assert state[0].shape == (2, 2, 4)
    episode_start = torch.zeros(5, 2, dtype=torch.bool)
    episode_start[0] = True
    out, _ = core(x, state, episode_start)
    ref_out, _ = _reference(core, x, state, episode_start)
    torch.testing.assert_close(out, ref_out)
    step_out, step_state = core(x[0], state, episode_start[0])
    assert step_out.shape == (2, 4)
    torch.testing.assert_close(step_out, out[0])


def _successor_reference(core: LSTMCore, x, state, episode_start, successor):
    """Per step: one more LSTM step on ``successor[t]`` from the state after step ``t`` (obviously correct)."""
    h, c = state
    outs = []
    for t in range(x.shape[0]):
        keep = (~episode_start[t]).float()[None, :, None]
        _, (h, c) = core.lstm(x[t : t + 1], (h * keep, c * keep))
        out, _ = core.lstm(successor[t : t + 1], (h, c))
        outs.append(out[0])
    return torch.stack(outs)


@pytest.mark.parametrize("seed", range(6))
def test_packed_segments_match_the_step_by_step_reference_in_values_and_gradients(seed):
    gen = torch.Generator().manual_seed(seed)
    n_rows, n_envs, n_layers = 7, 5, 1 + seed % 2
    core = LSTMCore(3, hidden_size=4, n_layers=n_layers)
    x = torch.randn(n_rows, n_envs, 3, generator=gen)
    successor = torch.randn(n_rows, n_envs, 3, generator=gen)
    state = (torch.randn(n_layers, n_envs, 4, generator=gen), torch.randn(n_layers, n_envs, 4, generator=gen))
    episode_start = torch.rand(n_rows, n_envs, generator=gen) < 0.35
    episode_start[:, 0] = True  # a column where every step starts an episode
    episode_start[1:, 1] = False  # and one with no start after the first step
    episode_start[0, 1] = bool(seed % 2)
    # next_obs as Core builds it: the next row within an episode, a final observation where one ends
    continues = ~episode_start[1:]
    successor[:-1][continues] = x[1:][continues]

    out, (h, c) = core(x, state, episode_start)
    ref_out, (ref_h, ref_c) = _reference(core, x, state, episode_start)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(h, ref_h)
    torch.testing.assert_close(c, ref_c)

    out2, succ = core.forward_with_successors(x, state, episode_start, successor)
    torch.testing.assert_close(out2, ref_out)
    ref_succ = _successor_reference(core, x, state, episode_start, successor)
    torch.testing.assert_close(succ, ref_succ)

    weights = torch.randn(n_rows, n_envs, 4, generator=gen)
    grads = torch.autograd.grad(((out2 + succ) * weights).sum(), list(core.parameters()))
    ref_grads = torch.autograd.grad(((ref_out + ref_succ) * weights).sum(), list(core.parameters()))
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r)


def test_forward_with_successors_rejects_mismatched_shapes():
    core = LSTMCore(3, hidden_size=4)
    x = torch.zeros(4, 2, 3)
    with pytest.raises(ValueError, match="successor"):
        core.forward_with_successors(x, core.initial_state(2), torch.zeros(4, 2, dtype=torch.bool),
                                     torch.zeros(4, 3, 3))


@pytest.mark.parametrize("seed", range(4))
def test_precomputed_layouts_moved_in_one_copy_match_the_reference(seed):
    gen = torch.Generator().manual_seed(seed)
    core = LSTMCore(3, hidden_size=4)
    shapes = [(6, 3), (4, 2), (1, 2)]
    starts = [torch.rand(shape, generator=gen) < 0.3 for shape in shapes]
    starts[1][1:] = False  # no episode starts after the first step: the plain LSTM call ("keep")
    layouts = layouts_to([sequence_layout(s.numpy()) for s in starts], torch.device("cpu"))
    assert "keep" in layouts[1] and "keep" in layouts[2] and ("rows" in layouts[0]) == bool(starts[0][1:].any())
    for episode_start, layout in zip(starts, layouts, strict=True):
        n_rows, n_envs = episode_start.shape
        x = torch.randn(n_rows, n_envs, 3, generator=gen)
        state = (torch.randn(1, n_envs, 4, generator=gen), torch.randn(1, n_envs, 4, generator=gen))
        out, (h, c) = core(x, state, episode_start, layout)
        ref_out, (ref_h, ref_c) = _reference(core, x, state, episode_start)
        torch.testing.assert_close(out, ref_out)
        torch.testing.assert_close(h, ref_h)
        torch.testing.assert_close(c, ref_c)
