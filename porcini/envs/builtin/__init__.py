"""Built-in environments: small, exact, pure-NumPy MDPs for tests, teaching and benchmarks.

Every environment is a ``gymnasium.Env`` seeded through ``reset(seed=...)``. The tabular ones expose
``transition_model()`` for dynamic programming. :func:`register_builtin_envs` registers them all under the
``porcini/`` namespace; ``docs/environments.md`` lists their spaces and rewards.
"""

from __future__ import annotations

import gymnasium as gym

from porcini.envs.builtin.bandits import BanditEnv, BernoulliBandit, GaussianBandit
from porcini.envs.builtin.bit_flipping import BitFlippingEnv
from porcini.envs.builtin.cartpole_swingup import CartPoleSwingUp
from porcini.envs.builtin.chain import Chain, RiverSwim
from porcini.envs.builtin.constrained import CartPoleBand, PendulumSpeed, PointHazardEnv
from porcini.envs.builtin.dice_game import DiceGame
from porcini.envs.builtin.gridworld import CliffWalking, DynaMaze, GridWorld
from porcini.envs.builtin.masked_chain import MaskedChain
from porcini.envs.builtin.matching import MatchBits, MatchCues
from porcini.envs.builtin.memory import CartPoleNoVelocity, CueMemory
from porcini.envs.builtin.pixel_gridworld import PixelGridWorld
from porcini.envs.builtin.price_series import load_price_csv, regime_switching_gbm
from porcini.envs.builtin.tabular import TabularEnv
from porcini.envs.builtin.trading import PortfolioEnv, TradingEnv

_MODULE = "porcini.envs.builtin"

#: id -> (entry point, max_episode_steps). None: the episode ends by itself (one-step bandits, the trading
#: envs, which truncate at the end of their price series, whatever its length, and bit flipping, whose limit
#: grows with its number of bits).
BUILTIN_ENVS: dict[str, tuple[str, int | None]] = {
    "porcini/GridWorld-v0": (f"{_MODULE}.gridworld:GridWorld", 100),
    "porcini/CliffWalking-v0": (f"{_MODULE}.gridworld:CliffWalking", 500),
    "porcini/DynaMaze-v0": (f"{_MODULE}.gridworld:DynaMaze", 10_000),
    "porcini/PixelGridWorld-v0": (f"{_MODULE}.pixel_gridworld:PixelGridWorld", 50),
    "porcini/Chain-v0": (f"{_MODULE}.chain:Chain", 1000),
    "porcini/RiverSwim-v0": (f"{_MODULE}.chain:RiverSwim", 1000),
    "porcini/DiceGame-v0": (f"{_MODULE}.dice_game:DiceGame", 100),
    "porcini/BernoulliBandit-v0": (f"{_MODULE}.bandits:BernoulliBandit", None),
    "porcini/GaussianBandit-v0": (f"{_MODULE}.bandits:GaussianBandit", None),
    "porcini/Trading-v0": (f"{_MODULE}.trading:TradingEnv", None),
    "porcini/Portfolio-v0": (f"{_MODULE}.trading:PortfolioEnv", None),
    "porcini/PointHazard-v0": (f"{_MODULE}.constrained:PointHazardEnv", 200),
    "porcini/CartPoleBand-v0": (f"{_MODULE}.constrained:CartPoleBand", 500),
    "porcini/PendulumSpeed-v0": (f"{_MODULE}.constrained:PendulumSpeed", 200),
    "porcini/CueMemory-v0": (f"{_MODULE}.memory:CueMemory", None),
    "porcini/CartPoleNoVel-v1": (f"{_MODULE}.memory:CartPoleNoVelocity", 500),
    "porcini/CartPoleSwingUp-v0": (f"{_MODULE}.cartpole_swingup:CartPoleSwingUp", 200),
    "porcini/MatchCues-v0": (f"{_MODULE}.matching:MatchCues", 20),
    "porcini/MatchBits-v0": (f"{_MODULE}.matching:MatchBits", 20),
    "porcini/BitFlipping-v0": (f"{_MODULE}.bit_flipping:BitFlippingEnv", None),
    "porcini/MaskedChain-v0": (f"{_MODULE}.masked_chain:MaskedChain", 50),
}


def register_builtin_envs() -> None:
    """Register every built-in environment with Gymnasium under the ``porcini/`` namespace.

    Idempotent: ids already in the registry are left alone (no override warning), so calling it twice, or
    after a user registered one of the ids, is harmless.

    Example:
        >>> import gymnasium as gym
        >>> register_builtin_envs()
        >>> gym.make("porcini/CliffWalking-v0").spec.max_episode_steps
        500
    """
    for env_id, (entry_point, max_episode_steps) in BUILTIN_ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=max_episode_steps)


__all__ = [
    "BUILTIN_ENVS",
    "BanditEnv",
    "BernoulliBandit",
    "BitFlippingEnv",
    "CartPoleBand",
    "CartPoleNoVelocity",
    "CartPoleSwingUp",
    "Chain",
    "CliffWalking",
    "CueMemory",
    "DiceGame",
    "GaussianBandit",
    "DynaMaze",
    "GridWorld",
    "MaskedChain",
    "MatchBits",
    "MatchCues",
    "PendulumSpeed",
    "PixelGridWorld",
    "PointHazardEnv",
    "PortfolioEnv",
    "RiverSwim",
    "TabularEnv",
    "TradingEnv",
    "load_price_csv",
    "regime_switching_gbm",
    "register_builtin_envs",
]
