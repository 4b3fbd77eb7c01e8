"""NativeVectorEnv: the shared base of porcini's NumPy-vectorized envs (one array row per state variable).

A subclass writes the physics once, on arrays of all envs; the base adds what porcini's ``SerialVectorEnv`` gives:
same-step autoreset with ``info["final_obs"]`` (and an empty ``final_info``), the time limit (``truncated``, never
``terminated``), per-step validation, and reset seeds. Each env index keeps its own ``np.random.Generator``, seeded as
``SerialVectorEnv.reset(seed=int)`` seeds env ``i`` (``porcini.seeding.env_reset_seeds``) and drawn from exactly as
Gymnasium's single env draws at its reset, so a native env reproduces the sync vector env of the same id step for
step. Its whole state (physics, elapsed steps, generators) is a ``state_dict``, so a run resumes exactly.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils.seeding import np_random
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from porcini.envs.episode_log import ReplayError
from porcini.envs.validation import StepValidator
from porcini.envs.vector import reset_seeds
from porcini.errors import CheckpointError, ConfigError

# |x*x - fl(x*x)| above this fraction of an ulp: C's pow(x, 2) may round the other way. glibc's pow errs by at most
# 0.52 ulp (powf by less for a square), so it rounds like the exact product unless that lies within 0.02 ulp of a
# midpoint, i.e. |x*x - fl(x*x)| > 0.48 ulp; 0.47 leaves a margin and sends a few percent of squares to the scalar path
_HARD_SQUARE = 0.47


def scalar_square(x: np.ndarray) -> np.ndarray:
    """``x ** 2`` of every element exactly as NumPy computes it on one scalar (``np.float64(v) ** 2``).

    Gymnasium's envs square NumPy scalars, and a scalar power calls C's ``pow``, which is not correctly rounded: it
    differs from ``np.square`` (an exact product, rounded once) where the product lies next to a rounding midpoint.
    Those elements, found from the product's exact rounding error, are squared as scalars; all others agree.

    Args:
        x: a float32 or float64 array of any shape (any other dtype is squared as scalars, element by element).

    Returns:
        A new C-ordered array of ``x``'s dtype and shape.
    """
    out = np.square(x, order="C")
    if x.dtype == np.float64:
        # Dekker's exact product: x*x == out + low exactly (no fused multiply-add in NumPy's ufuncs)
        t = 134217729.0 * x
        high = t - (t - x)
        low_part = x - high
        low = ((high * high - out) + 2.0 * high * low_part) + low_part * low_part
    elif x.dtype == np.float32:
        wide = x.astype(np.float64)
        low = wide * wide - out.astype(np.float64)  # exact: a float32 square fits in a float64
    else:
        return np.array([v ** 2 for v in x.reshape(-1)], dtype=out.dtype).reshape(x.shape)
    # the smaller of the two ulps around out (out >= 0), so a power of two is judged by its finer side
    ulp = (out - np.nextafter(out, out.dtype.type(0))).astype(np.float64, copy=False)
    hard = np.flatnonzero(np.abs(low) > _HARD_SQUARE * ulp)
    if len(hard):
        out.reshape(-1)[hard] = [v ** 2 for v in x.reshape(-1)[hard]]  # reshape(-1) of out is a view
    return out


@functools.cache
def _uniform_is_affine() -> bool:
    """Whether ``Generator.uniform(low, high)`` is ``low + (high - low) * Generator.random()`` bit for bit here.

    It is in NumPy's C code (``random_uniform``); a build that fuses its multiply-add would round once less, so
    :func:`uniform` checks, once, on a few hundred draws.
    """
    low = np.array([-0.05, -np.pi, -1.0, -0.6, -0.1])
    high = np.array([0.05, np.pi, 1.0, -0.4, 0.1])
    drawn = np.random.default_rng(12345).uniform(low, high, size=(400, 5))
    return bool(np.array_equal(drawn, low + (high - low) * np.random.default_rng(12345).random((400, 5))))


def uniform(rngs: Sequence[np.random.Generator], low: Any, high: Any, size: int | None) -> np.ndarray:
    """Row ``j``: what ``rngs[j].uniform(low, high, size)`` returns (advancing it the same way); ``[len(rngs), ...]``.

    ``Generator.random`` skips ``uniform``'s argument handling, the slow part of a small draw, and the scaling then
    runs once for all rows.
    """
    if not _uniform_is_affine():
        return np.array([rng.uniform(low, high, size) for rng in rngs])
    shape = np.broadcast_shapes(np.shape(low), np.shape(high)) if size is None else size  # uniform's own rule
    unit = np.array([rng.random(shape or None) for rng in rngs])
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    return low + (high - low) * unit


class NativeVectorEnv(VectorEnv):
    """``num_envs`` copies of one env stepped as arrays, with same-step autoreset and a time limit.

    Subclasses set ``default_id``, ``state_rows`` and the spaces, and implement :meth:`initial_states` (start
    states drawn as Gymnasium's ``reset`` draws them), :meth:`transition` and :meth:`observe`.

    Args:
        num_envs: number of envs.
        max_episode_steps: the time limit (``truncated`` at this many steps); None: the registered one.
        env_id: the id in error messages, ``spec`` and checkpoints; None: ``default_id``.
        check: validate actions, observations and rewards on every step (see ``StepValidator``).
    """

    default_id = ""
    state_rows = 0

    def __init__(self, num_envs: int, *, max_episode_steps: int | None = None, env_id: str | None = None,
                 check: bool = True) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs = {num_envs!r} is invalid: must be a positive int")
        self.env_id = env_id or self.default_id
        if max_episode_steps is not None and (isinstance(max_episode_steps, bool) or max_episode_steps < 1):
            raise ValueError(f"max_episode_steps = {max_episode_steps!r} is invalid for {self.env_id}: must be a "
                             "positive int, or None for the registered time limit")
        spec = gym.spec(self.env_id)
        self.max_episode_steps = int(max_episode_steps or spec.max_episode_steps or 0)
        if self.max_episode_steps < 1:
            raise ConfigError(f"{self.env_id} has no time limit; pass max_episode_steps >= 1")
        self.spec = dataclasses.replace(spec, max_episode_steps=self.max_episode_steps)
        self.num_envs = num_envs
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}
        self.render_mode = None
        self.closed = False
        self.state = np.zeros((self.state_rows, num_envs), dtype=np.float64)
        self.elapsed = np.zeros(num_envs, dtype=np.int64)
        self.rngs: list[np.random.Generator | None] = [None] * num_envs
        self._validator = (StepValidator(self.env_id, self.single_observation_space, self.single_action_space,
                                         num_envs) if check else None)
        self._started = False

    def initial_states(self, rngs: Sequence[np.random.Generator], options: dict[str, Any] | None) -> np.ndarray:
        """Start states ``[state_rows, len(rngs)]``, one per generator, drawn as Gymnasium's ``reset`` draws them.

        Each env draws from its own generator (see :func:`uniform`).
        """
        raise NotImplementedError

    def transition(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance ``self.state`` of every env by one step; return ``(reward [n] float64, terminated [n] bool)``."""
        raise NotImplementedError

    def observe(self, state: np.ndarray) -> np.ndarray:
        """The observations ``[m, ...]`` of the states ``[state_rows, m]``."""
        raise NotImplementedError

    def observe_reset(self, state: np.ndarray) -> np.ndarray:
        """The observations of freshly reset states (Acrobot computes them in another precision)."""
        return self.observe(state)

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every env; an int seed seeds env ``i`` with ``porcini.seeding.env_reset_seeds(seed, n)[i]``.

        ``options`` are the single env's reset options (e.g. ``{"low": -0.1, "high": 0.1}``), used for this reset
        only: autoresets start from the default distribution, as in ``SerialVectorEnv``.

        Raises:
            ValueError: ``options`` holds a ``reset_mask``: a native env resets all its envs here, and ended ones by
                itself in ``step``.
        """
        if options is not None and "reset_mask" in options:
            raise ValueError(f"the native {self.env_id} vector env resets all its envs (and ended ones by itself in "
                             "step); reset without options['reset_mask']")
        for i, s in enumerate(reset_seeds(seed, self.num_envs)):
            if s is not None or self.rngs[i] is None:  # as Gymnasium's Env.reset: a seed, or a first reset
                self.rngs[i] = np_random(s)[0]
        self.state[:] = self.initial_states(self.rngs, options)  # type: ignore[arg-type]
        self.elapsed[:] = 0
        self._started = True
        obs = self.observe_reset(self.state)
        if self._validator is not None:
            self._validator.check_obs(obs, what="reset observation")
        return obs, {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env; the envs that end start their next episode in the same call (see the module docstring)."""
        if not self._started:
            raise gym.error.ResetNeeded(f"call reset() on the native {self.env_id} vector env before step()")
        validator = self._validator
        actions = validator.check_actions(actions) if validator is not None else np.asarray(actions)
        reward, terminated = self.transition(actions)
        self.elapsed += 1
        truncated = self.elapsed >= self.max_episode_steps
        obs = self.observe(self.state)
        ended = terminated | truncated
        infos: dict[str, Any] = {}
        if ended.any():
            rows = np.flatnonzero(ended)
            infos = {"final_obs": obs, "_final_obs": ended, "final_info": {}, "_final_info": ended.copy()}
            obs = obs.copy()
            rngs = self.rngs
            # only the envs that ended, each from its own generator (set by the first reset)
            self.state[:, rows] = self.initial_states([rngs[i] for i in rows.tolist()], None)  # type: ignore[misc]
            self.elapsed[rows] = 0
            obs[rows] = self.observe_reset(self.state[:, rows])
        if validator is not None:
            validator.check_step(obs, reward, infos or None)
        return obs, reward, terminated, truncated, infos

    def current_obs(self) -> np.ndarray:
        """The observations of the current states (what the last ``step`` or ``reset`` returned)."""
        obs = self.observe(self.state)
        fresh = np.flatnonzero(self.elapsed == 0)
        if len(fresh):
            obs[fresh] = self.observe_reset(self.state[:, fresh])
        return obs

    def state_dict(self) -> dict[str, Any]:
        """Everything the next steps depend on: physics state, elapsed steps, each env's generator state."""
        return {
            "env_id": self.env_id,
            "n_envs": self.num_envs,
            "state": self.state.copy(),
            "elapsed": self.elapsed.copy(),
            "rngs": [None if rng is None else rng.bit_generator.state for rng in self.rngs],
            "started": self._started,
            "step_count": self._validator.step_count if self._validator is not None else 0,
        }

    def load_state_dict(self, state: dict[str, Any]) -> np.ndarray:
        """Restore :meth:`state_dict`; return the current observations.

        Raises:
            CheckpointError: the state is of another env id or number of envs.
        """
        if state.get("env_id") != self.env_id or state.get("n_envs") != self.num_envs:
            raise CheckpointError(
                f"the checkpoint holds {state.get('n_envs')} native {state.get('env_id')} envs, this env has "
                f"{self.num_envs} {self.env_id} envs; resume with the run's own env.id and env.n_envs"
            )
        self.state = np.array(state["state"], dtype=np.float64).reshape(self.state_rows, self.num_envs)
        self.elapsed = np.array(state["elapsed"], dtype=np.int64).reshape(self.num_envs)
        self.rngs = [None if s is None else _generator(s) for s in state["rngs"]]
        self._started = bool(state["started"])
        if self._validator is not None:
            self._validator.step_count = int(state.get("step_count", 0))
        return self.current_obs()

    def record_for_resume(self) -> None:
        """Nothing to record: :meth:`state_dict` holds the whole state (the interface of ``SerialVectorEnv``)."""

    def resume_state(self) -> dict[str, Any]:
        """What a checkpoint keeps to resume mid-episode: :meth:`state_dict`."""
        return self.state_dict()

    def load_resume_state(self, state: dict[str, Any]) -> np.ndarray:
        """Restore :meth:`resume_state`; return the current observations.

        Raises:
            ReplayError: the state is another vector env's episode log (a run resumes at episode boundaries then).
        """
        if "starts" in state:
            raise ReplayError(f"the checkpoint holds an episode log, not the state of a native {self.env_id} env; "
                              "resume it with the run's own env.vectorization (sync, async or ray)")
        return self.load_state_dict(state)

    def render(self) -> Any:
        """Native vector envs do not render."""
        raise NotImplementedError(f"the native {self.env_id} vector env does not render; use vectorization='sync'")


def _generator(state: dict[str, Any]) -> np.random.Generator:
    """A generator whose bit generator (PCG64 for Gymnasium's ``np_random``) has the given state."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)
