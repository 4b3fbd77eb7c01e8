"""Learning curves across seeds (mean line, bootstrap confidence band) and a report table (extra ``plot``).

Input is a list of :class:`RunCurve` (one per run: its label, env steps and evaluation returns); runs with the
same label and env are seeds of one algorithm. :func:`load_run_curve` reads one from a run directory.

Example:
    >>> curves = [load_run_curve(d) for d in ["runs/ppo-CartPole-v1-s0", "runs/ppo-CartPole-v1-s1"]]  # doctest: +SKIP
    >>> plot_learning_curves(curves, "curves.png")  # doctest: +SKIP
    >>> print(report_table(final_scores(curves)))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from porcini.errors import ConfigError, UserError, missing_extra
from porcini.experiment.safe_files import FIGURE_FIX, reporting_os_errors
from porcini.experiment.statistics import aggregate_scores, as_scores, curve_band


@dataclass(frozen=True)
class RunCurve:
    """The evaluation curve of one run."""

    label: str
    """Legend entry, usually the algorithm; runs sharing label and env are seeds of one curve."""
    env_steps: np.ndarray
    """Environment steps of the evaluations, increasing, ``[n_points]``."""
    eval_return_mean: np.ndarray
    """Mean evaluation return at each of those steps, ``[n_points]``."""
    env_id: str = ""
    """Environment; one panel per environment."""
    finished: bool = True
    """False for a run that has not reached its end (still training, stopped, killed): drawn dashed on its own,
    never counted in a band or a final score."""

    def __post_init__(self) -> None:
        steps = np.asarray(self.env_steps, dtype=np.float64)
        returns = np.asarray(self.eval_return_mean, dtype=np.float64)
        if steps.ndim != 1 or steps.shape != returns.shape or steps.size == 0:
            raise ValueError(
                f"run {self.label!r}: env_steps {steps.shape} and eval_return_mean {returns.shape} must be equal, "
                "non-empty 1-D arrays"
            )
        if np.any(np.diff(steps) <= 0):
            raise ValueError(f"run {self.label!r}: env_steps must increase, got {steps.tolist()}")
        object.__setattr__(self, "env_steps", steps)
        object.__setattr__(self, "eval_return_mean", returns)


def load_run_curve(run_dir: str | os.PathLike[str], label: str | None = None, *, finished: bool = True) -> RunCurve:
    """Read a run directory's evaluation curve from ``metrics.csv`` (rows without an evaluation are skipped).

    The label defaults to ``algo_name`` and the env to ``env.id`` from ``config.yaml`` when it is there;
    ``finished`` is passed on to the curve (``porcini.experiment.reporting`` decides it).

    Raises:
        UserError: the run directory has no ``metrics.csv`` or no evaluation in it.
    """
    from porcini.experiment.config import load_yaml
    from porcini.experiment.loggers import metrics_columns

    run_dir = Path(run_dir)
    if not (run_dir / "metrics.csv").is_file():
        raise UserError(f"{run_dir} has no metrics.csv: pass run directories of porcini runs that logged at least "
                        "one epoch with the csv sink (log.sinks)")
    columns = metrics_columns(run_dir / "metrics.csv")
    if "eval_return_mean" not in columns and any(columns.values()):  # rows, but none ever evaluated
        raise UserError(f"{run_dir / 'metrics.csv'} has no eval_return_mean column (was evaluation off?)")
    steps, returns = np.asarray(columns.get("env_steps", [])), np.asarray(columns.get("eval_return_mean", []))
    keep = np.isfinite(returns)
    if not keep.any():
        raise UserError(f"{run_dir / 'metrics.csv'} holds no evaluation yet: plot the run after its first epoch")
    config = load_yaml(run_dir / "config.yaml") if (run_dir / "config.yaml").is_file() else {}
    env = config["env"] if isinstance(config.get("env"), dict) else {}
    return RunCurve(
        label=label or str(config.get("algo_name", run_dir.name)),
        env_steps=steps[keep],
        eval_return_mean=returns[keep],
        env_id=str(env.get("id", "")),
        finished=finished,
    )


def align_curves(curves: Sequence[RunCurve]) -> tuple[np.ndarray, np.ndarray]:
    """Put several runs on one grid of env steps: ``(steps [n_points], returns [n_runs, n_points])``.

    Runs evaluated at the same steps are stacked as they are. Otherwise the grid is the steps of the densest
    run up to the last step every run reached, and each run is linearly interpolated onto it.
    """
    if not curves:
        raise ValueError("align_curves needs at least one run")
    first = curves[0].env_steps
    if all(c.env_steps.shape == first.shape and np.array_equal(c.env_steps, first) for c in curves):
        return first, np.stack([c.eval_return_mean for c in curves])
    end = min(c.env_steps[-1] for c in curves)
    start = max(c.env_steps[0] for c in curves)
    densest = max(curves, key=lambda c: c.env_steps.size).env_steps
    grid = densest[(densest >= start) & (densest <= end)]
    if grid.size == 0:
        grid = np.array([end])
    return grid, np.stack([np.interp(grid, c.env_steps, c.eval_return_mean) for c in curves])


def _groups(curves: Sequence[RunCurve]) -> dict[str, dict[str, list[RunCurve]]]:
    """``{env_id: {label: [runs]}}`` in order of first appearance (unfinished runs included)."""
    groups: dict[str, dict[str, list[RunCurve]]] = {}
    for curve in curves:
        groups.setdefault(curve.env_id, {}).setdefault(curve.label, []).append(curve)
    return groups


def _draw_group(ax: Any, label: str, runs: list[RunCurve], color: str, band: dict[str, Any]) -> None:
    """One label's line and band over its finished runs; each unfinished run as a thin dashed line."""
    finished = [r for r in runs if r.finished]
    if finished:
        steps, returns = align_curves(finished)
        point, low, high = curve_band(returns, **band)
        ax.plot(steps, point, color=color, linewidth=1.8, label=f"{label} ({len(finished)} seeds)")
        ax.fill_between(steps, low, high, color=color, alpha=0.2, linewidth=0)
    for i, run in enumerate(r for r in runs if not r.finished):
        ax.plot(run.env_steps, run.eval_return_mean, color=color, linewidth=1.0, linestyle="--",
                label=f"{label} (unfinished)" if i == 0 else None)


def learning_curve_figure(
    curves: Sequence[RunCurve],
    *,
    statistic: str = "mean",
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Build the matplotlib ``Figure`` of :func:`plot_learning_curves` (one panel per env, one line per label).

    Uses ``matplotlib.figure.Figure`` with the Agg canvas directly: no pyplot, no global backend change.

    Raises:
        MissingExtraError: matplotlib is not installed (an ImportError naming ``pip install "porcini[plot]"``).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import EngFormatter
    except ImportError as exc:
        raise missing_extra("plots", "plot", exc) from exc
    groups = _groups(curves)
    if not groups:
        raise ValueError("plot_learning_curves needs at least one run")
    n_panels = len(groups)
    fig = Figure(figsize=figsize or (5.5 * n_panels, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    colors = {label: f"C{i}" for i, label in enumerate(dict.fromkeys(c.label for c in curves))}
    for ax, (env_id, by_label) in zip(axes, groups.items()):
        for label, runs in by_label.items():
            band = {"statistic": statistic, "confidence": confidence, "n_bootstrap": n_bootstrap, "seed": seed}
            _draw_group(ax, label, runs, colors[label], band)
        ax.set_title(env_id or None)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(f"evaluation return ({statistic}, {confidence:.0%} CI)")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.grid(alpha=0.3)
        ax.legend(loc="best", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def plot_learning_curves(
    curves: Sequence[RunCurve],
    path: str | os.PathLike[str],
    *,
    statistic: str = "mean",
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 120,
) -> Path:
    """Save learning curves to one PNG: return vs env steps, a line per algorithm, a CI band across seeds.

    Args:
        curves: the runs; same label + env = seeds of one line.
        path: the PNG to write (its directory is created).
        statistic: ``mean``, ``median`` or ``iqm`` across seeds at each evaluation step.
        confidence: coverage of the stratified-bootstrap band.
        n_bootstrap: bootstrap resamples per line.
        seed: seed of the bootstrap.
        title: figure title.
        figsize: inches; default 5.5 x 4 per environment panel.
        dpi: resolution; the PNG is ``figsize * dpi`` pixels.

    Returns:
        ``path``.
    """
    fig = learning_curve_figure(
        curves, statistic=statistic, confidence=confidence, n_bootstrap=n_bootstrap, seed=seed, title=title,
        figsize=figsize,
    )
    path = Path(path)
    with reporting_os_errors(path, fix=FIGURE_FIX):
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, format="png")
    return path


def final_scores(curves: Sequence[RunCurve], *, last_n: int = 1) -> dict[str, np.ndarray]:
    """Each label's final scores ``[n_runs, n_tasks]``: the mean of each run's last ``last_n`` evaluations.

    Tasks are the envs, in sorted order. Every env needs the same number of runs of a label. Unfinished runs are
    left out: their last evaluation is not a final one.

    Raises:
        ConfigError: a label has different numbers of finished runs on different envs (a ``ValueError``).
    """
    scores: dict[str, np.ndarray] = {}
    by_label: dict[str, dict[str, list[float]]] = {}
    for curve in curves:
        if not curve.finished:
            continue
        final = float(curve.eval_return_mean[-last_n:].mean())
        by_label.setdefault(curve.label, {}).setdefault(curve.env_id, []).append(final)
    for label, by_env in by_label.items():
        counts = {env: len(v) for env, v in by_env.items()}
        if len(set(counts.values())) != 1:
            raise ConfigError(f"{label!r} has different numbers of runs per env {counts} (finished runs), so its "
                              "final scores do not form a runs x tasks table; give each env as many, or plot each "
                              "env on its own")
        scores[label] = np.array([by_env[env] for env in sorted(by_env)]).T
    return scores


def report_table(
    scores: Mapping[str, ArrayLike],
    *,
    statistics: Sequence[str] = ("mean", "median", "iqm"),
    confidence: float = 0.95,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> str:
    """A Markdown table: per algorithm, each statistic with its stratified-bootstrap confidence interval.

    Args:
        scores: algorithm -> scores ``[n_runs]`` or ``[n_runs, n_tasks]`` (e.g. :func:`final_scores`).
        statistics: columns, among ``mean``, ``median``, ``iqm``, ``optimality_gap``.
        confidence: interval coverage.
        n_bootstrap: bootstrap resamples.
        seed: seed of the bootstrap (the same resampling for every algorithm and statistic).
    """
    names = {"mean": "mean", "median": "median", "iqm": "IQM", "optimality_gap": "optimality gap"}
    header = ["algorithm", "runs x tasks", *(f"{names.get(s, s)} [{confidence:.0%} CI]" for s in statistics)]
    rows = []
    for label, values in scores.items():
        array = as_scores(values)
        results = aggregate_scores(array, statistics, confidence=confidence, n_bootstrap=n_bootstrap, seed=seed)
        rows.append([label, f"{array.shape[0]} x {array.shape[1]}", *(str(results[s]) for s in statistics)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
