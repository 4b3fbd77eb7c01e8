"""Independent DQN on a multi-agent vector env: a DQN per group of agents, each on its own rows.

Tan (1993)'s independent Q-learners, with deep networks as in Tampuu et al. (2017).

``share`` groups the agents as in :mod:`porcini.algorithms.multi_agent.mappo` (``none`` by default: every agent
its own network, target and replay buffer). The other agents are part of each learner's environment, so the
environment a learner sees changes as they learn: no convergence guarantee, a strong baseline all the same.

Rows where the agent had already left its episode (``info["active"]`` 0, a zero observation) are stored as
terminated with reward 0: no target bootstraps through them, and they never reach a real observation's value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.multi_agent.groups import AgentGroups, active_flags, group_learners, require_multi_agent
from porcini.algorithms.value_based.dqn import DQN
from porcini.algorithms.value_based.dqn_config import DQNConfig
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
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


class GroupDQN(DQN):
    """DQN for one group's rows: idle rows (the agent had left its episode) stored as terminated, reward 0."""

    name = "group_dqn"
    Config: type[DQNConfig] = IndependentDQNConfig
    info_keys = ("active",)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """DQN's fit, with idle rows cut off from every target."""
        active = active_flags(batch, type(self).__name__)
        if not bool(np.all(active > 0)):
            idle = active <= 0
            batch = dataclasses.replace(batch, terminated=batch.terminated | idle,
                                        reward=np.where(idle, 0.0, batch.reward))
        return super().fit(batch)


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
