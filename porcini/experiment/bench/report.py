"""The report of a suite: a markdown page with its PNGs and ``results.json`` next to it.

``<report>.md`` holds the per-pair table (final-return IQM with a 95% bootstrap interval across seeds, the RL
Zoo's score, wall time, env steps/s), learning curves per env, the aggregate across tasks (normalized IQM,
performance profiles, probability of improvement), the pairs below the RL Zoo, and the command that regenerates
it. Figures and ``results.json`` go to the folder ``<report>/`` beside the page (``docs/benchmarks.md`` ->
``docs/benchmarks/``), so the page's links work wherever the pair is copied.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from porcini.experiment.bench.results import PairResult, normalized_scores, random_policy_return, score_matrix
from porcini.experiment.bench.suites import Suite
from porcini.experiment.statistics import Estimate, aggregate_scores, performance_profile, probability_of_improvement

_TAUS = np.linspace(0.0, 1.2, 61)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _estimate(estimate: Estimate) -> str:
    return f"{estimate.point:.2f} [{estimate.low:.2f}, {estimate.high:.2f}]"


def pair_table(pairs: Sequence[PairResult]) -> list[str]:
    """The markdown table of every pair, env-major."""
    lines = ["| env | algorithm | seeds | final return, IQM [95% CI] | RL Zoo | env steps | wall time (min) "
             "| env steps/s | status |", "|---|---|---|---|---|---|---|---|---|"]
    for p in pairs:
        score = "—" if p.iqm is None else f"{p.iqm:.1f} [{p.ci_low:.1f}, {p.ci_high:.1f}]"
        seeds = f"{len(p.scores)}" if len(p.scores) == p.seeds_planned else f"{len(p.scores)} of {p.seeds_planned}"
        minutes = f"{np.mean(p.wall_time_s) / 60:.1f}" if p.wall_time_s else "—"
        rate = "—" if p.steps_per_second is None else f"{p.steps_per_second:,.0f}"
        lines.append(f"| {p.env} | {p.algo} | {seeds} | {score} | {_fmt(p.zoo_score)} | {p.steps:,} | {minutes} "
                     f"| {rate} | {p.status.replace('_', ' ')} |")
    return lines


def curve_figures(pairs: Sequence[PairResult], folder: Path) -> list[Path]:
    """One PNG per env: each algorithm's evaluation return across its seeds (mean, 95% band)."""
    from porcini.experiment.plots import load_run_curve, plot_learning_curves

    paths = []
    for env in dict.fromkeys(p.env for p in pairs):
        curves = [load_run_curve(run_dir, label=p.algo) for p in pairs if p.env == env for run_dir in p.run_dirs]
        if curves:
            name = env.replace("/", "__") + ".png"
            paths.append(plot_learning_curves(curves, folder / name, title=env, figsize=(6.0, 4.0), dpi=90))
    return paths


def aggregate_section(pairs: Sequence[PairResult], random_returns: dict[str, float], folder: Path) -> list[str]:
    """Normalized IQM per algorithm, the performance-profile figure and the probability-of-improvement table."""
    table = normalized_scores(pairs, random_returns)
    if not table:
        return ["No pair has both finished runs and an RL Zoo score: nothing to aggregate."]
    lines = ["Normalized score: (return − random policy's) / (RL Zoo's − random policy's), so 0 is the random "
             "policy and 1 the RL Zoo's agent. Random-policy returns (100 episodes): "
             + ", ".join(f"{env} {value:.1f}" for env, value in random_returns.items()) + ".", "",
             "| algorithm | tasks | runs per task | IQM [95% CI] | mean [95% CI] |", "|---|---|---|---|---|"]
    matrices = {}
    for algo, by_env in table.items():
        matrices[algo] = score_matrix(by_env, list(by_env))
        stats = aggregate_scores(matrices[algo], ("iqm", "mean"))
        lines.append(f"| {algo} | {len(by_env)} | {matrices[algo].shape[0]} | {_estimate(stats['iqm'])} "
                     f"| {_estimate(stats['mean'])} |")
    lines += ["", f"![Performance profiles]({folder.name}/profiles.png)", "",
              "Performance profile: the fraction of runs (all tasks of an algorithm) whose normalized score "
              "exceeds τ, with a 95% bootstrap band. Algorithms run on different tasks (discrete or continuous "
              "actions), so compare profiles within one action type.", ""]
    _profile_figure(matrices, folder / "profiles.png")
    lines += _improvement_table(table)
    return lines


def _profile_figure(matrices: dict[str, np.ndarray], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for i, (algo, matrix) in enumerate(matrices.items()):
        point, low, high = performance_profile(matrix, _TAUS, n_bootstrap=1000)
        ax.plot(_TAUS, point, color=f"C{i}", label=algo)
        ax.fill_between(_TAUS, low, high, color=f"C{i}", alpha=0.15, linewidth=0)
    ax.set_xlabel("normalized score τ (0 random, 1 RL Zoo)")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def _improvement_table(table: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = ["| X | Y | shared tasks | P(X > Y) [95% CI] |", "|---|---|---|---|"]
    for x, y in itertools.combinations(table, 2):
        shared = [env for env in table[x] if env in table[y]]
        if shared:
            estimate = probability_of_improvement(score_matrix(table[x], shared), score_matrix(table[y], shared))
            lines.append(f"| {x} | {y} | {len(shared)} | {_estimate(estimate)} |")
    if len(lines) == 2:
        return []
    return ["Probability of improvement: the chance that a run of X beats a run of Y on a task they share, "
            "averaged over those tasks (ties count half; 0.5 means no difference).", ""] + lines


def _machine() -> str:
    """One line on what made the report: porcini, torch and Python versions, cores, date."""
    import datetime
    import platform
    from importlib.metadata import version

    def installed(name: str) -> str:
        try:
            return version(name)
        except Exception:  # noqa: BLE001 - a missing package is reported, not fatal
            return "not installed"

    return (f"Report written {datetime.date.today().isoformat()} by porcini {installed('porcini')} (torch "
            f"{installed('torch')}, gymnasium {installed('gymnasium')}, Python {platform.python_version()}) on "
            f"{platform.system()} {platform.machine()} with {os.cpu_count()} cores.")


def read_notes(path: str | Path) -> dict[str, str]:
    """Read a notes file: a YAML mapping ``algo/env`` -> text (what was tried for a pair below the RL Zoo).

    The key ``page`` (optional) holds text shown under the report's title: how and where the runs were made.

    Raises:
        ConfigError: not a mapping of strings to strings.
    """
    from porcini.errors import ConfigError
    from porcini.experiment.config import load_yaml

    data = load_yaml(Path(path)) or {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ConfigError(f"{path}: notes must be a YAML mapping like 'ppo/CartPole-v1: what was tried'")
    return dict(data)


def below_zoo_section(pairs: Sequence[PairResult], notes: dict[str, str]) -> list[str]:
    """The pairs whose interval lies below the RL Zoo's score, pairs with a failed run, and pending pairs.

    A pair whose other seeds finished is listed under "Failed" too, with the error of its failed run.
    """
    lines = []
    for title, status in (("Below the RL Zoo's score", "below_zoo"), ("Failed", "failed"), ("Not run yet", "pending")):
        chosen = [p for p in pairs if (bool(p.failures) if status == "failed" else p.status == status)]
        if chosen:
            lines += ["", f"### {title}", ""]
            for p in chosen:
                note = notes.get(f"{p.algo}/{p.env}", "")
                detail = f" {p.failures[0]}" if status == "failed" else ""
                text = " ".join(t for t in (detail.strip(), note) if t)
                lines.append(f"- **{p.algo} on {p.env}**" + (f": {text}" if text else ""))
    return lines


def write_report(suite: Suite, pairs: Sequence[PairResult], path: Path, *, command: str,
                 notes: dict[str, str] | None = None, random_episodes: int = 100) -> Path:
    """Write the report page ``path`` and its folder (figures, ``results.json``); return ``path``."""
    folder = path.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    random_returns = {env: random_policy_return(env, episodes=random_episodes)
                      for env in dict.fromkeys(p.env for p in pairs if p.zoo_score is not None and p.scores)}
    figures = curve_figures(pairs, folder)
    notes = notes or {}
    lines = [f"# Benchmarks: the `{suite.name}` suite", "", f"{suite.description}.", "", _machine(), ""]
    lines += [notes["page"].strip(), ""] if notes.get("page") else []
    lines += ["Regenerate this page (finished runs are kept; `--resume` runs only what is missing):", "",
              "<!-- skip-run: trains every pair of the suite (hours); tests run the smoke mode -->",
              "```bash", command, "```", "", "## Per pair", "",
              "Final return: each run's final deterministic evaluation; across seeds the interquartile mean (IQM) "
              "with a 95% stratified-bootstrap interval. RL Zoo: the score the RL Baselines3 Zoo publishes for its "
              "one trained agent with the same hyperparameters. Wall time: training (interaction and fitting), "
              "without the periodic evaluations.", ""]
    lines += pair_table(pairs)
    lines += below_zoo_section(pairs, notes)
    lines += ["", "## Learning curves", ""] + [f"![{f.stem}]({folder.name}/{f.name})" for f in figures]
    lines += ["", "## Across tasks", ""] + aggregate_section(pairs, random_returns, folder)
    path.write_text("\n".join(lines).rstrip() + "\n")
    payload: dict[str, Any] = {"suite": suite.name, "random_returns": random_returns,
                               "pairs": [p.to_dict() for p in pairs]}
    (folder / "results.json").write_text(json.dumps(payload, indent=1) + "\n")
    return path
