"""BC: behaviour cloning, supervised regression of the dataset's actions on its observations (Pomerleau 1991).

The baseline every offline RL result is compared with. On minibatches ``(s, a)`` of a dataset:

    Box actions, ``loss="mse"``:           π(s) = tanh(f(s)),   L = mean (π(s) - a)²          a normalized to [-1, 1]
    Box actions, ``loss="gaussian_nll"``:  N(μ(s), σ(s)²),      L = mean Σ_d -log N(a_d; μ_d, σ_d²)
    Discrete actions:                      logits(s),           L = cross-entropy(logits, a)

Acting is the deterministic action (``tanh`` output, Gaussian mean clipped to ``[-1, 1]``, most likely discrete
action); ``explore=True`` samples the Gaussian or the categorical and is deterministic for ``mse``.

The data comes from :meth:`BC.add_dataset`; :meth:`BC.update` takes gradient steps on it without env steps
(``Core.learn_offline``; ``porcini train bc ENV --dataset SOURCE --offline-steps N --steps 0``). BC does not learn
from online transitions: the loop never fits it (``fit_every_steps`` is None), so a run needs ``--offline-steps``.
Rewards are not used, so a dataset of demonstrations with any rewards will do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from porcini.algorithms.kit import Checkpointed, DeepConfig, agent_generator, obs_to_tensor, seeded
from porcini.algorithms.space_hints import DECLARE_BOUNDS, multi_action_hint
from porcini.core.agent import BaseAgent, supports_action_space
from porcini.core.config import build_config, require
from porcini.core.obs_tree import map_obs, obs_batch_size
from porcini.data.dataset import Dataset
from porcini.data.validation import check_agent_dataset
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.networks import make_trunk
from porcini.networks.denormals import flush_denormals
from porcini.networks.encoders import check_observation_space
from porcini.networks.heads import as_action_dtype, normalization_bounds
from porcini.networks.optim import adam
from porcini.seeding import agent_rng

LOG_STD_RANGE = (-5.0, 2.0)  # the Gaussian's log σ is clamped here, so the NLL cannot reward a collapsed σ without end


@dataclass(frozen=True)
class BCConfig(DeepConfig):
    """Hyperparameters of behaviour cloning."""

    learning_rate: float = 1e-3
    """Adam step size."""
    batch_size: int = 256
    """Transitions per gradient step."""
    net_arch: tuple[int, ...] = (256, 256)
    """Hidden widths of the policy network."""
    activation: str = "relu"
    """Hidden activation."""
    loss: Literal["mse", "gaussian_nll"] = "mse"
    """Box actions: ``mse`` (a deterministic tanh policy) or ``gaussian_nll`` (a diagonal Gaussian policy).
    Discrete actions always use cross-entropy."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.batch_size >= 1, type(self).__name__, "batch_size", self.batch_size, ">= 1")


class BC(Checkpointed, BaseAgent):
    """Behaviour cloning for Box or Discrete actions.

    Example:
        >>> from porcini import make_env
        >>> from porcini.data import collect_dataset
        >>> env = make_env("CartPole-v1", seed=0)
        >>> data = collect_dataset(env, lambda obs: (obs[:, 2] > 0).astype(int), steps=200, seed=0)
        >>> agent = BC(env.info, net_arch=(32,), batch_size=32)
        >>> agent.add_dataset(data)
        >>> list(agent.update(5))
        ['loss_bc']
    """

    name = "bc"
    Config: type[BCConfig] = BCConfig
    config: BCConfig
    action_spaces = ("Box", "Discrete")

    def __init__(self, info: EnvInfo, config: BCConfig | None = None, **overrides: Any) -> None:
        self.config = c = build_config(self.Config, config, overrides)
        space = info.action_space
        if not supports_action_space(self, space):
            raise UnsupportedSpaceError(f"BC needs a Box or Discrete action space; {info.env_id} has {space}"
                                        + multi_action_hint(space))
        check_observation_space(info.observation_space, f"BC on {info.env_id}")
        if isinstance(info.observation_space, (gym.spaces.Dict, gym.spaces.Tuple)):
            raise UnsupportedSpaceError(f"{type(self).__name__} learns from datasets, which hold one array of "
                                        f"observations; {info.env_id} has {type(info.observation_space).__name__} "
                                        "observations: flatten them with the FlattenObservation wrapper "
                                        "(env.wrappers: [FlattenObservation])")
        self.info, self.device = info, torch.device(c.device)
        self.discrete = isinstance(space, gym.spaces.Discrete)
        self.action_start = int(space.start) if isinstance(space, gym.spaces.Discrete) else 0
        if not self.discrete:
            box = space
            assert isinstance(box, gym.spaces.Box)
            if not (np.all(np.isfinite(box.low)) and np.all(np.isfinite(box.high))):
                raise UnsupportedSpaceError(f"BC needs finite action bounds; {info.env_id} has {box}; "
                                            f"{DECLARE_BOUNDS}")
            self.low, self.high = box.low.reshape(-1).astype(np.float64), box.high.reshape(-1).astype(np.float64)
            self._norm_low, self._norm_span = normalization_bounds(self.low, self.high)  # low == high: 0, not NaN
        n_out = int(space.n) if isinstance(space, gym.spaces.Discrete) else info.action_dim * (
            2 if c.loss == "gaussian_nll" else 1)
        with seeded(c.seed):
            trunk = make_trunk(info.observation_space, c.net_arch, c.activation)
            self.policy = nn.Sequential(trunk, nn.Linear(trunk.out_dim, n_out)).to(self.device)
        self.rng = agent_rng(c.seed)
        self.generator = agent_generator(c.seed, self.device)
        self.dataset: Dataset | None = None
        self.n_updates = 0
        self._init_registry()
        self.modules = {"policy": self.policy}
        self.optimizers = {"policy": adam(self.policy.parameters(), c.learning_rate, self.device)}

    def add_dataset(self, dataset: Dataset, dataset_ratio: float = 1.0) -> None:
        """Clone the actions of ``dataset`` (``dataset_ratio`` is accepted for the common API: BC has no replay).

        Raises:
            DatasetError: the dataset is empty, holds NaN observations or non-finite rewards, or observations or
                actions that cannot come from the env (another shape, out-of-range or non-integer actions).
        """
        check_agent_dataset(dataset, self.info, type(self).__name__)
        b = dataset.batch
        self.dataset = Dataset(type(b)(b.obs, self.stored_actions(b.action), b.reward, b.next_obs, b.terminated,
                                       b.truncated), dataset.metadata)

    def stored_actions(self, action: Any) -> np.ndarray:
        """Env actions ``[T, B, ...]`` as the loss takes them: indices from 0, or Box actions flattened into [-1, 1]."""
        action = np.asarray(action)
        if self.discrete:
            return action.astype(np.int64) - self.action_start
        flat = action.reshape(*action.shape[:2], -1).astype(np.float64)
        return np.clip(2.0 * (flat - self._norm_low) / self._norm_span - 1.0, -1.0, 1.0).astype(np.float32)

    def loss(self, obs: Any, action: Tensor) -> Tensor:
        """The cloning loss of the module docstring on observations (as the network takes them) and actions."""
        out = self.policy(obs)
        if self.discrete:
            return F.cross_entropy(out, action)
        if self.config.loss == "mse":
            return (torch.tanh(out) - action).pow(2).mean()
        mean, log_std = out.chunk(2, dim=-1)
        log_std = log_std.clamp(*LOG_STD_RANGE)
        nll = 0.5 * ((action - mean) / log_std.exp()).pow(2) + log_std + 0.5 * math.log(2 * math.pi)
        return nll.sum(dim=-1).mean()

    @flush_denormals
    def update(self, n_updates: int) -> dict[str, float]:
        """Take ``n_updates`` gradient steps on minibatches drawn uniformly from the dataset; the last loss."""
        if self.dataset is None:
            raise ValueError("BC.update: no dataset; call add_dataset(dataset) first")
        if n_updates <= 0:
            return {}
        bs = self.config.batch_size
        drawn = self.dataset.sample(n_updates * bs, self.rng)
        obs = obs_to_tensor(map_obs(lambda x: x[:, 0], drawn.obs), self.device, self.info.observation_space)
        action = torch.as_tensor(drawn.action[:, 0], device=self.device)
        loss = torch.zeros((), device=self.device)
        for k in range(n_updates):
            rows = slice(k * bs, (k + 1) * bs)
            loss = self.loss(map_obs(lambda x, rows=rows: x[rows], obs), action[rows])
            self.optimizers["policy"].zero_grad()
            loss.backward()
            self.optimizers["policy"].step()
            self.n_updates += 1
        return {"loss_bc": float(loss.detach())}

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """The cloned policy's actions ``[B, *action_shape]`` (module docstring)."""
        with torch.inference_mode():
            out = self.policy(obs_to_tensor(obs, self.device, self.info.observation_space))
            if self.discrete:
                if explore:
                    index = torch.multinomial(out.softmax(-1), 1, generator=self.generator)[:, 0]
                else:
                    index = out.argmax(dim=-1)
                return index.cpu().numpy() + self.action_start
            if self.config.loss == "mse":
                normalized = torch.tanh(out)
            else:
                mean, log_std = out.chunk(2, dim=-1)
                noise = torch.randn(mean.shape, generator=self.generator, device=mean.device) if explore else 0.0
                normalized = (mean + log_std.clamp(*LOG_STD_RANGE).exp() * noise).clamp(-1.0, 1.0)
        action = self.low + (normalized.cpu().numpy().astype(np.float64) + 1.0) * 0.5 * (self.high - self.low)
        space = self.info.action_space
        action = as_action_dtype(np.clip(action, self.low, self.high), space.dtype)
        return action.reshape((obs_batch_size(obs), *self.info.action_shape))

    def state_dict(self) -> dict[str, Any]:
        """The network, the optimizer, the generators and the update count (the dataset is given again)."""
        return {**self.registered_state(), "generator": self.generator.get_state(),
                "rng": self.rng.bit_generator.state, "n_updates": self.n_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.load_registered_state(state)
        self.generator.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        self.n_updates = int(state["n_updates"])
