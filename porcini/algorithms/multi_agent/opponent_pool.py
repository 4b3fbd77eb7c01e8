"""The self-play opponent pool: frozen past versions of a learner, one drawn as the opponent of every episode.

Fictitious-self-play style (Heinrich et al. 2015, arXiv:1503.02335) with the "latest or uniform over past" mix of
Bansal et al. 2018 (arXiv:1710.03748), plus some games against fixed players (random, greedy) so the policy keeps
punishing weak play. The pool is an *opponent source* of :class:`~porcini.envs.adapters.turn_based.TurnBasedSeat`
(``draw(rng) -> player``).

Exact resume: every draw takes the same three numbers from the seat's generator whatever it picks, and the pool
remembers which opponent each seat (by index) is playing. After :meth:`OpponentPool.load_state_dict` the first
draw of each seat returns that opponent again, so replaying a checkpoint's episodes (their resets included) meets
the same opponents even when snapshots were added after the episodes began; a snapshot that left the pool while a
seat still plays it is kept until that seat's episode ends.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from porcini.envs.adapters.players import GreedyPlayer, RandomPlayer
from porcini.envs.adapters.turn_based import Player

__all__ = ["OpponentPool", "PolicyPlayer"]

OpponentKey = str | int
"""Which opponent a seat plays: ``"random"``, ``"greedy"`` or the id of a snapshot."""


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

    Snapshots are copies of the learner's state, at most ``pool_size`` (the oldest leaves first), one every
    ``snapshot_every`` env steps (:meth:`maybe_snapshot`). A draw gives a :class:`RandomPlayer` with probability
    ``random_prob``, a :class:`GreedyPlayer` with probability ``greedy_prob``, else a snapshot: the newest with
    probability ``latest_prob``, else one chosen uniformly (the newest included). An empty pool gives random
    players in place of snapshots.

    The state copied is ``learner.policy_state()`` when the learner defines it (a learner that keeps the pool in its
    own ``state_dict`` must), else ``learner.state_dict()``. A snapshot plays through ``learner.frozen_copy(state)``
    when defined, else ``type(learner)(learner.info, learner.config)`` with the state loaded, built once per
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
        self.snapshot_ids: list[int] = []  # a number per snapshot, never reused
        self.next_snapshot_at = 0
        self.next_id = 0
        self.current: dict[int, OpponentKey] = {}  # seat index -> the opponent of its episode in progress
        self.retired: dict[int, dict[str, Any]] = {}  # snapshots out of the pool that a seat still plays
        self.forced: dict[int, OpponentKey] = {}  # after a load: each seat's next draw returns its opponent again
        self._agents: dict[int, Any] = {}  # snapshot id -> the agent that plays it

    def snapshot(self, env_steps: int) -> None:
        """Add a copy of the learner's current state, taken at ``env_steps``; drop the oldest beyond ``pool_size``."""
        if self.learner is None:
            raise ValueError("the pool has no learner to snapshot; set pool.learner = agent first")
        state = getattr(self.learner, "policy_state", self.learner.state_dict)()
        self.snapshots.append(copy.deepcopy(state))
        self.snapshot_steps.append(int(env_steps))
        self.snapshot_ids.append(self.next_id)
        self.next_id += 1
        playing = set(self.current.values())
        for old_id, old_state in zip(self.snapshot_ids[:-self.pool_size], self.snapshots[:-self.pool_size]):
            if old_id in playing:
                self.retired[old_id] = old_state
        del self.snapshots[:-self.pool_size], self.snapshot_steps[:-self.pool_size], self.snapshot_ids[:-self.pool_size]
        self._forget_unused()

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

    def draw(self, rng: np.random.Generator, seat: int | None = None) -> Player:
        """The opponent of one episode, drawn with ``rng`` (a new player object each time).

        Args:
            rng: the seat's generator; three numbers are taken from it whatever is drawn.
            seat: the index of the drawing seat, so the pool remembers its opponent for exact resume; None for a
                seat that is not checkpointed.
        """
        u, v, w = rng.random(3)
        key = self.forced.pop(seat) if seat is not None and seat in self.forced else self._choose(u, v, w)
        if seat is not None:
            self.current[seat] = key
            self._forget_unused()
        return self._player(key)

    def _choose(self, u: float, v: float, w: float) -> OpponentKey:
        """The opponent picked by three uniform numbers (``u`` the kind, ``v`` newest or not, ``w`` which one)."""
        if self.random_prob <= u < self.random_prob + self.greedy_prob:
            return "greedy"
        if u < self.random_prob or not self.snapshots:
            return "random"
        n = len(self.snapshots)
        return self.snapshot_ids[n - 1 if v < self.latest_prob else min(int(w * n), n - 1)]

    def _player(self, key: OpponentKey) -> Player:
        if key == "greedy":
            return GreedyPlayer()
        if key == "random":
            return RandomPlayer()
        return PolicyPlayer(self._agent(int(key)), explore=self.explore)

    def _agent(self, snapshot_id: int) -> Any:
        """The agent that plays snapshot ``snapshot_id`` (built and loaded on first use)."""
        if snapshot_id not in self._agents:
            if self.learner is None:
                raise ValueError("the pool has no learner to build its snapshots' players; set pool.learner = agent")
            ids = self.snapshot_ids
            state = self.snapshots[ids.index(snapshot_id)] if snapshot_id in ids else self.retired[snapshot_id]
            frozen_copy = getattr(self.learner, "frozen_copy", None)
            if frozen_copy is not None:
                agent = frozen_copy(state)
            else:
                agent = type(self.learner)(self.learner.info, self.learner.config)
                agent.load_state_dict(state)
            self._agents[snapshot_id] = agent
        return self._agents[snapshot_id]

    def _forget_unused(self) -> None:
        """Drop retired snapshots no seat plays, and the agents of snapshots that are gone."""
        playing = set(self.current.values())
        self.retired = {k: s for k, s in self.retired.items() if k in playing}
        kept = set(self.snapshot_ids) | set(self.retired)
        self._agents = {k: a for k, a in self._agents.items() if k in kept}

    def state_dict(self) -> dict[str, Any]:
        """The snapshots with their ids and env steps, the cadence, and each seat's opponent (a copy)."""
        return {"snapshots": copy.deepcopy(self.snapshots), "snapshot_steps": list(self.snapshot_steps),
                "snapshot_ids": list(self.snapshot_ids), "next_id": self.next_id,
                "next_snapshot_at": self.next_snapshot_at, "current": dict(self.current),
                "retired": copy.deepcopy(self.retired)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (settings stay the constructor's); each seat's next draw replays its opponent."""
        self.snapshots = copy.deepcopy(list(state["snapshots"]))
        self.snapshot_steps = [int(s) for s in state["snapshot_steps"]]
        self.snapshot_ids = [int(s) for s in state["snapshot_ids"]]
        self.next_id = int(state["next_id"])
        self.next_snapshot_at = int(state["next_snapshot_at"])
        self.current = {int(k): _key(v) for k, v in state["current"].items()}
        self.retired = {int(k): s for k, s in copy.deepcopy(dict(state["retired"])).items()}
        self.forced = dict(self.current)
        self._agents = {}


def _key(value: Any) -> OpponentKey:
    """An opponent key read back from a checkpoint: ``"random"``, ``"greedy"``, else a snapshot id as an int."""
    return value if value in ("random", "greedy") else int(value)
