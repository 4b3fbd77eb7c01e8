"""A uniformly random policy: the baseline every task is measured against, and a cheap agent for loop tests."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.core.agent import BaseAgent
from porcini.core.config import build_config, require
from porcini.core.obs_tree import obs_batch_size
from porcini.envs.info import EnvInfo
from porcini.seeding import agent_eval_rng, agent_rng


@dataclass(frozen=True)
class RandomConfig:
    """Hyperparameters of the random agent."""

    seed: int = 0
    """Seed of the action generator."""
    chunk: int = 1024
    """Actions drawn per call to the generator (drawing in chunks keeps per-step cost low on cheap envs)."""

    def __post_init__(self) -> None:
        require(self.chunk >= 1, "RandomConfig", "chunk", self.chunk, "an int >= 1")


class RandomAgent(BaseAgent):
    """Acts uniformly at random in the action space; never fits.

    Discrete and Box action spaces are sampled from the agent's own seeded generator (an integer Box uniformly over
    its integers, bounds included); other spaces use the space's
    ``sample`` seeded from it. With an ``"action_mask"`` in the observation (Discrete actions) it draws uniformly
    among each state's legal actions. Evaluation (``explore=False``) draws from a generator of its own
    (:func:`porcini.seeding.agent_eval_rng`), so evaluating never shifts the training draws.
    """

    name = "random"
    Config = RandomConfig
    action_spaces = ("any",)  # Discrete and Box from its own generator, other spaces by their own sample()

    def __init__(self, info: EnvInfo, config: RandomConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(RandomConfig, config, overrides)
        self.info = info
        self.rng = agent_rng(self.config.seed)
        self.eval_rng = agent_eval_rng(self.config.seed)
        self._space = info.action_space
        self._buffer: np.ndarray | None = None
        self._next = 0
        self._drawn_in_chunks = isinstance(self._space, (gym.spaces.Discrete, gym.spaces.Box))
        self._eval_space = copy.deepcopy(self._space)
        self._legal_draw: Any = None  # for an env whose observations carry an action mask: legal actions only
        if isinstance(info.observation_space, gym.spaces.Dict):  # a mask comes in a Dict; torch is imported only then
            from porcini.networks.masking import has_action_mask, random_legal_actions

            if has_action_mask(info.observation_space, self._space):
                self._legal_draw = random_legal_actions
        if not self._drawn_in_chunks:
            self._space.seed(int(self.rng.integers(2**31)))
            self._eval_space.seed(int(self.eval_rng.integers(2**31)))

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        space = self._space
        if isinstance(space, gym.spaces.Discrete):
            return rng.integers(space.start, space.start + space.n, size=n)
        assert isinstance(space, gym.spaces.Box)
        if np.issubdtype(space.dtype, np.integer):  # every integer in the bounds, each as likely (a cast truncates)
            return rng.integers(space.low, space.high, size=(n, *space.shape), endpoint=True).astype(space.dtype)
        low = np.where(np.isfinite(space.low), space.low, -1.0)
        high = np.where(np.isfinite(space.high), space.high, 1.0)
        return rng.uniform(low, high, size=(n, *space.shape)).astype(space.dtype)

    def act(self, obs: np.ndarray, *, explore: bool = True) -> np.ndarray:
        """Random actions for every env; with ``explore=False`` (evaluation) from the evaluation generator."""
        if self._legal_draw is not None:
            start = int(self._space.start)  # type: ignore[attr-defined]
            return self._legal_draw(obs["action_mask"], self.rng if explore else self.eval_rng) + start
        n = obs_batch_size(obs)  # a Dict or Tuple observation's len() would count its keys
        if not self._drawn_in_chunks:
            space = self._space if explore else self._eval_space
            return np.stack([space.sample() for _ in range(n)])
        if not explore:
            return self._draw(n, self.eval_rng)
        if self._buffer is None or self._next + n > len(self._buffer):
            self._buffer = self._draw(max(self.config.chunk, n), self.rng)
            self._next = 0
        out = self._buffer[self._next : self._next + n]
        self._next += n
        return out

    def state_dict(self) -> dict[str, Any]:
        """Generator state and the undrawn chunk, so that resumed runs draw the same actions."""
        return {
            "rng": self.rng.bit_generator.state,
            "eval_rng": self.eval_rng.bit_generator.state,
            "buffer": None if self._buffer is None else self._buffer.copy(),
            "next": self._next,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.rng.bit_generator.state = state["rng"]
        if "eval_rng" in state:  # checkpoints written before evaluation had its own generator have none
            self.eval_rng.bit_generator.state = state["eval_rng"]
        self._buffer = None if state["buffer"] is None else np.asarray(state["buffer"])
        self._next = int(state["next"])
