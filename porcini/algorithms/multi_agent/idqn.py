"""Independent DQN on a multi-agent vector env: a DQN per group of agents, each on its own rows.

Tan (1993)'s independent Q-learners, with deep networks as in Tampuu et al. (2017).

``share`` groups the agents as in :mod:`porcini.algorithms.multi_agent.mappo` (``none`` by default: every agent
its own network, target and replay buffer). The other agents are part of each learner's environment, so the
environment a learner sees changes as they learn: no convergence guarantee, a strong baseline all the same.

Rows where the agent had already left its episode (``info["active"]`` 0, a zero observation) are not stored: they
are no step of the agent, and as transitions they would teach ``Q = 0`` at the zero observation, which can be a real
one (and fill the replay buffer of an agent that leaves early). The replay holds the agent's steps one row each, so
its runs are one step long: ``n_steps`` must be 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from porcini.algorithms.hindsight import make_replay_buffer
from porcini.algorithms.multi_agent.groups import AgentGroups, active_flags, group_learners, require_multi_agent
from porcini.algorithms.value_based.dqn import DQN
from porcini.algorithms.value_based.dqn_config import DQNConfig
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.data.prioritized import PrioritizedReplayBuffer
from porcini.data.replay import ReplayBuffer
from porcini.envs.info import EnvInfo


@dataclass(frozen=True)
class IndependentDQNConfig(DQNConfig):
    """Hyperparameters of independent DQN: DQN's (per group) and which agents share a network."""

    share: str = "none"
    """``none`` (a DQN per agent), ``all`` (one DQN, agent id as input) or ``prefix`` (a DQN per kind of agent)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.share in ("none", "all", "prefix"), type(self).__name__, "share", self.share,
                "none, all or prefix")
        require(self.n_steps == 1, type(self).__name__, "n_steps", self.n_steps,
                "1: the replay keeps each agent's steps without its idle rows, one row each, so no run of steps")


class GroupDQN(DQN):
    """DQN for one group's rows, idle rows (the agent had left its episode) left out of its replay."""

    name = "group_dqn"
    Config: type[DQNConfig] = IndependentDQNConfig
    info_keys = ("active",)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """DQN's fit on the transitions the agent took part in, one replay row each; none: no update."""
        active = np.asarray(active_flags(batch, type(self).__name__)).reshape(-1) > 0
        if not active.any():
            return {}
        return super().fit(batch.flatten().index(np.flatnonzero(active)))  # [n, 1]: the buffer's layout

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """DQN's; an older replay (a column per env, idle rows included) becomes the agent's transitions, one row each.

        The rows go in oldest first; a prioritized replay's get the max priority.
        """
        super().load_state_dict(state)
        old = self.buffer  # a PrioritizedReplayBuffer keeps its transitions in a ReplayBuffer
        storage = old.storage if isinstance(old, PrioritizedReplayBuffer) else cast(ReplayBuffer, old)
        b = storage.n_envs or 1
        if b == 1 and np.all(np.asarray(state["buffer"].get("data.extras.active", 1)) > 0):
            return  # saved by this version: the agent's transitions only
        rows = (storage.position - storage.n_rows + np.arange(storage.n_rows)) % (storage.capacity // b)
        kept = storage.gather((rows[:, None] * b + np.arange(b)).reshape(-1))
        active = np.asarray(kept.extras.get("active", np.ones(kept.reward.shape))).reshape(-1) > 0
        c = self.config
        self.buffer = (PrioritizedReplayBuffer(c.buffer_size, alpha=c.prioritized_replay_alpha,
                                               eps=c.prioritized_replay_eps)
                       if c.prioritized_replay else make_replay_buffer(c, self.info))
        if active.any():
            self.buffer.add(kept.index(np.flatnonzero(active)))


class IndependentDQN(AgentGroups):
    """A DQN per group of agents of a multi-agent vector env (one per agent by default).

    Example:
        >>> from porcini import make_env  # doctest: +SKIP
        >>> env = make_env("mpe2.simple_spread_v3:parallel_env", n_envs=2, seed=0)  # doctest: +SKIP
        >>> sorted(IndependentDQN(env.info).learners)  # doctest: +SKIP
        ['agent_0', 'agent_1', 'agent_2']
    """

    name = "idqn"
    Config: type[IndependentDQNConfig] = IndependentDQNConfig
    action_spaces = ("Discrete",)

    def __init__(self, info: EnvInfo, config: IndependentDQNConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(self.Config, config, overrides)
        require_multi_agent(info, type(self).__name__)
        learners, groups = group_learners(info, self.config, self.config.share, GroupDQN)
        super().__init__(info, learners, groups)
