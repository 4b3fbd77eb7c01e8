"""Hyperparameters of DQN (:mod:`porcini.algorithms.value_based.dqn`) and the agents built on it, with their checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from porcini.algorithms.hindsight import check_replay_fields
from porcini.algorithms.kit import DeepConfig
from porcini.core.config import require


@dataclass(frozen=True)
class DQNConfig(DeepConfig):
    """Hyperparameters of DQN; names and defaults follow Stable-Baselines3."""

    learning_rate: float = 1e-4
    """Adam step size."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions (summed over envs)."""
    learning_starts: int = 100
    """Env steps collected (acting uniformly at random) before the first gradient step."""
    batch_size: int = 32
    """Transitions per minibatch."""
    tau: float = 1.0
    """Target update weight: 1 copies the online network, < 1 is Polyak averaging."""
    train_freq: int = 4
    """Env steps (summed over envs) between fits."""
    gradient_steps: int = 1
    """Gradient steps per fit; -1: as many as env steps in the fit's batch."""
    target_update_interval: int = 10_000
    """Env steps between target-network updates (gradient steps when learning offline, ``update``)."""
    exploration_fraction: float = 0.1
    """Fraction of the run (its horizon in env steps) over which ε decays linearly."""
    exploration_initial_eps: float = 1.0
    """ε at the start."""
    exploration_final_eps: float = 0.05
    """ε after the decay."""
    max_grad_norm: float | None = 10.0
    """Clip the gradient's global norm to this; None: no clipping."""
    n_steps: int = 1
    """Steps of the TD target (1: one-step Q-learning)."""
    double_q: bool = False
    """Double DQN target: the online network selects the next action, the target network evaluates it."""
    dueling: bool = False
    """Dueling head ``V + A - mean A`` instead of a linear Q head."""
    replay: str = "uniform"
    """``"uniform"``, or ``"her"``: hindsight experience replay on a goal env (:mod:`porcini.algorithms.hindsight`)."""
    her_strategy: str = "future"
    """With ``replay="her"``: where hindsight goals come from, ``"future"``, ``"final"`` or ``"episode"``."""
    her_n_sampled_goal: int = 4
    """With ``replay="her"``: relabelled goals per real one (a sample is relabelled with probability k / (k + 1))."""
    prioritized_replay: bool = False
    """Proportional prioritized replay (sum-tree) with importance weights."""
    prioritized_replay_alpha: float = 0.6
    """Priority exponent α (0: uniform)."""
    prioritized_replay_beta0: float = 0.4
    """Initial importance-weight exponent β, annealed linearly to 1 by the run's end."""
    prioritized_replay_eps: float = 1e-6
    """Added to every ``|TD error|`` so no transition becomes unsampleable."""
    loss: Literal["huber", "mse"] = "huber"
    """Regression loss on the TD error (SB3: Huber, i.e. smooth L1)."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden widths of the Q network (after the CNN for images)."""
    activation: str = "relu"
    """Hidden activation."""
    features_dim: int = 512
    """Output width of the CNN for image observations."""

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        for name in ("buffer_size", "batch_size", "train_freq", "target_update_interval", "n_steps", "features_dim"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1, o, name, value, "an int >= 1")
        require(isinstance(self.learning_starts, int) and self.learning_starts >= 0, o, "learning_starts",
                self.learning_starts, "an int >= 0")
        require(isinstance(self.gradient_steps, int) and self.gradient_steps >= -1, o, "gradient_steps",
                self.gradient_steps, "an int >= 0, or -1 (as many as env steps per fit)")
        require(0 < self.tau <= 1, o, "tau", self.tau, "in (0, 1]")
        for name in ("exploration_fraction", "exploration_initial_eps", "exploration_final_eps",
                     "prioritized_replay_beta0"):
            require(0 <= getattr(self, name) <= 1, o, name, getattr(self, name), "in [0, 1]")
        require(self.prioritized_replay_alpha >= 0, o, "prioritized_replay_alpha", self.prioritized_replay_alpha,
                ">= 0")
        require(self.prioritized_replay_eps > 0, o, "prioritized_replay_eps", self.prioritized_replay_eps, "> 0")
        require(self.loss in ("huber", "mse"), o, "loss", self.loss, "'huber' or 'mse'")
        check_replay_fields(self)
        her = self.replay == "her"
        require(not (her and self.prioritized_replay), o, "prioritized_replay", self.prioritized_replay,
                "False with replay='her' (hindsight replay samples uniformly)")
        require(not her or self.n_steps == 1, o, "n_steps", self.n_steps, "1 with replay='her' (one-step targets)")
