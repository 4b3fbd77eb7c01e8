"""The training runner: seeds, env, agent, Core, evaluation after each epoch, summary and run directory."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import porcini
from porcini.algorithms.registry import get_algorithm
from porcini.core import Callback, Core
from porcini.core.config import build_config
from porcini.core.errors import ConfigError
from porcini.envs import make_env
from porcini.experiment.run_dir import RunDirectory
from porcini.experiment.seeding import eval_seed, seed_everything
from porcini.experiment.summary import RunSummary


@dataclass
class TrainSpec:
    """What to train: the arguments of ``porcini train``.

    Attributes:
        algo: algorithm name (``porcini list``).
        env: Gymnasium id or ``porcini/...`` id.
        steps: env steps to train for (summed over envs).
        seed: the run's seed (env ``i`` resets with ``seed + i``; evaluation with ``seed + 10000``).
        n_envs: envs stepped together in training.
        algo_kwargs: hyperparameters of the algorithm's Config.
        eval_episodes: episodes per evaluation (after each epoch and at the end).
        epochs: number of epochs (evaluations) over the run.
        env_kwargs: keyword arguments of the env constructor.
        out: parent folder of run directories, or None for no run directory.
        progress: progress bar on stderr (None: when stderr is a terminal).
    """

    algo: str
    env: str
    steps: int = 10_000
    seed: int = 0
    n_envs: int = 1
    algo_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_episodes: int = 10
    epochs: int = 10
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    out: str | None = "runs"
    progress: bool | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "n_envs", "eval_episodes", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} = {value!r} is invalid: must be a positive int")


class EpochEvaluator(Callback):
    """After each epoch: evaluate deterministically on the eval env and append a metrics row."""

    def __init__(self, eval_episodes: int, run_dir: RunDirectory | None) -> None:
        self.eval_episodes = eval_episodes
        self.run_dir = run_dir
        self.rows: list[dict[str, float]] = []

    def on_epoch_end(self, core: Core) -> None:
        """Evaluate, record the row, write it to ``metrics.csv``."""
        result = core.evaluate(self.eval_episodes)
        train = core.epoch_episodes
        row = {
            "env_steps": core.env_steps,
            "wall_time_s": round(core.elapsed_train_time_s(), 3),
            "eval_return_mean": float(np.mean(result.returns)),
            "eval_return_std": float(np.std(result.returns)),
            "train_return_mean": train.mean_return(),
            "train_episodes": train.n_episodes,
            **{f"train/{k}": float(v) for k, v in core.last_metrics.items()},
        }
        self.rows.append(row)
        if self.run_dir is not None:
            self.run_dir.append_metrics(row)


def build_agent(algo: str, info: Any, seed: int, algo_kwargs: dict[str, Any]) -> Any:
    """Instantiate algorithm ``algo`` for an env, with the run's seed unless the kwargs set one."""
    agent_cls = get_algorithm(algo)
    config_cls = getattr(agent_cls, "Config", None)
    kwargs = dict(algo_kwargs)
    if config_cls is not None:
        if "seed" in {f.name for f in dataclasses.fields(config_cls)}:
            kwargs.setdefault("seed", seed)
        config = build_config(config_cls, None, kwargs)
        return agent_cls(info, config)
    return agent_cls(info, **kwargs)


def train(spec: TrainSpec) -> RunSummary:
    """Train ``spec.algo`` on ``spec.env`` for ``spec.steps`` steps, evaluating after each epoch.

    Returns:
        The run summary (also written to ``summary.json`` in the run directory when ``spec.out`` is set).
    """
    seed_everything(spec.seed)
    env = make_env(spec.env, n_envs=spec.n_envs, seed=spec.seed, env_kwargs=spec.env_kwargs)
    eval_env = env.spawn(min(spec.n_envs, spec.eval_episodes), eval_seed(spec.seed))
    agent = build_agent(spec.algo, env.info, spec.seed, spec.algo_kwargs)
    run_dir = RunDirectory.create(spec.out, spec.algo, spec.env, spec.seed) if spec.out else None
    if run_dir is not None:
        run_dir.write_config({**dataclasses.asdict(spec), "algo_config": _config_dict(agent)})
    evaluator = EpochEvaluator(spec.eval_episodes, run_dir)
    core = Core(agent, env, eval_env=eval_env, callbacks=[evaluator], progress=spec.progress,
                eval_seed=eval_seed(spec.seed))
    steps_per_epoch = max(spec.n_envs, spec.steps // spec.epochs)
    core.learn(n_steps=spec.steps, steps_per_epoch=steps_per_epoch)
    final = core.evaluate(spec.eval_episodes)
    summary = RunSummary(
        algo=spec.algo,
        env=spec.env,
        seed=spec.seed,
        env_steps=core.env_steps,
        wall_time_s=round(core.train_time_s, 3),
        eval_time_s=round(core.eval_time_s, 3),
        eval_return_mean=float(np.mean(final.returns)),
        eval_return_std=float(np.std(final.returns)),
        eval_episodes=len(final.returns),
        porcini_version=porcini.__version__,
        extra={"train_episodes": core.episodes, "run_dir": str(run_dir.path) if run_dir else None},
    )
    if run_dir is not None:
        run_dir.write_summary(summary.to_dict())
    env.close()
    eval_env.close()
    return summary


def _config_dict(agent: Any) -> dict[str, Any]:
    config = getattr(agent, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
