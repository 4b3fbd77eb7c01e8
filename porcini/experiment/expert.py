"""The expert of a run: a trained run directory's agent, asked for actions by an agent that learns from an expert.

``porcini train dagger ENV --expert RUN_DIR`` (``data.expert``) loads the run's best checkpoint (its last when it
never evaluated) and gives the learner its deterministic actions (docs/imitation.md). The expert sees the learner's
observations, so its spaces and its env wrappers must be the learner's; a normalizing wrapper is refused, because
the two runs' statistics would differ.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from porcini.envs.info import EnvInfo
from porcini.errors import ConfigError
from porcini.experiment.config import RunConfig


def check_expert_config(agent_cls: Any, config: RunConfig) -> None:
    """Raise ConfigError unless ``data.expert`` fits the algorithm.

    An algorithm that asks an expert (dagger) needs one; one that learns from a dataset may take an expert
    instead of ``data.dataset`` (its demonstrations are then recorded, :func:`record_demonstrations`); no other
    algorithm takes one.
    """
    asks = bool(getattr(agent_cls, "learns_from_expert", False))
    expert = config.data.expert
    if asks and expert is None:
        raise ConfigError(f"{config.algo_name} learns from an expert: give --expert RUN_DIR (data.expert), a run "
                          f"directory of an agent trained on {config.env.id}")
    if expert is not None and not asks:
        if not hasattr(agent_cls, "add_dataset"):
            raise ConfigError(f"{config.algo_name} does not learn from an expert: drop --expert (data.expert), which "
                              "is for dagger (it asks the expert) and for the algorithms that learn from "
                              "demonstrations (bc, gail, airl, the offline ones: they record them from the expert)")
        if config.data.dataset is not None:
            raise ConfigError(f"{config.algo_name} got both --expert and --dataset: give one (--expert RUN_DIR records "
                              f"data.expert_episodes = {config.data.expert_episodes} episodes of it as the dataset)")
    if expert is not None and not (Path(expert) / "config.yaml").is_file():
        raise ConfigError(f"data.expert = {expert!r} is not a run directory (no config.yaml): give the folder of a "
                          "trained run (runs/ALGO-ENV-s0-...)")


def records_demonstrations(agent_cls: Any, config: RunConfig) -> bool:
    """True when the run records its demonstrations from ``data.expert`` (an expert, no dataset, not dagger)."""
    return (config.data.expert is not None and config.data.dataset is None
            and not getattr(agent_cls, "learns_from_expert", False))


def record_demonstrations(config: RunConfig, run_dir: Path) -> RunConfig:
    """Record ``data.expert_episodes`` episodes of the expert into ``run_dir/demonstrations.npz``.

    Returns the run's config with that file as ``data.dataset`` and no ``data.expert``: the config the run
    directory keeps, so a resumed run reads the same demonstrations. The expert acts deterministically (its best
    checkpoint), in its own env, with seeds from the run's seed.
    """
    from porcini.experiment.collect import collect_policy
    from porcini.experiment.config import load_run_config

    assert config.data.expert is not None
    expert_config = load_run_config(Path(config.data.expert) / "config.yaml")
    theirs = expert_config.env.id
    if theirs != config.env.id:
        raise ConfigError(f"data.expert = {config.data.expert!r} was trained on {theirs}, this run is {config.env.id}: "
                          f"give an expert trained on {config.env.id}")
    check_expert_wrappers(expert_config, config)
    path = (Path(run_dir) / "demonstrations.npz").resolve()
    collect_policy(config.data.expert, config.data.expert_episodes, str(path), env=config.env.id, seed=config.seed)
    data = dataclasses.replace(config.data, dataset=str(path), expert=None)
    return dataclasses.replace(config, data=data)


def check_expert_wrappers(expert_config: RunConfig, config: RunConfig) -> None:
    """Raise ConfigError unless the expert observes what this run's env gives: the same wrappers, none normalizing.

    The expert acts, and its demonstrations are recorded, in its own run's env: through other wrappers, or through
    observation statistics of its own run, its observations are not the ones this run's agent learns and acts on.
    """
    where = f"the expert {config.data.expert}"
    if list(expert_config.env.wrappers) != list(config.env.wrappers):
        raise ConfigError(f"{where} was trained with env.wrappers {list(expert_config.env.wrappers)}, this run has "
                          f"{list(config.env.wrappers)}: its observations would differ; give this run the same "
                          "wrappers")
    if any("Normalize" in str(entry) for entry in config.env.wrappers):
        raise ConfigError(f"{where} normalizes with statistics of its own run, which this run's wrappers would not "
                          "share: train the expert without normalizing wrappers")


def attach_expert(agent: Any, config: RunConfig, env_info: EnvInfo) -> str | None:
    """Load ``data.expert``'s agent and make its deterministic actions ``agent``'s expert (``set_expert``).

    Returns the fingerprint of the expert's checkpoint, which the run's checkpoints record (None, and nothing
    attached, when the run names no ``data.expert``).

    Raises:
        ConfigError: the expert's observation or action space is not the run's, or its env wrappers differ from
            the run's or normalize.
    """
    from porcini.algorithms.imitation import agent_expert
    from porcini.experiment.checkpoint import resolve_checkpoint
    from porcini.experiment.evaluation import load_policy
    from porcini.experiment.sources import file_fingerprint

    if config.data.expert is None:
        return None
    checkpoint = resolve_checkpoint(config.data.expert, "best")
    fingerprint = file_fingerprint(checkpoint)
    expert_config, expert_agent, train_env, eval_env = load_policy(config.data.expert, str(checkpoint))
    theirs = train_env.info
    train_env.close()
    eval_env.close()
    where = f"the expert {config.data.expert}"
    if theirs.observation_space != env_info.observation_space or theirs.action_space != env_info.action_space:
        raise ConfigError(f"{where} acts on {theirs.observation_space} -> {theirs.action_space}, but this run's "
                          f"{config.env.id} has {env_info.observation_space} -> {env_info.action_space}: give an "
                          "expert trained on this env")
    check_expert_wrappers(expert_config, config)
    agent.set_expert(agent_expert(expert_agent))
    return fingerprint
