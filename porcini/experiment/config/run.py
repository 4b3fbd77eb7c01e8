"""The run configuration and how it is resolved: defaults < config of record < ``--config`` file < ``--set``.

A run's YAML (``config.yaml`` in the run directory; re-running with it reproduces the run)::

    algo_name: ppo
    env: {id: CartPole-v1, n_envs: 8, wrappers: [], vectorization: auto, max_episode_steps: null, kwargs: {},
          check: true}
    seed: 0
    steps: 100000
    steps_per_epoch: 10000
    eval_episodes: 10
    log: {sinks: [console, csv], mlflow_tracking_uri: null, mlflow_experiment: porcini}
    out: runs
    algo: {learning_rate: 0.0003, gamma: 0.99, ...}   # the algorithm's Config fields, without `seed`
    data: {dataset: null, offline_steps: 0, offline_steps_per_epoch: 5000, dataset_ratio: 0.5, expert: null,
           expert_episodes: 10, reward: null}

The algorithm's ``seed`` field is not stored under ``algo``: it is always the run's ``seed`` (filled in by
:func:`make_algo_config`), so ``--set seed=3`` on a saved config changes every source of randomness at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from porcini.core.config import require
from porcini.errors import ConfigError
from porcini.experiment.config.dataclass_io import (
    apply_overrides,
    deep_merge,
    from_dict,
    load_yaml,
    override_items,
    to_dict,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

C = TypeVar("C", bound="DataclassInstance")


@dataclass(frozen=True)
class EnvConfig:
    """The training environment (the evaluation env is a copy of it with its own seeds)."""

    id: str
    """Gymnasium id, e.g. ``CartPole-v1`` or ``porcini/DiceGame-v0``."""
    n_envs: int = 1
    """Number of environments stepped together (a single env is a vector of one)."""
    wrappers: tuple[str | dict[str, dict[str, Any]], ...] = ()
    """Wrappers applied in order: a name (``NormalizeObservation``) or a one-key mapping from a name to
    keyword arguments (``{TimeAwareObservation: {flatten: true}}``)."""
    vectorization: Literal["auto", "sync", "async", "ray", "native", "vector_entry_point"] = "auto"
    """How the copies run: in this process (sync), a subprocess each (async), in Ray actors, a chunk of envs per
    CPU (ray, extra ``porcini[ray]``; a dead actor is restarted), as arrays (native: porcini's NumPy versions of
    CartPole, Pendulum, Acrobot and MountainCar, the same steps as sync), the vector env the id registers
    (vector_entry_point, if it autoresets in the same step); auto picks sync or async."""
    max_episode_steps: int | None = None
    """Override the env's time limit (it sets ``truncated``); null keeps the registered limit."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the env constructor, e.g. ``{is_slippery: false}`` for FrozenLake."""
    check: bool = True
    """Check every step's actions, observations and rewards against the spaces (errors name env, index and step);
    ``false`` skips these run-time checks (``--set env.check=false``)."""

    def __post_init__(self) -> None:
        require(bool(self.id), "EnvConfig", "id", self.id, "a non-empty Gymnasium id")
        require(self.n_envs >= 1, "EnvConfig", "n_envs", self.n_envs, ">= 1")
        require(
            self.max_episode_steps is None or self.max_episode_steps >= 1,
            "EnvConfig", "max_episode_steps", self.max_episode_steps, ">= 1 or null",
        )
        for wrapper in self.wrappers:
            require(
                isinstance(wrapper, str) or len(wrapper) == 1, "EnvConfig", "wrappers", wrapper,
                "a name or a one-key mapping {name: {keyword: value}}",
            )


@dataclass(frozen=True)
class LogConfig:
    """Where metrics go; several sinks at once."""

    sinks: tuple[Literal["console", "csv", "tensorboard", "mlflow"], ...] = ("console", "csv")
    """Logger sinks: ``console`` (a table per epoch on stderr), ``csv`` (``metrics.csv``), ``tensorboard``
    (``tb/``; extra ``porcini[tensorboard]``), ``mlflow`` (extra ``porcini[mlflow]``)."""
    mlflow_tracking_uri: str | None = None
    """MLflow tracking URI (``http://127.0.0.1:5000``); null means a SQLite store ``<run_dir>/mlflow.db``."""
    mlflow_experiment: str = "porcini"
    """MLflow experiment the run is logged under."""

    def __post_init__(self) -> None:
        require(len(set(self.sinks)) == len(self.sinks), "LogConfig", "sinks", self.sinks, "without repeats")


@dataclass(frozen=True)
class DataConfig:
    """Learning from a dataset (docs/offline.md).

    ``offline_steps`` gradient steps on the dataset first, then ``steps`` env steps online with it still sampled.
    """

    dataset: str | None = None
    """Source of the dataset, e.g. the path of a porcini ``.npz`` (``porcini train ALGO ENV --dataset SOURCE``);
    null learns from the env only."""
    offline_steps: int = 0
    """Gradient steps on the dataset alone, before any env step (the offline phase); online learning starts after
    them: this is the switch point."""
    offline_steps_per_epoch: int = 5000
    """Gradient steps between evaluations, log rows and checkpoints in the offline phase."""
    dataset_ratio: float = 0.5
    """Online phase: share of every minibatch drawn from the dataset, the rest from the new transitions (0.5:
    RLPD's symmetric sampling)."""
    expert: str | None = None
    """A trained run directory whose agent (best checkpoint, deterministic) an algorithm that learns from an
    expert asks for actions (``porcini train dagger ENV --expert RUN_DIR``; docs/imitation.md); for an algorithm
    that learns from a dataset, the expert whose demonstrations are recorded as the dataset."""
    expert_episodes: int = 10
    """Episodes recorded from ``expert`` when an algorithm that learns from a dataset is given it instead of one
    (``porcini train gail ENV --expert RUN_DIR``); they are kept in the run directory (``demonstrations.npz``)."""
    reward: str | None = None
    """A trained run directory whose agent learned a reward (``airl``, ``preferences``): this run's agent trains on
    that reward (its last checkpoint's) instead of the env's, and is evaluated on the env's (``porcini train ppo ENV
    --reward RUN_DIR``; docs/imitation.md)."""

    def __post_init__(self) -> None:
        require(self.offline_steps >= 0, "DataConfig", "offline_steps", self.offline_steps, ">= 0")
        require(self.offline_steps == 0 or self.dataset is not None or self.expert is not None, "DataConfig",
                "offline_steps", self.offline_steps, "0 without a dataset (give data.dataset, or --dataset SOURCE)")
        require(self.expert_episodes >= 1, "DataConfig", "expert_episodes", self.expert_episodes, ">= 1")
        require(self.offline_steps_per_epoch >= 1, "DataConfig", "offline_steps_per_epoch",
                self.offline_steps_per_epoch, ">= 1")
        require(0.0 <= self.dataset_ratio <= 1.0, "DataConfig", "dataset_ratio", self.dataset_ratio, "in [0, 1]")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run; the fully resolved one is saved as ``config.yaml``."""

    algo_name: str
    """Algorithm, by its CLI name (``porcini list``), e.g. ``ppo``."""
    env: EnvConfig
    """The environment section."""
    seed: int = 0
    """Seed of the run: of the algorithm, the training envs and (disjoint) the evaluation envs."""
    steps: int = 100_000
    """Environment steps to train for (summed over the ``n_envs`` envs); 0 with a dataset learns offline only."""
    steps_per_epoch: int = 10_000
    """Environment steps between evaluations, log lines and checkpoints."""
    eval_episodes: int = 10
    """Deterministic evaluation episodes after each epoch and at the end (the summary's ``eval_return_mean``)."""
    log: LogConfig = field(default_factory=LogConfig)
    """The logging section."""
    out: str = "runs"
    """Parent directory of the run directory."""
    algo: dict[str, Any] = field(default_factory=dict)
    """The algorithm's hyperparameters: fields of its Config dataclass, without ``seed``."""
    data: DataConfig = field(default_factory=DataConfig)
    """The dataset section: offline learning and offline → online."""

    def __post_init__(self) -> None:
        require(bool(self.algo_name), "RunConfig", "algo_name", self.algo_name, "an algorithm (porcini list)")
        require(self.seed >= 0, "RunConfig", "seed", self.seed, ">= 0")
        require(self.steps >= 1 or self.data.offline_steps >= 1, "RunConfig", "steps", self.steps,
                ">= 1 (0 only with a dataset and data.offline_steps >= 1: offline learning alone)")
        require(self.steps_per_epoch >= 1, "RunConfig", "steps_per_epoch", self.steps_per_epoch, ">= 1")
        require(self.eval_episodes >= 1, "RunConfig", "eval_episodes", self.eval_episodes,
                ">= 1 (the summary reports the final evaluation; a larger steps_per_epoch evaluates less often)")
        require(
            "seed" not in self.algo, "RunConfig", "algo.seed", self.algo.get("seed"),
            "absent: the algorithm's seed is the run's `seed`; set that instead",
        )


def record_path(algo: str, env_id: str, root: str | os.PathLike[str] | None = None) -> Any:
    """Return where the config of record of ``algo`` on ``env_id`` lives: ``configs/<algo>/<env>.yaml``.

    A ``/`` in the env id (``porcini/DiceGame-v0``, ``ALE/Pong-v5``) becomes ``__`` in the file name, a ``:`` (a
    factory, ``mpe2.simple_spread_v3:parallel_env``) ``--`` (:func:`record_env_id` reads them back).
    """
    base = Path(root) if root is not None else resources.files("porcini").joinpath("configs")
    return base.joinpath(algo, env_id.replace("/", "__").replace(":", "--") + ".yaml")


def record_env_id(file_name: str) -> str:
    """The env id of a config of record's file name (``porcini__DiceGame-v0.yaml`` -> ``porcini/DiceGame-v0``)."""
    return file_name.removesuffix(".yaml").replace("__", "/").replace("--", ":")


def load_config_of_record(
    algo: str, env_id: str, *, root: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """Return the hyperparameters of record that porcini ships for ``algo`` on ``env_id``, or None.

    The file holds a partial run config: any :class:`RunConfig` keys (``env``, ``steps``, ...) and an ``algo``
    section; a comment at its top says where the values come from.

    Args:
        algo: CLI name of the algorithm (``ppo``).
        env_id: Gymnasium id (``CartPole-v1``).
        root: a directory to look in instead of the package's ``configs/`` (tests).

    Raises:
        ConfigError: the file is not valid YAML or not a mapping.
    """
    path = record_path(algo, env_id, root)
    if not path.is_file():
        return None
    data = load_yaml(path if isinstance(path, os.PathLike) else path.read_text())
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config of record {path} must be a mapping of config keys, not {data!r}")
    return data


def resolve_run_config(
    algo: str,
    env_id: str,
    *,
    config_file: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    algo_config_cls: type | None = None,
    use_record: bool = True,
    record_root: str | os.PathLike[str] | None = None,
) -> RunConfig:
    """Build the fully resolved :class:`RunConfig`: defaults < record < ``config_file`` < ``overrides``.

    An override whose first key is not a :class:`RunConfig` field is an algorithm hyperparameter:
    ``learning_rate=3e-4`` means ``algo.learning_rate=3e-4``. Pass command-line flags as overrides too:
    ``--steps N`` as ``steps=N``, ``--seed S`` as ``seed=S``, ``--n-envs K`` as ``env.n_envs=K``.

    Args:
        algo: CLI name of the algorithm.
        env_id: Gymnasium id.
        config_file: YAML with a partial or complete run config (e.g. an earlier run's ``config.yaml``).
        overrides: ``"key=value"`` strings (values parsed as YAML) or a mapping from dotted keys to values.
        algo_config_cls: the algorithm's Config dataclass. Given, ``algo`` is validated against it and filled
            with its defaults, so the result is complete and dumps to a config that reproduces the run.
        use_record: apply porcini's config of record for ``algo`` on ``env_id``, when there is one.
        record_root: a directory of configs of record instead of the package's (tests).

    Raises:
        ConfigError: an unknown key (with the closest valid name), a wrong type, an out-of-range value, or a
            config file or an override for another algorithm or env.
    """
    merged: dict[str, Any] = {"algo_name": algo, "env": {"id": env_id}}
    if use_record:
        merged = deep_merge(merged, load_config_of_record(algo, env_id, root=record_root) or {})
    if config_file is not None:
        data = load_yaml(Path(config_file))
        if not isinstance(data, dict):
            raise ConfigError(f"config file {config_file} must be a mapping of config keys, not {type(data)}")
        _check_same_run(data, algo, env_id, config_file)
        merged = deep_merge(merged, _without_legacy_keys(data))
    routed = {".".join(_route(keys, algo_config_cls)): value for keys, value in override_items(overrides)}
    _check_overrides_keep_run(routed, algo, env_id)
    run = _with_usable_paths(from_dict(RunConfig, apply_overrides(merged, routed)))
    if algo_config_cls is not None:
        resolved = to_dict(make_algo_config(run, algo_config_cls))
        run = dataclasses.replace(run, algo={k: v for k, v in resolved.items() if k != "seed"})
    return run


def _with_usable_paths(run: RunConfig) -> RunConfig:
    """``run`` with ``~`` expanded in ``out``, and the dataset file and expert and reward runs as absolute paths.

    The run's ``config.yaml`` then names the same files whatever folder ``resume`` or ``--config`` runs from;
    ``out`` stays as given (the run directory's name is reported as the user wrote it).
    """
    def absolute(path: str | None) -> str | None:
        if path is None or path.startswith("minari:"):
            return path
        return str(Path(path).expanduser().resolve())

    data = dataclasses.replace(run.data, dataset=absolute(run.data.dataset), expert=absolute(run.data.expert),
                               reward=absolute(run.data.reward))
    return dataclasses.replace(run, out=os.path.expanduser(run.out), data=data)


def make_algo_config(run: RunConfig, config_cls: type[C]) -> C:
    """Build the algorithm's Config for ``run``: ``run.algo`` typed and validated, ``seed`` = ``run.seed``.

    Raises:
        ConfigError: as :func:`~porcini.experiment.config.from_dict`, with keys named ``algo.<field>``.
    """
    data = dict(run.algo)
    if "seed" in {f.name for f in dataclasses.fields(config_cls)}:
        data["seed"] = run.seed
    return from_dict(config_cls, data, path="algo.")


def load_run_config(path: str | os.PathLike[str], algo_config_cls: type | None = None) -> RunConfig:
    """Load and validate a complete run config, e.g. a run directory's ``config.yaml``.

    Raises:
        ConfigError: as :func:`resolve_run_config`.
    """
    data = load_yaml(Path(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of config keys, not {type(data).__name__}")
    run = from_dict(RunConfig, _without_legacy_keys(data))
    if algo_config_cls is not None:
        make_algo_config(run, algo_config_cls)
    return run


def _without_legacy_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Drop ``algo.total_steps`` from configs saved before the schedules' horizon became the run's ``steps``.

    Runs then always had it equal to ``steps`` (the runner filled it in), so their directories load unchanged.
    """
    algo = data.get("algo")
    if isinstance(algo, dict) and "total_steps" in algo:
        return {**data, "algo": {k: v for k, v in algo.items() if k != "total_steps"}}
    return data


def _route(keys: tuple[str, ...], algo_config_cls: type | None) -> tuple[str, ...]:
    """Send an override to the run config, or to ``algo`` when its first key is not a run field."""
    run_fields = [f.name for f in dataclasses.fields(RunConfig)]
    if keys[0] in run_fields:
        return keys
    if algo_config_cls is not None:
        algo_fields = [f.name for f in dataclasses.fields(algo_config_cls) if f.name != "seed"]
        if keys[0] not in algo_fields:
            close = difflib.get_close_matches(keys[0], run_fields + algo_fields, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else "."
            raise ConfigError(
                f"unknown config key '{'.'.join(keys)}'{hint} It is neither a run setting "
                f"({', '.join(run_fields)}) nor a hyperparameter of {algo_config_cls.__name__} "
                f"({', '.join(algo_fields)})"
            )
    return ("algo", *keys)


def _check_same_run(data: Mapping[str, Any], algo: str, env_id: str, source: Any) -> None:
    file_algo = data.get("algo_name", algo)
    env = data.get("env")
    file_env = env.get("id", env_id) if isinstance(env, Mapping) else env_id
    if file_algo != algo or file_env != env_id:
        raise ConfigError(
            f"config file {source} is for algo_name={file_algo!r}, env.id={file_env!r} but the command asks "
            f"for {algo!r} on {env_id!r}; pass the matching ALGO ENV or edit the file"
        )


def _check_overrides_keep_run(routed: Mapping[str, Any], algo: str, env_id: str) -> None:
    """Raise ConfigError when an override names another algorithm or env than ``algo`` and ``env_id``.

    The run would keep the config of record of the ones the command names, for another algorithm or env.
    """
    env = routed.get("env")
    env_asked = routed.get("env.id", env.get("id", env_id) if isinstance(env, Mapping) else env_id)
    for key, asked, named, argument in (("algo_name", routed.get("algo_name", algo), algo, "ALGO"),
                                        ("env.id", env_asked, env_id, "ENV")):
        if asked != named:
            raise ConfigError(
                f"{key}={asked} contradicts the command's {argument} {named!r} (the run would keep the config of "
                f"record of {algo} on {env_id}); pass {asked} as {argument} instead"
            )
