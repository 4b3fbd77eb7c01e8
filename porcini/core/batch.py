"""TransitionBatch: the one data shape that flows from the loop to the agents.

Glossary:
    T: time steps in the batch (rows), B: environments (columns).
    terminated: the MDP ended at this transition; the value of ``next_obs`` is zero.
    truncated: the episode was cut (time limit, end of data); bootstrap from ``next_obs``.
    episode_end: ``terminated | truncated``; the trace of an estimator is cut there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from porcini.core.obs_tree import map_obs, obs_leaves

if TYPE_CHECKING:  # torch stays an import of the function that needs it
    import torch

_FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


@dataclass(frozen=True)
class TransitionBatch:
    """Transitions laid out ``[T, B, ...]`` (time, env), with true successors.

    Observations of ``Dict`` and ``Tuple`` spaces are dicts and tuples of such arrays, one per entry
    (:mod:`porcini.core.obs_tree`); every method handles them entry by entry.

    Attributes:
        obs: observations ``[T, B, *obs_shape]``.
        action: actions taken ``[T, B, *action_shape]``.
        reward: rewards ``[T, B]``, float.
        next_obs: the true successor of ``obs`` ``[T, B, *obs_shape]``; where an episode ended this is the
            final observation of that episode, never the first observation of the next one.
        terminated: ``[T, B]`` bool; the MDP ended (do not bootstrap).
        truncated: ``[T, B]`` bool; the episode was cut (bootstrap from ``next_obs``).
        extras: further per-transition arrays ``[T, B, ...]`` (per-step costs, source labels, ...).

    Example:
        >>> import numpy as np
        >>> b = TransitionBatch(obs=np.zeros((2, 3, 4)), action=np.zeros((2, 3), dtype=np.int64),
        ...     reward=np.ones((2, 3)), next_obs=np.zeros((2, 3, 4)),
        ...     terminated=np.zeros((2, 3), bool), truncated=np.zeros((2, 3), bool))
        >>> b.flatten().reward.shape
        (6, 1)
    """

    obs: Any
    action: Any
    reward: Any
    next_obs: Any
    terminated: Any
    truncated: Any
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lead = tuple(self.reward.shape)
        if len(lead) != 2:
            raise ValueError(f"reward must be shaped [T, B], got shape {lead}; add the missing axis")
        obs, action, next_obs, terminated, truncated = (self.obs, self.action, self.next_obs, self.terminated,
                                                        self.truncated)
        array = np.ndarray
        # the loop builds a batch at every fit: plain arrays are checked in one expression, anything else (Dict and
        # Tuple observations, tensors) leaf by leaf
        if not (type(obs) is array and type(action) is array and type(next_obs) is array
                and type(terminated) is array and type(truncated) is array and obs.shape[:2] == lead
                and action.shape[:2] == lead and next_obs.shape[:2] == lead and terminated.shape[:2] == lead
                and truncated.shape[:2] == lead):
            for name in _FIELDS:
                for value in obs_leaves(getattr(self, name)):
                    if tuple(value.shape[:2]) != lead:
                        self._raise_lead(name, value)
        for name, value in self.extras.items():
            if tuple(value.shape[:2]) != lead:
                raise ValueError(f"TransitionBatch.extras[{name!r}] has leading shape {tuple(value.shape[:2])}, "
                                 f"expected [T, B] = {lead}")

    def _raise_lead(self, name: str, value: Any) -> None:
        raise ValueError(f"TransitionBatch.{name} has leading shape {tuple(value.shape[:2])}, expected [T, B] = "
                         f"{tuple(self.reward.shape)} like reward")

    @property
    def n_rows(self) -> int:
        """Number of rows ``T`` (time steps per env)."""
        return int(self.reward.shape[0])

    @property
    def n_transitions(self) -> int:
        """Number of transitions ``T * B``."""
        return int(self.reward.shape[0] * self.reward.shape[1])

    @property
    def n_envs(self) -> int:
        """Number of environments ``B``."""
        return int(self.reward.shape[1])

    @property
    def episode_end(self) -> Any:
        """``terminated | truncated``: where an episode ended."""
        return self.terminated | self.truncated

    def with_reward(self, reward: Any) -> TransitionBatch:
        """The same batch with ``reward`` replaced (``dataclasses.replace`` without its per-field introspection)."""
        if getattr(reward, "shape", None) != self.reward.shape:  # checked like any new batch (and refused)
            return TransitionBatch(self.obs, self.action, reward, self.next_obs, self.terminated, self.truncated,
                                   self.extras)
        return TransitionBatch.of_checked_fields({**self.__dict__, "reward": reward})  # this batch's checks hold

    @staticmethod
    def of_checked_fields(fields: dict[str, Any]) -> TransitionBatch:
        """A batch of ``fields`` (every field by name) whose ``[T, B]`` leads are known to agree, built unchecked.

        For code that made the fields so (slices of arrays it allocated, one field of a checked batch replaced),
        and does so at every fit, where the checks would run for nothing.
        """
        batch = object.__new__(TransitionBatch)
        batch.__dict__.update(fields)
        return batch

    def flatten(self) -> TransitionBatch:
        """Merge time and env axes into one: every field becomes ``[T * B, 1, ...]``.

        Only useful for order-free consumers (replay buffers, minibatching); sequential estimators need ``[T, B]``.
        """

        def flat(x: Any) -> Any:
            return x.reshape((x.shape[0] * x.shape[1], 1) + tuple(x.shape[2:]))

        return TransitionBatch(
            **{name: map_obs(flat, getattr(self, name)) for name in _FIELDS},
            extras={k: flat(v) for k, v in self.extras.items()},
        )

    def to_torch(self, device: str | torch.device = "cpu") -> TransitionBatch:
        """Return the same batch with every field as a torch tensor on ``device`` (one conversion, no copy on CPU).

        Float64 observations and rewards become float32 (other observation dtypes stay: ``uint8`` images, integer
        Discrete entries), flags bool, integer actions int64.
        """
        import torch

        def conv(x: Any, dtype: Any = None) -> Any:
            if isinstance(x, torch.Tensor):
                t = x
            elif isinstance(x, np.ndarray) and x.flags.writeable:
                t = torch.from_numpy(x)  # shares memory: several times cheaper than as_tensor on small arrays
            else:
                t = torch.as_tensor(np.array(x))
            if dtype is not None and t.dtype != dtype:
                t = t.to(dtype)
            elif t.dtype == torch.float64:
                t = t.to(torch.float32)
            return t.to(device, non_blocking=True)

        action = conv(self.action)
        if not action.is_floating_point() and action.dtype != torch.int64:
            action = action.to(torch.int64)
        return TransitionBatch(
            obs=map_obs(conv, self.obs),
            action=action,
            reward=conv(self.reward, torch.float32),
            next_obs=map_obs(conv, self.next_obs),
            terminated=conv(self.terminated, torch.bool),
            truncated=conv(self.truncated, torch.bool),
            extras={k: conv(v) for k, v in self.extras.items()},
        )

    def index(self, rows: Any) -> TransitionBatch:
        """Select time rows (an int slice, or an index array over ``T``) from every field."""
        return TransitionBatch(
            **{name: map_obs(lambda x: x[rows], getattr(self, name)) for name in _FIELDS},
            extras={k: v[rows] for k, v in self.extras.items()},
        )

    @staticmethod
    def concatenate(batches: list[TransitionBatch], axis: int = 0) -> TransitionBatch:
        """Join NumPy batches along time (``axis=0``) or along envs (``axis=1``)."""
        if not batches:
            raise ValueError("concatenate needs at least one batch")
        keys = set(batches[0].extras)
        for b in batches[1:]:
            if set(b.extras) != keys:
                raise ValueError(f"batches carry different extras: {sorted(keys)} vs {sorted(b.extras)}")
        return TransitionBatch(
            **{name: map_obs(lambda *xs: np.concatenate(xs, axis=axis), *(getattr(b, name) for b in batches))
               for name in _FIELDS},
            extras={k: np.concatenate([b.extras[k] for b in batches], axis=axis) for k in keys},
        )
