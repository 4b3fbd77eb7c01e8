"""The Agent protocol: what the loop asks of every learner, tabular to deep, online to offline."""

from __future__ import annotations

import copy
from typing import Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from porcini.core.batch import TransitionBatch


@runtime_checkable
class Agent(Protocol):
    """A learner the :class:`~porcini.core.Core` can drive.

    Observations and actions are NumPy arrays batched over environments: ``obs`` is ``[B, *obs_shape]`` and
    ``act`` returns ``[B, *action_shape]``. The loop decides *when* to fit (``fit_every_steps`` or
    ``fit_every_episodes``, read from the agent unless the caller of ``learn`` gives one); the agent decides *how*.

    Agents whose actions depend on the history (a recurrent policy) may also define ``recurrent_state()`` and
    ``set_recurrent_state(state)`` (see :class:`BaseAgent`): evaluation then sets the training state aside, runs
    its own episodes from a fresh state (calling ``reset`` at their ends), and puts the training state back.

    Agents whose exploring actions advance state (a random generator, an ε clock, a cached next action) may define
    ``exploration_state()`` and ``set_exploration_state(state)`` (see :class:`BaseAgent`): an exploring evaluation
    saves that state first and puts it back after, so evaluating never changes what training does next.

    Agents may also define ``explain(obs)`` (see :class:`Explainable`): what the policy thinks of ``obs``, for the
    inspector (``porcini inspect``) and for debugging.
    Agents that learn from a dataset also define ``add_dataset(dataset, dataset_ratio)`` and ``update(n)`` (``n``
    gradient steps without env steps), which ``Core.learn_offline`` calls.
    Agents that learn from numeric ``info`` values (a safe-RL agent's per-step cost) may name them in an
    ``info_keys`` attribute and the cost among them in ``cost_key``: the experiment runner passes ``info_keys`` to
    :class:`~porcini.core.Core` (they reach ``fit`` in ``batch.extras``) and logs the mean evaluation episode's
    sum of ``info[cost_key]`` as ``eval_cost_mean``.
    Agents whose schedules span the run (a learning rate decayed to 0 at its end, an ε decayed over a fraction of
    it) may also define ``set_horizon(total_env_steps)`` (see :class:`BaseAgent`): ``Core.learn`` calls it at its
    start with the env steps the run will have done at its end.
    Agents that keep what ``fit`` gave them beyond the fit (a replay buffer, eligibility traces, episode costs, a
    recurrent rollout's start) define ``episodes_cut()`` (e.g. :class:`porcini.algorithms.kit.Replaying`):
    ``Core.reset`` and a resume that restart the envs' episodes right after a fit call it, so the episodes in
    progress end there for the agent, ``truncated``.

    Attributes:
        fit_every_steps: default fit cadence in env steps (summed over envs), or None.
        fit_every_episodes: default fit cadence in finished episodes, or None. If both are None the agent never
            fits (a random or fixed policy) and the loop stores no transitions.
    """

    fit_every_steps: int | None
    fit_every_episodes: int | None

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """Choose actions for a batch of observations; ``explore=False`` gives the deterministic/greedy action."""
        ...

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Learn from the transitions gathered since the last fit (``[T, B]`` layout); return named metrics."""
        ...

    def reset(self, ended: np.ndarray) -> None:
        """Forget per-episode state (traces, recurrent state) of the envs whose episode just ended."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the agent exactly: parameters, optimizers, counters, RNG state."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        ...


EXPLAIN_KEYS = {
    "value": "[B] the agent's estimate of the state's value: V(s) for an agent with a critic (PPO, A2C, TRPO, "
             "REINFORCE with a baseline); Q(s, a*) with a* the action the agent takes when not exploring for an "
             "agent that learns action values (DQN: max_a Q(s, a); DDPG, TD3, SAC: the critics' minimum at the "
             "policy's deterministic action)",
    "q_values": "[B, A] action values Q(s, a) of every discrete action (DQN, QR-DQN's quantile means, "
                "DiscreteSAC's critics' minimum, tabular agents' table)",
    "action_probs": "[B, A] probabilities of a categorical policy (each row sums to 1); never a softmax of "
                    "Q-values, which is not the agent's policy",
    "component_probs": "[B, k, max_n] probabilities of each component's values under a MultiDiscrete policy "
                       "(row i of an observation sums to 1 over component i's values; 0 past them)",
    "bit_probs": "[B, n] probability that each bit of a MultiBinary policy's action is 1",
    "action_mean": "[B, action_dim] mean of a Gaussian policy in the env's action units, before clipping",
    "action_std": "[B, action_dim] standard deviation of that Gaussian",
    "pre_tanh_mean": "[B, action_dim] mean of a tanh-squashed Gaussian policy (SAC) before the tanh; the action "
                     "is low + (tanh(u) + 1) (high - low) / 2",
    "pre_tanh_std": "[B, action_dim] standard deviation of that Gaussian before the tanh",
}
"""The keys :meth:`Explainable.explain` may return, and what each holds (``B`` observations, ``A`` actions)."""


@runtime_checkable
class Explainable(Protocol):
    """An agent that can say what its policy and value function make of observations (optional for agents).

    ``explain(obs)`` takes observations ``[B, *obs_shape]`` like ``act`` and returns NumPy float arrays under the
    keys of :data:`EXPLAIN_KEYS` that apply to the agent (each key only when the agent has that quantity). It
    changes nothing: no random draws, no counters, and a recurrent agent reads its acting state without advancing
    it, so ``explain(obs)`` then ``act(obs, ...)`` acts as ``act`` alone would, with the numbers ``explain`` gave.
    """

    def explain(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """What the agent's networks or tables give at ``obs`` (see :data:`EXPLAIN_KEYS`)."""
        ...


def q_value_explanation(q_values: np.ndarray, chosen: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``explain``'s answer for action values ``[B, A]``: ``q_values`` and ``value = Q(s, a*)``.

    Args:
        q_values: the action values.
        chosen: the actions ``[B]`` the agent takes when not exploring; None: the greedy ones (``argmax``).
    """
    q = np.asarray(q_values, dtype=np.float64)
    if chosen is None:
        return {"q_values": q, "value": q.max(axis=-1)}
    return {"q_values": q, "value": np.take_along_axis(q, np.asarray(chosen)[:, None], axis=-1)[:, 0]}


class BaseAgent:
    """Convenience base with the no-op parts of the protocol; subclasses implement ``act`` and, if they learn, ``fit``.

    Subclasses set ``name`` (the CLI name, e.g. ``"q_learning"``), the action spaces they act in and may set the
    default fit cadence.

    Attributes:
        action_spaces: names of the ``gymnasium.spaces`` classes the agent acts in (``("Discrete", "Box")``), or
            ``("any",)``; the agent's own check and ``porcini list`` read it (see :func:`supports_action_space`).
    """

    name: str = "agent"
    action_spaces: tuple[str, ...] = ("any",)
    exploration_fields: ClassVar[tuple[str, ...]] = ()
    """Attributes besides ``rng`` and ``generator`` that exploring actions change (DQN's ε clock)."""
    fit_every_steps: int | None = None
    fit_every_episodes: int | None = None

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """Choose actions; see :class:`Agent`."""
        raise NotImplementedError

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Agents that do not learn return no metrics."""
        return {}

    def reset(self, ended: np.ndarray) -> None:
        """Stateless policies have nothing to forget."""

    def recurrent_state(self) -> Any:
        """The state acting carries from one step to the next (an LSTM's), or None: actions depend on ``obs`` only."""
        return None

    def set_recurrent_state(self, state: Any) -> None:
        """Restore what :meth:`recurrent_state` returned (None: a fresh state at the next ``act``)."""

    def exploration_state(self) -> dict[str, Any]:
        """What exploring actions advance: copies of ``exploration_fields`` and of ``rng`` and ``generator``'s states.

        ``rng`` (a NumPy generator) and ``generator`` (a torch one) are included when the agent has them.
        """
        state: dict[str, Any] = {name: copy.deepcopy(getattr(self, name)) for name in self.exploration_fields}
        rng, generator = getattr(self, "rng", None), getattr(self, "generator", None)
        if isinstance(rng, np.random.Generator):
            state["rng"] = copy.deepcopy(rng.bit_generator.state)
        if generator is not None and hasattr(generator, "get_state"):
            state["generator"] = generator.get_state()
        return state

    def set_exploration_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`exploration_state` returned."""
        for name in self.exploration_fields:
            setattr(self, name, copy.deepcopy(state[name]))
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]  # type: ignore[attr-defined]
        if "generator" in state:
            self.generator.set_state(state["generator"])  # type: ignore[attr-defined]

    def set_horizon(self, total_env_steps: int) -> None:
        """Learn the run's length in env steps, the end of schedules that span the run; others ignore it.

        :meth:`porcini.core.Core.learn` calls it at its start (see :mod:`porcini.algorithms.schedules`).
        """

    def state_dict(self) -> dict[str, Any]:
        """Stateless agents have no state."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Stateless agents have no state to restore."""


def steps_seen_in(state: dict[str, Any]) -> int:
    """The ``steps_seen`` counter of a saved agent state (older checkpoints call it ``env_steps``)."""
    return int(state["steps_seen"] if "steps_seen" in state else state["env_steps"])


def supports_action_space(agent: Any, space: gym.Space) -> bool:
    """Whether ``agent`` (an agent or its class) acts in ``space``, by its ``action_spaces`` attribute.

    Example:
        >>> class Tabular(BaseAgent):
        ...     action_spaces = ("Discrete",)
        >>> supports_action_space(Tabular, gym.spaces.Discrete(3)), supports_action_space(Tabular, gym.spaces.Box(0, 1))
        (True, False)
    """
    names = getattr(agent, "action_spaces", ("any",))
    return "any" in names or any(isinstance(space, getattr(gym.spaces, name)) for name in names)
