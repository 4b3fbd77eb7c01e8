"""Proportional prioritized replay (Schaul, Quan, Antonoglou & Silver, 2016, "Prioritized Experience Replay").

Transition ``i`` is sampled with probability::

    P(i) = p_i / sum_k p_k,    p_i = (|delta_i| + eps)^alpha

with ``delta_i`` the priority the learner reports (usually its TD error). Sampling is stratified as in the
paper: the mass ``[0, sum p)`` is cut into ``n`` equal segments and one transition is drawn from each. The
bias is corrected by the importance weights (Schaul et al., Algorithm 1)::

    w_i = (N * P(i))^-beta / max_j (N * P(j))^-beta = (p_i / min_j p_j)^-beta,    0 < w_i <= 1

with ``N`` the number of stored transitions and the max over all of them (not just the sampled ones).

New transitions get the largest priority reported so far (1.0 at the start), so each is replayed at least once
with high probability. The buffer stores priorities; learners compute them.

Deviations: none in the proportional variant. For n-step learning, ``sample_sequences`` draws each run's
*start* with probability proportional to its priority among the starts whose run fits in the buffer (the
newest ``length - 1`` steps cannot start one); ``P``, ``N`` and the min in the weights are taken over those.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.data._npz import DataFileError, read_npz, scalar, write_npz
from porcini.data.arguments import check_count, check_rng
from porcini.data.replay import ReplayBuffer
from porcini.data.sum_tree import SumTree

_FORMAT = "porcini.PrioritizedReplayBuffer"


class PrioritizedSample(NamedTuple):
    """What :meth:`PrioritizedReplayBuffer.sample` returns.

    Attributes:
        batch: the transitions, ``[n, 1, ...]`` (or ``[length, n, ...]`` for sequences).
        indices: ``[n]`` int64 flat indices of the transitions (of the sequence starts); pass them back to
            :meth:`PrioritizedReplayBuffer.update_priorities`.
        weights: ``[n]`` float32 importance weights in ``(0, 1]``; scale each transition's loss by its weight.
    """

    batch: TransitionBatch
    indices: np.ndarray
    weights: np.ndarray


class PrioritizedReplayBuffer:
    """A :class:`~porcini.data.replay.ReplayBuffer` whose sampling follows stored priorities (sum-tree).

    Args:
        capacity: the most transitions kept (see ReplayBuffer).
        n_envs: number of envs per added batch; None takes it from the first batch.
        alpha: priority exponent; 0 is uniform sampling, 1 fully proportional. Schaul et al. use 0.6.
        eps: added to every reported priority so no transition becomes unsampleable.

    Example:
        >>> import numpy as np
        >>> from porcini.core.batch import TransitionBatch
        >>> buf = PrioritizedReplayBuffer(capacity=100, alpha=0.6)
        >>> buf.add(TransitionBatch(obs=np.zeros((5, 1, 4)), action=np.zeros((5, 1), np.int64),
        ...     reward=np.ones((5, 1)), next_obs=np.zeros((5, 1, 4)),
        ...     terminated=np.zeros((5, 1), bool), truncated=np.zeros((5, 1), bool)))
        >>> sample = buf.sample(8, np.random.default_rng(0), beta=0.4)
        >>> sample.batch.obs.shape, sample.weights.shape
        ((8, 1, 4), (8,))
        >>> buf.update_priorities(sample.indices, np.abs(np.random.default_rng(1).normal(size=8)))
    """

    def __init__(self, capacity: int, n_envs: int | None = None, alpha: float = 0.6, eps: float = 1e-6) -> None:
        if not (np.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"PrioritizedReplayBuffer alpha must be >= 0 (0.6 in Schaul et al.), got {alpha}")
        if not (np.isfinite(eps) and eps >= 0):
            raise ValueError(f"PrioritizedReplayBuffer eps must be >= 0, got {eps}")
        self.storage = ReplayBuffer(capacity, n_envs)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self._max_priority = 1.0  # largest priority reported so far, before eps and alpha
        self._tree: SumTree | None = None

    @property
    def capacity(self) -> int:
        """The most transitions kept (see :attr:`ReplayBuffer.capacity`)."""
        return self.storage.capacity

    @property
    def n_envs(self) -> int | None:
        """Number of env columns (None until known)."""
        return self.storage.n_envs

    @property
    def max_priority(self) -> float:
        """The priority new transitions get (before eps and alpha): the largest one reported so far."""
        return self._max_priority

    def __len__(self) -> int:
        return len(self.storage)

    def add(self, batch: TransitionBatch) -> None:
        """Append a ``[T, B]`` batch (see :meth:`ReplayBuffer.add`); its transitions get the max priority."""
        self.storage.add(batch)
        if self._tree is None:
            self._tree = SumTree(self.storage.capacity)
        b = batch.n_envs  # the storage accepted the batch, so this is its B
        rows = self.storage.capacity // b
        n_rows = min(batch.n_rows, rows)
        written = (self.storage.position - n_rows + np.arange(n_rows)) % rows
        indices = (written[:, None] * b + np.arange(b)[None, :]).reshape(-1)
        self._tree.update(indices, np.full(indices.size, self._leaf(self._max_priority)))

    def sample(self, n: int, rng: np.random.Generator, beta: float) -> PrioritizedSample:
        """Draw ``n`` transitions with ``P(i) ∝ p_i``, stratified; the batch is shaped ``[n, 1, ...]``.

        Args:
            n: number of transitions.
            rng: the generator to draw from.
            beta: importance-weight exponent in ``[0, 1]``; annealed from 0.4 to 1 in Schaul et al.
        """
        n = check_count(n, "PrioritizedReplayBuffer.sample", "n")
        check_rng(rng, "PrioritizedReplayBuffer.sample")
        self._check_beta(beta)
        if len(self) == 0:
            raise ValueError("PrioritizedReplayBuffer.sample: the buffer is empty; add transitions first")
        indices, weights = self._draw(n, rng, beta)
        return PrioritizedSample(self.storage.gather(indices), indices, weights)

    def sample_sequences(self, n: int, length: int, rng: np.random.Generator, beta: float) -> PrioritizedSample:
        """Draw ``n`` runs of ``length`` steps, each start with ``P(i) ∝ p_i``, batch ``[length, n, ...]``.

        Only starts whose run fits before the ring's write position are eligible (see the module docstring);
        the returned indices and weights are those of the starts.
        """
        n = check_count(n, "PrioritizedReplayBuffer.sample_sequences", "n")
        length = check_count(length, "PrioritizedReplayBuffer.sample_sequences", "length")
        check_rng(rng, "PrioritizedReplayBuffer.sample_sequences")
        self._check_beta(beta)
        if self.storage.n_rows < length:
            raise ValueError(
                f"PrioritizedReplayBuffer.sample_sequences: length {length} needs at least {length} "
                f"stored time steps per env, the buffer holds {self.storage.n_rows}"
            )
        assert self._tree is not None
        # Exclude the starts whose run would cross the write position by zeroing their leaves for this draw.
        invalid = self.storage.invalid_sequence_starts(length)
        saved = self._tree.get(invalid)
        self._tree.update(invalid, np.zeros(invalid.size))
        try:
            indices, weights = self._draw(n, rng, beta)
        finally:
            self._tree.update(invalid, saved)
        return PrioritizedSample(self.storage.gather_sequences(indices, length), indices, weights)

    def update_priorities(self, indices: Any, priorities: Any) -> None:
        """Set the priorities (e.g. ``|TD error|``) of the transitions at flat ``indices`` from a sample.

        Raises:
            IndexError: an index is not a stored transition.
            ValueError: a priority is negative, NaN or infinite, or the sizes differ.
        """
        indices = np.asarray(indices).reshape(-1)
        priorities = np.asarray(priorities, dtype=np.float64).reshape(-1)
        if priorities.shape != indices.shape:
            raise ValueError(f"update_priorities got {indices.size} indices but {priorities.size} priorities")
        if not np.all(np.isfinite(priorities)) or np.any(priorities < 0):
            bad = priorities[~np.isfinite(priorities) | (priorities < 0)][:5]
            raise ValueError(f"priorities must be finite and >= 0 (pass |TD error|), got e.g. {bad.tolist()}")
        if indices.size and (
            not np.issubdtype(indices.dtype, np.integer) or indices.min() < 0 or indices.max() >= len(self)
        ):
            raise IndexError(
                f"update_priorities indices must be stored transitions in [0, {len(self)}), got "
                f"{indices[:5].tolist()}..."
            )
        if indices.size == 0:
            return
        assert self._tree is not None  # the index check above passed, so the buffer holds transitions
        self._tree.update(indices, self._leaf(priorities))
        self._max_priority = max(self._max_priority, float(priorities.max()))

    def priorities(self, indices: Any) -> np.ndarray:
        """Return the stored ``p_i = (priority_i + eps)^alpha`` of the transitions at ``indices``."""
        if self._tree is None:
            raise ValueError("the buffer is empty; add transitions first")
        return self._tree.get(indices)

    def truncate_last(self) -> None:
        """Mark every env's newest stored step ``truncated`` (:meth:`ReplayBuffer.truncate_last`); priorities stay."""
        self.storage.truncate_last()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return the storage's state plus the priorities, as NumPy arrays only."""
        state = self.storage.state_dict()
        tree_values = self._tree.values() if self._tree is not None else np.zeros(0)
        state.update(
            {
                "per.format": np.array(_FORMAT),
                "per.alpha": np.array(self.alpha),
                "per.eps": np.array(self.eps),
                "per.max_priority": np.array(self._max_priority),
                "per.leaves": tree_values,
            }
        )
        return state

    def load_state_dict(self, state: Mapping[str, Any], source: str = "state") -> None:
        """Restore what :meth:`state_dict` returned.

        Raises:
            DataFileError: no priorities in ``state`` (a plain ReplayBuffer's), a different ``alpha`` or
                ``eps``, or an inconsistent state.
        """
        if scalar(state, "per.format", source) != _FORMAT:
            raise DataFileError(
                f"{source} holds no priorities (saved from a plain ReplayBuffer?); load it with "
                "ReplayBuffer.load, or save it from a PrioritizedReplayBuffer"
            )
        alpha, eps = scalar(state, "per.alpha", source), scalar(state, "per.eps", source)
        if alpha != self.alpha or eps != self.eps:
            raise DataFileError(
                f"{source} was saved with alpha {alpha}, eps {eps}; this buffer has alpha "
                f"{self.alpha}, eps {self.eps}; construct it with the saved values"
            )
        leaves = np.asarray(state["per.leaves"], dtype=np.float64)
        n_envs, size = scalar(state, "n_envs", source, 0), scalar(state, "size", source, 0)
        expected = (scalar(state, "capacity", source, 0) // n_envs) * n_envs if n_envs else 0
        if (leaves.size or size) and (
            leaves.shape != (expected,) or not np.all(np.isfinite(leaves)) or np.any(leaves < 0)
        ):
            raise DataFileError(
                f"{source}: stored priorities have shape {leaves.shape} (expected ({expected},)) "
                "or invalid values; the file is corrupt"
            )
        self.storage.load_state_dict(state, source)
        self._tree = None
        if leaves.size:
            self._tree = SumTree(self.storage.capacity)
            self._tree.set_all(leaves)
        self._max_priority = float(scalar(state, "per.max_priority", source))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write contents, position and priorities to ``path`` as an ``.npz`` (atomically, no pickle)."""
        write_npz(path, self.state_dict())

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace contents and priorities with those saved at ``path`` by :meth:`save`."""
        self.load_state_dict(
            read_npz(path, "prioritized replay buffer"),
            source=f"prioritized-replay-buffer file {str(path)!r}",
        )

    def _leaf(self, priority: Any) -> Any:
        return (priority + self.eps) ** self.alpha

    def _draw(self, n: int, rng: np.random.Generator, beta: float) -> tuple[np.ndarray, np.ndarray]:
        tree = self._tree
        assert tree is not None
        total = tree.total
        if total <= 0:
            raise ValueError("every stored transition has priority 0 (eps = 0 and every reported priority 0), so none "
                             "can be drawn: give the buffer eps > 0 (prioritized_replay_eps)")
        # Stratified: one uniform draw in each of n equal segments of the mass (Schaul et al., Appendix B.2.1)
        mass = (np.arange(n) + rng.random(n)) * (total / n)
        indices = tree.find_prefix_sum(np.minimum(mass, np.nextafter(total, 0.0)))
        weights = (tree.get(indices) / tree.min) ** (-beta)
        return indices, weights.astype(np.float32)

    @staticmethod
    def _check_beta(beta: float) -> None:
        if not (0.0 <= beta <= 1.0):
            raise ValueError(f"beta must lie in [0, 1] (annealed 0.4 -> 1 in Schaul et al.), got {beta}")
