"""Branching a run: a new run directory that continues another run's last checkpoint under a new config.

Population-based training (``porcini tune --method pbt``) copies a better member's state into a worse one and
changes its hyperparameters; here that is one new run directory, so a member's history stays a chain of real,
resumable runs::

    <out>/<algo>-<env>-s<seed>-<stamp>/
      config.yaml          the new config (its ``steps`` is where the branch will stop)
      checkpoints/last.pt  the source's last checkpoint, now the branch's (the MLflow run id dropped: the branch
                           logs its own; no best evaluation yet: best.pt comes from the branch's own)
      metrics.csv          the source's rows up to the checkpoint, so curves read across the branch point
      branched_from.json   the source run, the env step of the branch and the hyperparameters that changed

:meth:`Experiment.resume <porcini.experiment.experiment.Experiment.resume>` then trains the branch. The new config
may change anything the checkpoint carries across (learning rates, coefficients, clip ranges, ...); optimizers take
their settings from it (:func:`~porcini.experiment.checkpoint.keeping_optimizer_settings`). What the checkpoint's
identity fixes (algorithm, env, number of envs, spaces, wrappers) must stay, and so must network sizes.

The branch's ``best.pt`` and ``best_eval_return`` are its own, from its first evaluation on: a policy trained under
the branch's config. The source's best (which may predate the branch point, or, branched from a copy Ray Tune kept,
come after it) stays in the source's directory, which ``branched_from.json`` names.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

from porcini.experiment.checkpoint import read_checkpoint, resolve_checkpoint, run_identity, save_checkpoint
from porcini.experiment.config import RunConfig, dump_yaml, load_run_config, to_dict
from porcini.experiment.run_dir import RunDirectory, atomic_write_text


def branch_run(source: str | Path, config: RunConfig, checkpoint: str | Path = "last") -> Path:
    """Create a run directory under ``config.out`` that continues ``source``'s last checkpoint with ``config``.

    Args:
        source: a run directory with a checkpoint.
        config: the branch's run config; ``config.steps`` must be past the source's env steps.
        checkpoint: ``last``, ``best`` or the path of a checkpoint file of ``source`` (e.g. a copy Ray Tune kept).

    Returns:
        The branch's run directory (not trained yet: ``Experiment.resume(path).train()`` trains it).

    Raises:
        CheckpointError: the source has no readable checkpoint, or ``config`` is not a run its checkpoint fits.
        ConfigError: ``config.steps`` is not past the source's env steps.
    """
    from porcini.errors import ConfigError

    source = Path(source)
    saved = read_checkpoint(resolve_checkpoint(source, checkpoint), run_identity(config))
    done = int(saved.state["core"]["env_steps"])
    if config.steps <= done:
        raise ConfigError(f"a branch of {source.name} must train past its {done} env steps; steps = {config.steps}")
    run_dir = RunDirectory.create(config.out, config.algo_name, config.env.id, config.seed)
    try:
        atomic_write_text(run_dir.path / "config.yaml", dump_yaml(config))
        state = {**saved.state, "mlflow_run_id": None, "best_eval_return": float("-inf")}  # its best is its own
        save_checkpoint(run_dir.checkpoints / "last.pt", state, {**saved.identity, "run": run_dir.path.name})
        _copy_metrics(source / "metrics.csv", run_dir.path / "metrics.csv", done)
        changed = changed_settings(load_run_config(source / "config.yaml"), config)
        atomic_write_text(run_dir.path / "branched_from.json", json.dumps(
            {"run_dir": str(source), "env_steps": done, "changed": changed}, indent=1) + "\n")
    except BaseException:
        shutil.rmtree(run_dir.path, ignore_errors=True)
        raise
    return run_dir.path


def _copy_metrics(source: Path, target: Path, up_to: int) -> None:
    """The source's ``metrics.csv`` rows whose step is at most ``up_to`` (nothing when it has none)."""
    if not source.is_file():
        return
    rows = list(csv.reader(io.StringIO(source.read_text())))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0] and float(r[0]) <= up_to]  # the step column is first
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(kept)
    atomic_write_text(target, text.getvalue())


def changed_settings(before: RunConfig, after: RunConfig) -> dict[str, Any]:
    """The dotted keys whose value differs between two configs, with their new values.

    ``steps``, ``out`` and ``seed`` are left out: a branch may change them without changing how it learns.
    """
    def flat(tree: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(tree, dict):
            return {k: v for key, sub in tree.items() for k, v in flat(sub, f"{prefix}{key}.").items()}
        return {prefix[:-1]: tree}

    old, new = flat(to_dict(before)), flat(to_dict(after))
    return {k: v for k, v in new.items() if old.get(k) != v and k not in ("steps", "out", "seed")}
