"""Self-play's parts for two-player zero-sum turn-based games (PettingZoo classic AEC games: tic-tac-toe, connect four).

The players (:class:`RandomPlayer`, :class:`GreedyPlayer` from :mod:`porcini.envs.adapters.players`, and
:class:`PolicyPlayer`) and the :class:`OpponentPool` (:mod:`.opponent_pool`) are re-exported here.
:func:`play_games` plays evaluation games of an agent against a player, the agent taking both seats in turn;
:class:`SelfPlayCallback` snapshots any learner into a pool during ``Core.learn`` and evaluates it against fixed
players at epoch ends; :func:`train_self_play` trains :class:`~porcini.algorithms.multi_agent.self_play_ppo.
SelfPlayPPO` (the ``self_play_ppo`` of ``porcini train``) in Python and keeps the evaluation rows.

Players are callables ``player(aec_env, agent_name) -> action`` (see :mod:`porcini.envs.adapters.turn_based`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.multi_agent.opponent_pool import OpponentPool, PolicyPlayer
from porcini.core.callbacks import Callback
from porcini.core.loop import Core
from porcini.envs.adapters.players import GreedyPlayer, RandomPlayer
from porcini.envs.adapters.turn_based import Player, TurnBasedSeat
from porcini.envs.make import make_env
from porcini.networks.masking import ACTION_MASK_KEY

__all__ = ["GreedyPlayer", "OpponentPool", "PolicyPlayer", "RandomPlayer", "SelfPlayCallback", "SelfPlayResult",
           "default_eval_opponents", "play_games", "train_self_play"]


def _play_one(agent: Any, seat: TurnBasedSeat, obs: Any, explore: bool) -> tuple[float, bool]:
    """Play one game from ``obs`` to its end; return the learner's return and whether it chose an illegal action.

    An illegal action forfeits the game (it is not played).
    """
    total = 0.0
    while True:
        batch = {key: np.asarray(value)[None] for key, value in obs.items()}
        action = int(np.asarray(agent.act(batch, explore=explore))[0])
        if not 0 <= action < len(obs[ACTION_MASK_KEY]) or not obs[ACTION_MASK_KEY][action]:
            return -1.0, True
        obs, reward, terminated, truncated, _ = seat.step(action)
        total += reward
        if terminated or truncated:
            return total, False


def play_games(agent: Any, env_fn: Callable[[], Any], opponent: Player, n_games: int, seed: int = 0, *,
               explore: bool = False) -> dict[str, float]:
    """Play ``n_games`` games of ``agent`` against ``opponent``, the agent taking the first and second seat in turn.

    Each game's outcome is the sign of the agent's return (win > 0, draw 0, loss < 0). An illegal action by the
    agent is counted in ``illegal`` and loses the game; with action masks it never happens.

    Args:
        agent: a porcini agent (``act``) trained on :class:`TurnBasedSeat`.
        env_fn: builds the AEC game, e.g. ``tictactoe_v3.env``.
        opponent: the player of the other seat (reseeded from ``seed``'s stream at every game).
        n_games: games to play (an even number splits them equally between the seats).
        seed: seed of the first game (the first seat, the games' and the opponent's randomness follow from it).
        explore: let the agent sample its actions instead of taking its policy's mode.

    Returns:
        ``games``, the counts ``win``, ``draw``, ``loss``, ``illegal`` and the rates ``win_rate``, ``draw_rate``,
        ``loss_rate``.
    """
    seat = TurnBasedSeat(env_fn(), opponent)
    counts = {"win": 0, "draw": 0, "loss": 0, "illegal": 0}
    first = int(np.random.default_rng(seed).integers(2))
    for game in range(n_games):
        seat.fixed_seat = seat.agents[(first + game) % 2]
        obs, _ = seat.reset(seed=seed) if game == 0 else seat.reset()
        total, illegal = _play_one(agent, seat, obs, explore)
        counts["illegal"] += int(illegal)
        counts["win" if total > 0 else "loss" if total < 0 else "draw"] += 1
    seat.close()
    rates = {f"{k}_rate": counts[k] / max(n_games, 1) for k in ("win", "draw", "loss")}
    return {"games": float(n_games), **{k: float(v) for k, v in counts.items()}, **rates}


def default_eval_opponents() -> dict[str, Callable[[], Player]]:
    """The evaluation opponents of :class:`SelfPlayCallback`: ``random`` and ``greedy`` player factories."""
    return {"random": RandomPlayer, "greedy": GreedyPlayer}


class SelfPlayCallback(Callback):
    """Adds the learner to the opponent pool as it trains and evaluates it against fixed players at epoch ends.

    At the start of ``learn`` the pool gets the learner (when it has none) and a first snapshot (when empty);
    after every fit it snapshots on its ``snapshot_every`` cadence (the learner changes only at fits). At every
    epoch end it plays ``eval_games`` games against each evaluation opponent (:func:`play_games`) and appends one
    row to :attr:`history`: ``env_steps`` and ``<opponent>/<win|draw|loss>_rate`` and ``<opponent>/illegal``.
    The evaluation's wall time counts as evaluation time (``core.eval_time_s``), not training.

    Args:
        pool: the pool the training envs draw their opponents from.
        env_fn: builds the AEC game for evaluation games.
        eval_games: games per evaluation opponent per epoch.
        eval_seed: seed of every evaluation (the same games' randomness at each epoch).
        opponents: name -> player factory; defaults to :func:`default_eval_opponents`.
        logger: anything with ``log(metrics, step)`` (a porcini logger) to send each row to.
    """

    def __init__(self, pool: OpponentPool, env_fn: Callable[[], Any], *, eval_games: int = 100, eval_seed: int = 0,
                 opponents: Mapping[str, Callable[[], Player]] | None = None, logger: Any = None) -> None:
        self.pool, self.env_fn, self.eval_games, self.eval_seed = pool, env_fn, eval_games, eval_seed
        self.opponents = dict(opponents) if opponents is not None else default_eval_opponents()
        self.logger = logger
        self.history: list[dict[str, float]] = []

    def on_learn_start(self, core: Core) -> None:
        """Bind the pool to the learner and take the first snapshot."""
        if self.pool.learner is None:
            self.pool.learner = core.agent
        if not self.pool.snapshots:
            self.pool.maybe_snapshot(core.env_steps)

    def on_fit(self, core: Core, metrics: dict[str, float]) -> None:
        """Snapshot the learner when its cadence is due."""
        self.pool.maybe_snapshot(core.env_steps)

    def on_epoch_end(self, core: Core) -> None:
        """Evaluate against every opponent; keep (and log) the row."""
        start = time.perf_counter()
        row = {"env_steps": float(core.env_steps)}
        for name, make_player in self.opponents.items():
            result = play_games(core.agent, self.env_fn, make_player(), self.eval_games, self.eval_seed)
            row.update({f"{name}/{k}": result[k] for k in ("win_rate", "draw_rate", "loss_rate", "illegal")})
        self.history.append(row)
        if self.logger is not None:
            self.logger.log(row, core.env_steps)
        core.eval_time_s += time.perf_counter() - start


@dataclass(frozen=True)
class SelfPlayResult:
    """What :func:`train_self_play` returns.

    Attributes:
        agent: the trained PPO agent.
        history: the evaluation rows of every epoch (:attr:`SelfPlayCallback.history`).
        pool: the opponent pool at the end.
        core: the loop (counters, for further ``learn`` calls).
    """

    agent: Any
    history: list[dict[str, float]]
    pool: OpponentPool
    core: Core


def train_self_play(env_fn: Callable[[], Any], steps: int, seed: int = 0, *, n_envs: int = 8,
                    steps_per_epoch: int | None = None, eval_games: int = 100,
                    pool_kwargs: Mapping[str, Any] | None = None, logger: Any = None, progress: bool = False,
                    **ppo_kwargs: Any) -> SelfPlayResult:
    """Train :class:`~porcini.algorithms.multi_agent.self_play_ppo.SelfPlayPPO` on ``n_envs`` seats of a game.

    What ``porcini train self_play_ppo GAME`` does, in Python, with the evaluation rows kept in ``history``.

    Args:
        env_fn: builds the two-player AEC game (e.g. ``tictactoe_v3.env``).
        steps: env steps of the learner, summed over envs (the opponents' moves are not counted).
        seed: seed of the envs and the agent.
        n_envs: seats stepped together (in this process, all drawing from the agent's pool).
        steps_per_epoch: env steps between evaluations; None evaluates once, at the end.
        eval_games: games per evaluation opponent per evaluation.
        pool_kwargs: the pool's settings: ``pool_size``, ``snapshot_every``, ``latest_prob``, ``random_prob``,
            ``greedy_prob``, ``explore`` (:class:`OpponentPool`); unset ones take ``SelfPlayPPOConfig``'s defaults.
        logger: anything with ``log(metrics, step)`` that receives each evaluation row.
        progress: show a progress bar.
        **ppo_kwargs: PPO hyperparameters (:class:`~porcini.algorithms.policy_gradient.ppo.PPOConfig`).

    Returns:
        The agent, the evaluation history, the pool and the loop.
    """
    from porcini.algorithms.multi_agent.self_play_ppo import SelfPlayPPO  # it plays its games with this module

    settings = dict(pool_kwargs or {})
    if "explore" in settings:
        settings["explore_opponents"] = settings.pop("explore")
    env = make_env(env_fn, n_envs, seed)
    agent = SelfPlayPPO(env.info, **{"seed": seed, **settings, **ppo_kwargs, "eval_games": 0})
    callback = SelfPlayCallback(agent.pool, env_fn, eval_games=eval_games, eval_seed=seed, logger=logger)
    core = Core(agent, env, callbacks=[callback], progress=progress)
    core.learn(steps=steps, steps_per_epoch=steps_per_epoch or steps)
    env.close()
    return SelfPlayResult(agent, callback.history, agent.pool, core)
