"""Parts shared by the value-based deep agents: Q network, observation tensors, n-step replay, a lean Adam.

:class:`FlatAdam` is Adam with less per-step overhead, for the many small gradient steps these agents take.

Glossary:
    replay sample: ``N`` transitions drawn from the buffer, as a :class:`Replay` whose TD target is
        ``reward + gamma · (1 - terminated) · V(next_obs)``.
    n-step run: ``n`` consecutive stored steps of one env (``ReplayBuffer.sample_sequences``), collapsed by
        :func:`n_step_window` into one transition with a discounted reward and a per-sample ``gamma = γ^m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.adam import adam

from porcini.core.batch import TransitionBatch
from porcini.data import PrioritizedReplayBuffer, ReplayBuffer
from porcini.envs.info import EnvInfo
from porcini.networks import MLP, DuelingQHead, QHead, make_trunk


class QNetwork(nn.Module):
    """A trunk and a Q head: observations ``[*batch, *obs_shape]`` to action values ``[*batch, n_actions]``.

    The trunk is an MLP for vector observations, the Nature CNN (then the MLP) for images (:func:`make_trunk`),
    and an MLP over one-hot codes for Discrete observations (see :func:`obs_tensor`). With ``n_quantiles`` the
    output is ``[*batch, n_actions, n_quantiles]`` (QR-DQN) from one linear layer.

    Args:
        info: the env the agent acts in (Discrete actions).
        net_arch: hidden widths of the MLP part.
        activation: hidden activation.
        features_dim: output width of the CNN, for images.
        dueling: a :class:`DuelingQHead` (``V + A - mean A``) instead of a linear :class:`QHead`.
        n_quantiles: quantiles per action (distributional output), or None.
    """

    def __init__(self, info: EnvInfo, net_arch: Sequence[int], activation: str, features_dim: int,
                 dueling: bool = False, n_quantiles: int | None = None) -> None:
        super().__init__()
        space = info.observation_space
        if isinstance(space, gym.spaces.Discrete):
            self.trunk: nn.Module = MLP(int(space.n), None, net_arch, activation)
        else:
            self.trunk = make_trunk(space, net_arch, activation, "default", features_dim)
        if dueling and n_quantiles is not None:
            raise ValueError("QNetwork: a dueling head has no quantile version here; use dueling=False")
        self.n_actions, self.n_quantiles = info.n_actions, n_quantiles
        head = DuelingQHead if dueling else QHead
        self.head = head(cast(int, self.trunk.out_dim), info.n_actions * (n_quantiles or 1))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Action values ``[*batch, n_actions]`` (or quantiles ``[*batch, n_actions, n_quantiles]``)."""
        out = self.head(self.trunk(obs))
        return out if self.n_quantiles is None else out.unflatten(-1, (self.n_actions, self.n_quantiles))


def obs_tensor(obs: Any, space: gym.Space, device: torch.device) -> torch.Tensor:
    """Observations as the network wants them (shares memory with ``obs`` when it can).

    Float32 for vector observations; ``uint8`` images stay ``uint8`` (the CNN scales them); Discrete observations
    are one-hot encoded, as Stable-Baselines3 does.
    """
    x = torch.from_numpy(obs) if isinstance(obs, np.ndarray) and obs.flags.writeable else torch.as_tensor(
        np.array(obs))
    if isinstance(space, gym.spaces.Discrete):
        x = F.one_hot(x.long(), int(space.n)).float()
    elif x.dtype != torch.float32 and x.dtype != torch.uint8:
        x = x.float()
    return x.to(device)


class Replay(NamedTuple):
    """Replayed (n-step) transitions ``[N]``; the TD target is ``reward + gamma (1 - terminated) V(next_obs)``.

    Attributes:
        obs: ``[N, *obs_shape]`` observations.
        action: ``[N]`` actions.
        reward: ``[N]`` float32 rewards (discounted sums over the run for n-step transitions).
        gamma: the discount: a float for one-step transitions, ``[N]`` float32 ``γ^m`` for n-step runs of ``m``.
        terminated: ``[N]`` bool; the run ended by termination (no bootstrap).
        next_obs: ``[N, *obs_shape]`` true successors of the run's last step.
        weights: ``[N]`` importance weights (prioritized replay), else None.
        indices: ``[N]`` buffer indices to update priorities at (prioritized replay), else None.
    """

    obs: Any
    action: Any
    reward: Any
    gamma: Any
    terminated: Any
    next_obs: Any
    weights: Any = None
    indices: Any = None

    def row(self, g: int) -> Replay:
        """Row ``g`` of every tensor field (a sample reshaped to ``[G, batch_size]``); scalars stay."""
        return Replay(*(x[g] if isinstance(x, torch.Tensor) else x for x in self))


def n_step_window(seq: TransitionBatch, gamma: float) -> Replay:
    """Collapse runs ``[n, N]`` of consecutive steps of one env into ``N`` n-step transitions (NumPy).

    The window of run ``i`` stops at its first episode end, after ``m <= n`` steps (Sutton & Barto 2018, eq. 7.1):
    ``reward = Σ_{k<m} γ^k r_k``, ``gamma = γ^m``, and ``terminated``/``next_obs`` of step ``m - 1``, so that
    ``reward + gamma (1 - terminated) V(next_obs)`` is row 0 of :func:`porcini.functional.n_step_targets` on the
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
    return Replay(seq.obs[0], seq.action[0], reward.astype(np.float32), discount.astype(np.float32),
                  seq.terminated[last, cols], seq.next_obs[last, cols])


def sample_replay(buffer: ReplayBuffer | PrioritizedReplayBuffer, n: int, rng: np.random.Generator, gamma: float,
                  n_steps: int = 1, beta: float = 1.0) -> Replay:
    """Draw ``n`` transitions (n-step runs collapsed when ``n_steps > 1``) as NumPy arrays.

    Args:
        buffer: uniform or prioritized replay (then ``weights`` and ``indices`` are filled, with exponent ``beta``).
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
    else:
        batch = buffer.sample(n, rng) if n_steps == 1 else buffer.sample_sequences(n, n_steps, rng)
    if n_steps > 1:
        return n_step_window(batch, gamma)._replace(**extra)
    return Replay(batch.obs[:, 0], batch.action[:, 0], np.asarray(batch.reward[:, 0], dtype=np.float32), gamma,
                  batch.terminated[:, 0], batch.next_obs[:, 0], **extra)


def replay_to_torch(s: Replay, lead: tuple[int, ...], space: gym.Space, device: torch.device) -> Replay:
    """One host-to-torch conversion of a sample, every field reshaped to ``lead + field shape``.

    ``lead`` is e.g. ``(gradient_steps, batch_size)``; actions become int64, ``indices`` stay NumPy.
    """
    def conv(x: Any) -> Any:
        return x if x is None or isinstance(x, float) else torch.from_numpy(x).to(device).reshape(lead)

    obs, next_obs = obs_tensor(s.obs, space, device), obs_tensor(s.next_obs, space, device)
    return Replay(obs.reshape(*lead, *obs.shape[1:]), conv(np.asarray(s.action, dtype=np.int64)), conv(s.reward),
                  conv(s.gamma), conv(s.terminated), next_obs.reshape(*lead, *next_obs.shape[1:]),
                  conv(s.weights), s.indices)


class FlatAdam:
    """Adam whose parameters' gradients live in one flat buffer: zero, clip and step in a few whole-buffer ops.

    Same math as ``zero_grad(set_to_none=True)`` + ``nn.utils.clip_grad_norm_`` + ``torch.optim.Adam.step``
    (bit-identical parameters), with less per-step overhead, which dominates small networks on a CPU
    (benchmarks/README.md, "Optimizer steps"):

    - the ``.grad`` of every parameter is a view into :attr:`flat_grad`; autograd accumulates into it in place, so
      :meth:`zero_grad` is one ``zero_()`` and :meth:`clip_grad_norm` one norm and one multiply (scale by
      ``max_norm / (norm + 1e-6)`` when that is below 1, as ``clip_grad_norm_``);
    - :meth:`step` calls ``torch.optim.adam.adam``, the functional form ``Adam.step`` calls, with the state of
      :attr:`optimizer` (a regular ``torch.optim.Adam``, fused on CPU/CUDA), skipping ``Adam.step``'s per-call
      bookkeeping (hooks, profiler records, state checks). The first step after construction or
      :meth:`load_state_dict` is a regular ``Adam.step``, which creates or adopts the state.

    Never set the parameters' ``.grad`` to None (``optimizer.zero_grad()``): that detaches them from the buffer.

    Args:
        params: the parameters (one device and dtype).
        lr: learning rate.
        eps: Adam's ε.
    """

    def __init__(self, params: Sequence[nn.Parameter], lr: float, eps: float = 1e-8) -> None:
        self.params: list[torch.Tensor] = list(params)
        device = self.params[0].device
        fused = device.type in ("cpu", "cuda")
        self.optimizer = torch.optim.Adam(self.params, lr=lr, eps=eps, fused=fused, foreach=None if fused else True)
        self.flat_grad = torch.zeros(sum(p.numel() for p in self.params), device=device, dtype=self.params[0].dtype)
        offset = 0
        for p in self.params:
            p.grad = self.flat_grad[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        self._state: tuple[list[torch.Tensor], ...] | None = None

    def zero_grad(self) -> None:
        """Zero every gradient (one ``zero_()``)."""
        self.flat_grad.zero_()

    def clip_grad_norm(self, max_norm: float) -> None:
        """Scale the gradients to a global L2 norm of at most ``max_norm`` (no host sync)."""
        scale = max_norm / (torch.linalg.vector_norm(self.flat_grad) + 1e-6)
        self.flat_grad.mul_(scale.clamp_(max=1.0))

    def step(self) -> None:
        """One Adam step with the current gradients."""
        if self._state is None:
            self.optimizer.step()
            states = [self.optimizer.state[p] for p in self.params]
            self._state = tuple([s[key] for s in states] for key in ("exp_avg", "exp_avg_sq", "step"))
            return
        group = self.optimizer.param_groups[0]
        exp_avgs, exp_avg_sqs, steps = self._state
        beta1, beta2 = group["betas"]
        grads = cast(list[torch.Tensor], [p.grad for p in self.params])  # views into flat_grad
        adam(self.params, grads, exp_avgs, exp_avg_sqs, [], steps, foreach=group["foreach"],
             fused=group["fused"], amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"],
             weight_decay=group["weight_decay"], eps=group["eps"], maximize=False)

    def state_dict(self) -> dict[str, Any]:
        """The Adam state (``torch.optim.Adam.state_dict``)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next step adopts the loaded state."""
        self.optimizer.load_state_dict(state)
        self._state = None
