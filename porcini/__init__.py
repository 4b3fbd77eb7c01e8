"""porcini: trusted, composable reinforcement-learning parts.

The top level holds the curated public names only. Importing porcini imports neither torch nor any optional extra.
"""

from porcini.core import Core
from porcini.envs import make_env

__version__ = "0.1.0"

__all__ = ["Core", "make_env", "__version__"]
