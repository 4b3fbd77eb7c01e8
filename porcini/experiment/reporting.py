"""``porcini plot``: learning curves of several runs in one PNG and the across-seed report (rliable protocol).

Runs are grouped before anything is drawn: runs with the same algorithm, env and configuration (everything in
``config.yaml`` but the seed, the output folder and the logging sinks) are seeds of one line. Runs of one algorithm
and env whose configurations differ become separate lines, labelled by the settings that differ (``ppo
(steps=20000)``); two runs of the same seed in one group are refused, since counting them as two seeds would
overstate the evidence. A run that has not reached its configured steps with a ``summary.json`` (still training,
stopped, or killed) is unfinished: it is drawn dashed and left out of the final-score table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from porcini.errors import ConfigError, RunDirectoryError
from porcini.experiment.config import load_yaml
from porcini.experiment.loggers.base import flatten_params
from porcini.experiment.plots import final_scores, load_run_curve, plot_learning_curves, report_table
from porcini.experiment.safe_files import FIGURE_FIX, read_json_object, reporting_os_errors
from porcini.experiment.statistics import aggregate_scores

# config keys that do not change what a run learns
_NOT_SETTINGS = ("seed", "out", "log")


@dataclass(frozen=True)
class RunStatus:
    """What ``porcini plot`` needs to know of one run directory before reading its curve."""

    path: Path
    """The run directory."""
    algo: str
    """Algorithm name (``algo_name`` in ``config.yaml``)."""
    env: str
    """Env id."""
    seed: int
    """The run's seed."""
    settings: dict[str, Any]
    """The flattened configuration without the seed, the output folder and the logging sinks."""
    steps_done: int
    """Env steps reached: the summary's, else the last row of ``metrics.csv``."""
    steps_total: int
    """Env steps the configuration asks for."""

    @property
    def finished(self) -> bool:
        """The run wrote its summary at its configured length (not still training, stopped or killed)."""
        return self.steps_done >= self.steps_total and (self.path / "summary.json").is_file()


#: What to do about a damaged ``summary.json``.
SUMMARY_FIX = ("restore it, or delete it (the run's progress is then read from metrics.csv; porcini resume RUN_DIR "
               "writes it again)")


@dataclass(frozen=True)
class RunGroup:
    """Runs that are seeds of one line: same algorithm, env and settings."""

    label: str
    """Legend entry: the algorithm, plus the settings that tell it apart from other groups of the same one."""
    runs: list[RunStatus]
    """The runs, in the order given."""


def read_run_status(run_dir: str | Path) -> RunStatus:
    """Read a run directory's configuration and progress.

    Raises:
        ConfigError: not a porcini run directory (no ``config.yaml``).
        RunDirectoryError: its ``summary.json`` is damaged (not JSON, or without ``env_steps``).
    """
    path = Path(run_dir)
    if not (path / "config.yaml").is_file():
        raise ConfigError(f"{path} has no config.yaml: is it a porcini run directory?")
    config = load_yaml(path / "config.yaml")
    env = config.get("env") or {}
    summary_file = path / "summary.json"
    steps_done = _summary_steps(summary_file) if summary_file.is_file() else _last_logged_step(path)
    settings = flatten_params({k: v for k, v in config.items() if k not in _NOT_SETTINGS})
    return RunStatus(path=path, algo=str(config.get("algo_name", path.name)), env=str(env.get("id", "")),
                     seed=int(config.get("seed", 0)), settings=settings, steps_done=steps_done,
                     steps_total=int(config.get("steps", 0)))


def _summary_steps(summary_file: Path) -> int:
    """The env steps a ``summary.json`` reports; a damaged one is a one-line error naming it and the fix."""
    summary = read_json_object(summary_file, ("env_steps",), "a summary of porcini", SUMMARY_FIX)
    try:
        return int(summary["env_steps"])
    except (ValueError, TypeError) as err:
        raise RunDirectoryError(f"{summary_file} is not a summary of porcini ({type(err).__name__}: {err}): "
                                f"{SUMMARY_FIX}") from None


def _last_logged_step(path: Path) -> int:
    from porcini.experiment.loggers import read_metrics_csv

    if not (path / "metrics.csv").is_file():
        return 0
    _, rows = read_metrics_csv(path / "metrics.csv")
    return int(rows[-1].get("env_steps", 0)) if rows else 0


def group_runs(runs: Sequence[RunStatus]) -> list[RunGroup]:
    """Group runs into seeds of one line (see the module docstring), in order of first appearance.

    Raises:
        ConfigError: two runs of one group have the same seed; the message names both directories.
    """
    by_key: dict[tuple[str, str, str], list[RunStatus]] = {}
    for run in runs:
        key = (run.algo, run.env, json.dumps(run.settings, sort_keys=True, default=str))
        by_key.setdefault(key, []).append(run)
    groups = []
    for (algo, env, _), members in by_key.items():
        seen: dict[int, RunStatus] = {}
        for run in members:
            if run.seed in seen:
                raise ConfigError(
                    f"{seen[run.seed].path} and {run.path} are both seed {run.seed} of {algo} on {env} with the same "
                    "configuration; counting them as two seeds would overstate the evidence: pass one of them"
                )
            seen[run.seed] = run
        siblings = [m[0].settings for (a, e, _), m in by_key.items() if (a, e) == (algo, env)]
        groups.append(RunGroup(_label(algo, members[0].settings, siblings), members))
    return groups


def _label(algo: str, settings: dict[str, Any], siblings: list[dict[str, Any]]) -> str:
    """``algo``, plus the settings in which this group differs from other groups of the same algorithm and env.

    At most three settings are shown, more when another group agrees with this one on the three: a label is
    how runs are pooled into one line, so two configurations must never share one.
    """
    def value(s: dict[str, Any], key: str) -> str:
        return json.dumps(s.get(key), default=str)

    differing = sorted(k for k in set().union(*siblings) if len({value(s, k) for s in siblings}) > 1)
    if not differing:
        return algo
    others = [s for s in siblings if s is not settings]
    shown = differing[:3]
    for key in differing[3:]:
        if not any(all(value(o, k) == value(settings, k) for k in shown) for o in others):
            break
        shown.append(key)
    text = ", ".join(f"{k.removeprefix('algo.')}={settings.get(k)}" for k in shown)
    return f"{algo} ({text}{', ...' if len(shown) < len(differing) else ''})"


def describe_groups(groups: Sequence[RunGroup]) -> list[str]:
    """One line per group: its label, env and seeds, marking unfinished runs with their progress."""
    lines = []
    for group in groups:
        seeds = []
        for run in group.runs:
            note = "" if run.finished else f" unfinished: {run.steps_done:,} of {run.steps_total:,} steps"
            seeds.append(f"s{run.seed}{' (' + note.strip() + ')' if note else ''}")
        lines.append(f"{group.label} on {group.runs[0].env}: {len(group.runs)} run(s): {', '.join(seeds)}")
    return lines


def plot_runs(run_dirs: list[str], output: str | Path) -> dict[str, Any]:
    """Group the runs, plot every run's evaluation curve and aggregate the finished runs' final returns.

    Each group is one line with a 95% band across its seeds; unfinished runs are dashed. The aggregates are the
    mean, median and IQM with stratified-bootstrap 95% CIs, over finished runs only.

    Returns:
        ``{"figure": path, "table": markdown, "groups": [lines], "aggregates": {label: {statistic: {value, low,
        high}}}}``.

    Raises:
        UserError: a directory is not a run, has no evaluation yet, or two runs of one group share a seed;
            ``output`` cannot be written (a RunDirectoryError naming it).
    """
    groups = group_runs([read_run_status(d) for d in run_dirs])
    curves = [load_run_curve(run.path, label=group.label, finished=run.finished)
              for group in groups for run in group.runs]
    scores = final_scores(curves)  # before the figure: uneven seeds across envs write nothing
    with reporting_os_errors(output, fix=FIGURE_FIX):  # one line, exit 2: a part of the path is a file, ...
        path = plot_learning_curves(curves, output, title="evaluation return (mean and 95% CI across seeds)")
    aggregates = {
        label: {name: {"value": est.point, "low": est.low, "high": est.high}
                for name, est in aggregate_scores(values).items()}
        for label, values in scores.items()
    }
    table = report_table(scores) if scores else "no finished run: nothing to aggregate"
    return {"figure": str(path), "table": table, "groups": describe_groups(groups), "aggregates": aggregates}
