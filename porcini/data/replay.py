"""ReplayBuffer: a fixed-capacity ring of transitions that keeps each env's transitions in time order.

Layout: every field is stored as ``[rows, B, ...]`` with ``rows = capacity // B``; one row is one time step of
all ``B`` envs, and rows are written as a ring. Because each env's column stays in time order, the buffer can
hand out independent transitions (``sample``) and contiguous sequences (``sample_sequences``, for n-step
targets) from the same storage. A transition is addressed by its flat index ``row * B + env``.

Sequences are only meaningful if each column is one continuous stream: add the batches of the same envs in
time order, and if an env is reset mid-episode, mark its last added transition ``truncated`` (``truncate_last``).

Storage only: no discounting, no targets. Arrays are allocated from the first batch added, with its dtypes
(uint8 images stay uint8). Dict and Tuple observations are stored entry by entry, each entry in its own array
with its own dtype (under the path keys of :mod:`porcini.core.obs_tree`, e.g. ``obs.image``), and handed back as
dicts and tuples. ``next_obs`` is stored next to ``obs`` (twice the observation memory, but every
transition carries its true successor, also across episode ends and the ring seam).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.core.obs_tree import flatten_obs, layout_keys, obs_layout, unflatten_obs
from porcini.data._npz import DataFileError, json_entry, read_json_entry, read_npz, require_format, scalar, write_npz
from porcini.data.arguments import check_count, check_rng

_FIELDS = tuple(f.name for f in dataclasses.fields(TransitionBatch) if f.name != "extras")
_FORMAT = "porcini.ReplayBuffer"
_VERSION = 1
_EXTRA = "extras."  # storage key prefix of TransitionBatch.extras entries
_OBS_FIELDS = ("obs", "next_obs")


class ReplayBuffer:
    """Fixed-capacity ring buffer of :class:`~porcini.core.batch.TransitionBatch` transitions.

    Args:
        capacity: the most transitions kept (summed over envs). The ring holds ``capacity // n_envs`` time
            steps of every env: with ``n_envs`` not dividing ``capacity`` the effective :attr:`capacity`
            rounds down.
        n_envs: number of envs ``B`` of the batches to add; None takes it from the first batch.

    Example:
        >>> import numpy as np
        >>> from porcini.core.batch import TransitionBatch
        >>> buf = ReplayBuffer(capacity=100)
        >>> batch = TransitionBatch(obs=np.zeros((5, 2, 4), np.float32), action=np.zeros((5, 2), np.int64),
        ...     reward=np.ones((5, 2), np.float32), next_obs=np.zeros((5, 2, 4), np.float32),
        ...     terminated=np.zeros((5, 2), bool), truncated=np.zeros((5, 2), bool))
        >>> buf.add(batch)
        >>> len(buf), buf.capacity
        (10, 100)
        >>> buf.sample(32, np.random.default_rng(0)).obs.shape
        (32, 1, 4)
        >>> buf.sample_sequences(3, length=4, rng=np.random.default_rng(0)).obs.shape
        (4, 3, 4)
    """

    def __init__(self, capacity: int, n_envs: int | None = None) -> None:
        self._requested = check_count(capacity, "ReplayBuffer", "capacity")
        self._b = 0  # envs per time step B; 0 until given or until the first add
        self._rows = 0
        self._data: dict[str, np.ndarray] = {}  # key -> [rows, B, ...]
        self._flat: dict[str, np.ndarray] = {}  # key -> view [rows * B, ...] of the same memory
        self._spec: dict[str, tuple[tuple[int, ...], np.dtype]] = {}  # key -> (shape after [T, B], dtype)
        self._layout: dict[str, Any] = {}  # "obs"/"next_obs" -> layout of Dict/Tuple observations (None: arrays)
        self._plain: list[tuple[tuple[int, ...], np.dtype]] = []  # (shape after T, dtype) per field: no trees, extras
        self._pos = 0  # next row to write
        self._size = 0  # rows filled
        self._n_added = 0  # transitions ever added
        if n_envs is not None:
            self._set_n_envs(check_count(n_envs, "ReplayBuffer", "n_envs"))

    @property
    def capacity(self) -> int:
        """The most transitions kept: ``(capacity // n_envs) * n_envs`` once ``n_envs`` is known."""
        return self._rows * self._b if self._b else self._requested

    @property
    def n_envs(self) -> int | None:
        """Number of env columns ``B`` (None until given or until the first add)."""
        return self._b or None

    @property
    def position(self) -> int:
        """The ring row the next added time step goes to."""
        return self._pos

    @property
    def n_rows(self) -> int:
        """Time steps stored per env (``len(self) // n_envs``)."""
        return self._size

    @property
    def n_added(self) -> int:
        """Transitions ever added (kept across save and load), overwritten ones included."""
        return self._n_added

    def __len__(self) -> int:
        return self._size * self._b

    def add(self, batch: TransitionBatch) -> None:
        """Append a ``[T, B]`` batch: ``T`` time steps of ``B`` envs, at most two slice copies per field.

        When ``T`` exceeds the ring's rows, only the last rows are kept.

        Raises:
            ValueError: the batch's ``B``, extras, per-field shapes or dtypes differ from those the buffer
                holds.
        """
        if not isinstance(batch, TransitionBatch):
            raise TypeError(f"ReplayBuffer.add needs a TransitionBatch, got {type(batch).__name__}")
        plain = self._plain
        if plain and not batch.extras:  # one array per field, as the buffer holds them: checked in one comparison
            fields = (batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated, batch.truncated)
            if all(type(v) is np.ndarray for v in fields) and [(v.shape[1:], v.dtype) for v in fields] == plain:
                return self._write(zip(_FIELDS, fields), batch.n_rows)
        arrays: dict[str, np.ndarray] = {}
        for name in _FIELDS:
            value = getattr(batch, name)  # plain arrays skip the tree walk
            flat = {name: value} if type(value) is np.ndarray else flatten_obs(value, name)
            arrays.update((k, np.asarray(v)) for k, v in flat.items())
        for key, value in batch.extras.items():
            arrays[_EXTRA + key] = np.asarray(value)
        if not self._data:
            self._layout = {name: obs_layout(getattr(batch, name)) for name in _OBS_FIELDS}
            self._allocate(arrays, batch.n_envs)
        else:
            self._check_batch(arrays, batch.n_envs)
        self._write(arrays.items(), batch.n_rows)

    def sample(self, n: int, rng: np.random.Generator) -> TransitionBatch:
        """Draw ``n`` transitions uniformly with replacement, shaped ``[n, 1, ...]`` like ``flatten()``.

        Raises:
            ValueError: the buffer is empty or ``n < 1``.
        """
        n = check_count(n, "ReplayBuffer.sample", "n")
        check_rng(rng, "ReplayBuffer.sample")
        if len(self) == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty; add transitions first")
        # Until the ring is full the filled rows are exactly rows [0, size), i.e. flat indices [0, len).
        return self._take(rng.integers(0, len(self), size=n), (n, 1))

    def sample_sequences(self, n: int, length: int, rng: np.random.Generator) -> TransitionBatch:
        """Draw ``n`` runs of ``length`` consecutive time steps of one env each, shaped ``[length, n, ...]``.

        Start time and env are uniform over all runs that fit inside the stored data; a run never crosses the
        ring's write position (it never joins the newest step to the oldest), but it may contain episode ends:
        estimators cut the trace at ``terminated | truncated``.

        Raises:
            ValueError: fewer than ``length`` time steps are stored per env.
        """
        n = check_count(n, "ReplayBuffer.sample_sequences", "n")
        length = check_count(length, "ReplayBuffer.sample_sequences", "length")
        check_rng(rng, "ReplayBuffer.sample_sequences")
        if self._size < length:
            raise ValueError(
                f"ReplayBuffer.sample_sequences: length {length} needs at least {length} stored time "
                f"steps per env, the buffer holds {self._size}; add more or shorten the sequences"
            )
        k = rng.integers(0, self._size - length + 1, size=n)  # chronological start, 0 = oldest row
        env = rng.integers(0, self._b, size=n)
        seq_rows = (self._oldest_row() + k[None, :] + np.arange(length)[:, None]) % self._rows  # [length, n]
        return self._take((seq_rows * self._b + env[None, :]).reshape(-1), (length, n))

    def gather(self, indices: Any) -> TransitionBatch:
        """Return the transitions at flat indices ``row * B + env``, shaped ``[n, 1, ...]``.

        Raises:
            IndexError: an index points outside the stored transitions.
        """
        indices = self._check_indices(indices)
        return self._take(indices, (indices.size, 1))

    def gather_sequences(self, start_indices: Any, length: int) -> TransitionBatch:
        """Return the ``length``-step runs from flat indices ``start_indices``, shaped ``[length, n, ...]``.

        Raises:
            IndexError: a start is not stored, or its run would cross the write position.
        """
        starts = self._check_indices(start_indices)
        length = check_count(length, "ReplayBuffer.gather_sequences", "length")
        rows, env = np.divmod(starts, self._b)
        chrono = (rows - self._oldest_row()) % self._rows
        if starts.size and chrono.max() + length > self._size:
            raise IndexError(
                f"a run of {length} steps from a start among the newest {length - 1} stored steps "
                "would cross the ring's write position; avoid invalid_sequence_starts(length)"
            )
        seq_rows = (rows[None, :] + np.arange(length)[:, None]) % self._rows  # [length, n]
        flat = (seq_rows * self._b + env[None, :]).reshape(-1)
        return self._take(flat, (length, starts.size))

    def invalid_sequence_starts(self, length: int) -> np.ndarray:
        """Flat indices that cannot start a ``length``-step run: the newest ``length - 1`` rows, all envs."""
        length = check_count(length, "ReplayBuffer.invalid_sequence_starts", "length")
        n_bad = min(length - 1, self._size)
        rows = (self._pos - n_bad + np.arange(n_bad)) % max(self._rows, 1)
        return (rows[:, None] * self._b + np.arange(self._b)[None, :]).reshape(-1)

    def truncate_last(self) -> None:
        """Mark every env's newest stored step ``truncated`` unless it ended its episode (the envs were reset there)."""
        if self._size:
            row = (self._pos - 1) % self._rows
            self._data["truncated"][row] |= ~self._data["terminated"][row]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Contents and position as NumPy arrays only (scalars as 0-d arrays): ready for ``np.savez``."""
        state = {"format": np.array(_FORMAT), "version": np.array(_VERSION), "capacity": np.array(self._requested),
                 "n_envs": np.array(self._b), "position": np.array(self._pos), "size": np.array(self._size),
                 "n_added": np.array(self._n_added)}
        if any(layout is not None for layout in self._layout.values()):
            state["obs_layout"] = json_entry(self._layout)
        for key, value in self._data.items():
            state["data." + key] = value[: self._size].copy()
        return state

    def load_state_dict(self, state: Mapping[str, Any], source: str = "state") -> None:
        """Restore contents and position from :meth:`state_dict`; ``source`` names the origin in errors.

        Raises:
            DataFileError: the state is of another format or version, inconsistent, or does not fit this
                buffer (capacity, ``n_envs``, or fields/dtypes different from those already held).
        """
        require_format(state, source, _FORMAT, _VERSION)
        keys = ("n_envs", "size", "position", "capacity", "n_added")
        missing = [k for k in keys if k not in state]
        if missing:
            raise DataFileError(f"{source} misses the entries {missing}; it is not a complete replay-buffer state")
        n_envs, size, pos, capacity, n_added = (int(scalar(state, key, source)) for key in keys)
        data = {k[len("data.") :]: np.asarray(v) for k, v in state.items() if k.startswith("data.")}
        if n_envs == 0:
            if data or size:
                raise DataFileError(f"{source} is inconsistent: n_envs 0 with stored data")
            self._clear()
            return
        mine = self._requested // (self._b or n_envs)
        if self._b not in (0, n_envs) or capacity // n_envs != mine:
            raise DataFileError(f"{source} holds a buffer of capacity {capacity} with n_envs {n_envs}; this buffer "
                                f"has capacity {self._requested} with n_envs {self.n_envs}; construct "
                                f"ReplayBuffer({capacity}, n_envs={n_envs}) to load it")
        rows = capacity // n_envs
        if size == 0 and pos == 0 and not data:  # given n_envs, never added to: nothing stored yet
            self._clear()
            return self._set_n_envs(n_envs)
        layout = read_json_entry(state, "obs_layout", source, {name: None for name in _OBS_FIELDS}, _OBS_FIELDS)
        missing = [k for f in _FIELDS for k in layout_keys(layout.get(f), f) if k not in data]
        if missing or not (0 <= size <= rows) or not (0 <= pos < rows) or (size < rows and pos != size):
            raise DataFileError(
                f"{source} is inconsistent (missing fields {missing}, size {size}, position {pos}, "
                f"rows {rows}); the file is corrupt"
            )
        for key, value in data.items():
            if value.shape[:2] != (size, n_envs):
                raise DataFileError(
                    f"{source}: stored {key} has shape {value.shape}, expected ({size}, {n_envs}, "
                    "...); the file is corrupt"
                )
        if data["terminated"].dtype != np.bool_ or data["truncated"].dtype != np.bool_:
            raise DataFileError(f"{source}: stored flags are not bool; the file is corrupt")
        if self._data:
            self._check_batch(data, n_envs, what=source)
        self._clear()
        self._set_n_envs(n_envs)
        self._layout = layout
        self._allocate({k: v[:0] for k, v in data.items()}, n_envs)
        for key, value in data.items():
            self._data[key][:size] = value
        self._size, self._pos, self._n_added = size, pos, n_added

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write contents and position to ``path`` as an ``.npz`` (atomically, no pickle)."""
        write_npz(path, self.state_dict())

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace contents and position with those saved at ``path`` by :meth:`save`.

        Raises:
            FileNotFoundError: no file at ``path``.
            DataFileError: the file is corrupt, truncated, of another format, or does not fit this buffer.
        """
        self.load_state_dict(read_npz(path, "replay buffer"), source=f"replay-buffer file {str(path)!r}")

    def _set_n_envs(self, n_envs: int) -> None:
        if n_envs > self._requested:
            raise ValueError(
                f"ReplayBuffer capacity {self._requested} is smaller than n_envs {n_envs}: it must "
                f"hold at least one time step of every env; use capacity >= {n_envs}"
            )
        self._b = n_envs
        self._rows = self._requested // n_envs

    def _allocate(self, arrays: Mapping[str, np.ndarray], n_envs: int) -> None:
        if not self._b:
            self._set_n_envs(n_envs)
        self._check_batch(arrays, n_envs, check_spec=False)
        for flag in ("terminated", "truncated"):
            if arrays[flag].dtype != np.bool_:
                raise ValueError(
                    f"ReplayBuffer: {flag} must be a bool array, got dtype {arrays[flag].dtype}; "
                    f"pass {flag}.astype(bool)"
                )
        for key, value in arrays.items():
            self._data[key] = np.zeros((self._rows, self._b) + value.shape[2:], dtype=value.dtype)
            self._flat[key] = self._data[key].reshape((self._rows * self._b,) + value.shape[2:])
            self._spec[key] = (value.shape[2:], value.dtype)
        if set(self._data) == set(_FIELDS):
            self._plain = [(self._data[k].shape[1:], self._data[k].dtype) for k in _FIELDS]

    def _check_batch(
        self, arrays: Mapping[str, np.ndarray], n_envs: int, check_spec: bool = True, what: str = "batch"
    ) -> None:
        if n_envs != self._b:
            raise ValueError(
                f"ReplayBuffer holds {self._b} envs per time step but the {what} has {n_envs}; "
                f"use one buffer per env count (or ReplayBuffer(capacity, n_envs={n_envs}))"
            )
        if not check_spec:
            return
        if arrays.keys() != self._data.keys():
            theirs = sorted(k for k in arrays if k not in self._data)
            ours = sorted(k for k in self._data if k not in arrays)
            raise ValueError(
                f"ReplayBuffer holds {ours} that the {what} lacks, and the {what} has {theirs} that the buffer lacks; "
                "add batches with the same extras and the same observation keys"
            )
        spec = self._spec
        for key, value in arrays.items():
            tail, dtype = spec[key]
            if value.shape[2:] != tail or value.dtype != dtype:
                raise ValueError(
                    f"ReplayBuffer holds {key} as [T, B, *{tail}] {dtype} but the {what} has "
                    f"[T, B, *{value.shape[2:]}] {value.dtype}; convert it (e.g. {key}.astype({dtype})) or use "
                    "a separate buffer"
                )

    def _write(self, arrays: Iterable[tuple[str, np.ndarray]], n_steps: int) -> None:
        rows = self._rows
        skip = max(n_steps - rows, 0)  # more steps than rows: only the newest rows survive
        n = n_steps - skip
        start = self._pos
        first = min(n, rows - start)
        data = self._data
        if skip == 0 and first == n:  # the common case: one copy, no slicing of the source
            for key, value in arrays:
                data[key][start : start + n] = value
        else:
            for key, value in arrays:
                dst = data[key]
                dst[start : start + first] = value[skip : skip + first]
                if n > first:  # wrap around: the rest goes to the top of the ring
                    dst[: n - first] = value[skip + first :]
        self._pos = (start + n) % rows
        self._size = min(self._size + n, rows)
        self._n_added += n_steps * self._b

    def _oldest_row(self) -> int:
        return (self._pos - self._size) % max(self._rows, 1)

    def _check_indices(self, indices: Any) -> np.ndarray:
        indices = np.asarray(indices).reshape(-1)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise IndexError(f"ReplayBuffer indices must be integers, got dtype {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(
                f"ReplayBuffer indices must lie in [0, {len(self)}) (the stored transitions), got "
                f"min {indices.min()} max {indices.max()}"
            )
        return indices.astype(np.int64, copy=False)

    def _take(self, flat_indices: np.ndarray, lead: tuple[int, int]) -> TransitionBatch:
        # Measured: fancy indexing wins on 1-D arrays (flags, rewards), np.take on rows of >= 2-D arrays.
        taken = {
            k: (v[flat_indices] if v.ndim == 1 else np.take(v, flat_indices, axis=0)) for k, v in self._flat.items()
        }
        shaped = {k: v.reshape(lead + v.shape[1:]) for k, v in taken.items()}
        layout = self._layout
        return TransitionBatch(
            **{name: unflatten_obs(layout.get(name), shaped, name) for name in _FIELDS},
            extras={k[len(_EXTRA) :]: v for k, v in shaped.items() if k.startswith(_EXTRA)},
        )

    def _clear(self) -> None:
        self._data, self._flat, self._spec, self._layout, self._plain = {}, {}, {}, {}, []
        self._pos = self._size = self._n_added = 0
