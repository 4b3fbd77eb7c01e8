"""LSTMCore: a recurrent trunk whose state is reset where episodes start, for a recurrent PPO.

A rollout ``[T, B]`` crosses episode boundaries, so the LSTM state must be zeroed for env ``b`` just before
the step at which its new episode starts (``episode_start[t, b]``), both when acting and when re-evaluating
the rollout in the update. When no episode starts after the first step, the whole sequence goes through
``nn.LSTM`` in one call; otherwise the steps are run one at a time with the state masked (as SB3-contrib's
RecurrentPPO does).
"""

from __future__ import annotations

import torch
from torch import nn

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
        keep = (~episode_start.bool()).to(x.dtype).unsqueeze(-1)  # [T, B, 1]: 0 where the state is reset
        h, c = state
        if x.shape[0] == 1 or not bool(episode_start[1:].any()):
            out, (h, c) = self.lstm(x, (h * keep[0], c * keep[0]))
        else:
            outs = []
            for t in range(x.shape[0]):
                out_t, (h, c) = self.lstm(x[t : t + 1], (h * keep[t], c * keep[t]))
                outs.append(out_t)
            out = torch.cat(outs, dim=0)
        return (out[0] if single_step else out), (h, c)
