"""Self-play PPO: masked PPO on the seats of a two-player turn-based game, against a pool of its past versions.

``make_env`` gives a two-player turn-based PettingZoo game (``pettingzoo.classic.tictactoe_v3:env``) as one seat
of the game per env (:mod:`porcini.envs.two_player`). :class:`SelfPlayPPO` is PPO (masked logits come from the
observation's ``action_mask``) that owns an :class:`~porcini.algorithms.multi_agent.opponent_pool.OpponentPool`
and points the seats' opponent source at it: every episode's opponent is a frozen past version of the learner, a
random player or a greedy one. The pool takes a snapshot every ``snapshot_every`` env steps, after a fit (the
learner changes only there), and lives in the agent's ``state_dict``, so a ``porcini train`` run checkpoints it
and resumes exactly (the pool replays each seat's opponent, see :mod:`.opponent_pool`).

Evaluation: the run's usual evaluation plays the evaluation env's seats, whose opponent stays a random player, so
``eval_return_mean`` is the win rate minus the loss rate against random play. On top,
:meth:`SelfPlayPPO.evaluation_metrics` plays ``eval_games`` games against a random and a greedy player, logged each
epoch as ``eval_vs_random/win_rate`` ... ``eval_vs_greedy/illegal``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from porcini.algorithms.multi_agent.opponent_pool import OpponentPool
from porcini.algorithms.multi_agent.self_play import play_games
from porcini.algorithms.policy_gradient.ppo import PPO, PPOConfig
from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.envs.adapters.players import GreedyPlayer, RandomPlayer
from porcini.envs.info import EnvInfo
from porcini.errors import ConfigError

__all__ = ["SelfPlayPPO", "SelfPlayPPOConfig"]


@dataclass(frozen=True)
class SelfPlayPPOConfig(PPOConfig):
    """Hyperparameters of self-play PPO: PPO's, the opponent pool's, and the evaluation games."""

    pool_size: int = 10
    """Most past versions kept in the pool (the oldest leaves first)."""
    snapshot_every: int = 10_000
    """Env steps between snapshots of the learner (taken after the fit that crosses the step)."""
    latest_prob: float = 0.5
    """Probability of the newest snapshot among the games against snapshots (else uniform over the pool)."""
    random_prob: float = 0.2
    """Probability that an episode's opponent is a random player."""
    greedy_prob: float = 0.2
    """Probability that an episode's opponent is a greedy player (wins at once, else blocks, else random)."""
    explore_opponents: bool = True
    """Snapshots sample their moves from their policy (else they play its mode, which repeats the same games)."""
    eval_games: int = 100
    """Games against each of the random and the greedy player per evaluation (half in each seat)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        require(self.pool_size >= 1, owner, "pool_size", self.pool_size, ">= 1")
        require(self.snapshot_every >= 1, owner, "snapshot_every", self.snapshot_every, ">= 1")
        for name in ("latest_prob", "random_prob", "greedy_prob"):
            require(0.0 <= getattr(self, name) <= 1.0, owner, name, getattr(self, name), "in [0, 1]")
        require(self.random_prob + self.greedy_prob <= 1.0, owner, "greedy_prob", self.greedy_prob,
                f"at most 1 - random_prob = {1.0 - self.random_prob}")
        require(self.eval_games >= 0, owner, "eval_games", self.eval_games, ">= 0")


class SelfPlayPPO(PPO):
    """PPO by self-play on a two-player turn-based game: the seats' opponents come from its own opponent pool.

    Args:
        info: the :class:`EnvInfo` of ``make_env`` on a two-player turn-based game (``info.opponents`` set).
        config: :class:`SelfPlayPPOConfig`; keyword overrides as for every agent.

    Raises:
        ConfigError: the env is not the seats of a two-player turn-based game.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("pettingzoo.classic.tictactoe_v3:env", n_envs=2, seed=0)
        >>> agent = SelfPlayPPO(env.info, n_steps=16, batch_size=32, snapshot_every=32)
        >>> _ = Core(agent, env, progress=False).learn(steps=64)
        >>> agent.pool.snapshot_steps
        [0, 32, 64]
    """

    name = "self_play_ppo"
    Config: type[SelfPlayPPOConfig] = SelfPlayPPOConfig
    config: SelfPlayPPOConfig
    action_spaces = ("Discrete",)

    def __init__(self, info: EnvInfo, config: SelfPlayPPOConfig | None = None, **overrides: Any) -> None:
        super().__init__(info, config, **overrides)
        if info.opponents is None:
            raise ConfigError(f"self_play_ppo learns two-player turn-based games by self-play, and {info.env_id} is "
                              "not one; give a PettingZoo factory such as pettingzoo.classic.tictactoe_v3:env")
        c = self.config
        self.pool = OpponentPool(self, pool_size=c.pool_size, snapshot_every=c.snapshot_every,
                                 latest_prob=c.latest_prob, random_prob=c.random_prob, greedy_prob=c.greedy_prob,
                                 explore=c.explore_opponents)
        self.opponents = info.opponents
        self.opponents.source = self.pool
        self.pool.maybe_snapshot(0)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """PPO's fit, then a snapshot of the new policy when the pool's cadence is due."""
        metrics = super().fit(batch)
        self.pool.maybe_snapshot(self.steps_seen)
        metrics["opponent_pool_size"] = float(len(self.pool.snapshots))
        return metrics

    def evaluation_metrics(self, seed: int) -> dict[str, float]:
        """Win, draw and loss rates and illegal moves in ``eval_games`` games against a random and a greedy player.

        The experiment runner calls this at every evaluation; the games are seeded by ``seed``.
        """
        out: dict[str, float] = {}
        if self.config.eval_games == 0:
            return out
        for name, player in (("random", RandomPlayer()), ("greedy", GreedyPlayer())):
            result = play_games(self, self.opponents.game_fn, player, self.config.eval_games, seed)
            out.update({f"eval_vs_{name}/{k}": result[k] for k in ("win_rate", "draw_rate", "loss_rate", "illegal")})
        return out

    def policy_state(self) -> dict[str, Any]:
        """What a snapshot keeps: PPO's state (networks, optimizer, counters), without the pool."""
        return super().state_dict()

    def frozen_copy(self, state: dict[str, Any]) -> PPO:
        """A plain PPO that plays a snapshot (``state`` from :meth:`policy_state`)."""
        fields = {f.name for f in dataclasses.fields(PPOConfig)}
        agent = PPO(self.info, PPOConfig(**{name: getattr(self.config, name) for name in fields}))
        agent.load_state_dict(state)
        return agent

    def state_dict(self) -> dict[str, Any]:
        """PPO's state and the opponent pool's."""
        return {**super().state_dict(), "opponent_pool": self.pool.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; each seat's next draw replays the opponent it had (exact resume)."""
        super().load_state_dict(state)
        self.pool.load_state_dict(state["opponent_pool"])
