"""What the dynamic-programming agents share: reading the env's model, planning once, acting on the plan.

A planning agent solves the env's known MDP, read from the model ``make_env`` attaches to ``EnvInfo.model``
(:mod:`porcini.envs.tabular_model`: a toy-text ``P`` table or a built-in env's ``transition_model()``), so it is
built like every other agent, ``Agent(env.info, ...)``. Building it reads the model (an env without one is refused
then); it plans when first asked for an action or its state, so an agent built only to load a checkpoint (``porcini
eval``, resume) or to check a config never plans. It acts greedily on the plan and never fits: the loop stores no
transitions for it, and evaluation, checkpoints and resume treat it as any fixed policy. Its state is the plan.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from porcini.algorithms.model_based.dynamic_programming import DPResult
from porcini.algorithms.space_hints import multi_action_hint
from porcini.core.agent import BaseAgent, q_value_explanation, supports_action_space
from porcini.core.config import build_config
from porcini.envs.info import EnvInfo
from porcini.envs.tabular_model import TabularModel
from porcini.errors import ConfigError, NoModelError, UnsupportedSpaceError


class PlanningAgent(BaseAgent):
    """Base of :class:`ValueIteration` and :class:`PolicyIteration`: subclasses set ``Config`` and :meth:`solve`.

    Attributes:
        model: the env's :class:`~porcini.envs.tabular_model.TabularModel`.
        gamma: the discount planned with (the config's, else the env's declared one, else 0.99).
        result: the :class:`~porcini.algorithms.model_based.dynamic_programming.DPResult` acted on (planned on
            first access).

    Raises:
        UnsupportedSpaceError: the env's observations or actions are not Discrete.
        NoModelError: the env has no transition model, or ``info`` was not made by ``make_env`` (a subclass of
            UnsupportedSpaceError).
    """

    Config: Any
    action_spaces = ("Discrete",)

    def __init__(self, info: EnvInfo, config: Any = None, **overrides: Any) -> None:
        self.config = build_config(self.Config, config, overrides)
        if not supports_action_space(self, info.action_space) or int(getattr(info.action_space, "start", 0)):
            raise UnsupportedSpaceError(f"{type(self).__name__} needs Discrete actions; {info.env_id} has "
                                        f"{info.action_space}" + (" (they must start at 0)" if supports_action_space(
                                            self, info.action_space) else multi_action_hint(info.action_space)))
        space = info.observation_space
        if not isinstance(space, gym.spaces.Discrete) or int(space.start):  # states index the model's arrays
            raise UnsupportedSpaceError(f"{type(self).__name__} plans in a finite MDP: it needs Discrete "
                                        f"observations; {info.env_id} has {space}"
                                        + (" (they must start at 0)" if isinstance(space, gym.spaces.Discrete) else ""))
        if info.model is None:
            raise NoModelError(f"{type(self).__name__}: the EnvInfo of {info.env_id} carries no transition model; "
                               "build the env with porcini.make_env, which attaches it (EnvInfo.model)")
        self.info = info
        self.model: TabularModel = info.model.get()
        if (self.model.n_states, self.model.P.shape[1]) != (info.n_observations, info.n_actions):
            raise NoModelError(f"{type(self).__name__}: {info.env_id}'s model has {self.model.n_states} states and "
                               f"{self.model.P.shape[1]} actions but its spaces have {info.n_observations} and "
                               f"{info.n_actions}: a wrapper changed them; plan on the unwrapped env")
        gamma = self.config.gamma
        self.gamma = float(gamma if gamma is not None else (info.gamma if info.gamma is not None else 0.99))
        self._result: DPResult | None = None

    @property
    def result(self) -> DPResult:
        """The plan, made on first access.

        Raises:
            ConfigError: planning failed with this config (no convergence; an improper policy with gamma = 1).
        """
        if self._result is None:
            try:
                self._result = self.solve(self.model)
            except (ValueError, RuntimeError) as err:
                raise ConfigError(f"{self.name} on {self.info.env_id} with gamma = {self.gamma}: {err}") from err
        return self._result

    def solve(self, model: TabularModel) -> DPResult:
        """Plan in ``model``; subclasses call their dynamic-programming function."""
        raise NotImplementedError

    @property
    def policy(self) -> np.ndarray:
        """``[S]`` the planned action of every env state."""
        return self.result.policy[: self.model.n_states]

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """The planned action of each observed state, whatever ``explore`` says."""
        return self.result.policy[np.asarray(obs, dtype=np.int64)]

    def explain(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """``q_values`` ``[B, A]`` of the plan and ``value`` of the planned action."""
        obs = np.asarray(obs, dtype=np.int64)
        return q_value_explanation(self.result.q_values[obs], self.result.policy[obs])

    def state_dict(self) -> dict[str, Any]:
        """The plan: values, action values, policy and the number of iterations it took."""
        r = self.result
        return {"values": r.values.copy(), "q_values": r.q_values.copy(), "policy": r.policy.copy(),
                "iterations": int(r.iterations)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self._result = DPResult(np.asarray(state["values"], dtype=np.float64).copy(),
                               np.asarray(state["q_values"], dtype=np.float64).copy(),
                               np.asarray(state["policy"], dtype=np.int64).copy(), int(state["iterations"]))
