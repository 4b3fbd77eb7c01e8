"""LSTMCore: a recurrent trunk whose state is reset where episodes start, for a recurrent PPO.

A rollout ``[T, B]`` crosses episode boundaries, so the LSTM state must be zeroed for env ``b`` just before
the step at which its new episode starts (``episode_start[t, b]``), both when acting and when re-evaluating
the rollout in the update. When no episode starts after the first step, the whole sequence goes through
``nn.LSTM`` in one call. Otherwise each column is cut into segments at its episode starts, and the segments
run as one packed sequence (``nn.utils.rnn.pack_padded_sequence``): each starts from a zero state, except a
column's first segment, which continues the given state. That is one LSTM call whatever the number of
episodes, where a masked step-by-step loop (SB3-contrib's ``RecurrentPPO``) makes ``T`` calls. Where the cuts
fall is worked out on the host (:func:`sequence_layout`); a fit computes the layouts of all its minibatches at once
and moves them to the device in one copy (:func:`layouts_to`).
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

    def forward(self, x: torch.Tensor, state: LSTMState, episode_start: torch.Tensor,
                layout: Layout | None = None) -> tuple[torch.Tensor, LSTMState]:
        """Run the LSTM, zeroing the state of env ``b`` before step ``t`` wherever ``episode_start[t, b]``.

        Args:
            x: inputs ``[T, B, in_dim]``, or ``[B, in_dim]`` for a single step (acting).
            state: ``(h, c)`` before the first step, each ``[n_layers, B, hidden_size]``.
            episode_start: bool ``[T, B]`` (or ``[B]`` for a single step): the observation at ``t`` is the
                first of an episode.
            layout: ``episode_start``'s :func:`sequence_layout` already on ``x``'s device (see
                :func:`layouts_to`), so that this call reads nothing back from the device; None: made here.

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
        if layout is None and (x.shape[0] == 1 or not bool(episode_start[1:].any())):
            keep = (~episode_start[0].bool()).to(x.dtype)[None, :, None]
            out, (h, c) = self.lstm(x, (h * keep, c * keep))
        elif layout is not None and "keep" in layout:  # no episode starts after the first step
            keep = layout["keep"].to(x.dtype)[None, :, None]
            out, (h, c) = self.lstm(x, (h * keep, c * keep))
        else:
            out, _, final = self._segments(x, state, episode_start, None, layout)
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
        out, succ, _ = self._segments(x, state, episode_start, successor, None)
        assert succ is not None
        return out, succ

    def _segments(self, x: torch.Tensor, state: LSTMState, episode_start: torch.Tensor,
                  successor: torch.Tensor | None, layout: Layout | None,
                  ) -> tuple[torch.Tensor, torch.Tensor | None, LSTMState | None]:
        """Cut each column at its episode starts and run the segments as one packed sequence.

        With ``successor``, each segment gets one more input: the successor of its last step. Returns the
        outputs ``[T, B, H]``, the successors' outputs (or None) and, without successors, the state after each
        column's last step (None with them: it would include the successor's step).
        """
        n_rows, n_envs = episode_start.shape
        if layout is None or "keep" in layout:
            starts = episode_start.detach().cpu().numpy().astype(bool)
            layout = layouts_to([sequence_layout(starts, successor is not None, cut_always=True)], x.device)[0]
        padded = x.reshape(n_rows * n_envs, -1)[layout["rows"]]  # [S, N, D]
        if successor is not None:
            padded = torch.where(layout["is_succ"][..., None],
                                 successor.reshape(n_rows * n_envs, -1)[layout["succ_rows"]][None], padded)
        # A segment continues the given state only if its column's first step is not an episode start.
        carry = layout["carry"].to(x.dtype)[None, :, None]
        h0, c0 = state[0][:, layout["env_index"]] * carry, state[1][:, layout["env_index"]] * carry
        lengths = layout["lengths"]  # on the host, as packing wants them
        packed = pack_padded_sequence(padded, lengths, enforce_sorted=True)  # sorted by sequence_layout
        packed_out, (h_n, c_n) = self.lstm(packed, (h0.contiguous(), c0.contiguous()))  # h_n: per segment
        out_padded, _ = pad_packed_sequence(packed_out, total_length=int(lengths.max()))  # [S, N, H]
        flat = out_padded.reshape(-1, self.out_dim)  # int indices of the true steps: no read-back of a mask
        out = flat.new_zeros(n_rows * n_envs, self.out_dim).index_put((layout["targets"],), flat[layout["steps"]])
        out = out.reshape(n_rows, n_envs, self.out_dim)
        succ_out = None
        if successor is not None:
            succ_out = flat.new_zeros(n_rows * n_envs, self.out_dim).index_put(
                (layout["succ_targets"],), flat[layout["next_steps"]]).reshape(n_rows, n_envs, self.out_dim)
        final = None if successor is not None else (h_n[:, layout["last"]], c_n[:, layout["last"]])
        return out, succ_out, final


Layout = dict[str, torch.Tensor]
"""A :func:`sequence_layout` on a device (:func:`layouts_to`): index tensors by name."""


def sequence_layout(starts: np.ndarray, with_successors: bool = False,
                    cut_always: bool = False) -> dict[str, np.ndarray]:
    """Where :class:`LSTMCore` cuts columns ``[T, B]`` at episode starts: host index arrays, computed once.

    ``{"keep": [B]}`` alone when no episode starts after the first step (one plain LSTM call, unless
    ``cut_always``); else the packed segments: the padded input ``rows`` ``[S, N]``, whether each segment
    ``carry``-s the given state, its ``env_index``, ``lengths``, the flat output ``steps`` of true steps and their
    ``targets`` rows, each column's ``last`` segment and, ``with_successors``, where the successor inputs go.

    Args:
        starts: bool ``[T, B]``, true where the observation at ``t`` is the first of an episode.
        with_successors: add each segment's successor step (:meth:`LSTMCore.forward_with_successors`).
        cut_always: give the segments even when there is one per column.
    """
    n_rows, n_envs = starts.shape
    if not (with_successors or cut_always or starts[1:].any()):
        return {"keep": ~starts[0]}
    cut = starts.copy()
    cut[0] = True  # every column's first segment begins at t = 0
    env_by_column, t0_by_column = np.nonzero(cut.T)  # segments ordered by column, then time
    last_of_env = np.r_[env_by_column[1:] != env_by_column[:-1], True]
    t1_by_column = np.where(last_of_env, n_rows, np.r_[t0_by_column[1:], 0])  # one past the segment's last step
    # Longest first, as packing wants them (it then sends no order of its own to the device), and in the order
    # pack_padded_sequence(enforce_sorted=False) would sort them: the same packed batch, the same numbers.
    order = torch.sort(torch.as_tensor(t1_by_column - t0_by_column), descending=True)[1].numpy()
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    last = position[np.flatnonzero(last_of_env)]  # each column's last segment, in column order
    seg_env, seg_t0, seg_t1 = env_by_column[order], t0_by_column[order], t1_by_column[order]
    n_obs = seg_t1 - seg_t0
    lengths = n_obs + int(with_successors)
    step = np.arange(lengths.max())[:, None]  # [S, N]: position in the segment
    t = seg_t0[None, :] + step
    is_obs = step < n_obs[None, :]
    layout = {"rows": np.where(is_obs, t, 0) * n_envs + seg_env[None, :], "carry": ~starts[seg_t0, seg_env],
              "env_index": seg_env, "lengths": lengths, "steps": np.flatnonzero(is_obs),
              "targets": (t * n_envs + seg_env[None, :])[is_obs], "last": last}
    if with_successors:
        # the output at position i >= 1 belongs to the successor of step t0 + i - 1
        is_next = (step >= 1) & (step <= n_obs[None, :])
        layout.update(is_succ=step == n_obs[None, :], succ_rows=(seg_t1 - 1) * n_envs + seg_env,
                      next_steps=np.flatnonzero(is_next), succ_targets=((t - 1) * n_envs + seg_env[None, :])[is_next])
    return layout


def layouts_to(layouts: list[dict[str, np.ndarray]], device: torch.device) -> list[Layout]:
    """:func:`sequence_layout`-s on ``device`` in one host-to-device copy (``lengths`` stay on the host)."""
    parts = [(i, key, a) for i, layout in enumerate(layouts) for key, a in layout.items() if key != "lengths"]
    moved = torch.as_tensor(np.concatenate([a.reshape(-1).astype(np.int64) for *_, a in parts]), device=device)
    out: list[Layout] = [{"lengths": torch.as_tensor(layout["lengths"])} if "lengths" in layout else {}
                         for layout in layouts]
    for (i, key, a), flat in zip(parts, moved.split([a.size for *_, a in parts])):
        out[i][key] = flat.view(a.shape).bool() if a.dtype == bool else flat.view(a.shape)
    return out
