"""Multi-agent vector env: copies of a PettingZoo parallel env with the agents as rows of one batch.

Row ``c * n_agents + k`` is agent ``k`` (in ``possible_agents`` order) of copy ``c``, so every single-agent part
of porcini (``Core``, rollouts, GAE, replay) runs a multi-agent game unchanged: parameter sharing is one agent
on all rows, independent learners split the rows by agent (:mod:`porcini.algorithms.multi_agent.groups`).

Per row, episodes follow the single-agent rules: ``terminated`` and ``truncated`` are the agent's own, and where a
row's episode ends ``info["final_obs"]`` holds its final observation and ``info["final_info"]`` the info of its last
step (same-step autoreset). A copy is reset when
its last agent is gone. An agent that leaves before the others has ended its episode; until its copy resets, its
row is *idle*: a zero observation, reward 0, never ended, ignored action, and ``info["active"]`` 0 (1 on a step
the agent took part in). The idle steps open the row's next episode, so episode returns stay exact (their length
counts the idle steps); learners drop idle rows with ``active`` (the ``info_keys`` mechanism).

Observations are a Dict when asked for the agent's identity or the global state: the agent's own observation
under ``"observation"`` (or its own Dict entries, e.g. ``"action_mask"`` of the classic games), a one-hot
``"agent"`` and the copy's ``state()`` under ``"state"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from porcini.envs.episode_log import ReplayError, check_replayed
from porcini.envs.validation import StepValidator
from porcini.envs.vector import reset_seeds
from porcini.errors import CheckpointError, EnvCheckError

ParallelEnvFactory = Callable[[], Any]

AGENT_KEY = "agent"
STATE_KEY = "state"
OBSERVATION_KEY = "observation"


def is_multi_agent_env(env: Any) -> bool:
    """Whether ``env`` is a PettingZoo env (it names ``possible_agents`` and is not a Gymnasium env)."""
    return hasattr(env, "possible_agents") and not isinstance(env, gym.Env)


def as_parallel(env: Any, env_id: str) -> Any:
    """``env`` as a PettingZoo ``ParallelEnv`` (an AEC env whose agents act at once through ``aec_to_parallel``).

    Raises:
        TypeError: not a PettingZoo env, or a turn-based AEC env (a game like chess has no simultaneous moves).
    """
    from pettingzoo import AECEnv
    from pettingzoo.utils.conversions import aec_to_parallel

    if not is_multi_agent_env(env):
        raise TypeError(f"{env_id}: the factory built {type(env).__name__}, not a PettingZoo env")
    if not isinstance(env, AECEnv):
        return env
    if not (getattr(env, "metadata", None) or {}).get("is_parallelizable", False):
        raise TypeError(f"{env_id} is a turn-based PettingZoo AEC env of {len(env.possible_agents)} players, which "
                        "has no parallel form; porcini trains turn-based games of two players (make_env gives one "
                        "seat per env, self_play_ppo learns by self-play), or wrap one seat as a gymnasium.Env")
    return aec_to_parallel(env)


def shared_spaces(env: Any, env_id: str) -> tuple[gym.Space, gym.Space]:
    """The observation and action space every agent of ``env`` has.

    Raises:
        EnvCheckError: two agents have different spaces (rows of one batch share one space).
    """
    agents = list(env.possible_agents)
    first_obs, first_act = env.observation_space(agents[0]), env.action_space(agents[0])
    for agent in agents[1:]:
        obs_space, act_space = env.observation_space(agent), env.action_space(agent)
        if obs_space != first_obs or act_space != first_act:
            raise EnvCheckError(
                f"agents of {env_id} have different spaces: {agent} has {obs_space}, {act_space} but {agents[0]} has "
                f"{first_obs}, {first_act}; agents batched as rows (shared or grouped parameters) need equal spaces: "
                "pad them in your env factory (SuperSuit's pad_observations_v0, pad_action_space_v0) or train each "
                "agent on its own view (porcini.envs.adapters.pettingzoo.PettingZooAgentView)")
    return first_obs, first_act


def row_observation_space(agent_space: gym.Space, n_agents: int, state_space: gym.Space | None,
                          agent_id: bool) -> gym.Space:
    """The space of one row's observation: the agent's own, or a Dict with the agent one-hot and the state."""
    if not agent_id and state_space is None:
        return agent_space
    entries = dict(agent_space.spaces) if isinstance(agent_space, gym.spaces.Dict) else {OBSERVATION_KEY: agent_space}
    if agent_id:
        entries[AGENT_KEY] = gym.spaces.Box(0.0, 1.0, (n_agents,), np.float32)
    if state_space is not None:
        entries[STATE_KEY] = state_space
    return gym.spaces.Dict(entries)


class MultiAgentVectorEnv(VectorEnv):
    """``n`` copies of a PettingZoo ``ParallelEnv`` stepped in this process, one row per agent per copy.

    Args:
        env_fns: one factory per copy, each building a parallel env (all with the same agents and spaces).
        env_id: the name used in messages and ``EnvInfo``.
        agent_id: add the one-hot ``"agent"`` entry to each observation (parameter sharing needs it).
        global_state: add the copy's ``state()`` as ``"state"`` (a centralized critic reads it).
        check: validate actions, observations and rewards on every step.

    Raises:
        EnvCheckError: the agents' spaces differ, or ``global_state`` for an env without ``state()``.

    Example:
        >>> from mpe2 import simple_spread_v3  # doctest: +SKIP
        >>> env = MultiAgentVectorEnv([lambda: simple_spread_v3.parallel_env(N=3)] * 2)  # doctest: +SKIP
        >>> env.num_envs  # doctest: +SKIP
        6
    """

    def __init__(self, env_fns: Sequence[ParallelEnvFactory], *, env_id: str = "multi-agent env",
                 agent_id: bool = True, global_state: bool = False, check: bool = True) -> None:
        if len(env_fns) == 0:
            raise ValueError("MultiAgentVectorEnv needs at least one env factory")
        self.envs = [as_parallel(fn(), env_id) for fn in env_fns]
        first = self.envs[0]
        self.env_id = env_id
        self.possible_agents: tuple[str, ...] = tuple(first.possible_agents)
        self.n_agents = len(self.possible_agents)
        self.n_copies = len(self.envs)
        self.num_envs = self.n_copies * self.n_agents
        self.agent_space, self.single_action_space = shared_spaces(first, env_id)
        state_space = None
        if global_state:
            state_space = getattr(first, "state_space", None)
            if state_space is None or not callable(getattr(first, "state", None)):
                raise EnvCheckError(f"{env_id} has no state()/state_space, so it cannot give a global state; use a "
                                    "local critic (critic: local) or an env that defines state()")
        self.global_state = state_space is not None
        self._state_dtype = state_space.dtype if state_space is not None else None
        self.agent_id = agent_id
        self.single_observation_space = row_observation_space(self.agent_space, self.n_agents, state_space, agent_id)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {**dict(getattr(first, "metadata", {}) or {}), "autoreset_mode": AutoresetMode.SAME_STEP}
        self.render_mode = getattr(first, "render_mode", None)
        self.closed = False
        self._one_hot = np.eye(self.n_agents, dtype=np.float32)
        self._active = np.ones(self.num_envs, dtype=bool)
        self._validator = (StepValidator(env_id, self.single_observation_space, self.single_action_space,
                                         self.num_envs) if check else None)
        self._log: dict[str, list[Any]] | None = None
        self._last_obs: Any = None

    def agent_of_row(self, row: int) -> str:
        """The name of the agent whose observations row ``row`` holds."""
        return self.possible_agents[row % self.n_agents]

    def _row_obs(self, agent_index: int, agent_obs: Any, state: Any) -> Any:
        if self.single_observation_space is self.agent_space:
            return agent_obs
        out = dict(agent_obs) if isinstance(agent_obs, dict) else {OBSERVATION_KEY: agent_obs}
        if self.agent_id:
            out[AGENT_KEY] = self._one_hot[agent_index]
        if self.global_state:
            out[STATE_KEY] = state
        return out

    def _copy_obs(self, env: Any, observations: dict[str, Any], live: Any) -> list[Any]:
        """One row observation per agent of a copy; agents not in ``live`` get the zero observation."""
        state = np.asarray(env.state(), dtype=self._state_dtype) if self.global_state else None
        rows = []
        for k, agent in enumerate(self.possible_agents):
            obs = observations.get(agent) if agent in live else None
            rows.append(self._row_obs(k, obs if obs is not None else _zeros(self.agent_space), state))
        return rows

    def _stack(self, rows: list[Any]) -> Any:
        empty = create_empty_array(self.single_observation_space, self.num_envs)
        return concatenate(self.single_observation_space, rows, empty)  # type: ignore[arg-type]

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset every copy; an int seed seeds copy ``c`` with ``porcini.seeding.env_reset_seeds(seed, n)[c]``."""
        rows: list[Any] = []
        for c, (env, s) in enumerate(zip(self.envs, reset_seeds(seed, self.n_copies))):
            self._before_reset(c, s)
            observations, _ = env.reset(seed=s, options=options)
            rows.extend(self._copy_obs(env, observations, observations))
        self._active[:] = True
        batch = self._stack(rows)
        if self._validator is not None:
            self._validator.check_obs(batch, what="reset observation")
        self._last_obs = batch
        return batch, {}

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every copy with its live agents' actions; copies whose agents are all gone reset at once."""
        if self._validator is not None:
            actions = self._validator.check_actions(actions)
        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        took_part = self._active.copy()
        rows: list[Any] = []
        final_rows: dict[int, Any] = {}
        infos: dict[str, Any] = {}
        for c, env in enumerate(self.envs):
            rows.extend(self._step_copy(c, env, actions, rewards, terminated, truncated, final_rows, infos))
        batch = self._stack(rows)
        infos["active"], infos["_active"] = took_part.astype(np.float64), np.ones(n, dtype=bool)
        if final_rows:
            mask = np.zeros(n, dtype=bool)
            mask[list(final_rows)] = True
            infos["final_obs"] = self._stack([final_rows.get(r, rows[r]) for r in range(n)])
            infos["_final_obs"] = mask
        if self._validator is not None:
            self._validator.check_step(batch, rewards, infos if final_rows else None)
        self._last_obs = batch
        return batch, rewards, terminated, truncated, infos

    def _step_copy(self, c: int, env: Any, actions: Any, rewards: np.ndarray, terminated: np.ndarray,
                   truncated: np.ndarray, final_rows: dict[int, Any], infos: dict[str, Any]) -> list[Any]:
        """Step copy ``c``, fill its rows of the result arrays; return its rows' next observations."""
        base = c * self.n_agents
        live = [a for k, a in enumerate(self.possible_agents) if self._active[base + k]]
        joint = {a: _env_action(actions[base + self.possible_agents.index(a)]) for a in live}
        if self._log is not None:
            self._log["actions"][c].append(joint)
        observations, reward, term, trunc, agent_infos = env.step(joint)
        still = set(env.agents)
        for agent in live:
            r = base + self.possible_agents.index(agent)
            rewards[r] = float(reward.get(agent, 0.0))
            terminated[r] = bool(term.get(agent, False))
            # an agent the env removed without saying why ended its episode without failing
            truncated[r] = bool(trunc.get(agent, False)) or (agent not in still and not terminated[r])
            agent_info = dict(agent_infos.get(agent) or {})
            if terminated[r] or truncated[r]:  # the ended step's info, where every porcini vector env puts it
                infos.update(self._add_info(infos, {"final_info": {**agent_info, "active": 1.0}}, r))
            elif agent_info:
                infos.update(self._add_info(infos, agent_info, r))
        ended = [a for a in live if terminated[base + self.possible_agents.index(a)]
                 or truncated[base + self.possible_agents.index(a)]]
        rows = self._copy_obs(env, observations, live)
        for agent in ended:
            k = self.possible_agents.index(agent)
            final_rows[base + k] = rows[k]
            self._active[base + k] = False
        if not still or not self._active[base:base + self.n_agents].any():
            self._before_reset(c, None)
            observations, _ = env.reset()
            self._active[base:base + self.n_agents] = True
            rows = self._copy_obs(env, observations, observations)
        else:
            idle = [k for k in range(self.n_agents) if not self._active[base + k]]
            for k in idle:
                rows[k] = self._row_obs(k, _zeros(self.agent_space),
                                        rows[k].get(STATE_KEY) if isinstance(rows[k], dict) else None)
        return rows

    # exact resume: per copy, how its episode began and the joint actions since (as SerialVectorEnv's EpisodeLog)

    def _before_reset(self, c: int, seed: int | None) -> None:
        if self._log is None:
            return
        rng = getattr(self.envs[c].unwrapped, "np_random", None)
        start: dict[str, Any] = {"seed": int(seed)} if seed is not None else {}
        if seed is None and rng is not None:
            start = {"rng": rng.bit_generator.state}
        self._log["starts"][c] = start
        self._log["actions"][c] = []

    def record_for_resume(self) -> None:
        """Keep how each copy's episode began and its joint actions, so :meth:`resume_state` can rebuild it."""
        self._log = {"starts": [{} for _ in self.envs], "actions": [[] for _ in self.envs]}

    def resume_state(self) -> dict[str, Any]:
        """The state needed to rebuild every copy mid-episode."""
        if self._log is None:
            raise CheckpointError("call record_for_resume() before the first reset to make this env resumable")
        actions = [[{a: np.asarray(v) for a, v in joint.items()} for joint in copy] for copy in self._log["actions"]]
        return {"starts": [dict(s) for s in self._log["starts"]], "actions": actions, "last_obs": self._last_obs,
                "active": self._active.copy()}

    def load_resume_state(self, state: dict[str, Any]) -> Any:
        """Rebuild every copy's episode by replaying its joint actions; return the current observation batch.

        Raises:
            CheckpointError: the state holds another number of copies.
            ReplayError: the replay ended an episode or gave other observations (randomness outside np_random).
        """
        if len(state["starts"]) != self.n_copies:
            raise CheckpointError(f"the checkpoint holds {len(state['starts'])} copies of {self.env_id}, this run "
                                  f"has {self.n_copies}")
        self._active = np.asarray(state["active"], dtype=bool).copy()
        rows: list[Any] = []
        for c, (env, start, joints) in enumerate(zip(self.envs, state["starts"], state["actions"])):
            if "seed" in start:
                observations, _ = env.reset(seed=int(start["seed"]))
            elif "rng" in start:
                env.reset(seed=0)
                env.unwrapped.np_random.bit_generator.state = start["rng"]
                observations, _ = env.reset()
            else:
                raise ReplayError(f"copy {c} of {self.env_id} has no recorded episode start; the checkpoint is "
                                  "incomplete")
            for joint in joints:
                observations, *_ = env.step({a: _env_action(v) for a, v in joint.items()})
            live = [a for k, a in enumerate(self.possible_agents) if self._active[c * self.n_agents + k]]
            rows.extend(self._copy_obs(env, observations, live))
        batch = self._stack(rows)
        check_replayed(self.env_id, state.get("last_obs"), batch)
        self._log = {"starts": [dict(s) for s in state["starts"]], "actions": [list(a) for a in state["actions"]]}
        self._last_obs = batch
        return batch

    def render(self) -> Any:
        """Render the first copy."""
        return self.envs[0].render()

    def close_extras(self, **kwargs: Any) -> None:
        """Close every copy."""
        for env in self.envs:
            env.close()


def make_multi_agent_env(env: ParallelEnvFactory, n_envs: int = 1, seed: int | None = None, *, agent_id: bool = True,
                         global_state: bool | None = None, check: bool = True, env_id: str | None = None,
                         env_kwargs: dict[str, Any] | None = None) -> MultiAgentVectorEnv:
    """A :class:`MultiAgentVectorEnv` of ``n_envs`` copies, seeded and named as ``porcini.make_env`` does.

    ``porcini.make_env`` calls this for a factory that builds a PettingZoo parallel env (e.g. the CLI's
    ``mpe2.simple_spread_v3:parallel_env``), so ``n_envs`` counts copies of the game and the batch has
    ``n_envs * n_agents`` rows.

    Args:
        env: builds one parallel env (called with ``env_kwargs``).
        n_envs: copies of the game.
        seed: reset seeds and action-space seeds as in ``porcini.make_env``.
        agent_id: add the one-hot ``"agent"`` entry.
        global_state: add ``"state"``; None adds it when the env defines ``state()``.
        check: validate every step.
        env_id: the name in messages; default the env's ``metadata["name"]``.
        env_kwargs: keyword arguments of ``env``.

    Example:
        >>> from mpe2 import simple_spread_v3  # doctest: +SKIP
        >>> env = make_multi_agent_env(simple_spread_v3.parallel_env, 2, seed=0, env_kwargs={"N": 3})  # doctest: +SKIP
        >>> env.info.agents, env.info.n_envs  # doctest: +SKIP
        (('agent_0', 'agent_1', 'agent_2'), 6)
    """
    from porcini.envs.make import attach, seed_vector_env  # make_env dispatches here: imported when used

    if not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs = {n_envs!r} is invalid: must be a positive int")
    kwargs = dict(env_kwargs or {})

    def build() -> Any:
        return env(**kwargs)

    probe = build()
    name = str(env_id or (getattr(probe, "metadata", None) or {}).get("name")
               or getattr(env, "__name__", "pettingzoo"))
    if global_state is None:
        global_state = getattr(probe, "state_space", None) is not None and callable(getattr(probe, "state", None))
    probe.close()
    venv = MultiAgentVectorEnv([build] * n_envs, env_id=name, agent_id=agent_id, global_state=global_state,
                               check=check)
    seed_vector_env(venv, seed)
    horizon = getattr(getattr(probe, "unwrapped", probe), "max_cycles", None)  # PettingZoo's usual name
    attach(venv, name, lambda n, s: make_multi_agent_env(env, n, s, agent_id=agent_id, global_state=global_state,
                                                         check=check, env_id=env_id, env_kwargs=kwargs),
           horizon=horizon if isinstance(horizon, int) else None)
    return venv


def _zeros(space: gym.Space) -> Any:
    """The all-zero observation of ``space`` (an idle row's)."""
    if isinstance(space, gym.spaces.Dict):
        return {key: _zeros(sub) for key, sub in space.spaces.items()}
    return np.zeros(space.shape or (), dtype=space.dtype)


def _env_action(action: Any) -> Any:
    """An action as PettingZoo envs take it: a Python int for a scalar discrete action, else the array."""
    action = np.asarray(action)
    if action.ndim == 0 and np.issubdtype(action.dtype, np.integer):
        return int(action)
    return action
