"""Adapters to optional simulators: Gymnasium MuJoCo, dm_control (through shimmy), PettingZoo, Atari (ale_py).

Nothing optional is imported here: each adapter imports its package inside the function that needs it, and a
missing package raises ImportError naming ``pip install "porcini[<extra>]"``.
"""

from porcini.envs.adapters.atari import ATARI_ENV_KWARGS, make_atari_env
from porcini.envs.adapters.dm_control import make_dm_control_env
from porcini.envs.adapters.extras import require_extra
from porcini.envs.adapters.mujoco import make_mujoco_env
from porcini.envs.adapters.pettingzoo import PettingZooAgentView, make_pettingzoo_env
from porcini.envs.adapters.turn_based import TurnBasedSeat

__all__ = ["ATARI_ENV_KWARGS", "PettingZooAgentView", "make_atari_env", "make_dm_control_env", "make_mujoco_env",
           "make_pettingzoo_env", "require_extra", "TurnBasedSeat"]
