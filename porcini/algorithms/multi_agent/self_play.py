"""Self-play for two-player zero-sum turn-based games (PettingZoo classic AEC games: tic-tac-toe, connect four).

The learner is an ordinary single-agent PPO with masked logits on :class:`~porcini.envs.adapters.turn_based.
TurnBasedSeat` envs, one seat of the game each; the other seat is played by an opponent drawn for every episode
from an :class:`OpponentPool` of frozen past versions of the learner (fictitious-self-play style, Heinrich et al.
2015, arXiv:1503.02335; the "latest or uniform over past" mix of Bansal et al. 2018, arXiv:1710.03748), with
some games against a uniformly random player so the policy keeps punishing weak play. :class:`SelfPlayCallback`
adds snapshots to the pool as the learner trains and, at every epoch end, plays evaluation games against
:class:`RandomPlayer` and :class:`GreedyPlayer` (:func:`play_games`). :func:`train_self_play` wires it together.

Players are callables ``player(aec_env, agent_name) -> action`` (see :mod:`porcini.envs.adapters.turn_based`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.core.callbacks import Callback
from porcini.core.loop import Core
from porcini.envs.adapters.turn_based import Player, TurnBasedSeat, copy_game, legal_actions_of
from porcini.envs.make import make_env
from porcini.networks.masking import ACTION_MASK_KEY

__all__ = ["GreedyPlayer", "OpponentPool", "PolicyPlayer", "RandomPlayer", "SelfPlayCallback", "SelfPlayResult",
           "default_eval_opponents", "play_games", "train_self_play"]


class RandomPlayer:
    """Plays uniformly at random among the legal actions.

    Args:
        seed: seed of its generator (the seat playing it reseeds it at every reset).
    """

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        """Restart the generator from ``seed``."""
        self.rng = np.random.default_rng(seed)

    def __call__(self, aec_env: Any, agent: str) -> int:
        """A uniformly drawn legal action of ``agent``."""
        return int(self.rng.choice(legal_actions_of(aec_env, agent)))


def _wins_with(aec_env: Any, agent: str, action: int) -> tuple[bool, Any]:
    """Whether ``agent`` wins at once by playing ``action`` (tried on a copy), and the copy after the move."""
    game = copy_game(aec_env)
    game._cumulative_rewards[agent] = 0
    game.step(action)
    won = bool(game.terminations.get(agent)) and float(game._cumulative_rewards.get(agent, 0.0)) > 0
    return won, game


class GreedyPlayer(RandomPlayer):
    """Wins at once when it can, else blocks the other player's immediate win, else plays at random.

    Moves are tried on a copy of the game (:func:`~porcini.envs.adapters.turn_based.copy_game`): a move wins
    when the game is over after it and the mover's reward is positive. Blocking keeps to the moves after which
    the other player has no winning reply (when some but not all moves are such); ties are broken at random.

    Args:
        seed: seed of its generator (the seat playing it reseeds it at every reset).
    """

    def __call__(self, aec_env: Any, agent: str) -> int:
        """The greedy move of ``agent`` (whose turn it is)."""
        legal = legal_actions_of(aec_env, agent)
        after = {int(a): _wins_with(aec_env, agent, int(a)) for a in legal}
        winning = [a for a, (won, _) in after.items() if won]
        if winning:
            return int(self.rng.choice(winning))
        safe = [a for a, (_, game) in after.items() if not self._opponent_can_win(game, agent)]
        if 0 < len(safe) < len(legal):
            return int(self.rng.choice(safe))
        return int(self.rng.choice(legal))

    @staticmethod
    def _opponent_can_win(game: Any, agent: str) -> bool:
        """Whether the player to move in ``game``, if not ``agent`` and the game is not over, has a winning move."""
        other = game.agent_selection
        if other == agent or not game.agents or game.terminations.get(other) or game.truncations.get(other):
            return False
        return any(_wins_with(game, other, int(b))[0] for b in legal_actions_of(game, other))


class PolicyPlayer:
    """Plays a porcini agent's policy on the game's observation of its seat (a batch of one).

    Args:
        agent: an agent trained on :class:`TurnBasedSeat` (``act``; ``explain`` when ``explore``).
        explore: sample from the agent's action probabilities with the player's own generator (reseeded by the
            seat) instead of taking ``agent.act(obs, explore=False)``.
        seed: seed of the generator for ``explore``.
    """

    def __init__(self, agent: Any, explore: bool = False, seed: int | None = None) -> None:
        self.agent, self.explore = agent, explore
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        """Restart the sampling generator from ``seed``."""
        self.rng = np.random.default_rng(seed)

    def __call__(self, aec_env: Any, agent: str) -> int:
        """The agent's action for ``agent``'s observation."""
        obs = {key: np.asarray(value)[None] for key, value in aec_env.observe(agent).items()}
        if not self.explore:
            return int(np.asarray(self.agent.act(obs, explore=False))[0])
        probs = np.asarray(self.agent.explain(obs)["action_probs"][0], dtype=np.float64)
        return int(self.rng.choice(len(probs), p=probs / probs.sum()))


class OpponentPool:
    """Frozen past versions of the learner; each episode draws its opponent from them (an opponent source).

    Snapshots are copies of ``learner.state_dict()``, at most ``pool_size`` (the oldest leaves first), one every
    ``snapshot_every`` env steps (:meth:`maybe_snapshot`). A draw gives a :class:`RandomPlayer` with probability
    ``random_prob``, a :class:`GreedyPlayer` with probability ``greedy_prob``, else a snapshot: the newest with
    probability ``latest_prob``, else one chosen uniformly (the newest included). An empty pool gives random
    players in place of snapshots. A snapshot plays through a copy of the learner built
    as ``type(learner)(learner.info, learner.config)`` (porcini agents) with the snapshot loaded, once per
    snapshot.

    Args:
        learner: the agent whose versions the pool keeps; may be set later (``pool.learner = agent``), before the
            first snapshot or draw from a non-empty pool.
        pool_size: most snapshots kept.
        snapshot_every: env steps between snapshots.
        latest_prob: probability of the newest snapshot among snapshot draws.
        random_prob: probability of a random player (keeps the policy punishing weak play).
        greedy_prob: probability of a greedy player (keeps it taking wins and blocking threats at once).
        explore: snapshots sample their actions (``PolicyPlayer(explore=True)``) rather than play their mode.

    Raises:
        ValueError: a size or step count below 1, a probability outside [0, 1], or ``random_prob + greedy_prob``
            above 1.
    """

    def __init__(self, learner: Any = None, *, pool_size: int = 10, snapshot_every: int = 10_000,
                 latest_prob: float = 0.5, random_prob: float = 0.1, greedy_prob: float = 0.0,
                 explore: bool = True) -> None:
        if pool_size < 1 or snapshot_every < 1:
            raise ValueError(f"pool_size = {pool_size} and snapshot_every = {snapshot_every} must both be >= 1")
        for name, p in (("latest_prob", latest_prob), ("random_prob", random_prob), ("greedy_prob", greedy_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} = {p} is not a probability; choose a value in [0, 1]")
        if random_prob + greedy_prob > 1.0:
            raise ValueError(f"random_prob + greedy_prob = {random_prob + greedy_prob} exceeds 1; lower one of them")
        self.learner, self.pool_size, self.snapshot_every = learner, pool_size, snapshot_every
        self.latest_prob, self.random_prob, self.greedy_prob = latest_prob, random_prob, greedy_prob
        self.explore = explore
        self.snapshots: list[dict[str, Any]] = []
        self.snapshot_steps: list[int] = []  # env step of each snapshot
        self.next_snapshot_at = 0
        self._agents: dict[int, Any] = {}  # id(snapshot) -> the agent that plays it

    def snapshot(self, env_steps: int) -> None:
        """Add a copy of the learner's current state, taken at ``env_steps``; drop the oldest beyond ``pool_size``."""
        if self.learner is None:
            raise ValueError("the pool has no learner to snapshot; set pool.learner = agent first")
        self.snapshots.append(copy.deepcopy(self.learner.state_dict()))
        self.snapshot_steps.append(int(env_steps))
        del self.snapshots[:-self.pool_size], self.snapshot_steps[:-self.pool_size]
        kept = {id(s) for s in self.snapshots}
        self._agents = {k: v for k, v in self._agents.items() if k in kept}

    def maybe_snapshot(self, env_steps: int) -> bool:
        """Snapshot when ``env_steps`` has reached the next multiple of ``snapshot_every``; return whether it did."""
        if env_steps < self.next_snapshot_at:
            return False
        self.snapshot(env_steps)
        self.next_snapshot_at = (env_steps // self.snapshot_every + 1) * self.snapshot_every
        return True

    def probabilities(self) -> dict[str, Any]:
        """The probabilities of a draw: ``random``, ``greedy`` and ``snapshots`` (an array, oldest first)."""
        n, fixed = len(self.snapshots), self.random_prob + self.greedy_prob
        if n == 0:
            return {"random": 1.0 - self.greedy_prob, "greedy": self.greedy_prob, "snapshots": np.zeros(0)}
        per_snapshot = np.full(n, (1.0 - self.latest_prob) / n)
        per_snapshot[-1] += self.latest_prob
        return {"random": self.random_prob, "greedy": self.greedy_prob, "snapshots": (1.0 - fixed) * per_snapshot}

    def draw(self, rng: np.random.Generator) -> Player:
        """The opponent of one episode, drawn with ``rng`` (a new player object each time)."""
        u = rng.random()
        if self.random_prob <= u < self.random_prob + self.greedy_prob:
            return GreedyPlayer()
        if u < self.random_prob or not self.snapshots:
            return RandomPlayer()
        n = len(self.snapshots)
        index = n - 1 if rng.random() < self.latest_prob else int(rng.integers(n))
        return PolicyPlayer(self._agent(index), explore=self.explore)

    def _agent(self, index: int) -> Any:
        """The agent that plays snapshot ``index`` (built and loaded on first use)."""
        state = self.snapshots[index]
        if id(state) not in self._agents:
            if self.learner is None:
                raise ValueError("the pool has no learner to build its snapshots' players; set pool.learner = agent")
            agent = type(self.learner)(self.learner.info, self.learner.config)
            agent.load_state_dict(state)
            self._agents[id(state)] = agent
        return self._agents[id(state)]

    def state_dict(self) -> dict[str, Any]:
        """The snapshots, their env steps and the next snapshot's step (a copy)."""
        return {"snapshots": copy.deepcopy(self.snapshots), "snapshot_steps": list(self.snapshot_steps),
                "next_snapshot_at": self.next_snapshot_at}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (the settings stay the constructor's)."""
        self.snapshots = copy.deepcopy(list(state["snapshots"]))
        self.snapshot_steps = [int(s) for s in state["snapshot_steps"]]
        self.next_snapshot_at = int(state["next_snapshot_at"])
        self._agents = {}


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
    obs, _ = seat.reset(seed=seed)
    for game in range(n_games):
        if game:
            obs, _ = seat.reset()
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
    """Train a masked PPO by self-play on ``n_envs`` seats of the game ``env_fn`` builds, sharing one pool.

    Args:
        env_fn: builds the two-player AEC game (e.g. ``tictactoe_v3.env``).
        steps: env steps of the learner, summed over envs (the opponents' moves are not counted).
        seed: seed of the envs and the agent.
        n_envs: seats stepped together (sync vectorization, in this process, all drawing from one pool).
        steps_per_epoch: env steps between evaluations; None evaluates once, at the end.
        eval_games: games per evaluation opponent per evaluation.
        pool_kwargs: arguments of :class:`OpponentPool` (``pool_size``, ``snapshot_every``, ...).
        logger: anything with ``log(metrics, step)`` that receives each evaluation row.
        progress: show a progress bar.
        **ppo_kwargs: PPO hyperparameters (:class:`~porcini.algorithms.policy_gradient.ppo.PPOConfig`).

    Returns:
        The agent, the evaluation history, the pool and the loop.
    """
    pool = OpponentPool(**dict(pool_kwargs or {}))

    def seat() -> TurnBasedSeat:
        """One seat of a new game, its opponents drawn from the shared pool."""
        return TurnBasedSeat(env_fn(), pool)

    probe = env_fn()
    name = (getattr(probe, "metadata", None) or {}).get("name") or getattr(env_fn, "__name__", "game")
    probe.close()
    seat.__name__ = f"{name}:self-play"
    env = make_env(seat, n_envs, seed, vectorization="sync")
    agent = PPO(env.info, **{"seed": seed, **ppo_kwargs})
    pool.learner = agent
    callback = SelfPlayCallback(pool, env_fn, eval_games=eval_games, eval_seed=seed, logger=logger)
    core = Core(agent, env, callbacks=[callback], progress=progress)
    core.learn(steps=steps, steps_per_epoch=steps_per_epoch or steps)
    env.close()
    return SelfPlayResult(agent, callback.history, pool, core)
