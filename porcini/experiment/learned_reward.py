"""The learned reward of a run: a trained ``airl`` or ``preferences`` run's reward, for a new run to train on.

``porcini train ALGO ENV --reward RUN_DIR`` (``data.reward``) loads the run's last checkpoint, takes its agent's
:meth:`reward_model` and wraps this run's training env in :class:`~porcini.envs.wrappers.LearnedReward`; the
evaluation env keeps the env's reward, so evaluations and the summary report the task's return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from porcini.algorithms.registry import get_algorithm
from porcini.envs.wrappers import LearnedReward
from porcini.errors import ConfigError
from porcini.experiment.config import RunConfig, load_run_config
from porcini.experiment.expert import records_demonstrations
from porcini.experiment.offline import normalizes_observations


def check_reward_config(config: RunConfig) -> None:
    """Raise ConfigError when ``data.reward`` is not a run directory of an agent that learned a reward.

    Or when the run also learns from data (``data.dataset``, or ``data.expert``'s demonstrations): the learned
    reward replaces only the env's, the data keeps the env's own rewards.
    """
    source = config.data.reward
    if source is None:
        return
    path = Path(source) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"data.reward = {source!r} is not a run directory (no config.yaml): give the folder of a "
                          "trained airl or preferences run (runs/airl-ENV-s0-...)")
    theirs = load_run_config(path)
    if not hasattr(get_algorithm(theirs.algo_name), "reward_model"):
        raise ConfigError(f"data.reward = {source!r} is a {theirs.algo_name} run, which learns no reward: give an "
                          "airl or preferences run")
    if theirs.env.id != config.env.id or list(theirs.env.wrappers) != list(config.env.wrappers):
        raise ConfigError(f"data.reward = {source!r} learned its reward on {theirs.env.id} with wrappers "
                          f"{list(theirs.env.wrappers)}; this run is {config.env.id} with {list(config.env.wrappers)}: "
                          "train on the env the reward was learned on")
    if config.data.dataset is not None or records_demonstrations(get_algorithm(config.algo_name), config):
        given = "data.dataset" if config.data.dataset is not None else "data.expert (its recorded demonstrations)"
        raise ConfigError(f"data.reward = {source!r} replaces the env's reward, but {given} brings transitions "
                          "with the env's own rewards, which the agent would learn from as well: give one of them")
    if normalizes_observations(config.env.wrappers):
        raise ConfigError(f"data.reward = {source!r} reads observations normalized with statistics of its own run, "
                          f"which this run's env.wrappers {list(config.env.wrappers)} would not share: learn the "
                          "reward without NormalizeObservation")


def with_learned_reward(env: Any, config: RunConfig) -> Any:
    """``env`` with its reward replaced by ``data.reward``'s learned reward (its last checkpoint's agent)."""
    from porcini.experiment.evaluation import load_policy

    assert config.data.reward is not None
    _, agent, train_env, eval_env = load_policy(config.data.reward, "last")
    train_env.close()
    eval_env.close()
    return LearnedReward(env, agent.reward_model())
