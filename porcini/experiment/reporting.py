"""``porcini plot``: learning curves of several runs in one PNG and the across-seed report (rliable protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from porcini.experiment.plots import final_scores, load_run_curve, plot_learning_curves, report_table
from porcini.experiment.statistics import aggregate_scores


def plot_runs(run_dirs: list[str], output: str | Path) -> dict[str, Any]:
    """Plot every run's evaluation curve and aggregate the runs' final evaluation returns.

    Runs of one algorithm and env are seeds of one line, drawn with a 95% band. The aggregates are the mean,
    median and IQM with stratified-bootstrap 95% CIs.

    Returns:
        ``{"figure": path, "table": markdown, "aggregates": {algo: {statistic: {value, low, high}}}}``.
    """
    curves = [load_run_curve(d) for d in run_dirs]
    path = plot_learning_curves(curves, output, title="evaluation return (mean and 95% CI across seeds)")
    scores = final_scores(curves)
    aggregates = {
        label: {name: {"value": est.point, "low": est.low, "high": est.high}
                for name, est in aggregate_scores(values).items()}
        for label, values in scores.items()
    }
    return {"figure": str(path), "table": report_table(scores), "aggregates": aggregates}
