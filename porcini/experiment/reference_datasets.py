"""The reference dataset suite: small datasets porcini records itself, with fixed seeds, for tests and benchmarks.

Each recipe trains (or not) a porcini agent with its config of record and records what it does, D4RL-style
(Fu et al. 2020) on Pendulum-v1 and CartPole-v1:

* ``pendulum-random``: a uniformly random policy.
* ``pendulum-expert``: SAC trained with porcini's config of record (``configs/sac/Pendulum-v1.yaml``, its full
  ``steps``), recorded with its deterministic policy.
* ``pendulum-medium``: a second SAC run stopped at a third of the expert, recorded with its stochastic (exploring)
  policy. Its learning rate is 3e-5, a tenth of the config of record's: at 3e-4 SAC gets there in about 2,400
  steps, too short a run for its replay to be worth learning from; at 3e-5 it takes about 18,000.
* ``pendulum-medium-replay``: every transition that run stored in its replay buffer up to the stopping point.
* ``cartpole-medium-replay``: DQN's replay buffer (config of record ``configs/dqn/CartPole-v1.yaml``) up to the
  point where DQN's ε-greedy policy reaches a third of the expert return.

"A third of the expert" is D4RL's normalized score ``(R - R_random) / (R_expert - R_random)`` reaching 1/3. The run
is evaluated from the same start states each time and stopped at the first evaluation at or above ``R_random +
(R_expert - R_random) / 3``, or at the end of the config of record's ``steps`` if none is (the metadata's
``reached`` says which, ``evaluations`` lists them). The evaluation measures the policy whose data is kept, the
exploring one, over 50 episodes (Pendulum's returns depend much on the start state): on Pendulum SAC's stochastic
policy, which ``pendulum-medium`` records, every 200 env steps (one episode); on CartPole DQN's ε-greedy policy at
the run's current ε, every 512 env steps (two of its fits). An exploring evaluation leaves the run as it was (its ε
clock and generators are put back, see :func:`~porcini.core.evaluation.run_episodes`). On Pendulum ``R_random``
and ``R_expert`` are the mean returns of ``pendulum-random`` and ``pendulum-expert`` (built first if need be); on
CartPole ``R_expert`` is 500, the most an episode can return, which DQN's config of record reaches, and ``R_random``
the mean return of 100 random episodes recorded with the recipe's seed. Schedules that span a run (DQN's ε) keep the
config of record's horizon, so a stopped run is the start of a full one. A replay dataset holds the transitions in
the order they were stored, one env column; it ends where the run stopped, so its last episode may be unfinished (no
end flag: :meth:`~porcini.data.Dataset.episode_bounds` counts it,
:func:`~porcini.data.dataset_stats.complete_episode_returns` leaves it out).

:func:`reference_dataset` builds a dataset on first use into a cache folder and returns its path on later calls.
``scale`` multiplies each recipe's budget (training steps, recorded episodes) for quick trials; datasets of another
scale are cached under their own names, and so are those of another recipe version (``pendulum-medium-v2.npz``).
With the same scale a rebuild gives the same arrays (same seeds, one torch thread) on the same machine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.data.dataset import Dataset, collect_dataset, save_dataset
from porcini.data.validation import DatasetError

ENV_VARIABLE = "PORCINI_DATASETS"
DEFAULT_ROOT = Path("~/.cache/porcini/datasets")
_FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")  # a replay's transitions (no extras)
TARGET_SCORE = 1.0 / 3.0  # D4RL's "medium": a third of the way from random to expert
# The config of record's 3e-4 reaches a third of the expert in ~2,400 steps, a replay too small to learn from
MEDIUM_SAC_LEARNING_RATE = 3e-5


@dataclass(frozen=True)
class Recipe:
    """How one reference dataset is made.

    Args:
        name: the dataset's name (``pendulum-medium``).
        description: one line: what policy, recorded how.
        build: makes the dataset from ``(scale, root)``, ``root`` holding the datasets it depends on; returns it by
            name, with any other reference dataset the same run gives (``pendulum-medium`` and its replay).
        version: raised whenever the recipe changes what it records; part of the cache file's name, so a cache
            built by an older recipe is not read as this one's.
    """

    name: str
    description: str
    build: Callable[[float, Path], dict[str, Dataset]]
    version: int = 1


def reference_datasets() -> dict[str, str]:
    """The names of the reference datasets with a one-line description of each, in build order."""
    return {name: recipe.description for name, recipe in RECIPES.items()}


def check_names(names: Iterable[str]) -> None:
    """Raise DatasetError (one line listing the known names) if a name in ``names`` is not a reference dataset."""
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        raise DatasetError(f"no reference dataset {unknown[0]!r}; the reference datasets are {', '.join(RECIPES)}")


def dataset_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``root``, else ``$PORCINI_DATASETS``, else ``~/.cache/porcini/datasets``."""
    chosen = root if root is not None else os.environ.get(ENV_VARIABLE) or DEFAULT_ROOT
    return Path(chosen).expanduser()


def reference_path(name: str, root: str | os.PathLike[str] | None = None, *, scale: float = 1.0) -> Path:
    """Where the dataset ``name`` at ``scale`` is cached (whether or not it exists yet): ``NAME-vVERSION.npz``."""
    suffix = "" if scale == 1.0 else f"-scale{scale:g}"
    return dataset_root(root) / f"{name}-v{RECIPES[name].version}{suffix}.npz"


def reference_dataset(name: str, root: str | os.PathLike[str] | None = None, *, scale: float = 1.0) -> Path:
    """The path of the reference dataset ``name``, built first if it is not in the cache yet.

    The file is written atomically (a temporary file renamed into place) while an exclusive lock on
    ``NAME.npz.lock`` is held, so a second process asking for the same dataset waits and then reads the first one's
    file; a build that fails leaves nothing. Load it with :func:`~porcini.data.load_dataset` or name it as a run's
    ``data.dataset``.

    Args:
        name: one of :func:`reference_datasets`.
        root: the cache folder (default ``$PORCINI_DATASETS``, else ``~/.cache/porcini/datasets``).
        scale: fraction of each recipe's budget (training steps, recorded episodes), > 0; 1 is the suite.

    Raises:
        DatasetError: an unknown name (the message lists the known ones) or a scale that is not > 0.
    """
    check_names([name])
    if not (isinstance(scale, (int, float)) and scale > 0):
        raise DatasetError(f"scale = {scale!r} is invalid: give a fraction of the recipes' budget > 0 (1: the suite)")
    path = reference_path(name, root, scale=scale)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(path.with_name(path.name + ".lock")):
        if not path.is_file():  # another process may have built it while this one waited
            for built, dataset in RECIPES[name].build(float(scale), path.parent).items():
                built_path = reference_path(built, path.parent, scale=scale)
                if built == name or not built_path.is_file():  # a sibling is the same data: written atomically
                    save_dataset(built_path, dataset, {"reference": built, "recipe_version": RECIPES[built].version,
                                                       "scale": float(scale)})
    return path


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (where the platform has one; the write is atomic anyway)."""
    try:
        import fcntl
    except ImportError:  # Windows: two builders both write, each atomically, the same content
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _budget(value: int, scale: float) -> int:
    return max(1, round(value * scale))


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """One torch thread while a recipe runs: the same arrays on every rebuild, and small networks run faster."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _collect(env_id: str, policy: Callable[[Any], Callable[[np.ndarray], Any]] | None, episodes: int, seed: int,
             metadata: dict[str, Any]) -> Dataset:
    """Record ``episodes`` whole episodes in one env seeded with ``seed``; ``policy(env)`` acts (None: random)."""
    from porcini.envs import make_env

    env = make_env(env_id, n_envs=1, seed=seed)
    spaces = {"observation_space": str(env.info.observation_space), "action_space": str(env.info.action_space)}
    try:
        act = policy(env) if policy is not None else (lambda obs: env.action_space.sample())
        return collect_dataset(env, act, episodes=episodes, seed=seed, metadata={**metadata, **spaces})
    finally:
        env.close()


class _RecordingAgent:
    """An agent that passes everything to ``agent`` and keeps a copy of every batch given to ``fit``: the replay."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.batches: list[TransitionBatch] = []

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        copied: dict[str, Any] = {f: np.array(getattr(batch, f), copy=True) for f in _FIELDS}
        self.batches.append(TransitionBatch(**copied))
        return dict(self.agent.fit(batch))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.agent, name)

    def replay(self) -> TransitionBatch:
        """Every transition given to ``fit``, ``[T, B]`` in time order."""
        joined: dict[str, Any] = {f: np.concatenate([getattr(b, f) for b in self.batches]) for f in _FIELDS}
        return TransitionBatch(**joined)


@dataclass
class _Run:
    """A training run of a reference recipe: the agent, its replay as stored, and where and why it stopped."""

    agent: Any
    replay: TransitionBatch
    metadata: dict[str, Any]


def _train(algo: str, env_id: str, seed: int, scale: float, target: float | None, eval_every: int,
           eval_explore: bool, eval_episodes: int = 10, overrides: dict[str, Any] | None = None,
           hold: int = 1) -> _Run:
    """Train ``algo`` on ``env_id`` with its config of record (and ``overrides`` of its ``algo`` section).

    It stops once ``hold`` evaluations in a row are >= ``target``. Without a target it trains for the config of
    record's ``steps`` (times ``scale``) and never evaluates.
    """
    from porcini.algorithms.registry import get_algorithm
    from porcini.core import Callback, Core
    from porcini.experiment.config import make_algo_config, resolve_run_config
    from porcini.experiment.envs import build_envs
    from porcini.seeding import eval_seed, seed_everything

    agent_cls = get_algorithm(algo)
    config = resolve_run_config(algo, env_id, overrides={"seed": seed, **(overrides or {})},
                                algo_config_cls=agent_cls.Config)
    steps = _budget(config.steps, scale)
    history: list[list[float]] = []

    class StopAtTarget(Callback):
        def on_epoch_end(self, core: Core) -> None:
            record = core.evaluate(_budget(eval_episodes, scale), explore=eval_explore)
            history.append([core.env_steps, float(np.mean(record.returns))])
            recent = [value for _, value in history[-hold:]]
            core.stop_requested = target is not None and len(recent) == hold and min(recent) >= target

    with _one_torch_thread():
        seed_everything(seed)
        env, eval_env = build_envs(config)
        recording = _RecordingAgent(agent_cls(env.info, make_algo_config(config, agent_cls.Config)))
        callbacks = [StopAtTarget()] if target is not None else []
        core = Core(recording, env, eval_env=eval_env, callbacks=callbacks, progress=False,
                    eval_seed=eval_seed(seed))
        try:
            core.learn(steps=steps, steps_per_epoch=eval_every if target is not None else None, horizon=config.steps)
        finally:
            env.close()
            eval_env.close()
    replay = recording.replay()
    if replay.n_transitions != len(recording.agent.buffer):  # a replay that had overwritten its oldest rows
        raise AssertionError(f"{algo}'s replay buffer holds {len(recording.agent.buffer)} transitions, "
                             f"{replay.n_transitions} were stored")
    metadata = {"algo": algo, "train_seed": seed, "observation_space": str(env.info.observation_space),
                "action_space": str(env.info.action_space), "train_steps": core.env_steps, "config_steps": config.steps,
                "config": {k: v for k, v in config.algo.items()}}
    if target is not None:
        metadata.update(target_return=target, eval_every=eval_every, eval_explore=eval_explore,
                        evaluations=history, reached=bool(history and history[-1][1] >= target))
    return _Run(recording.agent, replay, metadata)


def _target(random_return: float, expert_return: float) -> float:
    return random_return + TARGET_SCORE * (expert_return - random_return)


def _mean_return(dataset: Dataset) -> float:
    from porcini.data.dataset_stats import describe_dataset

    return float(describe_dataset(dataset)["return_mean"])


def _pendulum_random(scale: float, root: Path) -> dict[str, Dataset]:
    return {"pendulum-random": _collect("Pendulum-v1", None, _budget(50, scale), 0, {"policy": "random"})}


def _pendulum_expert(scale: float, root: Path) -> dict[str, Dataset]:
    run = _train("sac", "Pendulum-v1", 0, scale, None, eval_every=0, eval_explore=False)
    return {"pendulum-expert": _collect("Pendulum-v1", lambda env: lambda obs: run.agent.act(obs, explore=False),
                                        _budget(50, scale), 1000, {"policy": "sac, deterministic", **run.metadata})}


def _pendulum_medium(scale: float, root: Path) -> dict[str, Dataset]:
    """``pendulum-medium`` and ``pendulum-medium-replay``: one SAC run, stopped at a third of the expert."""
    from porcini.data.dataset import load_dataset

    r_random = _mean_return(load_dataset(reference_dataset("pendulum-random", root, scale=scale)))
    r_expert = _mean_return(load_dataset(reference_dataset("pendulum-expert", root, scale=scale)))
    # as many episodes as the recording, from other start states: the recording's mean return is the evaluation's
    run = _train("sac", "Pendulum-v1", 1, scale, _target(r_random, r_expert), eval_every=200, eval_explore=True,
                 eval_episodes=50, overrides={"learning_rate": MEDIUM_SAC_LEARNING_RATE})
    metadata = {"random_return": r_random, "expert_return": r_expert, **run.metadata}
    medium = _collect("Pendulum-v1", lambda env: lambda obs: run.agent.act(obs, explore=True), _budget(50, scale),
                      1001, {"policy": "sac, stochastic", **metadata})
    replay = Dataset(run.replay, {"env_id": "Pendulum-v1", "policy": "sac replay buffer", **metadata})
    return {"pendulum-medium": medium, "pendulum-medium-replay": replay}


def _cartpole_medium_replay(scale: float, root: Path) -> dict[str, Dataset]:
    r_random = _mean_return(_collect("CartPole-v1", None, 100, 0, {}))
    r_expert = 500.0
    run = _train("dqn", "CartPole-v1", 0, scale, _target(r_random, r_expert), eval_every=512, eval_explore=True,
                 eval_episodes=50)
    return {"cartpole-medium-replay": Dataset(run.replay, {
        "env_id": "CartPole-v1", "policy": "dqn replay buffer", "random_return": r_random, "expert_return": r_expert,
        **run.metadata})}


RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (
    Recipe("pendulum-random", "Pendulum-v1, 50 episodes of a uniformly random policy", _pendulum_random),
    Recipe("pendulum-expert", "Pendulum-v1, 50 episodes of SAC (config of record, 20k steps), deterministic",
           _pendulum_expert),
    Recipe("pendulum-medium", "Pendulum-v1, 50 episodes of SAC (learning rate 3e-5) stopped at a third of the "
           "expert's normalized score, stochastic", _pendulum_medium, version=2),
    Recipe("pendulum-medium-replay", "Pendulum-v1, the replay buffer of that SAC run up to its stopping point",
           _pendulum_medium, version=2),
    Recipe("cartpole-medium-replay", "CartPole-v1, DQN's replay buffer (config of record) up to its ε-greedy "
           "policy's reaching a third of the expert return", _cartpole_medium_replay, version=2),
)}
