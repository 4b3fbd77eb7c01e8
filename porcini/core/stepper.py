"""One vector step with its episode bookkeeping: the only place porcini calls ``env.step``.

Training (``Core``), evaluation episodes, dataset collection and the inspector's episode trace all step their env
through :func:`env_step`, so each counts steps and episodes the same way and gets the same true successors
(:func:`true_successor`, the final observation where an episode ended), so that no transition crosses an episode
boundary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from porcini.core.obs_tree import is_obs_tree, map_obs
from porcini.core.state import LoopState
from porcini.errors import EnvCheckError


def env_step(env: Any, state: LoopState, action: Any) -> tuple[Any, Any, Any, Any, dict[str, Any], Any]:
    """Step ``env`` with ``action`` and count the step in ``state`` (``state.obs`` becomes what to act on next).

    Returns:
        ``(next_obs, reward, terminated, truncated, info, ended)``: ``next_obs`` is every transition's true
        successor (the final observation where an episode ended, :func:`true_successor`);
        ``ended`` is the ``[B]`` mask of the envs whose episode ended, or None when none did. The caller closes
        those episodes with ``state.end_episodes(ended)``.
    """
    reset_obs, reward, terminated, truncated, info = env.step(action)
    n = state.n_envs
    state.obs = reset_obs
    state.env_steps += n
    state.vector_steps += 1
    state.steps_since_epoch += n
    if n == 1:  # a scalar add is a quarter of the cost of NumPy's in-place add on one-element arrays
        state.ep_return[0] += reward[0]
    else:
        state.ep_return += reward
    # same-step autoreset puts "_final_obs" in info exactly when some episode ended: a dict lookup is far cheaper
    # than reducing the flags on every step
    if "_final_obs" not in info:
        return reset_obs, reward, terminated, truncated, info, None
    ended = np.asarray(terminated | truncated, dtype=bool)
    return true_successor(reset_obs, ended, info), reward, terminated, truncated, info, ended


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


def env_reset(env: Any, state: LoopState, seed: Any = None) -> Any:
    """Reset ``env`` (``seed`` as its ``reset`` takes it); every env of ``state`` starts a new episode."""
    obs, _ = env.reset(seed=seed)
    state.start_episodes(obs)
    return obs


def require_same_step_autoreset(env: Any) -> None:
    """Refuse a vector env that does not autoreset in the same step (its ``next_obs`` would cross episodes).

    Raises:
        EnvCheckError: ``env.metadata["autoreset_mode"]`` is another mode.
    """
    autoreset = getattr(env, "metadata", {}).get("autoreset_mode")
    if autoreset is not None and getattr(autoreset, "value", autoreset) != "SameStep":
        raise EnvCheckError(
            f"Core needs a vector env with same-step autoreset, {env_id_of(env)} uses {autoreset}; "
            "build it with porcini.make_env or pass autoreset_mode=AutoresetMode.SAME_STEP to Gymnasium"
        )


def _shape_of(space: Any) -> Any:
    """What an agent's network depends on: the space's type, shape and (Discrete) number of values; None otherwise."""
    if type(space).__name__ not in ("Box", "Discrete", "MultiDiscrete", "MultiBinary"):
        return None
    return type(space).__name__, tuple(space.shape or ()), getattr(space, "n", None)


def require_usable_envs(agent: Any, env: Any, eval_env: Any = None) -> None:
    """Refuse the envs Core cannot run ``agent`` on (:func:`require_same_step_autoreset`, :func:`require_agent_fits`).

    Raises:
        EnvCheckError: the training env autoresets in another step, or the training or evaluation env's spaces
            differ from those the agent was built for.
    """
    require_same_step_autoreset(env)
    for checked in (env, eval_env):
        require_agent_fits(agent, checked)


def require_agent_fits(agent: Any, env: Any) -> None:
    """Refuse an env whose observation or action space differs from the env the agent was built for.

    Compared on type, shape and number of values of Box, Discrete, MultiDiscrete and MultiBinary spaces, when both
    the agent and the env carry an ``info`` (``EnvInfo``); anything else is left to the agent.

    Raises:
        EnvCheckError: the spaces differ (the agent would fail on its first observation with a shape error).
    """
    agent_info, env_info = getattr(agent, "info", None), getattr(env, "info", None)
    if agent_info is None or env_info is None:
        return
    for what in ("observation_space", "action_space"):
        mine, theirs = getattr(agent_info, what, None), getattr(env_info, what, None)
        if _shape_of(mine) is None or _shape_of(theirs) is None or _shape_of(mine) == _shape_of(theirs):
            continue
        name = type(agent).__name__
        raise EnvCheckError(
            f"{name} was built for {agent_info.env_id}, whose {what} is {_describe(mine)}, but env {env_info.env_id} "
            f"has {_describe(theirs)}; build the agent from this env's info: {name}(env.info, ...)"
        )


def _describe(space: Any) -> str:
    """A space in a few words: ``Discrete(2)``, ``Box of shape (4,)``."""
    kind, shape, n = _shape_of(space)
    return str(space) if kind == "Discrete" else f"{kind} of shape {shape}" + (f" ({n} values)" if n else "")


def env_id_of(env: Any) -> str:
    """A readable name of a vector env for messages."""
    info = getattr(env, "info", None)
    if info is not None:
        return str(info.env_id)
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(env).__name__
