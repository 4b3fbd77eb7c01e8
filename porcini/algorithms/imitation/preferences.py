"""Reward learning from preferences (Christiano et al. 2017, arXiv:1706.03741): PPO on a reward people rank.

The learner never sees the env's reward. It keeps a pool of segments of its own rollouts and, in rounds, asks
which of two segments is better; a reward model ``r̂(s, a)`` (an ensemble of MLPs, averaged) is fitted to the
answers under the Bradley–Terry model (:func:`porcini.functional.preference_loss`), and PPO learns on ``r̂``::

    every fit of the learner:
        cut the rollout into segments of ``segment_length`` steps (per env; steps after a termination are masked,
            segments that a truncation cuts are dropped) into the pool (the last ``segment_pool`` segments)
        every ``query_interval`` fits, ``query_rounds`` times: ask about ``preference_pairs / query_rounds`` random
            pairs of the pool, then ``reward_epochs`` passes of Adam over all the answers so far
        the rollout's rewards replaced by ``r̂``, then PPO's update

The answers come from :class:`SyntheticOracle` (the env's reward summed over each segment, with optional
Boltzmann noise and random errors) unless :meth:`PreferencePPO.answer_with` gives another function: a person at a
prompt, or a script. ``r̂`` is logged beside the truth: ``reward_correlation`` is the correlation of the two
segment returns over the pool. :meth:`PreferencePPO.reward_model` exports ``r̂`` for a new agent
(``porcini train ppo ENV --reward RUN_DIR``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from porcini.algorithms.imitation.reward_model import (
    RewardModel,
    check_reward_spaces,
    encode_actions,
    encode_observations,
)
from porcini.algorithms.imitation.segments import (
    AnsweredPairs,
    PreferenceQuery,
    SegmentPool,
    Segments,
    SyntheticOracle,
    check_answers,
)
from porcini.algorithms.kit import seeded
from porcini.algorithms.policy_gradient.ppo import PPO, PPOConfig
from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.envs.info import EnvInfo
from porcini.functional.preferences import preference_loss, segment_returns
from porcini.networks.mlp import MLP
from porcini.networks.optim import adam
from porcini.seeding import agent_rng

Answerer = Callable[[PreferenceQuery], Any]


@dataclass(frozen=True)
class PreferenceConfig(PPOConfig):
    """Hyperparameters of reward learning from preferences: PPO's (see :class:`PPOConfig`) plus the queries'."""

    preference_pairs: int = 500
    """Pairs asked about over the whole run."""
    query_rounds: int = 10
    """Rounds the pairs are asked in (the first round also gets the remainder)."""
    query_interval: int = 5
    """Fits of the learner between two rounds."""
    segment_length: int = 16
    """Steps per segment (at most the rollout's ``n_steps``)."""
    segment_pool: int = 400
    """Segments kept to ask about (the most recent)."""
    reward_arch: tuple[int, ...] = (64, 64)
    """Hidden widths of each reward network (tanh)."""
    reward_ensemble: int = 1
    """Reward networks, trained on the same answers from different initializations; ``r̂`` is their mean."""
    reward_learning_rate: float = 1e-3
    """Adam step size of the reward networks."""
    reward_epochs: int = 20
    """Passes over all the answers after each round."""
    reward_batch_size: int = 64
    """Pairs per Adam step of the reward networks."""
    oracle_temperature: float = 0.0
    """The synthetic oracle's Boltzmann noise: it prefers ``a`` with chance ``σ((R_a - R_b) / T)``; 0: always the
    larger return (ties: 0.5)."""
    oracle_error_rate: float = 0.0
    """Chance that the synthetic oracle answers at random (Christiano et al. used 0.1)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        for field in ("preference_pairs", "query_rounds", "query_interval", "segment_length", "reward_ensemble",
                      "reward_epochs", "reward_batch_size"):
            require(getattr(self, field) >= 1, name, field, getattr(self, field), ">= 1")
        require(self.segment_length <= self.n_steps, name, "segment_length", self.segment_length,
                f"<= n_steps ({self.n_steps}): a segment is cut from one rollout")
        require(self.segment_pool >= 2, name, "segment_pool", self.segment_pool, ">= 2")
        require(self.preference_pairs >= self.query_rounds, name, "preference_pairs", self.preference_pairs,
                f">= query_rounds ({self.query_rounds})")
        require(self.reward_learning_rate > 0, name, "reward_learning_rate", self.reward_learning_rate, "> 0")
        require(self.oracle_temperature >= 0, name, "oracle_temperature", self.oracle_temperature, ">= 0")
        require(0.0 <= self.oracle_error_rate <= 1.0, name, "oracle_error_rate", self.oracle_error_rate, "in [0, 1]")


class PreferencePPO(PPO):
    """PPO on a reward model fitted to answers about pairs of its own segments (``preferences``).

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0)
        >>> agent = PreferencePPO(env.info, n_steps=32, batch_size=32, n_epochs=1, preference_pairs=20,
        ...                       query_rounds=2, query_interval=1, segment_length=8)
        >>> Core(agent, env, progress=False).learn(steps=128).steps
        128
        >>> agent.pairs_asked
        20
    """

    name = "preferences"
    Config: type[PreferenceConfig] = PreferenceConfig
    config: PreferenceConfig
    action_spaces = ("Discrete", "Box")

    def __init__(self, info: EnvInfo, config: PreferenceConfig | None = None, **overrides: Any) -> None:
        check_reward_spaces(info, "preferences' reward model")
        super().__init__(info, config, **overrides)
        c = self.config
        width = int(np.prod(info.obs_shape)) + (int(info.action_space.n)
                                                if isinstance(info.action_space, gym.spaces.Discrete)
                                                else info.action_dim)
        with seeded(c.seed):
            self.reward_nets = torch.nn.ModuleList(MLP(width, 1, c.reward_arch, "tanh")
                                                   for _ in range(c.reward_ensemble)).to(self.device)
        self.modules["reward"] = self.reward_nets
        self.optimizers["reward"] = adam(self.reward_nets.parameters(), c.reward_learning_rate, self.device)
        self.rng = agent_rng(c.seed)
        self.pool = SegmentPool(c.segment_length, c.segment_pool)
        self.asked = AnsweredPairs()
        self.rounds_done = 0
        self.answerer: Answerer = SyntheticOracle(c.oracle_temperature, c.oracle_error_rate, self.rng)

    @property
    def pairs_asked(self) -> int:
        """Pairs answered so far."""
        return len(self.asked)

    def answer_with(self, answerer: Answerer) -> None:
        """Ask ``answerer`` instead of the synthetic oracle: a :class:`PreferenceQuery` in, ``P(a ≻ b)`` ``[P]`` out.

        Each answer is in ``[0, 1]``: 1 when ``a`` is better, 0 when ``b`` is, 0.5 when they are equal.
        """
        self.answerer = answerer

    def reward(self, obs: Any, action: Any) -> torch.Tensor:
        """``r̂(s, a)`` ``[N]`` (the ensemble's mean) of flat observations ``[N, ...]`` and env actions ``[N, ...]``."""
        x = self._reward_inputs(obs, action)
        return torch.stack([net(x).squeeze(-1) for net in self.reward_nets]).mean(0)

    def _reward_inputs(self, obs: Any, action: Any) -> torch.Tensor:
        """``[N, obs_dim + action_width]``: the flattened observations and the encoded actions."""
        return torch.cat([encode_observations(obs, self.info.observation_space),
                          encode_actions(action, self.info.action_space)], dim=-1).to(self.device)

    def _segment_inputs(self, segments: Segments) -> tuple[torch.Tensor, torch.Tensor]:
        """The reward networks' inputs ``[P, L, d]`` of segments, and their masks ``[P, L]``."""
        p, length = segments.mask.shape
        obs = segments.obs.reshape(p * length, *segments.obs.shape[2:])
        action = segments.action.reshape(p * length, *segments.action.shape[2:])
        x = self._reward_inputs(obs, action).reshape(p, length, -1)
        return x, torch.as_tensor(segments.mask, device=self.device)

    def reward_model(self) -> RewardModel:
        """``r̂`` (a copy, detached from training), to train a new agent on."""
        return RewardModel(list(self.reward_nets), self.info, state_only=False)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Add the rollout's segments to the pool, ask and fit ``r̂`` when a round is due, then PPO on ``r̂``."""
        c = self.config
        self.pool.add_rollout(batch)
        metrics: dict[str, float] = {}
        due = self.fits % c.query_interval == 0 and self.rounds_done < c.query_rounds and len(self.pool) >= 2
        if due:
            metrics.update(self._query_round())
        with torch.no_grad():
            flat = batch.flatten()
            learned = self.reward(flat.obs[:, 0], flat.action[:, 0]).cpu().numpy().astype(np.float32)
        learned = learned.reshape(batch.reward.shape)
        relabelled = TransitionBatch(batch.obs, batch.action, learned, batch.next_obs, batch.terminated,
                                     batch.truncated, batch.extras)
        metrics.update(learned_reward_mean=float(learned.mean()), env_reward_mean=float(np.mean(batch.reward)),
                       preference_pairs=float(self.pairs_asked), **self._correlation())
        return {**super().fit(relabelled), **metrics}

    def _query_round(self) -> dict[str, float]:
        """Ask about this round's pairs and fit the reward networks on every answer so far."""
        c = self.config
        n = c.preference_pairs // c.query_rounds + (c.preference_pairs % c.query_rounds if self.rounds_done == 0
                                                    else 0)
        query = self.pool.query(n, self.rng)
        answers = check_answers(self.answerer(query), n)
        self.asked.add(query, answers)
        self.rounds_done += 1
        return self._fit_reward()

    def _fit_reward(self) -> dict[str, float]:
        """``reward_epochs`` shuffled passes of Adam over the answered pairs, every member on every minibatch."""
        c = self.config
        segments_a, segments_b, answers = self.asked.all()
        a, b = self._segment_inputs(segments_a), self._segment_inputs(segments_b)
        preference = torch.as_tensor(answers, device=self.device)
        terms: dict[str, torch.Tensor] = {}
        n = len(preference)  # every epoch's order drawn up front (the same draws) and moved at once
        orders = torch.as_tensor(np.stack([self.rng.permutation(n) for _ in range(c.reward_epochs)]),
                                 device=self.device)
        for order in orders:
            for start in range(0, n, c.reward_batch_size):
                rows = order[start:start + c.reward_batch_size]
                loss = torch.zeros((), device=self.device)
                for net in self.reward_nets:
                    terms = preference_loss(self._returns(net, a, rows), self._returns(net, b, rows),
                                            preference[rows])
                    loss = loss + terms["loss_preference"]
                self.optimizers["reward"].zero_grad()
                loss.backward()
                self.optimizers["reward"].step()
        return {name: float(value.detach()) for name, value in terms.items()}

    @staticmethod
    def _returns(net: torch.nn.Module, side: tuple[torch.Tensor, torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
        inputs, mask = side[0][rows], side[1][rows]
        return segment_returns(net(inputs).squeeze(-1), mask)

    def _correlation(self) -> dict[str, float]:
        """``reward_correlation``: Pearson's r of learned and true segment returns over the pool (when defined)."""
        segments = self.pool.segments
        if segments is None or len(segments) < 3:
            return {}
        with torch.no_grad():
            x, mask = self._segment_inputs(segments)
            learned = torch.stack([segment_returns(net(x).squeeze(-1), mask) for net in self.reward_nets]).mean(0)
        true_returns, learned_returns = segments.env_returns(), learned.cpu().numpy()
        if np.std(true_returns) == 0 or np.std(learned_returns) == 0:
            return {}
        return {"reward_correlation": float(np.corrcoef(true_returns, learned_returns)[0, 1])}

    def state_dict(self) -> dict[str, Any]:
        """PPO's state (with the reward networks), the pool, the answers, the rounds and the generator."""
        return {**super().state_dict(), "rng": self.rng.bit_generator.state, "rounds_done": self.rounds_done,
                "pool": self.pool.state_dict(), "asked": self.asked.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (an :meth:`answer_with` function is given again)."""
        super().load_state_dict(state)
        self.rng.bit_generator.state = state["rng"]
        self.rounds_done = int(state["rounds_done"])
        self.pool.load_state_dict(state["pool"])
        self.asked.load_state_dict(state["asked"])

