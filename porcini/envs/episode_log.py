"""EpisodeLog: enough of each env's current episode to rebuild it exactly, so a run can resume mid-episode.

Gymnasium envs have no "get state" API, and unpickling an env from a checkpoint would execute code from a file.
Instead, for every env index we keep how its current episode began (the reset seed, or the state of the env's
``np_random`` just before an unseeded reset) and the actions taken since. Resuming resets a fresh env the same
way and replays the actions: for any env whose randomness comes from ``np_random`` this lands in the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.errors import CheckpointError


class ReplayError(CheckpointError):
    """An env's episode cannot be rebuilt from its log.

    Its dynamics draw randomness outside ``env.np_random``, or the log is incomplete. A run can still resume by
    starting new episodes (see ``porcini.experiment.envs.restore_envs``).
    """


def observations_equal(a: Any, b: Any) -> bool:
    """Whether two observation batches are equal, for array, dict and tuple observations."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(observations_equal(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(observations_equal(x, y) for x, y in zip(a, b))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def check_replayed(env_id: str, recorded: Any, replayed: Any) -> None:
    """Raise ReplayError when a replay's observations differ from those a checkpoint recorded (None: unchecked)."""
    if recorded is not None and not observations_equal(recorded, replayed):
        raise ReplayError(
            f"replaying the checkpoint of {env_id} gave other observations than were recorded; the env draws "
            "randomness outside env.np_random, so this run cannot resume exactly"
        )


def _bit_generator(env: gym.Env) -> np.random.BitGenerator:
    rng = env.unwrapped.np_random
    # shimmy's dm_control envs keep a legacy RandomState, which has no public bit_generator
    if isinstance(rng, np.random.RandomState):
        return rng._bit_generator
    return rng.bit_generator


def _ensure_np_random(env: gym.Env) -> None:
    """Make sure ``env`` has its ``np_random`` (Gymnasium makes it on first use; other envs at their first reset).

    No reset when it exists: an extra reset is an extra episode start to envs that count or draw at resets.
    """
    try:
        _bit_generator(env)
    except AttributeError:
        env.reset(seed=0)


def _rng_state(env: gym.Env) -> Mapping[str, Any]:
    return _bit_generator(env).state


def _set_rng_state(env: gym.Env, state: Mapping[str, Any]) -> None:
    _bit_generator(env).state = state


class EpisodeLog:
    """Per env index: how the current episode started and the actions taken in it."""

    def __init__(self, n_envs: int) -> None:
        self.starts: list[dict[str, Any]] = [{} for _ in range(n_envs)]
        self.actions: list[list[Any]] = [[] for _ in range(n_envs)]

    def before_reset(self, index: int, env: gym.Env, seed: int | None) -> None:
        """Record how episode ``index`` is about to start (call just before ``env.reset``)."""
        self.starts[index] = {"seed": int(seed)} if seed is not None else {"rng": _rng_state(env)}
        self.actions[index] = []

    def record_actions(self, actions: Any) -> None:
        """Record one step's actions (one per env)."""
        for i, store in enumerate(self.actions):
            store.append(np.array(actions[i]))

    def state_dict(self) -> dict[str, Any]:
        """Starts and actions, as plain dicts and arrays."""
        return {
            "starts": [dict(s) for s in self.starts],
            "actions": [np.stack(a) if a else np.zeros((0,)) for a in self.actions],
        }

    @staticmethod
    def replay(envs: list[gym.Env], state: dict[str, Any]) -> list[Any]:
        """Rebuild each env's current episode from ``state``; return each env's current observation.

        Raises:
            CheckpointError: the state holds another number of envs.
            ReplayError: the log is incomplete or an env ended its episode during replay (its dynamics draw
                randomness from outside ``np_random``, so it cannot be resumed exactly).
        """
        if "starts" not in state:
            raise ReplayError("the checkpoint holds no episode log but a native vector env's state; resume it with "
                              "env.vectorization: native")
        if len(state["starts"]) != len(envs):
            raise CheckpointError(f"the checkpoint holds {len(state['starts'])} envs, this run has {len(envs)}")
        observations = []
        for i, (env, start, actions) in enumerate(zip(envs, state["starts"], state["actions"])):
            if "seed" in start:
                obs, _ = env.reset(seed=int(start["seed"]))
            elif "rng" in start:
                _ensure_np_random(env)
                _set_rng_state(env, start["rng"])
                obs, _ = env.reset()
            else:
                raise ReplayError(f"env index {i} has no recorded episode start; the checkpoint is incomplete")
            for step, action in enumerate(actions):
                # a NumPy scalar for scalar actions, as SerialVectorEnv.step passes them
                obs, _, terminated, truncated, _ = env.step(action[()] if action.ndim == 0 else action)
                if terminated or truncated:
                    raise ReplayError(
                        f"env index {i} ended its episode at step {step + 1} while replaying a checkpoint; its "
                        "dynamics use randomness outside env.np_random, so this run cannot resume exactly"
                    )
            observations.append(obs)
        return observations
