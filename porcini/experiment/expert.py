"""The expert of a run: a trained run directory's agent, asked for actions by an agent that learns from an expert.

``porcini train dagger ENV --expert RUN_DIR`` (``data.expert``) loads the run's best checkpoint (its last when it
never evaluated) and gives the learner its deterministic actions (docs/imitation.md). The expert sees the learner's
observations, so its spaces and its env wrappers must be the learner's; a normalizing wrapper is refused, because
the two runs' statistics would differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from porcini.envs.info import EnvInfo
from porcini.errors import ConfigError
from porcini.experiment.config import RunConfig


def check_expert_config(agent_cls: Any, config: RunConfig) -> None:
    """Raise ConfigError unless ``data.expert`` is given exactly when the algorithm learns from an expert."""
    needs = bool(getattr(agent_cls, "learns_from_expert", False))
    expert = config.data.expert
    if needs and expert is None:
        raise ConfigError(f"{config.algo_name} learns from an expert: give --expert RUN_DIR (data.expert), a run "
                          f"directory of an agent trained on {config.env.id}")
    if not needs and expert is not None:
        raise ConfigError(f"{config.algo_name} does not learn from an expert: drop --expert (data.expert), which "
                          "is for dagger")
    if expert is not None and not (Path(expert) / "config.yaml").is_file():
        raise ConfigError(f"data.expert = {expert!r} is not a run directory (no config.yaml): give the folder of a "
                          "trained run (runs/ALGO-ENV-s0-...)")


def attach_expert(agent: Any, config: RunConfig, env_info: EnvInfo) -> None:
    """Load ``data.expert``'s agent and make its deterministic actions ``agent``'s expert (``set_expert``).

    Raises:
        ConfigError: the expert's observation or action space is not the run's, or its env wrappers differ from
            the run's or normalize.
    """
    from porcini.algorithms.imitation import agent_expert
    from porcini.experiment.evaluation import load_policy

    assert config.data.expert is not None
    expert_config, expert_agent, train_env, eval_env = load_policy(config.data.expert, "best")
    theirs = train_env.info
    train_env.close()
    eval_env.close()
    where = f"the expert {config.data.expert}"
    if theirs.observation_space != env_info.observation_space or theirs.action_space != env_info.action_space:
        raise ConfigError(f"{where} acts on {theirs.observation_space} -> {theirs.action_space}, but this run's "
                          f"{config.env.id} has {env_info.observation_space} -> {env_info.action_space}: give an "
                          "expert trained on this env")
    if list(expert_config.env.wrappers) != list(config.env.wrappers):
        raise ConfigError(f"{where} was trained with env.wrappers {list(expert_config.env.wrappers)}, this run has "
                          f"{list(config.env.wrappers)}: its observations would differ; give this run the same "
                          "wrappers")
    if any("Normalize" in str(entry) for entry in config.env.wrappers):
        raise ConfigError(f"{where} normalizes with statistics of its own run, which this run's wrappers would not "
                          "share: train the expert without normalizing wrappers")
    agent.set_expert(agent_expert(expert_agent))
