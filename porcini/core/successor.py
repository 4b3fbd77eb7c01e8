"""The true successor of a step under same-step autoreset: the final observation where an episode ended.

:func:`porcini.core.stepper.env_step`, the only place porcini steps a vector env, builds every ``next_obs`` with
it, so that no transition crosses an episode boundary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from porcini.core.obs_tree import is_obs_tree, map_obs
from porcini.errors import EnvCheckError


def true_successor(reset_obs: Any, ended: np.ndarray, info: dict[str, Any]) -> Any:
    """``reset_obs`` with the final observation of each ended episode put back in its row.

    Under same-step autoreset, the observation an env returns where its episode ended is already the next
    episode's first one; the true successor of that transition is ``info["final_obs"]``.

    Raises:
        EnvCheckError: an episode ended but ``info`` has no ``final_obs`` (not same-step autoreset).
    """
    if "final_obs" not in info:
        raise EnvCheckError(
            "an episode ended but the env's info has no 'final_obs'; Core needs same-step autoreset "
            "(porcini.make_env, or gymnasium.vector.AutoresetMode.SAME_STEP)"
        )
    final = info["final_obs"]
    if is_obs_tree(reset_obs):  # Dict or Tuple observations: entry by entry
        out = map_obs(lambda v: v.copy(), reset_obs)
        rows = np.flatnonzero(ended)
        if getattr(final, "dtype", None) is np.dtype(object):  # one observation tree per env
            for i in rows:
                map_obs(lambda o, f: o.__setitem__(i, f), out, final[i])  # noqa: B023 (called at once)
        else:
            map_obs(lambda o, f: o.__setitem__(rows, f[rows]), out, final)
        return out
    next_obs = reset_obs.copy()
    if getattr(final, "dtype", None) is np.dtype(object):
        for i in np.flatnonzero(ended):
            next_obs[i] = final[i]
    else:
        next_obs[ended] = final[ended]
    return next_obs
