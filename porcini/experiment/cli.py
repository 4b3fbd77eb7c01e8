"""The ``porcini`` command line: train, list (eval, resume and plot arrive with the experiment workflow).

Exit codes: 0 success; 2 usage or configuration error (the message names the bad field); 1 runtime failure.
With ``--json`` the last line of stdout is exactly one JSON object (the run summary); everything else goes to
stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import yaml

from porcini.core.errors import ConfigError


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("learning_rate=3e-4", "n_epochs=5")`` -> ``{"learning_rate": 0.0003, "n_epochs": 5}`` (YAML scalars)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r} is invalid: write key=value, e.g. --set learning_rate=3e-4")
        value = yaml.safe_load(raw) if raw else ""
        # YAML 1.1 reads "3e-4" as a string; a number the user wrote should be a number
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                pass
        out[key.strip()] = value
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="porcini")
def main() -> None:
    """porcini: trusted, composable reinforcement-learning parts."""


@main.command()
@click.argument("algo")
@click.argument("env")
@click.option("--steps", type=click.IntRange(min=1), default=10_000, show_default=True, help="Env steps to train.")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed.")
@click.option("--n-envs", type=click.IntRange(min=1), default=1, show_default=True, help="Envs stepped together.")
@click.option("--eval-episodes", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True, help="Evaluations over the run.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override an algorithm hyperparameter.")
@click.option("--env-kwarg", "env_kwargs", multiple=True, metavar="KEY=VALUE", help="Env constructor argument.")
@click.option("--out", default="runs", show_default=True, help="Parent folder of the run directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line last on stdout.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
def train(algo: str, env: str, steps: int, seed: int, n_envs: int, eval_episodes: int, epochs: int,
          overrides: tuple[str, ...], env_kwargs: tuple[str, ...], out: str, as_json: bool,
          progress: bool | None) -> None:
    """Train ALGO on ENV and evaluate it (ALGO from `porcini list`, ENV a Gymnasium id)."""
    from porcini.experiment.runner import TrainSpec
    from porcini.experiment.runner import train as run_training

    try:
        spec = TrainSpec(algo=algo, env=env, steps=steps, seed=seed, n_envs=n_envs,
                         algo_kwargs=parse_overrides(overrides), eval_episodes=eval_episodes, epochs=epochs,
                         env_kwargs=parse_overrides(env_kwargs), out=out, progress=progress)
        summary = run_training(spec).to_dict()
    except (ConfigError, KeyError) as err:
        raise click.UsageError(str(err).strip("'\"")) from err
    _report(summary, as_json)


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    click.echo(
        f"{summary['algo']} on {summary['env']} (seed {summary['seed']}): {summary['env_steps']} steps in "
        f"{summary['wall_time_s']:.1f} s; evaluation over {summary['eval_episodes']} episodes: "
        f"{summary['eval_return_mean']:.2f} ± {summary['eval_return_std']:.2f}"
    )
    if summary.get("run_dir"):
        click.echo(f"run directory: {summary['run_dir']}")


@main.command(name="list")
def list_command() -> None:
    """List the algorithms this installation provides."""
    from porcini.algorithms.registry import available

    for name in available():
        click.echo(name)
