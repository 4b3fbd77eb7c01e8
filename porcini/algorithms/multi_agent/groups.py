"""Agent groups: one learner per group of agents of a multi-agent vector env, each on its own rows of the batch.

In a :class:`~porcini.envs.multi_agent.MultiAgentVectorEnv` row ``i`` always holds agent ``i % n_agents``, so a
group's rows are fixed columns of every ``[T, B]`` batch. :class:`AgentGroups` hands each learner its columns:
agents in one group share parameters, agents in different groups share nothing. One group of every agent is
parameter sharing; one group per agent is independent learning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from porcini.core.agent import Agent, BaseAgent
from porcini.core.batch import TransitionBatch
from porcini.core.obs_tree import map_obs
from porcini.envs.info import EnvInfo
from porcini.errors import CheckpointError, ConfigError
from porcini.seeding import group_seed

SHARING = ("all", "none", "prefix")


def agent_groups(agents: Sequence[str], share: str | Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Which agents share one learner: group name -> its agents, in the env's agent order.

    Args:
        agents: the env's agents in row order (``EnvInfo.agents``).
        share: ``"all"`` (one group), ``"none"`` (a group per agent), ``"prefix"`` (agents named ``<prefix>_<n>``
            grouped by prefix, PettingZoo's naming: ``adversary_0``, ``agent_1``), or a mapping group -> agents
            that names every agent once.

    Raises:
        ConfigError: an unknown ``share`` word, or a mapping that misses, repeats or invents agents.
    """
    if isinstance(share, str):
        if share == "all":
            return {"shared": list(agents)}
        if share == "none":
            return {agent: [agent] for agent in agents}
        if share == "prefix":
            groups: dict[str, list[str]] = {}
            for agent in agents:
                groups.setdefault(agent.rsplit("_", 1)[0], []).append(agent)
            return groups
        raise ConfigError(f"share = {share!r} is invalid: choose one of {SHARING} or map group names to agents")
    named = [a for members in share.values() for a in members]
    missing = [a for a in agents if a not in named]
    extra = sorted({a for a in named if a not in agents})
    repeated = sorted({a for a in named if named.count(a) > 1})
    if missing or extra or repeated:
        raise ConfigError(f"share groups must name every agent of the env once (agents: {list(agents)}); "
                          f"missing {missing}, unknown {extra}, repeated {repeated}")
    return {str(name): [a for a in agents if a in members] for name, members in share.items()}


def group_info(info: EnvInfo, members: Sequence[str]) -> EnvInfo:
    """The ``EnvInfo`` a group's learner sees: its rows only (``n_envs`` = copies × group size)."""
    import dataclasses

    copies = info.n_envs // len(info.agents)
    return dataclasses.replace(info, n_envs=copies * len(members), agents=tuple(members))


def group_columns(info: EnvInfo, members: Sequence[str], n_rows: int | None = None) -> np.ndarray:
    """The batch rows (columns of ``[T, B]`` arrays) of a group's agents, copy by copy.

    Args:
        info: the multi-agent env's info.
        members: the group's agents.
        n_rows: rows of the batch (an evaluation env may hold fewer copies); default ``info.n_envs``.
    """
    n_agents = len(info.agents)
    index = [info.agents.index(a) for a in members]
    copies = (info.n_envs if n_rows is None else n_rows) // n_agents
    return np.array([c * n_agents + k for c in range(copies) for k in index], dtype=np.int64)


def require_multi_agent(info: EnvInfo, owner: str) -> None:
    """Refuse a single-agent env for a multi-agent learner, naming the fix.

    Raises:
        ConfigError: ``info`` has no agents.
    """
    if not info.agents:
        raise ConfigError(f"{owner} learns on a multi-agent env: {info.env_id} is single-agent. Pass a PettingZoo "
                          "parallel env factory, e.g. env id mpe2.simple_spread_v3:parallel_env")


def group_learners(info: EnvInfo, config: Any, share: str,
                   learner_cls: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """One ``learner_cls(group_info, config)`` per group of ``share``, group ``i`` seeded ``group_seed(seed, i)``.

    Group 0 takes the run seed; the others seeds of their own stream (:func:`porcini.seeding.group_seed`), so no
    learner starts as, and draws as, a learner of a run with another seed.

    Returns:
        The learners and the groups (group name -> agents), for :class:`AgentGroups`.
    """
    groups = agent_groups(info.agents, share)
    learners = {}
    for index, (name, members) in enumerate(groups.items()):
        seed = None if config.seed is None else group_seed(config.seed, index)
        learners[name] = learner_cls(group_info(info, members), config, seed=seed)
    return learners, groups


def active_flags(batch: TransitionBatch, owner: str) -> np.ndarray:
    """``batch.extras["active"]`` ``[T, B]``: 1 where the row's agent took part in the step, 0 on its idle rows.

    Raises:
        ConfigError: the batch has no such extra (the Core was given ``info_keys`` without ``"active"``), so the
            idle rows of agents that left early could not be told apart from real steps.
    """
    if "active" not in batch.extras:
        raise ConfigError(f"{owner} needs batch.extras['active'] to leave out the idle rows of agents that left "
                          "early: build the Core without info_keys, or name 'active' among them")
    return np.asarray(batch.extras["active"])


def _columns(x: Any, cols: np.ndarray) -> Any:
    return map_obs(lambda a: a[:, cols], x)


class AgentGroups(BaseAgent):
    """Learners side by side, each acting for and fitting on its own group's rows.

    Args:
        info: the multi-agent env's info.
        learners: group name -> learner, each built on ``group_info(info, members)``.
        groups: group name -> its agents (:func:`agent_groups`).

    Metrics are namespaced by group (``"agent_0/loss_policy"``) when there are several groups.
    """

    name = "agent_groups"

    def __init__(self, info: EnvInfo, learners: Mapping[str, Agent], groups: Mapping[str, Sequence[str]]) -> None:
        self.info = info
        self.learners = dict(learners)
        self.groups = {name: list(members) for name, members in groups.items()}
        self.columns = {name: group_columns(info, members) for name, members in self.groups.items()}
        # every learner fits after the same number of vector steps: the largest any of them asks for
        vector_steps = max(-(-int(getattr(learner, "fit_every_steps", 1) or 1) // len(self.columns[name]))
                           for name, learner in self.learners.items())
        self.fit_every_steps = vector_steps * info.n_envs
        self.info_keys = tuple(sorted({k for lrn in self.learners.values() for k in getattr(lrn, "info_keys", ())}))

    def act(self, obs: Any, *, explore: bool) -> np.ndarray:
        """Each learner's actions on its rows (of a batch of any number of copies: evaluation envs differ)."""
        n_rows = len(next(iter(obs.values())) if isinstance(obs, dict) else obs)
        columns = self.columns if n_rows == self.info.n_envs else {
            name: group_columns(self.info, members, n_rows) for name, members in self.groups.items()}
        parts = {name: learner.act(map_obs(lambda a: a[columns[name]], obs), explore=explore)  # noqa: B023
                 for name, learner in self.learners.items()}
        first = next(iter(parts.values()))
        actions = np.empty((n_rows, *first.shape[1:]), dtype=first.dtype)
        for name, part in parts.items():
            actions[columns[name]] = part
        return actions

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Each learner fits on its columns of ``batch``."""
        metrics: dict[str, float] = {}
        for name, learner in self.learners.items():
            cols = self.columns[name]
            part = TransitionBatch(
                _columns(batch.obs, cols), batch.action[:, cols], batch.reward[:, cols], _columns(batch.next_obs, cols),
                batch.terminated[:, cols], batch.truncated[:, cols], {k: v[:, cols] for k, v in batch.extras.items()})
            result = learner.fit(part)
            metrics.update(result if len(self.learners) == 1 else {f"{name}/{k}": v for k, v in result.items()})
        return metrics

    def reset(self, ended: np.ndarray) -> None:
        """Each learner forgets the per-episode state of its ended rows."""
        for name, learner in self.learners.items():
            learner.reset(np.asarray(ended)[self.columns[name]])

    def episodes_cut(self) -> None:
        """Each learner with a replay buffer marks its rows' episodes cut (:meth:`porcini.algorithms.kit.Replaying`)."""
        for learner in self.learners.values():
            getattr(learner, "episodes_cut", lambda: None)()

    def set_horizon(self, total_env_steps: int) -> None:
        """Each learner's share of the run's env steps (its rows' steps)."""
        for name, learner in self.learners.items():
            set_horizon = getattr(learner, "set_horizon", None)
            if set_horizon is not None:
                set_horizon(total_env_steps * len(self.columns[name]) // self.info.n_envs)

    def exploration_state(self) -> dict[str, Any]:
        """Every learner's exploration state."""
        return {name: learner.exploration_state() for name, learner in self.learners.items()}  # type: ignore

    def set_exploration_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`exploration_state`."""
        for name, learner in self.learners.items():
            learner.set_exploration_state(state[name])  # type: ignore[attr-defined]

    def state_dict(self) -> dict[str, Any]:
        """Every learner's state, by group."""
        return {"groups": {name: learner.state_dict() for name, learner in self.learners.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the same groups).

        Raises:
            CheckpointError: the saved groups differ from this agent's.
        """
        saved = sorted(state.get("groups", {}))
        if saved != sorted(self.learners):
            raise CheckpointError(f"the checkpoint holds learners for groups {saved}, this agent has "
                                  f"{sorted(self.learners)}; resume with the share setting the run was trained with")
        for name, learner in self.learners.items():
            learner.load_state_dict(state["groups"][name])
