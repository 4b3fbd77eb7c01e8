"""Parts shared by the value-based deep agents: n-step replay samples and their one conversion to tensors.

The Q-network is :class:`porcini.networks.q_network.QNetwork` and the optimizer
:class:`porcini.networks.optim.FlatAdam` (both re-exported here); observations become tensors through
:func:`porcini.algorithms.kit.obs_to_tensor`.

Glossary:
    replay sample: ``N`` transitions drawn from the buffer, as a :class:`~porcini.algorithms.kit.ReplaySample`
        whose TD target is ``reward + discount · (1 - terminated) · V(next_obs)``.
    n-step run: ``n`` consecutive stored steps of one env (``ReplayBuffer.sample_sequences``), collapsed by
        :func:`n_step_window` into one transition with a discounted reward and a per-sample ``discount = γ^m``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from porcini.algorithms.kit import ReplaySample, obs_to_tensor
from porcini.core.batch import TransitionBatch
from porcini.core.obs_tree import map_obs
from porcini.data import HerReplayBuffer, PrioritizedReplayBuffer, ReplayBuffer
from porcini.networks.masking import ACTION_MASK_KEY, legal_actions, masked_values, random_legal_actions
from porcini.networks.optim import FlatAdam
from porcini.networks.q_network import QNetwork

__all__ = ["FlatAdam", "QNetwork", "apply_mask", "legal_in", "n_step_window", "obs_tensor", "one_step_sample",
           "random_actions", "replay_to_torch", "sample_replay"]


def obs_tensor(obs: Any, space: gym.Space, device: torch.device) -> Any:
    """:func:`porcini.algorithms.kit.obs_to_tensor` with this module's argument order (kept for callers)."""
    return obs_to_tensor(obs, device, space)


def n_step_window(seq: TransitionBatch, gamma: float) -> ReplaySample:
    """Collapse runs ``[n, N]`` of consecutive steps of one env into ``N`` n-step transitions (NumPy).

    The window of run ``i`` stops at its first episode end, after ``m <= n`` steps (Sutton & Barto 2018, eq. 7.1):
    ``reward = Σ_{k<m} γ^k r_k``, ``discount = γ^m``, and ``terminated``/``next_obs`` of step ``m - 1``, so that
    ``reward + discount (1 - terminated) V(next_obs)`` is row 0 of :func:`porcini.functional.n_step_targets` on the
    run: a truncation stops the window and bootstraps, a termination stops it without bootstrap.

    Args:
        seq: runs ``[n, N]`` from ``ReplayBuffer.sample_sequences``.
        gamma: the per-step discount.
    """
    n, size = seq.reward.shape
    reward, discount = np.zeros(size), np.ones(size)
    last = np.zeros(size, dtype=np.int64)
    is_open = np.ones(size, dtype=bool)
    for k in range(n):
        reward += np.where(is_open, discount * seq.reward[k], 0.0)
        discount = np.where(is_open, discount * gamma, discount)
        last[is_open] = k
        is_open &= ~(seq.terminated[k] | seq.truncated[k])
    cols = np.arange(size)
    return ReplaySample(map_obs(lambda o: o[0], seq.obs), seq.action[0], reward.astype(np.float32),
                        discount.astype(np.float32), seq.terminated[last, cols],
                        map_obs(lambda o: o[last, cols], seq.next_obs))


def sample_replay(buffer: ReplayBuffer | PrioritizedReplayBuffer | HerReplayBuffer, n: int, rng: np.random.Generator,
                  gamma: float, n_steps: int = 1, beta: float = 1.0) -> ReplaySample:
    """Draw ``n`` transitions (n-step runs collapsed when ``n_steps > 1``) as NumPy arrays.

    Args:
        buffer: uniform, hindsight (one-step runs only) or prioritized replay (then ``weights`` and ``indices`` are
            filled, with exponent ``beta``).
        n: number of transitions.
        rng: the generator to draw with.
        gamma: the per-step discount.
        n_steps: length of the runs.
        beta: importance-weight exponent of prioritized replay.
    """
    extra: dict[str, Any] = {}
    if isinstance(buffer, PrioritizedReplayBuffer):
        s = buffer.sample(n, rng, beta) if n_steps == 1 else buffer.sample_sequences(n, n_steps, rng, beta)
        batch, extra = s.batch, {"weights": s.weights, "indices": s.indices}
    elif n_steps == 1:
        batch = buffer.sample(n, rng)
    elif isinstance(buffer, HerReplayBuffer):
        raise ValueError("hindsight replay draws one-step transitions only; use n_steps=1 with replay='her'")
    else:
        batch = buffer.sample_sequences(n, n_steps, rng)
    if n_steps > 1:
        return n_step_window(batch, gamma)._replace(**extra)
    return one_step_sample(batch, gamma)._replace(**extra)


def one_step_sample(batch: TransitionBatch, gamma: float) -> ReplaySample:
    """Transitions ``[N, 1, ...]`` (a replay or dataset draw) as a one-step sample: ``discount = γ`` (NumPy)."""
    return ReplaySample(map_obs(lambda o: o[:, 0], batch.obs), batch.action[:, 0],
                        np.asarray(batch.reward[:, 0], dtype=np.float32), gamma, batch.terminated[:, 0],
                        map_obs(lambda o: o[:, 0], batch.next_obs))


def replay_to_torch(s: ReplaySample, lead: tuple[int, ...], space: gym.Space, device: torch.device) -> ReplaySample:
    """One host-to-torch conversion of a sample, every field reshaped to ``lead + field shape``.

    ``lead`` is e.g. ``(gradient_steps, batch_size)``; actions become int64, ``indices`` stay NumPy.
    """
    def conv(x: Any) -> Any:
        return x if x is None or isinstance(x, float) else torch.from_numpy(x).to(device).reshape(lead)

    def shaped(obs: Any) -> Any:
        return map_obs(lambda t: t.reshape(*lead, *t.shape[1:]), obs_to_tensor(obs, device, space))

    return ReplaySample(shaped(s.obs), conv(np.asarray(s.action, dtype=np.int64)), conv(s.reward),
                        conv(s.discount), conv(s.terminated), shaped(s.next_obs), conv(s.weights), s.indices)


def legal_in(obs: Any, masked: bool) -> torch.Tensor | None:
    """The bool action mask ``[*batch, n]`` of observations as tensors, or None when they carry no mask.

    See :mod:`porcini.networks.masking`: a row without any legal action counts as all-legal.
    """
    return legal_actions(obs[ACTION_MASK_KEY]) if masked else None


def apply_mask(values: torch.Tensor, legal: torch.Tensor | None) -> torch.Tensor:
    """Q-values ``[*batch, n]`` with illegal actions at the dtype's most negative finite value (None: unchanged).

    Their argmax and max then run over legal actions only: acting, and the bootstrap of a TD target.
    """
    return values if legal is None else masked_values(values, legal)


def random_actions(obs: Any, n: int, n_actions: int, masked: bool, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniformly random actions (ε-greedy's), among each observation's legal ones when ``masked``."""
    if masked:
        return random_legal_actions(obs[ACTION_MASK_KEY], rng)
    if n == 1:  # the draw of size=1 without NumPy's handling of a size, which costs more than the draw
        return np.array([rng.integers(0, n_actions)])
    return rng.integers(0, n_actions, size=n)
