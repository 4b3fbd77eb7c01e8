"""Fitted Q-Iteration: batch-mode Q-iteration with a tree ensemble or a neural network.

Ernst, Geurts & Wehenkel (2005), "Tree-based batch mode reinforcement learning", JMLR; Riedmiller (2005),
"Neural fitted Q iteration".

On a fixed set of transitions, starting from ``Q_0 = 0``, repeat ``n_iterations`` times:

    y_i = r_i + γ (1 - terminated_i) max_a Q_{k-1}(s'_i, a)        (truncated transitions bootstrap)
    Q_k = a regressor fitted to {((s_i, a_i), y_i)}

The regressor is scikit-learn's ``ExtraTreesRegressor`` on ``(obs, one-hot action)`` inputs (the paper's choice;
``pip install "porcini[sklearn]"``) or a torch MLP with one output per action, trained by minibatch Adam on the
taken action's output and warm-started from the previous iteration. Discrete observations are one-hot encoded.

Offline use: ``agent.fit(dataset)`` (a :class:`~porcini.data.Dataset` or a ``TransitionBatch``) runs all the
iterations; through ``Core`` use ``core.fit_batch(dataset.batch)``. Online, ``Core.learn`` collects with
ε-greedy actions and refits on everything gathered every ``fit_every_steps`` env steps. Deviations: the tree
ensemble is refitted from scratch each iteration (as in the paper); the MLP is warm-started (as NFQ).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.algorithms.exploration import epsilon_greedy, greedy
from porcini.algorithms.space_hints import multi_action_hint
from porcini.core.agent import BaseAgent, supports_action_space
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError, missing_extra
from porcini.seeding import agent_rng

REGRESSORS = ("auto", "extra_trees", "mlp")
_DATA = ("obs", "action", "reward", "next_obs", "terminated")


@dataclass(frozen=True)
class FQIConfig:
    """Hyperparameters of Fitted Q-Iteration."""

    gamma: float | None = None
    """Discount factor; None takes the env's declared discount or else 0.99."""
    n_iterations: int = 50
    """FQI iterations K (the horizon the fitted values look ahead)."""
    regressor: str = "auto"
    """``"extra_trees"`` (scikit-learn), ``"mlp"`` (torch), or ``"auto"``: extra trees when scikit-learn is
    installed, else the MLP."""
    n_estimators: int = 50
    """Extra trees: number of trees."""
    min_samples_split: int = 2
    """Extra trees: minimum samples to split a node (the paper's n_min)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """MLP: widths of the hidden layers."""
    learning_rate: float = 1e-3
    """MLP: Adam step size."""
    batch_size: int = 256
    """MLP: minibatch size."""
    n_epochs: int = 20
    """MLP: passes over the data per FQI iteration."""
    epsilon: float = 0.1
    """ε of the ε-greedy actions while collecting online."""
    fit_every_steps: int = 1000
    """Online: refit on all data gathered so far after this many env steps (summed over envs)."""
    seed: int = 0
    """Seed of the regressor and the exploration generator."""
    device: str = "cpu"
    """MLP: torch device."""

    def __post_init__(self) -> None:
        name = "FQIConfig"
        require(self.gamma is None or 0 <= self.gamma <= 1, name, "gamma", self.gamma, "in [0, 1] or None")
        require(self.n_iterations >= 1, name, "n_iterations", self.n_iterations, ">= 1")
        require(self.regressor in REGRESSORS, name, "regressor", self.regressor, f"one of {REGRESSORS}")
        require(self.n_estimators >= 1, name, "n_estimators", self.n_estimators, ">= 1")
        require(self.min_samples_split >= 2, name, "min_samples_split", self.min_samples_split, ">= 2")
        require(self.learning_rate > 0, name, "learning_rate", self.learning_rate, "> 0")
        require(self.batch_size >= 1, name, "batch_size", self.batch_size, ">= 1")
        require(self.n_epochs >= 1, name, "n_epochs", self.n_epochs, ">= 1")
        require(0 <= self.epsilon <= 1, name, "epsilon", self.epsilon, "in [0, 1]")
        require(self.fit_every_steps >= 1, name, "fit_every_steps", self.fit_every_steps, ">= 1")
        if self.device != "cpu":  # checking it imports torch, which the tree regressors do not need
            from porcini.algorithms.kit import check_device

            check_device(name, self.device)


class FQI(BaseAgent):
    """Batch-mode Q-iteration with a tree ensemble or an MLP regressor (Discrete actions)."""

    name = "fqi"
    Config = FQIConfig
    action_spaces = ("Discrete",)

    def __init__(self, info: EnvInfo, config: FQIConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(FQIConfig, config, overrides)
        if not supports_action_space(self, info.action_space) or int(getattr(info.action_space, "start", 0)):
            raise UnsupportedSpaceError(f"FQI needs Discrete actions starting at 0; {info.env_id} has "
                                        f"{info.action_space}" + multi_action_hint(info.action_space))
        if not isinstance(info.observation_space, (gym.spaces.Box, gym.spaces.Discrete)):
            raise UnsupportedSpaceError(f"FQI needs Box or Discrete observations; {info.env_id} has "
                                        f"{info.observation_space} (FlattenObservation turns Dict and Tuple ones of "
                                        "fixed-size entries into a Box)")
        c = self.config
        self.info = info
        self.n_actions = info.n_actions
        self.gamma = float(c.gamma if c.gamma is not None else (info.gamma if info.gamma is not None else 0.99))
        self.regressor = c.regressor
        if self.regressor == "auto":
            self.regressor = "extra_trees" if importlib.util.find_spec("sklearn") is not None else "mlp"
        self.rng = agent_rng(c.seed)
        self.fit_every_steps = c.fit_every_steps
        self._data: dict[str, np.ndarray] | None = None
        self._model: Any = None
        self._rng_before_fit: Mapping[str, Any] | None = None

    def encode(self, obs: Any) -> np.ndarray:
        """Regressor inputs ``[N, d]``: one-hot for Discrete observations (``start + i``: entry ``i``), else floats."""
        obs, space = np.asarray(obs), self.info.observation_space
        if isinstance(space, gym.spaces.Discrete):
            return np.eye(int(space.n))[obs.reshape(-1).astype(np.int64) - int(space.start)]
        return obs.reshape(len(obs), -1).astype(np.float64)

    def q_values(self, obs: Any) -> np.ndarray:
        """``[B, A]`` fitted action values (zeros before the first fit)."""
        x = self.encode(obs)
        if self._model is None:
            return np.zeros((len(x), self.n_actions))
        if self.regressor == "mlp":
            import torch

            with torch.no_grad():
                t = torch.as_tensor(x, dtype=torch.float32, device=self.config.device)
                return self._model(t).double().cpu().numpy()
        eye = np.eye(self.n_actions)
        inputs = np.concatenate([np.repeat(x, self.n_actions, axis=0), np.tile(eye, (len(x), 1))], axis=1)
        return self._model.predict(inputs).reshape(len(x), self.n_actions)

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """ε-greedy in the fitted Q while exploring, greedy otherwise (ties at random)."""
        q = self.q_values(obs)
        return epsilon_greedy(q, self.config.epsilon, self.rng) if explore else greedy(q, self.rng)

    def fit(self, batch: Any) -> dict[str, float]:
        """Add the transitions (a ``TransitionBatch`` or a ``Dataset``) to the data and run all FQI iterations."""
        batch = getattr(batch, "batch", batch)  # a porcini.data.Dataset holds its TransitionBatch in .batch
        if not isinstance(batch, TransitionBatch):
            raise TypeError(f"FQI.fit takes a TransitionBatch or a Dataset, got {type(batch).__name__}")
        flat = batch.flatten()
        new = {k: np.asarray(getattr(flat, k))[:, 0] for k in _DATA}
        self._data = new if self._data is None else {k: np.concatenate([self._data[k], new[k]]) for k in _DATA}
        self._rng_before_fit = self.rng.bit_generator.state
        return self._run_iterations()

    def _run_iterations(self) -> dict[str, float]:
        assert self._data is not None
        d = self._data
        x, action = self.encode(d["obs"]), d["action"].astype(np.int64)
        self._model = None
        if self.regressor == "mlp":
            self._init_mlp(x.shape[1])
        target = np.zeros(len(action))
        change = 0.0
        for k in range(self.config.n_iterations):
            # Q_{k-1}; Q_0 = 0, also for the MLP, whose initial outputs are not Q_0
            next_q = self.q_values(d["next_obs"]) if k else np.zeros((len(action), self.n_actions))
            previous, target = target, d["reward"] + self.gamma * (1.0 - d["terminated"]) * next_q.max(axis=1)
            change = float(np.abs(target - previous).mean())
            self._regress(x, action, target)
        return {"fqi_transitions": float(len(action)), "fqi_target_change": change}

    def _regress(self, x: np.ndarray, action: np.ndarray, target: np.ndarray) -> None:
        """Fit ``Q_k`` to ``((x, action), target)``."""
        c = self.config
        if self.regressor == "extra_trees":
            try:
                from sklearn.ensemble import ExtraTreesRegressor
            except ImportError as err:
                raise missing_extra("FQI(regressor='extra_trees')", "sklearn", err) from err
            seed = int(self.rng.integers(2**31))
            model = ExtraTreesRegressor(n_estimators=c.n_estimators, min_samples_split=c.min_samples_split,
                                        random_state=seed, n_jobs=1)
            self._model = model.fit(np.concatenate([x, np.eye(self.n_actions)[action]], axis=1), target)
            return
        import torch

        net, opt = self._model, self._optimizer
        xt = torch.as_tensor(x, dtype=torch.float32, device=c.device)
        at = torch.as_tensor(action, device=c.device)
        yt = torch.as_tensor(target, dtype=torch.float32, device=c.device)
        for _ in range(c.n_epochs):
            order = torch.randperm(len(xt), generator=self._torch_gen, device=xt.device)  # no host indices
            for start in range(0, len(xt), c.batch_size):
                idx = order[start : start + c.batch_size]
                q = net(xt[idx]).gather(1, at[idx, None])[:, 0]
                loss = torch.nn.functional.mse_loss(q, yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()

    def _init_mlp(self, in_dim: int) -> None:
        import torch

        from porcini.networks import MLP

        c = self.config
        self._torch_gen = torch.Generator(device=c.device).manual_seed(int(self.rng.integers(2**31)))
        with torch.random.fork_rng():
            torch.manual_seed(int(self.rng.integers(2**31)))
            self._model = MLP(in_dim, self.n_actions, hidden=c.hidden_sizes, activation="relu").to(c.device)
        self._optimizer = torch.optim.Adam(self._model.parameters(), lr=c.learning_rate)

    def state_dict(self) -> dict[str, Any]:
        """The data and the generator state as they were before the last fit, so loading refits the same model.

        Refitting (rather than pickling a tree ensemble) keeps checkpoints to plain arrays; the fit is
        deterministic given the data and the generator, so the restored model is identical.
        """
        return {"data": None if self._data is None else {k: v.copy() for k, v in self._data.items()},
                "rng_before_fit": self._rng_before_fit, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` by refitting on the stored data."""
        data = state["data"]
        self._data = None if data is None else {k: np.asarray(v).copy() for k, v in data.items()}
        self._model = None
        if self._data is not None and state["rng_before_fit"] is not None:
            self.rng.bit_generator.state = state["rng_before_fit"]
            self._rng_before_fit = state["rng_before_fit"]
            self._run_iterations()
        self.rng.bit_generator.state = state["rng"]
