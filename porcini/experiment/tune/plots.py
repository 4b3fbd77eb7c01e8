"""The plots of a tune directory: ``objective.png``, ``importance.png`` and, for PBT, ``lineage.png``.

Each function writes nothing and returns None when matplotlib (extra ``porcini[plot]``) is not installed, so a
tune never fails for want of a plot.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from porcini.experiment.tune.space import SearchSpace
from porcini.experiment.tune.trials import TrialRecord


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_objective(tune_dir: Path, records: Sequence[TrialRecord]) -> Path | None:
    """``objective.png``: each trial's objective (pruned ones at their last value) and the best so far.

    Returns None, writing nothing, when matplotlib is not installed.
    """
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for status, marker in (("complete", "o"), ("pruned", "x")):
        points = [(r.number, r.objective) for r in records if r.status == status and r.objective is not None]
        if points:
            ax.scatter(*zip(*points), marker=marker, label=status)
    best: list[tuple[int, float]] = []
    for r in sorted(records, key=lambda r: r.number):
        if r.status == "complete" and r.objective is not None:
            best.append((r.number, max(r.objective, best[-1][1]) if best else r.objective))
    if best:
        ax.step(*zip(*best), where="post", color="gray", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective (mean final eval return)")
    ax.legend(loc="best")
    return _save(plt, fig, tune_dir / "objective.png")


def param_importances(records: Sequence[TrialRecord], space: SearchSpace) -> dict[str, float] | None:
    """Each hyperparameter's share of the objective's variance (Optuna's fANOVA over the complete trials).

    Returns None when it cannot be estimated: Optuna not installed, fewer than three complete trials, or
    objectives that do not vary.
    """
    try:
        import optuna
    except ImportError:
        return None
    complete = [r for r in records if r.status == "complete" and r.objective is not None]
    if len(complete) < 3 or len({r.objective for r in complete}) < 2:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {d.key: _optuna_distribution(optuna, d) for d in space.distributions}
    study = optuna.create_study(direction="maximize")
    for r in complete:
        params = {k: json.dumps(v) if isinstance(distributions[k], optuna.distributions.CategoricalDistribution)
                  else v for k, v in r.params.items() if k in distributions}
        try:
            study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=r.objective))
        except ValueError:  # a value outside the space (a space edited since): left out
            continue
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study, normalize=True).items()}
    except (ValueError, RuntimeError, ZeroDivisionError):
        return None


def _optuna_distribution(optuna: Any, dist: Any) -> Any:
    if dist.kind in ("uniform", "loguniform"):
        return optuna.distributions.FloatDistribution(*dist.args, log=dist.kind == "loguniform")
    if dist.kind == "int":
        return optuna.distributions.IntDistribution(*dist.args)
    return optuna.distributions.CategoricalDistribution([json.dumps(c) for c in dist.args])


def plot_importance(tune_dir: Path, importances: dict[str, float] | None) -> Path | None:
    """``importance.png``: a bar per hyperparameter, its fANOVA importance (see :func:`param_importances`)."""
    plt = _pyplot()
    if plt is None or not importances:
        return None
    keys = sorted(importances, key=lambda k: importances[k])
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(keys)))
    ax.barh(keys, [importances[k] for k in keys])
    ax.set_xlabel("importance (share of the objective's variance, fANOVA)")
    return _save(plt, fig, tune_dir / "importance.png")


def plot_lineage(tune_dir: Path, rows: Sequence[dict[str, Any]], key: str) -> Path | None:
    """``lineage.png``: each PBT member's score per round (top) and hyperparameter ``key`` (bottom).

    A dotted line joins a member to the member it copied at the start of a round.
    """
    plt = _pyplot()
    if plt is None or not rows:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    by_member: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_member.setdefault(row["member"], []).append(row)
    at = {(r["member"], r["round"]): r for r in rows}
    for member, chain in sorted(by_member.items()):
        pieces: list[list[dict[str, Any]]] = [[]]
        for r in chain:  # a member that copied another starts a new piece, joined to the donor's point
            if r["parent"] is not None and pieces[-1]:
                pieces.append([])
            pieces[-1].append(r)
        color = None
        for piece in pieces:
            line = top.plot([r["env_steps"] for r in piece], [r["score"] for r in piece], marker="o", color=color,
                            label=None if color else f"member {member}")[0]
            color = line.get_color()
            bottom.plot([r["env_steps"] for r in piece], [r["params"].get(key) for r in piece], marker="o",
                        color=color)
            donor = at.get((piece[0]["parent"], piece[0]["round"] - 1))
            if donor is not None and donor["score"] is not None and piece[0]["score"] is not None:
                top.plot([donor["env_steps"], piece[0]["env_steps"]], [donor["score"], piece[0]["score"]], ":",
                         color=color)
                bottom.plot([donor["env_steps"], piece[0]["env_steps"]],
                            [donor["params"].get(key), piece[0]["params"].get(key)], ":", color=color)
    top.set_ylabel("evaluation return")
    top.legend(loc="best", fontsize="small")
    bottom.set_ylabel(key)
    values = [r["params"].get(key) for r in rows]
    if all(isinstance(v, (int, float)) and v > 0 for v in values) and max(values) > 10 * min(values):
        bottom.set_yscale("log")
    bottom.set_xlabel("env steps")
    return _save(plt, fig, tune_dir / "lineage.png")
