"""LSTMCore: a recurrent trunk whose state is reset where episodes start, for a recurrent PPO.

A rollout ``[T, B]`` crosses episode boundaries, so the LSTM state must be zeroed for env ``b`` just before
the step at which its new episode starts (``episode_start[t, b]``), both when acting and when re-evaluating
the rollout in the update. When no episode starts after the first step, the whole sequence goes through
``nn.LSTM`` in one call. Otherwise each column is cut into segments at its episode starts, and the segments
run as one packed sequence (``nn.utils.rnn.pack_padded_sequence``): each starts from a zero state, except a
column's first segment, which continues the given state. That is one LSTM call whatever the number of
episodes, where a masked step-by-step loop (SB3-contrib's ``RecurrentPPO``) makes ``T`` calls.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

LSTMState = tuple[torch.Tensor, torch.Tensor]
"""``(h, c)``, each ``[n_layers, B, hidden_size]``."""


class LSTMCore(nn.Module):
    """Features ``[T, B, in_dim]`` (or one step ``[B, in_dim]``) and a state to outputs ``[T, B, hidden]``.

    Args:
        in_dim: size of the input features.
        hidden_size: size of the LSTM state and output.
        n_layers: number of stacked LSTM layers.

    Attributes:
        out_dim: equal to ``hidden_size``.
    """

    def __init__(self, in_dim: int, hidden_size: int = 64, n_layers: int = 1) -> None:
        super().__init__()
        if in_dim < 1 or hidden_size < 1 or n_layers < 1:
            raise ValueError(
                f"LSTMCore: in_dim={in_dim}, hidden_size={hidden_size}, n_layers={n_layers} must all be positive"
            )
        self.lstm = nn.LSTM(in_dim, hidden_size, n_layers)
        self.out_dim = int(hidden_size)
        self.n_layers = int(n_layers)

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> LSTMState:
        """Zero state ``(h, c)`` for ``batch_size`` environments."""
        shape = (self.n_layers, batch_size, self.out_dim)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def forward(self, x: torch.Tensor, state: LSTMState, episode_start: torch.Tensor) -> tuple[torch.Tensor, LSTMState]:
        """Run the LSTM, zeroing the state of env ``b`` before step ``t`` wherever ``episode_start[t, b]``.

        Args:
            x: inputs ``[T, B, in_dim]``, or ``[B, in_dim]`` for a single step (acting).
            state: ``(h, c)`` before the first step, each ``[n_layers, B, hidden_size]``.
            episode_start: bool ``[T, B]`` (or ``[B]`` for a single step): the observation at ``t`` is the
                first of an episode.

        Returns:
            The outputs ``[T, B, hidden_size]`` (``[B, hidden_size]`` for a single step) and the state after
            the last step.
        """
        single_step = x.dim() == 2
        if single_step:
            x, episode_start = x.unsqueeze(0), episode_start.reshape(1, -1)
        if x.dim() != 3 or tuple(episode_start.shape) != tuple(x.shape[:2]):
            raise ValueError(
                f"LSTMCore: x {tuple(x.shape)} must be [T, B, in_dim] with episode_start [T, B], got "
                f"episode_start {tuple(episode_start.shape)}"
            )
        h, c = state
        if x.shape[0] == 1 or not bool(episode_start[1:].any()):
            keep = (~episode_start[0].bool()).to(x.dtype)[None, :, None]
            out, (h, c) = self.lstm(x, (h * keep, c * keep))
        else:
            out, _, final = self._segments(x, state, episode_start, None)
            assert final is not None
            h, c = final
        return (out[0] if single_step else out), (h, c)

    def forward_with_successors(self, x: torch.Tensor, state: LSTMState, episode_start: torch.Tensor,
                                successor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs at every step and at every step's successor observation, ``[T, B, hidden]`` each.

        ``successor[t, b]`` is the observation that followed step ``t`` (``next_obs``: the final observation
        where an episode ended). Its output continues the state after step ``t``, so a value at a time limit
        sees the episode's history. Where no episode ends at ``t``, ``successor[t] = x[t + 1]`` and its output
        equals ``out[t + 1]``. Arguments otherwise as for :meth:`forward` (``[T, B, in_dim]`` inputs).
        """
        if x.dim() != 3 or tuple(episode_start.shape) != tuple(x.shape[:2]) or successor.shape != x.shape:
            raise ValueError(
                f"LSTMCore.forward_with_successors: x {tuple(x.shape)} and successor {tuple(successor.shape)}"
                f" must be [T, B, in_dim] with episode_start [T, B], got {tuple(episode_start.shape)}"
            )
        out, succ, _ = self._segments(x, state, episode_start, successor)
        assert succ is not None
        return out, succ

    def _segments(self, x: torch.Tensor, state: LSTMState, episode_start: torch.Tensor,
                  successor: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None, LSTMState | None]:
        """Cut each column at its episode starts and run the segments as one packed sequence.

        With ``successor``, each segment gets one more input: the successor of its last step. Returns the
        outputs ``[T, B, H]``, the successors' outputs (or None) and, without successors, the state after each
        column's last step (None with them: it would include the successor's step).
        """
        n_rows, n_envs = episode_start.shape
        starts = episode_start.detach().cpu().numpy().astype(bool)
        cut = starts.copy()
        cut[0] = True  # every column's first segment begins at t = 0
        seg_env, seg_t0 = np.nonzero(cut.T)  # segments ordered by column, then time
        last_of_env = np.r_[seg_env[1:] != seg_env[:-1], True]
        seg_t1 = np.where(last_of_env, n_rows, np.r_[seg_t0[1:], 0])  # one past the segment's last step
        n_obs = seg_t1 - seg_t0
        with_succ = successor is not None
        lengths = n_obs + int(with_succ)
        step = np.arange(lengths.max())[:, None]  # [S, N]: position in the segment
        t = seg_t0[None, :] + step
        is_obs = step < n_obs[None, :]
        rows = torch.as_tensor(np.where(is_obs, t, 0) * n_envs + seg_env[None, :], device=x.device)
        padded = x.reshape(n_rows * n_envs, -1)[rows]  # [S, N, D]
        if successor is not None:
            is_succ = torch.as_tensor(step == n_obs[None, :], device=x.device)
            succ_rows = torch.as_tensor((seg_t1 - 1) * n_envs + seg_env, device=x.device)
            padded = torch.where(is_succ[..., None], successor.reshape(n_rows * n_envs, -1)[succ_rows][None],
                                 padded)
        # A segment continues the given state only if its column's first step is not an episode start.
        carry = torch.as_tensor(~starts[seg_t0, seg_env], dtype=x.dtype, device=x.device)[None, :, None]
        env_index = torch.as_tensor(seg_env, device=x.device)
        h0, c0 = state[0][:, env_index] * carry, state[1][:, env_index] * carry
        packed = pack_padded_sequence(padded, torch.as_tensor(lengths), enforce_sorted=False)
        packed_out, (h_n, c_n) = self.lstm(packed, (h0.contiguous(), c0.contiguous()))  # h_n: per segment
        out_padded, _ = pad_packed_sequence(packed_out, total_length=int(lengths.max()))  # [S, N, H]
        mask = torch.as_tensor(is_obs, device=x.device)
        targets = torch.as_tensor((t * n_envs + seg_env[None, :])[is_obs], device=x.device)
        out = out_padded.new_zeros(n_rows * n_envs, self.out_dim).index_put((targets,), out_padded[mask])
        out = out.reshape(n_rows, n_envs, self.out_dim)
        succ_out = None
        if with_succ:
            # the output at position i >= 1 belongs to the successor of step t0 + i - 1
            is_next = (step >= 1) & (step <= n_obs[None, :])  # on the host: no round trip through the device
            succ_targets = torch.as_tensor(((t - 1) * n_envs + seg_env[None, :])[is_next], device=x.device)
            succ_out = out_padded.new_zeros(n_rows * n_envs, self.out_dim).index_put(
                (succ_targets,), out_padded[torch.as_tensor(is_next, device=x.device)]
            ).reshape(n_rows, n_envs, self.out_dim)
        last = torch.as_tensor(np.flatnonzero(last_of_env), device=x.device)  # each column's last segment
        final = None if with_succ else (h_n[:, last], c_n[:, last])
        return out, succ_out, final
