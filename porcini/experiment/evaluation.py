"""Evaluating a finished run from its directory: the saved policy on fresh eval envs, optionally on video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from porcini.algorithms.registry import get_algorithm
from porcini.core import Core
from porcini.core.records import EpisodeRecord
from porcini.errors import CheckpointError, UserError
from porcini.experiment.checkpoint import load_agent_state, read_checkpoint, resolve_checkpoint, run_identity
from porcini.experiment.config import RunConfig, load_run_config, make_algo_config
from porcini.experiment.envs import build_envs, stateful_wrappers
from porcini.experiment.seeding import eval_seed


def load_policy(run_dir: str | Path, checkpoint: str = "best") -> tuple[RunConfig, Any, Any, Any]:
    """Rebuild a run's config, agent, training env and eval env, with the agent and wrapper statistics loaded.

    ``checkpoint`` is ``"best"`` (falls back to ``"last"`` when the run never evaluated), ``"last"`` or the path
    of a checkpoint file of this run.

    Raises:
        UserError: ``run_dir`` has no ``config.yaml``, or ``checkpoint`` names no file.
        CheckpointError: no checkpoint, or one that does not belong to this run (another algorithm, env,
            number of envs, observation or action space, wrapper list, networks of other sizes).
    """
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise UserError(f"{run_dir} has no config.yaml: is it a porcini run directory?")
    config = load_run_config(config_path)
    agent_cls = get_algorithm(config.algo_name)
    saved = read_checkpoint(resolve_checkpoint(run_dir, checkpoint), run_identity(config))
    env, eval_env = build_envs(config)
    state = saved.state
    try:
        saved.check_identity(run_identity(config, env.info))  # before a network of another shape refuses it
        agent = agent_cls(env.info, make_algo_config(config, agent_cls.Config))
        load_agent_state(agent, state["agent"], saved.path)
    except CheckpointError:
        env.close()
        eval_env.close()
        raise
    for wrapper, wrapper_state in zip(stateful_wrappers(env), state["wrappers"]):
        wrapper.load_state_dict(wrapper_state)
    return config, agent, env, eval_env


def evaluate_run(run_dir: str | Path, episodes: int = 10, checkpoint: str = "best",
                 video: bool = False, seed: int | None = None) -> dict[str, Any]:
    """Evaluate the saved policy of ``run_dir`` for ``episodes`` deterministic episodes.

    The evaluation episodes start from the run's own evaluation seeds, or from those of a run of seed ``seed``
    (fresh episodes for a policy that was selected on its own evaluations, as ``porcini tune`` reports).

    With ``video``, one more episode is rendered and written to ``run_dir/videos/eval-s<seed>-episode-0.mp4``
    (or ``.gif`` when no ffmpeg is available), its path returned as ``result["video"]``.

    Raises:
        MissingExtraError: ``video`` without the ``video`` extra (checked before anything runs).
        ConfigError: ``video`` of an env that declares its render modes without ``rgb_array``.
        RunDirectoryError: ``video`` and ``run_dir/videos`` cannot be written (checked before anything runs).
    """
    if video:
        from porcini.experiment.preflight import check_renders_frames, check_video_extra
        from porcini.experiment.video import prepare_video_folder

        check_video_extra()
        config_path = Path(run_dir) / "config.yaml"
        if config_path.is_file():  # else load_policy says it is not a run directory
            check_renders_frames(load_run_config(config_path).env.id)
        prepare_video_folder(Path(run_dir) / "videos")  # a read-only run directory fails before the evaluation
    config, agent, env, eval_env = load_policy(run_dir, checkpoint)
    core = Core(agent, env, eval_env=eval_env, progress=False,
                eval_seed=eval_seed(config.seed if seed is None else seed))
    record = core.evaluate(episodes)
    result: dict[str, Any] = {
        "algo": config.algo_name, "env": config.env.id, "seed": config.seed, "checkpoint": checkpoint,
        "eval_return_mean": float(np.mean(record.returns)), "eval_return_std": float(np.std(record.returns)),
        "eval_episodes": len(record.returns), "returns": [float(r) for r in record.returns],
    }
    result.update(evaluation_extras(record, getattr(agent, "cost_key", None), env.info.agents))
    result["run_dir"] = str(run_dir)  # a glob of runs names the one evaluated
    if video:
        from porcini.experiment.video import record_episode

        result["video"] = str(record_episode(config, agent, Path(run_dir) / "videos", env))
    env.close()
    eval_env.close()
    return result


def evaluation_extras(record: EpisodeRecord, cost_key: str | None, agents: tuple[str, ...]) -> dict[str, float]:
    """What an evaluation reports beside the return: a constrained agent's mean episode cost, agents' returns.

    ``eval_cost_mean`` for an agent with a ``cost_key``; for a multi-agent env each agent's mean return
    (``eval_return_mean/<agent>``) and their sum (``eval_team_return_mean``).
    """
    extras = {"eval_cost_mean": record.mean_info_sum(cost_key)} if cost_key is not None else {}
    if agents:
        per_agent = record.mean_return_by_agent(agents)
        extras.update({"eval_team_return_mean": float(sum(per_agent.values())),
                       **{f"eval_return_mean/{agent}": value for agent, value in per_agent.items()}})
    return extras
