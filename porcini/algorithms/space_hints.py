"""What to use instead: the clause an agent's refusal of an action space adds to name the agents that can act in it.

Only the on-policy agents act in ``MultiDiscrete`` and ``MultiBinary`` spaces (one independent categorical or
Bernoulli per component, :mod:`porcini.networks.distributions`); value-based, off-policy actor-critic, tabular and
bandit agents refuse them, and their one-line error names the agents that would work.
"""

from __future__ import annotations

import gymnasium as gym

#: The agents that act in MultiDiscrete and MultiBinary action spaces.
MULTI_ACTION_AGENTS = "PPO, A2C, TRPO, REINFORCE or RecurrentPPO"


def multi_action_hint(space: gym.Space) -> str:
    """``"; for MultiDiscrete actions use PPO, ..."`` when ``space`` is MultiDiscrete or MultiBinary, else ``""``.

    Example:
        >>> multi_action_hint(gym.spaces.MultiBinary(3))
        '; for MultiBinary actions use PPO, A2C, TRPO, REINFORCE or RecurrentPPO'
        >>> multi_action_hint(gym.spaces.Discrete(3))
        ''
    """
    if isinstance(space, (gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
        return f"; for {type(space).__name__} actions use {MULTI_ACTION_AGENTS}"
    return ""
