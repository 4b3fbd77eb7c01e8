"""Environments: make_env (always a vector env), checks, wrappers, adapters and built-in MDPs.

Importing this package registers the built-in environments under the ``porcini/`` Gymnasium namespace.
"""

from porcini.envs.builtin import register_builtin_envs
from porcini.envs.checks import check_env
from porcini.envs.info import EnvInfo
from porcini.envs.make import env_info, make_env
from porcini.envs.mixed import MixedVectorEnv, make_mixed_env
from porcini.envs.ray_vector import RayVectorEnv
from porcini.envs.vector import CheckedVectorEnv, SerialVectorEnv

register_builtin_envs()

__all__ = [
    "CheckedVectorEnv",
    "EnvInfo",
    "MixedVectorEnv",
    "RayVectorEnv",
    "SerialVectorEnv",
    "check_env",
    "env_info",
    "make_env",
    "make_mixed_env",
]
