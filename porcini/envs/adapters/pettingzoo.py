"""PettingZoo parallel envs (``porcini[pettingzoo]``) seen from one agent: its own observation/action stream.

:class:`PettingZooAgentView` is a ``gymnasium.Env`` for one agent of a parallel env; the other agents act from
given policies (uniformly random by default). To train every agent at once, use the multi-agent vector env
(:mod:`porcini.envs.multi_agent`, one row per agent); the view is for what that env cannot batch:

- agents with different observation or action spaces (rows of one batch share one space);
- one agent learning against fixed others, through everything single-agent (``make_env``, every wrapper,
  ``Core``, every algorithm) unchanged.

All randomness comes from the view's ``np_random``: each reset seeds the parallel env and the random policies'
action spaces from it, so a seeded view repeats exactly (and porcini's resume-by-replay rebuilds it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym

from porcini.envs.adapters.extras import require_extra
from porcini.envs.make import make_env
from porcini.errors import EnvCheckError

Policy = Callable[[Any], Any]  # one agent's observation -> its action


class PettingZooAgentView(gym.Env):
    """One agent's view of a PettingZoo ``ParallelEnv``; the other agents act from ``policies``.

    Args:
        env: the parallel env (fixed ``possible_agents``; agents may leave early).
        agent: the agent this view controls.
        policies: other agent -> ``policy(obs) -> action``; agents without one act uniformly at random.

    The reward is the agent's; ``info`` is the agent's info. The episode ends when the agent is terminated or
    truncated, or (truncated) when no agent is left.

    Example:
        >>> from pettingzoo.classic import rps_v2  # doctest: +SKIP
        >>> env = PettingZooAgentView(rps_v2.parallel_env(), "player_0")  # doctest: +SKIP
        >>> env.action_space  # doctest: +SKIP
        Discrete(3)
    """

    def __init__(self, env: Any, agent: str, policies: Mapping[str, Policy] | None = None) -> None:
        possible = list(getattr(env, "possible_agents", []))
        if agent not in possible:
            raise ValueError(f"agent {agent!r} is not among the env's possible_agents {possible}")
        policies = dict(policies or {})
        unknown = [a for a in policies if a not in possible or a == agent]
        if unknown:
            raise ValueError(
                f"policies given for {unknown}, which are not other agents of the env; other agents: "
                f"{[a for a in possible if a != agent]}"
            )
        self.parallel_env = env
        self.agent = agent
        self.policies = policies
        self.observation_space = env.observation_space(agent)
        self.action_space = env.action_space(agent)
        self.metadata = dict(getattr(env, "metadata", {}) or {})
        self.render_mode = getattr(env, "render_mode", None)
        # private copies: the random policies draw from spaces seeded by this view alone
        self._random_spaces = {a: copy.deepcopy(env.action_space(a)) for a in possible if a != agent}
        self._others_obs: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the parallel env with a seed drawn from this view's generator."""
        super().reset(seed=seed)
        observations, infos = self.parallel_env.reset(seed=int(self.np_random.integers(2**31 - 1)), options=options)
        for space in self._random_spaces.values():
            space.seed(int(self.np_random.integers(2**31 - 1)))
        if self.agent not in observations:
            raise EnvCheckError(f"agent {self.agent!r} got no observation at reset (live agents: {list(observations)})")
        self._others_obs = observations
        return observations[self.agent], dict(infos.get(self.agent, {}))

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step every live agent: this one with ``action``, the others from their policies."""
        actions = {self.agent: action}
        for other in self.parallel_env.agents:
            if other != self.agent:
                policy = self.policies.get(other)
                obs = self._others_obs.get(other)
                actions[other] = policy(obs) if policy is not None else self._random_spaces[other].sample()
        observations, rewards, terminations, truncations, infos = self.parallel_env.step(actions)
        if self.agent not in observations:
            raise EnvCheckError(f"agent {self.agent!r} got no observation from step (it was live before the step)")
        self._others_obs = observations
        terminated = bool(terminations.get(self.agent, False))
        truncated = bool(truncations.get(self.agent, False))
        if not (terminated or truncated) and self.agent not in self.parallel_env.agents:
            truncated = True  # the env removed the agent without saying why: its episode is over, not failed
        return observations[self.agent], float(rewards.get(self.agent, 0.0)), terminated, truncated, \
            dict(infos.get(self.agent, {}))

    def render(self) -> Any:
        """Render the parallel env."""
        return self.parallel_env.render()

    def close(self) -> None:
        """Close the parallel env."""
        self.parallel_env.close()


def make_pettingzoo_env(env_fn: Callable[[], Any], agent: str, policies: Mapping[str, Policy] | None = None,
                        n_envs: int = 1, seed: int | None = None, **make_env_kwargs: Any) -> Any:
    """A porcini vector env of ``n_envs`` copies of one agent's view of a parallel env.

    Args:
        env_fn: builds the parallel env (e.g. ``rps_v2.parallel_env``).
        agent: the agent to control.
        policies: other agent -> ``policy(obs) -> action`` (random when missing). Each copy calls the same
            policy objects.
        n_envs: number of envs stepped together.
        seed: as in ``make_env`` (env ``i`` is reset with ``porcini.seeding.env_reset_seeds(seed, n_envs)[i]``).
        **make_env_kwargs: passed to ``porcini.make_env``.

    Raises:
        ImportError: PettingZoo is missing (names ``pip install "porcini[pettingzoo]"``).

    Example:
        >>> from pettingzoo.classic import rps_v2  # doctest: +SKIP
        >>> env = make_pettingzoo_env(rps_v2.parallel_env, "player_0", n_envs=2, seed=0)  # doctest: +SKIP
    """
    require_extra("pettingzoo", "pettingzoo", "PettingZoo environments")

    def build() -> gym.Env:
        return PettingZooAgentView(env_fn(), agent, policies)

    probe = env_fn()  # named after the env's metadata name ("rps_v2:player_0"); agent checked before make_env
    PettingZooAgentView(probe, agent, policies)
    name = (getattr(probe, "metadata", None) or {}).get("name") or getattr(env_fn, "__name__", "pettingzoo")
    probe.close()
    build.__name__ = f"{name}:{agent}"
    return make_env(build, n_envs, seed, **make_env_kwargs)
