"""Move an action mask from ``info`` into the observation, where porcini's masked agents read it."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from porcini.envs.wrappers._common import require_env


class ActionMaskInObservation(gym.Wrapper):
    """Builds the Dict observation ``{"observation": obs, "action_mask": info[key]}`` from reset and step infos.

    Some envs report their legal actions in ``info["action_mask"]`` (Gymnasium's ``Taxi``); porcini's agents read
    masks from the observation (PettingZoo's classic-env convention, see ``docs/environments.md``), so the mask
    travels with the observation through the vector env's same-step autoreset (``final_obs`` keeps the final
    state's mask, the reset observation carries the next episode's first one) and through replay buffers. The
    info is passed on unchanged.

    Args:
        env: a single env with a ``Discrete(n)`` action space whose reset and step infos hold an ``n``-long 0/1 mask.
        key: the info key of the mask.

    Raises:
        TypeError: the action space is not Discrete.
        KeyError: (at reset or step) the info has no mask under ``key``.

    Example:
        >>> env = ActionMaskInObservation(gym.make("Taxi-v4"))
        >>> obs, info = env.reset(seed=0)
        >>> sorted(obs), obs["action_mask"].tolist() == info["action_mask"].tolist()
        (['action_mask', 'observation'], True)
    """

    def __init__(self, env: gym.Env, key: str = "action_mask") -> None:
        require_env("ActionMaskInObservation", env, vector=False)
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise TypeError(f"ActionMaskInObservation needs a Discrete action space, got {env.action_space}")
        super().__init__(env)
        self.key, self.n = key, int(env.action_space.n)
        self.observation_space = gym.spaces.Dict({
            "observation": env.observation_space,
            "action_mask": gym.spaces.Box(0, 1, (self.n,), np.int8),
        })

    def _with_mask(self, obs: Any, info: dict[str, Any]) -> dict[str, Any]:
        if self.key not in info:
            raise KeyError(f"ActionMaskInObservation: the env's info has no {self.key!r} (keys: {sorted(info)}); "
                           "pass the key its mask is under as key=...")
        mask = np.asarray(info[self.key]).reshape(-1)
        if mask.shape != (self.n,):
            raise ValueError(f"ActionMaskInObservation: info[{self.key!r}] has {mask.size} entries, the action space "
                             f"has {self.n} actions")
        return {"observation": obs, "action_mask": (mask != 0).astype(np.int8)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Reset the env; the observation carries the reset info's mask."""
        obs, info = self.env.reset(seed=seed, options=options)
        return self._with_mask(obs, info), info

    def step(self, action: Any) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env; the observation carries the step info's mask (the legal actions in the new state)."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._with_mask(obs, info), reward, terminated, truncated, info
