"""The body of one Ray actor of :class:`~porcini.envs.ray_vector.RayVectorEnv`: a chunk of its sub-envs.

Kept apart from the vector env so the actor's side (what runs in the Ray worker) reads on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from porcini.envs.episode_log import ReplayError
from porcini.envs.vector import EnvFactory, SerialVectorEnv
from porcini.envs.wrappers.episode import time_limit
from porcini.errors import CheckpointError


class ChunkWorker:
    """The body of one Ray actor: a ``SerialVectorEnv`` of a contiguous chunk of the sub-envs.

    Only the observations' dtype is checked here (the stacked batch the parent validates is already cast).
    """

    def __init__(self, env_fns: Sequence[EnvFactory], env_id: str, check_dtype: bool = False) -> None:
        self.env = SerialVectorEnv(env_fns, env_id=env_id, check=False, check_dtype=check_dtype)

    def describe(self) -> tuple[gym.Space, gym.Space, dict[str, Any], Any, Any, int | None]:
        """The chunk's spaces, metadata, render mode, spec and first env's time limit, for the parent's vector env."""
        env = self.env
        return (env.single_observation_space, env.single_action_space, env.metadata, env.render_mode, env.spec,
                time_limit(env.envs[0]))

    def run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a method of the chunk's ``SerialVectorEnv`` (``step``, ``reset``, ``render``...)."""
        return getattr(self.env, method)(*args, **kwargs)

    def load_resume_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """Replay the chunk's episodes: ``{"obs": ...}``, or ``{"error": message, "replay": bool}``."""
        # answered, not raised: Ray would wrap the error in its own traceback text
        try:
            return {"obs": self.env.load_resume_state(state)}
        except CheckpointError as err:
            return {"error": str(err), "replay": isinstance(err, ReplayError)}

    def _stateful(self, index: int) -> list[Any]:
        out, env = [], self.env.envs[index]
        while isinstance(env, gym.Wrapper):
            if callable(getattr(env, "state_dict", None)):
                out.append(env)
            env = env.env
        return out

    def stateful_wrapper_names(self) -> list[list[str]]:
        """The class names of each env's stateful wrappers, outermost first."""
        return [[type(w).__name__ for w in self._stateful(i)] for i in range(self.env.num_envs)]

    def call_wrapper(self, index: int, position: int, method: str, *args: Any) -> Any:
        """Call ``method`` of env ``index``'s stateful wrapper at ``position``."""
        return getattr(self._stateful(index)[position], method)(*args)
