"""What to use instead: the clause an agent's refusal of an action space adds to name the agents that can act in it.

Only the on-policy agents act in ``MultiDiscrete`` and ``MultiBinary`` spaces (one independent categorical or
Bernoulli per component, :mod:`porcini.networks.distributions`); value-based, off-policy actor-critic, tabular and
bandit agents refuse them, and their one-line error names the agents that would work. Agents that scale or sample
``Box`` actions between the bounds refuse an infinite bound, and name :data:`DECLARE_BOUNDS` as the fix.
"""

from __future__ import annotations

import gymnasium as gym

#: The agents that act in MultiDiscrete and MultiBinary action spaces.
MULTI_ACTION_AGENTS = "PPO, A2C, TRPO, REINFORCE or RecurrentPPO"

#: The fix for a Box action space with an infinite bound. ``ClipAction`` cannot give bounds (it declares
#: ``(-inf, inf)`` itself) and Gymnasium's ``RescaleAction`` refuses infinite bounds: a wrapper must declare them.
DECLARE_BOUNDS = ("declare the range to act in with a wrapper, e.g. gymnasium.wrappers.TransformAction(env, "
                  "lambda action: action, gymnasium.spaces.Box(low, high))")

#: Where other agents can act: the on-policy agents take unbounded Box actions (their Gaussian is not clipped).
UNBOUNDED_BOX_AGENTS = f"or use {MULTI_ACTION_AGENTS}, which act in unbounded Box spaces"


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
