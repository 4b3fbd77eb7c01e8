"""The policy inspector: replay one evaluation episode and draw what the policy did at every step.

Per step it draws each action dimension against the action bounds (a policy pinned to a bound saturates; one
that barely moves explores too little) and the reward; then whatever the agent's optional ``explain(obs)``
gives (:class:`porcini.core.agent.Explainable`): the value estimate, the action probabilities of a categorical
policy, the Q-values of every action, the mean ± standard deviation of a Gaussian policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from porcini.core.evaluation import carries_state
from porcini.core.state import LoopState
from porcini.core.stepper import env_reset, env_step
from porcini.errors import missing_extra
from porcini.experiment.evaluation import load_policy
from porcini.experiment.safe_files import FIGURE_FIX, reporting_os_errors
from porcini.experiment.seeding import eval_seed

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PANEL_TITLES = {
    "action": "action",
    "reward": "reward",
    "value": "value estimate",
    "action_probs": "action probabilities",
    "component_probs": "probability of each component's chosen value",
    "bit_probs": "probability of each bit being 1",
    "q_values": "Q-values",
    "action_mean": "policy mean ± std",
    "pre_tanh_mean": "policy mean ± std (before tanh)",
}
"""The title of each panel, by the trace key it draws; panels appear in this order when the trace has the key."""


def record_episode_trace(agent: Any, env: Any, seed: int | None) -> dict[str, np.ndarray]:
    """Run one deterministic episode in env index 0 of ``env``; return its per-step arrays.

    Keys: ``action`` ``[T, *action_shape]`` and ``reward`` ``[T]``, ``value`` and ``action_probs`` (empty when the
    agent does not give them), and every other key the agent's ``explain`` returns, each ``[T, ...]`` for env 0,
    explained before the step's action. A recurrent agent runs from a fresh state; its own is put back after.
    """
    recurrent = carries_state(agent)  # its state may be None (fresh at the next act): the trace's is not kept either
    saved_state = agent.recurrent_state() if recurrent else None
    if recurrent:
        agent.set_recurrent_state(None)
    try:
        return _trace(agent, env, seed)
    finally:
        if recurrent:
            agent.set_recurrent_state(saved_state)


def _trace(agent: Any, env: Any, seed: int | None) -> dict[str, np.ndarray]:
    state = LoopState(int(env.num_envs))
    env_reset(env, state, seed)
    actions, rewards = [], []
    explained: dict[str, list[np.ndarray]] = {}
    explain = getattr(agent, "explain", None)
    while True:
        if callable(explain):
            for key, value in explain(state.obs).items():
                explained.setdefault(key, []).append(np.asarray(value)[0])
        action = agent.act(state.obs, explore=False)
        _, reward, terminated, truncated, _, ended = env_step(env, state, action)
        actions.append(np.asarray(action)[0])
        rewards.append(float(reward[0]))
        if terminated[0] or truncated[0]:
            break
        if ended is not None:  # another env's episode: not traced
            state.end_episodes(ended)
    trace = {"action": np.asarray(actions), "reward": np.asarray(rewards), "value": np.asarray([]),
             "action_probs": np.asarray([])}
    trace.update({key: np.asarray(values) for key, values in explained.items()})
    return trace


def saturation(actions: np.ndarray, low: np.ndarray, high: np.ndarray, margin: float = 0.02) -> np.ndarray:
    """Fraction of steps each action dimension spends within ``margin`` (of the range) of a bound."""
    span = np.where(np.isfinite(high - low), high - low, 1.0)
    near = (actions <= low + margin * span) | (actions >= high - margin * span)
    return near.reshape(len(actions), -1).mean(axis=0)


def draw_episode(trace: dict[str, np.ndarray], action_space: gym.Space, title: str) -> Figure:
    """One panel per quantity of ``trace`` (see :data:`PANEL_TITLES`), over the episode's steps.

    Each panel's axes carry its title (``fig.axes[i].get_title()``), so callers and tests can tell what was drawn.
    """
    import matplotlib.pyplot as plt

    keys = [key for key in PANEL_TITLES if np.asarray(trace.get(key, [])).size]
    fig, axes = plt.subplots(len(keys), 1, figsize=(9, 2.4 * len(keys)), sharex=True, squeeze=False)
    steps = np.arange(len(trace["reward"]))
    for key, ax in zip(keys, axes[:, 0]):
        ax.set_title(PANEL_TITLES[key], fontsize=9, loc="left")
        _DRAW[key](ax, steps, trace, action_space)
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _draw_action(ax: Axes, steps: np.ndarray, trace: dict[str, np.ndarray], space: gym.Space) -> None:
    if isinstance(space, gym.spaces.Box):
        actions = trace["action"].reshape(len(steps), -1)
        low, high = space.low.reshape(-1), space.high.reshape(-1)
        sat = saturation(actions, low, high)
        for d in range(actions.shape[1]):
            line = ax.plot(steps, actions[:, d], label=f"action[{d}] (at a bound {sat[d]:.0%} of steps)")[0]
            _draw_bounds(ax, low[d], high[d], line.get_color())
        ax.set_ylabel("action (dashed: bounds)")
        ax.legend(loc="upper right", fontsize=8)
    else:
        actions = trace["action"].reshape(len(steps), -1)  # one column per component of a multi-part action
        for d in range(actions.shape[1]):
            ax.step(steps, actions[:, d], where="post", label=f"action[{d}]")
        ax.set_ylabel("action")
        if actions.shape[1] > 1:
            ax.legend(loc="upper right", fontsize=8)


def _draw_bounds(ax: Axes, low: float, high: float, color: Any) -> None:
    for bound in (low, high):
        if np.isfinite(bound):
            ax.axhline(bound, color=color, linestyle="--", linewidth=0.8)


def _draw_reward(ax: Axes, steps: np.ndarray, trace: dict[str, np.ndarray], space: gym.Space) -> None:
    ax.plot(steps, trace["reward"], color="tab:green")
    ax.set_ylabel(f"reward (return {trace['reward'].sum():.1f})", fontsize=8)


def _draw_value(ax: Axes, steps: np.ndarray, trace: dict[str, np.ndarray], space: gym.Space) -> None:
    ax.plot(steps, trace["value"], color="tab:purple")
    ax.set_ylabel("value")


def _draw_probs(ax: Axes, steps: np.ndarray, trace: dict[str, np.ndarray], space: gym.Space) -> None:
    probs = trace["action_probs"]
    ax.stackplot(steps, probs.T, labels=[f"P(action={a})" for a in range(probs.shape[1])], alpha=0.8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.legend(loc="upper right", fontsize=8)


def _draw_lines(ax: Axes, steps: np.ndarray, columns: np.ndarray, label: str, ylabel: str,
                probabilities: bool = False) -> None:
    """One line per column of ``columns`` ``[T, k]``, labelled ``label.format(column index)``."""
    for d in range(columns.shape[1]):
        ax.plot(steps, columns[:, d], label=label.format(d))
    if probabilities:
        ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper right", fontsize=8)


def _draw_q_values(ax: Axes, steps: np.ndarray, trace: dict[str, np.ndarray], space: gym.Space) -> None:
    _draw_lines(ax, steps, trace["q_values"], "Q(s, {})", "Q(s, a)")


def _draw_gaussian(ax: Axes, steps: np.ndarray, trace: dict[str, np.ndarray], space: gym.Space) -> None:
    prefix = "action" if "action_mean" in trace else "pre_tanh"
    mean = trace[f"{prefix}_mean"].reshape(len(steps), -1)
    std = trace[f"{prefix}_std"].reshape(len(steps), -1)
    for d in range(mean.shape[1]):
        line = ax.plot(steps, mean[:, d], label=f"mean[{d}]")[0]
        ax.fill_between(steps, mean[:, d] - std[:, d], mean[:, d] + std[:, d], color=line.get_color(), alpha=0.25)
        if prefix == "action" and isinstance(space, gym.spaces.Box):  # bounds are in action units only
            _draw_bounds(ax, float(space.low.reshape(-1)[d]), float(space.high.reshape(-1)[d]), line.get_color())
    ax.set_ylabel("action" if prefix == "action" else "pre-tanh action")
    ax.legend(loc="upper right", fontsize=8)


def _draw_component_probs(ax: Axes, steps: np.ndarray, trace: dict[str, np.ndarray], space: gym.Space) -> None:
    probs = trace["component_probs"]  # [T, k, max_n]
    chosen = trace["action"].reshape(len(steps), -1, 1).astype(np.int64)
    picked = np.take_along_axis(probs, chosen, axis=-1)[..., 0]
    _draw_lines(ax, steps, picked, "P(action[{}])", "probability", probabilities=True)


def _draw_bit_probs(ax: Axes, steps: np.ndarray, trace: dict[str, np.ndarray], space: gym.Space) -> None:
    _draw_lines(ax, steps, trace["bit_probs"], "P(bit {} = 1)", "probability", probabilities=True)


_DRAW = {"action": _draw_action, "reward": _draw_reward, "value": _draw_value, "action_probs": _draw_probs,
         "component_probs": _draw_component_probs, "bit_probs": _draw_bit_probs, "q_values": _draw_q_values,
         "action_mean": _draw_gaussian, "pre_tanh_mean": _draw_gaussian}


def episode_figure(run_dir: str | Path, checkpoint: str = "best") -> Figure:
    """Replay one deterministic evaluation episode of the run's saved policy and draw it (:func:`draw_episode`).

    Raises:
        MissingExtraError: matplotlib is not installed (extra ``plot``).
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise missing_extra("porcini inspect", "plot", exc) from exc
    matplotlib.use("Agg")
    config, agent, env, eval_env = load_policy(run_dir, checkpoint)
    try:
        trace = record_episode_trace(agent, eval_env, eval_seed(config.seed))
    finally:
        env.close()
        eval_env.close()
    title = f"{config.algo_name} on {config.env.id}: one deterministic evaluation episode"
    return draw_episode(trace, env.info.action_space, title)


def inspect_run(run_dir: str | Path, output: str | Path | None = None, checkpoint: str = "best") -> Path:
    """Draw one evaluation episode of the run's saved policy to a PNG; return its path.

    Missing folders of ``output`` are created, as ``porcini plot`` does.

    Raises:
        RunDirectoryError: the PNG cannot be written (a part of the path is a file, a read-only folder, a full
            disk): one line.
    """
    import matplotlib.pyplot as plt

    fig = episode_figure(run_dir, checkpoint)
    path = Path(output) if output else Path(run_dir) / "inspect.png"
    try:
        with reporting_os_errors(path, fix=FIGURE_FIX):
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=110, format="png")
    finally:
        plt.close(fig)
    return path
