"""porcini's NumPy-vectorized classic-control envs: ``make_env(id, n, vectorization="native")``.

Each steps all its envs as arrays, with same-step autoreset, and reproduces ``vectorization="sync"`` of the same
id and seed step for step (see :mod:`porcini.envs.vectorized.base`).
"""

from __future__ import annotations

from typing import Any

from porcini.envs.vectorized.acrobot import NativeAcrobot
from porcini.envs.vectorized.base import NativeVectorEnv, scalar_square
from porcini.envs.vectorized.cartpole import NativeCartPole
from porcini.envs.vectorized.mountain_car import NativeMountainCar
from porcini.envs.vectorized.pendulum import NativePendulum
from porcini.errors import ConfigError

NATIVE_ENVS: dict[str, type[NativeVectorEnv]] = {
    "CartPole-v0": NativeCartPole,
    "CartPole-v1": NativeCartPole,
    "Pendulum-v1": NativePendulum,
    "Acrobot-v1": NativeAcrobot,
    "MountainCar-v0": NativeMountainCar,
}
# the constructor options of Gymnasium's single envs that the native ones take too
_OPTIONS = {NativeCartPole: ("sutton_barto_reward",), NativePendulum: ("g",), NativeMountainCar: ("goal_velocity",),
            NativeAcrobot: ()}


def make_native_env(env_id: str, n_envs: int, *, check: bool = True, max_episode_steps: int | None = None,
                    env_kwargs: dict[str, Any] | None = None) -> NativeVectorEnv:
    """The native vector env of ``env_id`` with ``n_envs`` envs (not yet reset).

    Raises:
        ConfigError: porcini has no native version of ``env_id``, or ``env_kwargs`` holds an option it does not
            take (``render_mode`` among them: native envs do not render).
    """
    cls = NATIVE_ENVS.get(env_id)
    if cls is None:
        raise ConfigError(f"porcini has no native vector env for {env_id!r}; it has {', '.join(NATIVE_ENVS)}. Use "
                          "vectorization 'sync' or 'async' for other envs")
    unknown = sorted(set(env_kwargs or {}) - set(_OPTIONS[cls]))
    if unknown:
        takes = ", ".join(_OPTIONS[cls]) or "none"
        raise ConfigError(f"the native {env_id} env does not take {', '.join(unknown)} (its options: {takes}); "
                          "use vectorization 'sync' for these env kwargs")
    return cls(n_envs, env_id=env_id, check=check, max_episode_steps=max_episode_steps, **dict(env_kwargs or {}))


__all__ = ["NATIVE_ENVS", "NativeAcrobot", "NativeCartPole", "NativeMountainCar", "NativePendulum",
           "NativeVectorEnv", "make_native_env", "scalar_square"]
