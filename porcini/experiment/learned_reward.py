"""The learned reward of a run: a trained ``airl`` or ``preferences`` run's reward, for a new run to train on.

``porcini train ALGO ENV --reward RUN_DIR`` (``data.reward``) loads the run's last checkpoint, takes its agent's
:meth:`reward_model` and wraps this run's training env in :class:`~porcini.envs.wrappers.LearnedReward`; the
evaluation env keeps the env's reward, so evaluations and the summary report the task's return.

The learned reward goes in under the env's vector reward wrappers (``NormalizeReward``), so they scale the reward the
agent learns from; a per-env reward wrapper (``ClipReward``, ``SignReward``) would only change the env's reward,
which the learned one replaces, and is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import gymnasium as gym

from porcini.algorithms.registry import get_algorithm
from porcini.envs.wrappers import LearnedReward, NormalizeReward, VectorRecordEpisodeStatistics, vector_wrappers
from porcini.errors import ConfigError
from porcini.experiment.config import RunConfig, load_run_config
from porcini.experiment.envs import wrapper_specs
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
    _check_reward_wrappers(config)
    if theirs.env.id != config.env.id or _observation_wrappers(theirs) != _observation_wrappers(config):
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


def with_learned_reward(env: Any, config: RunConfig) -> tuple[Any, str | None]:
    """``env`` with its reward replaced by ``data.reward``'s learned reward (its last checkpoint's agent).

    Also the reward's fingerprint, which a checkpoint records (:mod:`porcini.experiment.sources`); ``env`` as it
    is and None when the run names no ``data.reward``.
    """
    from porcini.experiment.evaluation import load_policy

    if config.data.reward is None:
        return env, None
    _, agent, train_env, eval_env = load_policy(config.data.reward, "last")
    train_env.close()
    eval_env.close()
    model = agent.reward_model()
    return insert_learned_reward(env, model), reward_fingerprint(model)


def reward_fingerprint(model: Any) -> str:
    """SHA-256 (hex) of a learned reward: its networks' parameters and buffers and its terminal reward."""
    digest = hashlib.sha256(repr(getattr(model, "terminal_reward", None)).encode())
    networks = [*model.networks, *([model.potential] if getattr(model, "potential", None) is not None else [])]
    for net in networks:
        for name, tensor in net.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def insert_learned_reward(env: Any, reward_fn: Any) -> Any:
    """``env`` with a :class:`LearnedReward` of ``reward_fn`` under its outer vector reward wrappers.

    The reward wrappers (``NormalizeReward``) then scale the learned reward, and the wrappers above it pass the
    observations the reward was learned on unchanged.
    """
    chain = vector_wrappers(env)
    depth = _reward_wrapper_depth([type(wrapper) for wrapper in chain])
    if depth == 0:
        return LearnedReward(env, reward_fn)
    chain[depth - 1].env = LearnedReward(chain[depth - 1].env, reward_fn)
    return env


#: vector wrappers that leave observations, actions and rewards as they are
_EPISODE_STATISTICS = (VectorRecordEpisodeStatistics, gym.wrappers.vector.RecordEpisodeStatistics)


def _changes_reward(cls: Any) -> bool:
    """True for a wrapper class that changes rewards (and neither observations nor actions)."""
    return isinstance(cls, type) and issubclass(cls, (NormalizeReward, gym.wrappers.vector.NormalizeReward,
                                                       gym.vector.VectorRewardWrapper, gym.RewardWrapper))


def _reward_wrapper_depth(outermost_first: list[Any]) -> int:
    """How many of the vector wrappers ``outermost_first`` go above the learned reward.

    Down to the innermost reward wrapper, past only reward wrappers and episode statistics (which leave the
    observations as they are).
    """
    depth = 0
    for i, cls in enumerate(outermost_first):
        if _changes_reward(cls):
            depth = i + 1
        elif not issubclass(cls, _EPISODE_STATISTICS):
            break
    return depth


def _wrapper_classes(config: RunConfig) -> list[Any]:
    """The wrapper class of each ``env.wrappers`` entry."""
    return [spec[0] if isinstance(spec, tuple) else spec for spec in wrapper_specs(config)]


def _observation_wrappers(config: RunConfig) -> list[Any]:
    """``env.wrappers`` without those that change nothing a learned reward reads (reward wrappers, statistics)."""
    return [entry for entry, cls in zip(config.env.wrappers, _wrapper_classes(config))
            if not (_changes_reward(cls) or issubclass(cls, _EPISODE_STATISTICS))]


def _check_reward_wrappers(config: RunConfig) -> None:
    """Raise ConfigError when a reward wrapper of ``env.wrappers`` would change only the env reward, not the learned.

    That is a per-env one, or a vector one under a wrapper that changes observations.
    """
    classes = _wrapper_classes(config)
    vector = [cls for cls in classes if issubclass(cls, gym.vector.VectorWrapper)][::-1]  # outermost first
    per_env = [cls for cls in classes if not issubclass(cls, gym.vector.VectorWrapper)]
    unreached = [cls.__name__ for cls in per_env + vector[_reward_wrapper_depth(vector):] if _changes_reward(cls)]
    if unreached:
        raise ConfigError(f"data.reward = {config.data.reward!r} replaces the env's reward, but env.wrappers "
                          f"{unreached} would change the env's reward only, not the learned one: drop them (a "
                          "NormalizeReward listed after the observation wrappers scales the learned reward)")
