"""The ``porcini`` command line: train, eval, resume, plot, inspect, list (DESIGN.md contract).

Exit codes: 0 success; 2 usage or configuration error (the message names the bad field); 1 runtime failure;
130 / 143 training stopped by SIGINT / SIGTERM (checkpointed; the message says how to resume).
With ``--json`` the last line of stdout is exactly one JSON object; progress bars and tables go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from porcini.core.errors import CheckpointError, ConfigError, PorciniError
from porcini.experiment.interrupt import TrainingInterrupted

F = TypeVar("F", bound=Callable[..., Any])


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> ``[0, 1, 2, 3, 4]``; ``"1,3,5"`` -> ``[1, 3, 5]``."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            seeds.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError as err:
        raise click.BadParameter(f"{text!r} is not a seed list; write 0-4 or 1,3,5", param_hint="--seeds") from err
    if not seeds:
        raise click.BadParameter("no seeds given", param_hint="--seeds")
    return seeds


def _errors(fn: F) -> F:
    """Map porcini's errors to exit codes: configuration errors 2, other failures 1, with a one-line message."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, KeyError) as err:
            from porcini.experiment.loggers.mlflow_logger import SinkUnavailableError

            if isinstance(err, SinkUnavailableError):  # not a usage problem: one line, no usage text
                click.echo(f"Error: {err}", err=True)
                sys.exit(2)
            raise click.UsageError(str(err).strip("'\"")) from err
        except (PorciniError, CheckpointError) as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(1)
        except TrainingInterrupted as err:  # SIGINT/SIGTERM: checkpointed; one line per run says how to resume
            click.echo(str(err), err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:  # Ctrl-C outside training (start-up, eval, plot): nothing to save
            click.echo("interrupted", err=True)
            sys.exit(130)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return cast(F, wrapper)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="porcini")
def main() -> None:
    """porcini: trusted, composable reinforcement-learning parts."""


@main.command()
@click.argument("algo")
@click.argument("env")
@click.option("--steps", type=click.IntRange(min=1), help="Env steps to train (summed over envs).")
@click.option("--seed", type=click.IntRange(min=0), help="Run seed.")
@click.option("--seeds", "seeds_text", metavar="0-4", help="Several seeds, run in parallel processes.")
@click.option("--n-envs", type=click.IntRange(min=1), help="Envs stepped together.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="YAML run config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any config field: learning_rate=3e-4, env.n_envs=16, steps_per_epoch=5000.")
@click.option("--out", help="Parent folder of run directories (default runs/).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line, last on stdout.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@_errors
def train(algo: str, env: str, steps: int | None, seed: int | None, seeds_text: str | None, n_envs: int | None,
          config_file: str | None, overrides: tuple[str, ...], out: str | None, as_json: bool,
          progress: bool | None) -> None:
    """Train ALGO on ENV, evaluating after each epoch (ALGO from `porcini list`, ENV a Gymnasium id)."""
    from porcini.experiment.launch import resolve, train_seeds

    flags = [f"steps={steps}" if steps else None, f"env.n_envs={n_envs}" if n_envs else None,
             f"out={out}" if out else None, f"seed={seed}" if seed is not None else None]
    config = resolve(algo, env, config_file, [f for f in flags if f] + list(overrides))
    seeds = parse_seeds(seeds_text) if seeds_text else [config.seed]
    summaries = train_seeds(config, seeds, progress=progress)
    _report(summaries, as_json)


@main.command(name="resume")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--steps", type=click.IntRange(min=1), help="New total of env steps (default: the run's own).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line, last on stdout.")
@click.option("--progress/--no-progress", default=None)
@_errors
def resume_command(run_dir: str, steps: int | None, as_json: bool, progress: bool | None) -> None:
    """Continue the run in RUN_DIR from its last checkpoint."""
    from porcini.experiment.experiment import Experiment

    summary = Experiment.resume(run_dir, steps=steps, progress=progress).train().to_dict()
    _report([summary], as_json)


@main.command(name="eval")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--episodes", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--video", is_flag=True, help="Record one episode to RUN_DIR/videos/.")
@click.option("--json", "as_json", is_flag=True)
@_errors
def eval_command(run_dir: str, episodes: int, checkpoint: str, video: bool, as_json: bool) -> None:
    """Evaluate the trained policy of RUN_DIR deterministically (optionally record a video)."""
    from porcini.experiment.evaluation import evaluate_run

    result = evaluate_run(run_dir, episodes=episodes, checkpoint=checkpoint, video=video)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    click.echo(f"{result['algo']} on {result['env']}: {result['eval_return_mean']:.2f} ± "
               f"{result['eval_return_std']:.2f} over {result['eval_episodes']} episodes ({checkpoint} checkpoint)")
    if result.get("video"):
        click.echo(f"video: {result['video']}")


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", default="learning_curves.png", show_default=True, help="PNG file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the across-seed report as JSON.")
@_errors
def plot(run_dirs: tuple[str, ...], output: str, as_json: bool) -> None:
    """Plot learning curves of RUN_DIRS (mean and 95% CI across seeds) and print the across-seed report."""
    from porcini.experiment.reporting import plot_runs

    report = plot_runs(list(run_dirs), output)
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        click.echo(report["table"])
        click.echo(f"figure: {report['figure']}")


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", help="PNG file (default RUN_DIR/inspect.png).")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@_errors
def inspect(run_dir: str, output: str | None, checkpoint: str) -> None:
    """Replay one evaluation episode and draw actions vs bounds, rewards and values per step."""
    from porcini.experiment.inspector import inspect_run

    click.echo(f"figure: {inspect_run(run_dir, output=output, checkpoint=checkpoint)}")


@main.command(name="list")
@click.argument("what", type=click.Choice(["algorithms", "envs", "wrappers", "all"]), default="all")
def list_command(what: str) -> None:
    """List algorithms, built-in environments and wrappers."""
    if what in ("algorithms", "all"):
        from porcini.algorithms.registry import available

        click.echo("algorithms: " if what == "all" else "", nl=False)
        click.echo(" ".join(available()))
    if what in ("envs", "all"):
        import gymnasium as gym

        import porcini.envs  # noqa: F401  (registers the built-in envs)

        names = sorted(k for k in gym.registry if k.startswith("porcini/"))
        click.echo(("envs: " if what == "all" else "") + " ".join(names))
    if what in ("wrappers", "all"):
        import porcini.envs.wrappers as wrappers

        click.echo(("wrappers: " if what == "all" else "") + " ".join(sorted(getattr(wrappers, "__all__", []))))


def _report(summaries: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        payload = summaries[0] if len(summaries) == 1 else _aggregate(summaries)
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    for s in summaries:
        click.echo(
            f"{s['algo']} on {s['env']} (seed {s['seed']}): {s['env_steps']} steps in {s['wall_time_s']:.1f} s; "
            f"evaluation over {s['eval_episodes']} episodes: {s['eval_return_mean']:.2f} ± {s['eval_return_std']:.2f}"
            f"\n  run directory: {s.get('run_dir')}"
        )


def _aggregate(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np

    returns = np.array([s["eval_return_mean"] for s in summaries], dtype=float)
    return {"algo": summaries[0]["algo"], "env": summaries[0]["env"], "seeds": [s["seed"] for s in summaries],
            "eval_return_mean": float(returns.mean()), "eval_return_std_across_seeds": float(returns.std()),
            "runs": summaries}
