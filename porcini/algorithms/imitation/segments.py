"""Segments of trajectories and the answers about pairs of them: what reward learning from preferences asks.

A :class:`Segments` batch is ``P`` pieces of ``L`` consecutive steps of one env each, cut from rollouts by
:class:`SegmentPool`. A segment's steps after its episode *terminated* are masked (``mask`` 0): they belong to the
next episode, and count as the absorbing state's reward 0. A segment that a *truncation* cuts before its last step
is dropped, since its episode would have gone on. :class:`SyntheticOracle` answers a :class:`PreferenceQuery` from
the env's reward; a person or a script can answer instead (``PreferencePPO.answer_with``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from porcini.core.batch import TransitionBatch


@dataclass(frozen=True)
class Segments:
    """``P`` segments of ``L`` steps of one env each.

    Observations ``[P, L, ...]``, env actions ``[P, L, ...]``, the env's rewards ``[P, L]`` and the live-step mask
    ``[P, L]`` (1 up to and with the terminating step, 0 after).
    """

    obs: np.ndarray
    action: np.ndarray
    env_reward: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:
        return int(self.mask.shape[0])

    def env_returns(self) -> np.ndarray:
        """The env's reward summed over each segment's live steps ``[P]``."""
        return (self.env_reward * self.mask).sum(axis=1)

    def take(self, rows: Any) -> Segments:
        """The segments at ``rows``."""
        return Segments(*(getattr(self, f.name)[rows] for f in fields(self)))

    @staticmethod
    def concatenate(parts: list[Segments]) -> Segments:
        """One batch of the segments of ``parts``, in order."""
        return Segments(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Segments)))

    def state_dict(self) -> dict[str, np.ndarray]:
        """The arrays by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class PreferenceQuery:
    """Pairs of segments to compare: ``a`` and ``b``, ``P`` segments each. The answer is ``P(a ≻ b)`` ``[P]``."""

    a: Segments
    b: Segments

    def __len__(self) -> int:
        return len(self.a)


def cut_segments(batch: TransitionBatch, length: int) -> Segments:
    """Non-overlapping segments of ``length`` steps of each env of a ``[T, B]`` rollout (from ``t = 0``).

    Steps after the first termination in a segment are masked; segments cut by a truncation before their last
    step (and before their episode terminated) are left out.
    """
    terminated = np.asarray(batch.terminated, dtype=bool)
    truncated = np.asarray(batch.truncated, dtype=bool) & ~terminated
    n_steps, n_envs = terminated.shape
    kept: list[tuple[int, int, np.ndarray]] = []
    for env in range(n_envs):
        for start in range(0, n_steps - length + 1, length):
            steps = slice(start, start + length)
            ended = np.flatnonzero(terminated[steps, env])
            live = ended[0] if len(ended) else length - 1  # a truncation past the termination is the next episode's
            if truncated[steps, env][:live].any():
                continue
            mask = np.ones(length, dtype=np.float32)
            if len(ended):
                mask[ended[0] + 1:] = 0.0
            kept.append((start, env, mask))
    if not kept:
        return _empty(batch, length)
    pick = [(np.arange(s, s + length), e) for s, e, _ in kept]
    obs = np.stack([np.asarray(batch.obs)[t, e] for t, e in pick])
    action = np.stack([np.asarray(batch.action)[t, e] for t, e in pick])
    reward = np.stack([np.asarray(batch.reward, dtype=np.float32)[t, e] for t, e in pick])
    return Segments(obs, action, reward, np.stack([m for *_, m in kept]))


def _empty(batch: TransitionBatch, length: int) -> Segments:
    obs, action = np.asarray(batch.obs), np.asarray(batch.action)
    return Segments(np.zeros((0, length, *obs.shape[2:]), obs.dtype), np.zeros((0, length, *action.shape[2:]),
                    action.dtype), np.zeros((0, length), np.float32), np.zeros((0, length), np.float32))


class SegmentPool:
    """The most recent ``capacity`` segments of the learner's rollouts, to ask about."""

    def __init__(self, length: int, capacity: int) -> None:
        self.length, self.capacity = int(length), int(capacity)
        self.segments: Segments | None = None

    def __len__(self) -> int:
        return 0 if self.segments is None else len(self.segments)

    def add_rollout(self, batch: TransitionBatch) -> None:
        """Cut ``batch`` (``[T, B]``) into segments and keep the newest ``capacity``."""
        new = cut_segments(batch, self.length)
        merged = new if self.segments is None else Segments.concatenate([self.segments, new])
        self.segments = merged.take(slice(max(0, len(merged) - self.capacity), None))

    def query(self, n: int, rng: np.random.Generator) -> PreferenceQuery:
        """``n`` pairs of two different segments drawn uniformly (a segment may be in several pairs)."""
        assert self.segments is not None and len(self) >= 2
        first = rng.integers(0, len(self), size=n)
        second = (first + rng.integers(1, len(self), size=n)) % len(self)
        return PreferenceQuery(self.segments.take(first), self.segments.take(second))

    def state_dict(self) -> dict[str, Any]:
        """The kept segments' arrays (empty dict when none yet)."""
        return {} if self.segments is None else self.segments.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.segments = Segments(**{k: np.asarray(v) for k, v in state.items()}) if state else None


class AnsweredPairs:
    """Every pair asked about so far, with its answer ``P(a ≻ b)``: what the reward model is fitted to."""

    def __init__(self) -> None:
        self.a: list[Segments] = []
        self.b: list[Segments] = []
        self.answers: list[np.ndarray] = []

    def __len__(self) -> int:
        return int(sum(len(x) for x in self.answers))

    def add(self, query: PreferenceQuery, answers: np.ndarray) -> None:
        """Keep a round's pairs and answers."""
        self.a.append(query.a)
        self.b.append(query.b)
        self.answers.append(np.asarray(answers, dtype=np.float32))

    def all(self) -> tuple[Segments, Segments, np.ndarray]:
        """All ``a`` segments, all ``b`` segments and all answers, in the order asked."""
        return Segments.concatenate(self.a), Segments.concatenate(self.b), np.concatenate(self.answers)

    def state_dict(self) -> dict[str, Any]:
        """The pairs and answers as arrays (empty dict when none yet)."""
        if not self.answers:
            return {}
        a, b, answers = self.all()
        return {"a": a.state_dict(), "b": b.state_dict(), "answers": answers}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (as one round)."""
        self.__init__()  # type: ignore[misc]
        if state:
            self.add(PreferenceQuery(Segments(**state["a"]), Segments(**state["b"])), state["answers"])


class SyntheticOracle:
    """Answers from the env's reward: the segment with the larger return, with optional noise.

    With ``temperature`` T > 0 the answer is drawn: ``a`` with chance ``σ((R_a - R_b) / T)`` (Boltzmann-rational);
    with T = 0 it is 1 or 0 by the larger return, 0.5 on a tie. Then, with chance ``error_rate``, the answer is
    replaced by a coin flip (0 or 1), Christiano et al.'s 10% of random answers.

    Args:
        temperature: T ≥ 0.
        error_rate: in ``[0, 1]``.
        rng: the generator of the noise (the agent's, so a run's answers are reproducible).
    """

    def __init__(self, temperature: float, error_rate: float, rng: np.random.Generator) -> None:
        self.temperature, self.error_rate, self.rng = float(temperature), float(error_rate), rng

    def __call__(self, query: PreferenceQuery) -> np.ndarray:
        """``P(a ≻ b)`` ``[P]`` for the query's pairs."""
        diff = query.a.env_returns().astype(np.float64) - query.b.env_returns()
        if self.temperature > 0:
            chance = 1.0 / (1.0 + np.exp(-np.clip(diff / self.temperature, -50, 50)))
            answers = (self.rng.random(len(diff)) < chance).astype(np.float64)
        else:
            answers = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
        wrong = self.rng.random(len(diff)) < self.error_rate
        answers[wrong] = self.rng.integers(0, 2, size=int(wrong.sum()))
        return answers


def check_answers(answers: Any, n: int) -> np.ndarray:
    """``answers`` as float32 ``[n]``; ValueError naming the problem unless they are ``n`` numbers in ``[0, 1]``."""
    out = np.asarray(answers, dtype=np.float64)
    if out.shape != (n,):
        raise ValueError(f"preference answers: expected one number per pair, shape ({n},), got shape {out.shape}")
    if not np.all(np.isfinite(out)) or out.min() < 0 or out.max() > 1:
        raise ValueError(f"preference answers must be P(a better than b) in [0, 1] (1: a, 0: b, 0.5: equal); got "
                         f"{out[~(np.isfinite(out) & (out >= 0) & (out <= 1))][:5].tolist()}")
    return out.astype(np.float32)
