"""The configs of record from Python: the hyperparameters ``porcini train ALGO ENV`` uses, as typed objects.

Example:
    >>> from porcini.experiment import config_of_record, run_config_of_record
    >>> config_of_record("ppo", "CartPole-v1").learning_rate_schedule
    'linear'
    >>> run = run_config_of_record("ppo", "CartPole-v1")
    >>> run.steps, run.env.n_envs
    (100000, 8)

Training it in Python as the CLI does (the horizon of the linear schedules is what ``learn`` is given)::

    env = make_env("CartPole-v1", n_envs=run.env.n_envs, seed=0)
    Core(PPO(env.info, config_of_record("ppo", "CartPole-v1")), env).learn(steps=run.steps)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from porcini.algorithms.registry import get_algorithm
from porcini.errors import ConfigError
from porcini.experiment.config import RunConfig, make_algo_config, record_env_id, record_path, resolve_run_config


def envs_with_record(algo: str) -> list[str]:
    """The env ids porcini ships a config of record for ``algo`` on, sorted (empty for none)."""
    folder = resources.files("porcini").joinpath("configs", algo)
    if not folder.is_dir():
        return []
    return sorted(record_env_id(f.name) for f in folder.iterdir() if f.name.endswith(".yaml"))


def run_config_of_record(algo: str, env_id: str,
                         overrides: Sequence[str] | Mapping[str, Any] = ()) -> RunConfig:
    """The fully resolved run config of ``porcini train ALGO ENV`` (defaults < config of record < ``overrides``).

    Args:
        algo: the algorithm's CLI name (``porcini list``), e.g. ``"ppo"``.
        env_id: the Gymnasium id, e.g. ``"CartPole-v1"``.
        overrides: ``"key=value"`` strings or a mapping of dotted keys, as ``--set`` takes them
            (``{"steps": 20000, "learning_rate": 1e-3}``).

    Raises:
        KeyError: unknown algorithm.
        ConfigError: porcini has no config of record for ``algo`` on ``env_id`` (the message lists the envs it has
            one for), or an override is invalid.
    """
    agent_cls = get_algorithm(algo)
    if not record_path(algo, env_id).is_file():
        known = envs_with_record(algo)
        listed = f"it has one for {algo} on {', '.join(known)}" if known else f"it has none for {algo}"
        raise ConfigError(f"porcini has no config of record for {algo} on {env_id} ({listed}); build "
                          f"{agent_cls.Config.__name__}(...) from the defaults instead")
    return resolve_run_config(algo, env_id, overrides=overrides, algo_config_cls=agent_cls.Config)


def config_of_record(algo: str, env_id: str, *, seed: int = 0) -> Any:
    """The algorithm's Config dataclass with porcini's hyperparameters of record for ``algo`` on ``env_id``.

    The record's run length is :func:`run_config_of_record`'s ``steps``: schedules that span the run end at the
    ``n_steps`` given to ``Core.learn``.

    Args:
        algo: the algorithm's CLI name, e.g. ``"dqn"``.
        env_id: the Gymnasium id, e.g. ``"CartPole-v1"``.
        seed: the config's ``seed`` (the algorithm's initialization and sampling), for algorithms that have one.

    Raises:
        KeyError: unknown algorithm.
        ConfigError: no config of record for ``algo`` on ``env_id`` (the message lists the envs with one).
    """
    run = run_config_of_record(algo, env_id, {"seed": seed})
    return make_algo_config(run, get_algorithm(algo).Config)
