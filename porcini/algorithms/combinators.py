"""Agent combinators: several learners behind the one ``Agent`` interface the loop drives.

:class:`SharedRollout` lets agents of different kinds learn from the same collected transitions: one of them (the
*actor*) chooses the actions, every one of them fits on every transition, each at its own cadence. An on-policy
learner (PPO) must be the actor, since its update assumes its own policy collected the data; off-policy learners
(SAC, TD3, DQN) learn correctly from anyone's transitions. Nothing is copied per learner beyond the list of batches
waiting for a learner whose cadence is longer than the loop's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from porcini.core.agent import Agent, BaseAgent
from porcini.core.batch import TransitionBatch

_FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


class SharedRollout(BaseAgent):
    """One behaviour policy, several learners fitting on the same ``[T, B]`` batches.

    The loop fits this agent every ``gcd`` of the learners' ``fit_every_steps``; each batch is handed to every
    learner, and a learner with a longer cadence receives the batches gathered since its last fit joined along time
    (so PPO still gets its full ``n_steps`` rollout while SAC fits every step). Metrics are namespaced by learner:
    ``{"ppo/loss_policy": ..., "sac/loss_critic": ...}``.

    Args:
        agents: learners by name (the name prefixes their metrics); all must use a step cadence.
        actor: the name of the learner whose ``act`` is played.

    Raises:
        ValueError: ``actor`` is not among ``agents``, or a learner has no ``fit_every_steps``.

    Example:
        >>> from porcini import Core, make_env
        >>> from porcini.algorithms import PPO, SAC
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> ppo = PPO(env.info, n_steps=32, batch_size=32, n_epochs=1)
        >>> sac = SAC(env.info, net_arch=(32, 32), batch_size=32, learning_starts=16)
        >>> both = SharedRollout({"ppo": ppo, "sac": sac}, actor="ppo")
        >>> _ = Core(both, env, progress=False).learn(steps=64)
        >>> ppo.fits, sac.n_updates
        (2, 48)
    """

    name = "shared_rollout"

    def __init__(self, agents: Mapping[str, Agent], actor: str) -> None:
        if actor not in agents:
            raise ValueError(f"SharedRollout: actor {actor!r} is not among the agents {sorted(agents)}; name one")
        for name, agent in agents.items():
            every = getattr(agent, "fit_every_steps", None)
            if not isinstance(every, int) or every < 1:
                raise ValueError(
                    f"SharedRollout: agent {name!r} fits every {every!r} steps; every learner needs a step cadence "
                    "(fit_every_steps >= 1), episode cadences cannot share a rollout"
                )
        self.agents = dict(agents)
        self.actor = actor
        self.fit_every_steps = math.gcd(*(int(a.fit_every_steps) for a in self.agents.values()))  # type: ignore
        self._pending: dict[str, list[TransitionBatch]] = {name: [] for name in self.agents}

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """The actor's actions."""
        return self.agents[self.actor].act(obs, explore=explore)

    def reset(self, ended: np.ndarray) -> None:
        """Every learner forgets the per-episode state of the ended envs."""
        for agent in self.agents.values():
            agent.reset(ended)

    def episodes_cut(self) -> None:
        """The episodes in progress were cut after the last fit: each learner ends them where it keeps them.

        The newest batch waiting for a learner ends ``truncated`` where it did not terminate; a learner with none
        waiting marks the cut itself (its ``episodes_cut``, if it has one).
        """
        for name, agent in self.agents.items():
            pending = self._pending[name]
            if not pending:
                getattr(agent, "episodes_cut", lambda: None)()
                continue
            last = pending[-1]
            truncated = np.array(last.truncated, dtype=bool)  # a copy: the loop's rows are not written again
            truncated[-1] |= ~np.asarray(last.terminated[-1], dtype=bool)
            pending[-1] = TransitionBatch(last.obs, last.action, last.reward, last.next_obs, last.terminated,
                                          truncated, last.extras)

    def set_horizon(self, total_env_steps: int) -> None:
        """Every learner that takes the run's horizon gets it (they all see the same env steps)."""
        for agent in self.agents.values():
            set_horizon = getattr(agent, "set_horizon", None)
            if set_horizon is not None:
                set_horizon(total_env_steps)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Hand ``batch`` to every learner; those whose cadence is reached fit on what they have gathered."""
        metrics: dict[str, float] = {}
        for name, agent in self.agents.items():
            pending = self._pending[name]
            pending.append(batch)
            if sum(b.n_transitions for b in pending) < int(agent.fit_every_steps):  # type: ignore[arg-type]
                continue
            joined = pending[0] if len(pending) == 1 else TransitionBatch.concatenate(pending, axis=0)
            pending.clear()
            metrics.update({f"{name}/{key}": value for key, value in agent.fit(joined).items()})
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """Every learner's state and the batches waiting for a learner, for exact resume."""
        pending = {
            name: [{**{f: np.asarray(getattr(b, f)) for f in _FIELDS},
                    "extras": {k: np.asarray(v) for k, v in b.extras.items()}} for b in batches]
            for name, batches in self._pending.items()
        }
        return {"agents": {name: agent.state_dict() for name, agent in self.agents.items()}, "pending": pending}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the same learners under the same names)."""
        for name, agent in self.agents.items():
            agent.load_state_dict(state["agents"][name])
        self._pending = {
            name: [TransitionBatch(**{f: np.asarray(b[f]) for f in _FIELDS},
                                   extras={k: np.asarray(v) for k, v in b["extras"].items()})
                   for b in state["pending"].get(name, [])]
            for name in self.agents
        }
