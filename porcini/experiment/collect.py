"""Record a policy into a dataset: a trained run's agent or a random policy, optionally ε-noisy (``porcini collect``).

The data is recorded in one env, so ``--episodes N`` gives exactly ``N`` whole episodes. A run's agent acts in
its evaluation env (the run's wrappers, training-only ones left out, observation statistics of the checkpoint), so
the observations are those the agent saw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from porcini.data.dataset import collect_dataset
from porcini.data.dataset_stats import describe_dataset
from porcini.data.sources import check_target, write_dataset
from porcini.envs import make_env
from porcini.errors import ConfigError, UserError

RANDOM = "random"


def collect_policy(policy: str, episodes: int, to: str, *, env: str | None = None, noise: float = 0.0,
                   seed: int = 0, checkpoint: str = "best", explore: bool = False) -> dict[str, Any]:
    """Run ``policy`` for ``episodes`` episodes and write what it did to ``to``.

    Args:
        policy: a trained run directory (its ``checkpoint``'s agent) or ``"random"`` (uniform random actions).
        episodes: whole episodes to record.
        to: ``"minari:NAME"`` (a local Minari dataset) or a ``.npz`` path; must not exist yet.
        env: the Gymnasium id to record in; required for ``"random"``, for a run it must be the run's env if given.
        noise: ε: with this probability each step's action is replaced by a uniformly random one.
        seed: seeds the env, the random actions and the noise.
        checkpoint: of a run: ``"best"``, ``"last"`` or a checkpoint file.
        explore: a run's agent acts with its exploring (stochastic) policy instead of its deterministic one.

    Returns:
        The dataset's statistics (:func:`~porcini.data.dataset_stats.describe_dataset`) with ``to`` (where it was
        written), ``policy``, ``noise`` and ``seed``.

    Raises:
        UserError: a bad ``episodes``/``noise``, ``random`` without ``env``, a run directory that is not one,
            ``env`` other than the run's, or a target that exists already.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ConfigError(f"episodes = {episodes!r} is invalid: record at least 1 episode")
    if not 0.0 <= noise <= 1.0:
        raise ConfigError(f"noise = {noise!r} is invalid: ε is a probability in [0, 1]")
    check_target(to)
    collect_env, act, algorithm, metadata = _policy_and_env(policy, env, seed, checkpoint, explore)
    info = collect_env.info
    metadata.update(noise=noise, explore=explore, observation_space=str(info.observation_space),
                    action_space=str(info.action_space))
    try:
        rng = np.random.default_rng(seed)
        dataset = collect_dataset(collect_env, _with_noise(act, collect_env, noise, rng), episodes=episodes,
                                  seed=seed, metadata=metadata)
    finally:
        collect_env.close()
    where = write_dataset(dataset, to, observation_space=info.observation_space, action_space=info.action_space,
                          env_id=info.env_id, algorithm_name=algorithm,
                          description=f"{episodes} episodes of {policy} (noise {noise}) recorded by porcini")
    return {**describe_dataset(dataset), "to": where, "policy": policy, "noise": noise, "seed": seed}


def _policy_and_env(policy: str, env: str | None, seed: int, checkpoint: str,
                    explore: bool) -> tuple[Any, Callable[[np.ndarray], Any], str, dict[str, Any]]:
    """The one-env vector env to record in, the acting function, the algorithm's name and the dataset metadata."""
    if policy == RANDOM:
        if env is None:
            raise UserError("collect random needs --env ENV (a Gymnasium id, e.g. --env Pendulum-v1)")
        from porcini.experiment.preflight import check_env_id

        check_env_id(env)  # a misspelt id: the closest registered ones, as train says
        collect_env = make_env(env, n_envs=1, seed=seed)
        return collect_env, lambda obs: collect_env.action_space.sample(), RANDOM, {"policy": RANDOM}
    if not Path(policy).is_dir():
        raise UserError(f"{policy!r} is neither a run directory nor 'random': give the folder of a trained run "
                        "(runs/ALGO-ENV-s0-...) or random with --env ENV")
    from porcini.envs.wrappers import share_normalization
    from porcini.experiment.evaluation import load_policy

    config, agent, train_env, eval_env = load_policy(policy, checkpoint)
    try:
        if env is not None and env != config.env.id:
            raise UserError(f"the run {policy} acts in {config.env.id}, not --env {env}: drop --env or record "
                            "another run")
        collect_env = eval_env.spawn(1, seed)
        share_normalization(collect_env, train_env)  # the trained statistics, frozen, as build_envs shares them
    finally:  # the statistics are shared objects: they outlive the envs they came from
        train_env.close()
        eval_env.close()
    metadata = {"policy": str(policy), "algo": config.algo_name, "checkpoint": checkpoint}
    return collect_env, lambda obs: agent.act(obs, explore=explore), config.algo_name, metadata


def _with_noise(act: Callable[[np.ndarray], Any], env: Any, noise: float,
                rng: np.random.Generator) -> Callable[[np.ndarray], Any]:
    """``act`` with each env's action replaced, with probability ``noise``, by a uniformly random one."""
    if noise == 0.0:
        return act

    def noisy(obs: np.ndarray) -> np.ndarray:
        action = np.asarray(act(obs))
        random_action = np.asarray(env.action_space.sample(), dtype=action.dtype)
        replace = np.asarray(rng.random(action.shape[0]) < noise)
        return np.where(replace.reshape(-1, *([1] * (action.ndim - 1))), random_action, action)

    return noisy
