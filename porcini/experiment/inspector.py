"""The policy inspector: replay one evaluation episode and draw what the policy did at every step.

Per step it draws each action dimension against the action bounds (a policy pinned to a bound saturates; one
that barely moves explores too little), the reward, and the value estimate where the agent has one; for discrete
actions, the action probabilities. Agents expose values and probabilities through an optional method
``explain(obs) -> {"value": [B], "action_probs": [B, A]}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.core.errors import missing_extra
from porcini.experiment.evaluation import load_policy
from porcini.experiment.seeding import eval_seed


def record_episode_trace(agent: Any, env: Any, seed: int | None) -> dict[str, np.ndarray]:
    """Run one deterministic episode in env index 0 of ``env``; return per-step actions, rewards, values, probs."""
    obs, _ = env.reset(seed=seed)
    actions, rewards, values, probs = [], [], [], []
    explain = getattr(agent, "explain", None)
    while True:
        if callable(explain):
            extra = explain(obs)
            if "value" in extra:
                values.append(float(np.asarray(extra["value"])[0]))
            if "action_probs" in extra:
                probs.append(np.asarray(extra["action_probs"])[0])
        action = agent.act(obs, explore=False)
        obs, reward, terminated, truncated, _ = env.step(action)
        actions.append(np.asarray(action)[0])
        rewards.append(float(reward[0]))
        if terminated[0] or truncated[0]:
            break
    return {"action": np.asarray(actions), "reward": np.asarray(rewards),
            "value": np.asarray(values), "action_probs": np.asarray(probs)}


def saturation(actions: np.ndarray, low: np.ndarray, high: np.ndarray, margin: float = 0.02) -> np.ndarray:
    """Fraction of steps each action dimension spends within ``margin`` (of the range) of a bound."""
    span = np.where(np.isfinite(high - low), high - low, 1.0)
    near = (actions <= low + margin * span) | (actions >= high - margin * span)
    return near.reshape(len(actions), -1).mean(axis=0)


def inspect_run(run_dir: str | Path, output: str | Path | None = None, checkpoint: str = "best") -> Path:
    """Draw one evaluation episode of the run's saved policy to a PNG; return its path.

    Raises:
        MissingExtraError: matplotlib is not installed (extra ``plot``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise missing_extra("porcini inspect", "plot", exc) from exc

    config, agent, env, eval_env = load_policy(run_dir, checkpoint)
    trace = record_episode_trace(agent, eval_env, eval_seed(config.seed))
    space = env.info.action_space
    panels = ["actions", "reward"] + (["value"] if trace["value"].size else [])
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels)), sharex=True, squeeze=False)
    steps = np.arange(len(trace["reward"]))
    ax = axes[0, 0]
    if isinstance(space, gym.spaces.Box):
        actions = trace["action"].reshape(len(steps), -1)
        low, high = space.low.reshape(-1), space.high.reshape(-1)
        sat = saturation(actions, low, high)
        for d in range(actions.shape[1]):
            line = ax.plot(steps, actions[:, d], label=f"action[{d}] (at a bound {sat[d]:.0%} of steps)")[0]
            for bound in (low[d], high[d]):
                if np.isfinite(bound):
                    ax.axhline(bound, color=line.get_color(), linestyle="--", linewidth=0.8)
        ax.set_ylabel("action (dashed: bounds)")
    elif trace["action_probs"].size:
        probs = trace["action_probs"]
        ax.stackplot(steps, probs.T, labels=[f"P(action={a})" for a in range(probs.shape[1])], alpha=0.8)
        ax.set_ylabel("action probabilities")
        ax.set_ylim(0, 1)
    else:
        ax.step(steps, trace["action"].reshape(len(steps)), where="post", label="action")
        ax.set_ylabel("action")
    ax.legend(loc="upper right", fontsize=8)
    axes[1, 0].plot(steps, trace["reward"], color="tab:green")
    axes[1, 0].set_ylabel(f"reward (return {trace['reward'].sum():.1f})")
    if "value" in panels:
        axes[2, 0].plot(steps, trace["value"], color="tab:purple")
        axes[2, 0].set_ylabel("value estimate")
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(f"{config.algo_name} on {config.env.id}: one deterministic evaluation episode")
    fig.tight_layout()
    path = Path(output) if output else Path(run_dir) / "inspect.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    env.close()
    eval_env.close()
    return path
