"""The ``porcini`` command line: train, config, eval, resume, plot, inspect, bench, tune, list (docs/architecture.md).

Exit codes: 0 success; 2 usage or configuration error, a :class:`~porcini.errors.UserError` printed on one
line (the message names the problem and the fix); 1 a runtime failure: porcini's own diagnosis on one line, or
any other exception with its traceback (a bug somewhere). ``--debug`` or ``PORCINI_DEBUG=1`` prints the traceback
of every error. With ``--json`` the last line of stdout is exactly one JSON object; progress bars and tables go
to stderr. 130 / 143: training stopped by SIGINT / SIGTERM (checkpointed; the message says how to
resume).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from porcini.errors import PorciniError, UserError
from porcini.experiment.dataset_cli import register as register_dataset_commands
from porcini.experiment.interrupt import TrainingInterrupted

F = TypeVar("F", bound=Callable[..., Any])
# a run directory, or several runs of one algorithm, env and seed (a shell glob): the latest is used
_RUN_DIRS = click.argument("run_dirs", metavar="RUN_DIR...", nargs=-1, required=True,
                           type=click.Path(exists=True, file_okay=False))


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> ``[0, 1, 2, 3, 4]``; ``"1,3,5"`` -> ``[1, 3, 5]``; no seed, or one listed twice, is refused."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            seeds.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError as err:
        raise click.BadParameter(f"{text!r} is not a seed list; write 0-4 or 1,3,5", param_hint="--seeds") from err
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if not seeds or twice:  # a seed twice would train one run twice and count it as two seeds
        problem = f"lists seed(s) {twice} more than once" if twice else "has no seed (a range counts up: 1-3)"
        raise click.BadParameter(f"{text!r} {problem}; each seed is one run: write 0-4 or 1,3,5", param_hint="--seeds")
    return seeds


def _debug() -> bool:
    """Whether ``--debug`` or ``PORCINI_DEBUG=1`` asked for tracebacks."""
    ctx = click.get_current_context(silent=True)
    flag = bool(ctx is not None and ctx.meta.get("porcini.debug"))
    return flag or os.environ.get("PORCINI_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def _errors(fn: F) -> F:
    """Print porcini's errors on one line: a UserError exits 2, any other PorciniError 1.

    Other exceptions are not porcini's diagnosis (an error in the user's env, or a bug) and keep their traceback.
    """

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PorciniError as err:
            if _debug():
                traceback.print_exc()
            message = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
            click.echo(f"Error: {message}", err=True)
            sys.exit(2 if isinstance(err, UserError) else 1)
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
@click.option("--debug", is_flag=True, help="Print the full traceback of any error (also: PORCINI_DEBUG=1).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """porcini: trusted, composable reinforcement-learning parts."""
    ctx.meta["porcini.debug"] = debug


@main.command()
@click.argument("algo")
@click.argument("env")
@click.option("--steps", type=click.IntRange(min=0),
              help="Env steps to train (summed over envs); 0 with --dataset: offline only.")
@click.option("--dataset", metavar="SOURCE", help="Learn from this dataset (minari:NAME or a .npz): data.dataset.")
@click.option("--offline-steps", type=click.IntRange(min=0),
              help="Gradient steps on the dataset before any env step: data.offline_steps.")
@click.option("--expert", metavar="RUN_DIR",
              help="A trained run whose agent labels states (dagger) or records demonstrations (bc, gail, airl): "
                   "data.expert.")
@click.option("--reward", metavar="RUN_DIR",
              help="Train on the reward a run learned (airl, preferences) instead of the env's: data.reward.")
@click.option("--seed", type=click.IntRange(min=0), help="Run seed.")
@click.option("--seeds", "seeds_text", metavar="0-4", help="Several seeds, run in parallel processes.")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the seeds run: this machine's processes, or Ray tasks (extra porcini[ray]).")
@click.option("--ray-address", metavar="ADDRESS",
              help="Ray cluster to join (default RAY_ADDRESS, else a local Ray); with --backend ray.")
@click.option("--n-envs", type=click.IntRange(min=1), help="Envs stepped together.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="YAML run config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any config field: learning_rate=3e-4, env.n_envs=16, steps_per_epoch=5000.")
@click.option("--out", help="Parent folder of run directories (default runs/).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line, last on stdout.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@_errors
def train(algo: str, env: str, steps: int | None, dataset: str | None, offline_steps: int | None,
          expert: str | None, reward: str | None, seed: int | None, seeds_text: str | None, backend: str,
          ray_address: str | None, n_envs: int | None, config_file: str | None, overrides: tuple[str, ...],
          out: str | None, as_json: bool, progress: bool | None) -> None:
    """Train ALGO on ENV, evaluating after each epoch (ALGO from `porcini list`, ENV a Gymnasium id).

    With --dataset: --offline-steps gradient steps on the dataset first, then --steps env steps online with the
    dataset still sampled (docs/offline.md).
    """
    from porcini.experiment.launch import resolve, train_seeds

    flags = [f"steps={steps}" if steps is not None else None, f"env.n_envs={n_envs}" if n_envs else None,
             f"out={out}" if out else None, f"seed={seed}" if seed is not None else None,
             f"data.offline_steps={offline_steps}" if offline_steps is not None else None]
    # quoted (JSON is YAML), so that a path such as 1e3 or null stays a string
    flags += [f"data.{key}={json.dumps(value)}" for key, value in
              (("dataset", dataset), ("expert", expert), ("reward", reward)) if value is not None]
    config = resolve(algo, env, config_file, [f for f in flags if f] + list(overrides))
    if seed is not None and seeds_text is not None:
        raise click.UsageError("--seed and --seeds both set the run seed; pass one of them (--seeds 3 is one run)")
    seeds = parse_seeds(seeds_text) if seeds_text is not None else [config.seed]
    if ray_address is not None and backend != "ray":
        raise click.UsageError("--ray-address needs --backend ray")
    summaries = train_seeds(config, seeds, progress=progress, backend=backend, ray_address=ray_address)
    _report(summaries, as_json)


@main.command(name="config")
@click.argument("algo")
@click.argument("env")
@click.option("--steps", type=click.IntRange(min=0),
              help="Env steps to train (summed over envs); 0 with a dataset: offline only.")
@click.option("--seed", type=click.IntRange(min=0), help="Run seed.")
@click.option("--n-envs", type=click.IntRange(min=1), help="Envs stepped together.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="YAML run config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override any config field, as train.")
@click.option("--out", help="Parent folder of run directories (default runs/).")
@_errors
def config_command(algo: str, env: str, steps: int | None, seed: int | None, n_envs: int | None,
                   config_file: str | None, overrides: tuple[str, ...], out: str | None) -> None:
    """Print the resolved config of ALGO on ENV as YAML (what `train` with the same options runs), running nothing.

    The output is the run's future config.yaml: save it, edit it and pass it back with `train --config`.
    """
    from porcini.experiment.config import dump_yaml
    from porcini.experiment.launch import resolve

    flags = {"steps": steps, "env.n_envs": n_envs, "out": out, "seed": seed}
    config = resolve(algo, env, config_file, [f"{k}={v}" for k, v in flags.items() if v is not None] + list(overrides))
    click.echo(dump_yaml(config), nl=False)


@main.command(name="resume")
@_RUN_DIRS
@click.option("--steps", type=click.IntRange(min=1), help="New total of env steps (default: the run's own).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line, last on stdout.")
@click.option("--progress/--no-progress", default=None)
@click.option("--checkpoint", default="last", show_default=True, metavar="best|last|PATH",
              help="Checkpoint to continue from: the run's best or last, or the path of a checkpoint file.")
@_errors
def resume_command(run_dirs: tuple[str, ...], steps: int | None, as_json: bool, progress: bool | None,
                   checkpoint: str) -> None:
    """Continue the run in RUN_DIR from its last checkpoint or --checkpoint (of runs of one seed: the latest)."""
    from porcini.experiment.experiment import Experiment

    run_dir = _one_run(run_dirs)
    summary = Experiment.resume(run_dir, steps=steps, progress=progress, checkpoint=checkpoint).train().to_dict()
    _report([summary], as_json)


@main.command(name="eval")
@_RUN_DIRS
@click.option("--episodes", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--checkpoint", default="best", show_default=True, metavar="best|last|PATH",
              help="The run's best or last checkpoint, or the path of a checkpoint file.")
@click.option("--video", is_flag=True, help="Record one episode to RUN_DIR/videos/.")
@click.option("--json", "as_json", is_flag=True)
@_errors
def eval_command(run_dirs: tuple[str, ...], episodes: int, checkpoint: str, video: bool, as_json: bool) -> None:
    """Evaluate the trained policy of RUN_DIR deterministically (optionally record a video).

    Several runs of one algorithm, env and seed (a glob) mean the latest of them.
    """
    from porcini.experiment.evaluation import evaluate_run

    run_dir = _one_run(run_dirs)
    result = evaluate_run(run_dir, episodes=episodes, checkpoint=checkpoint, video=video)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    click.echo(f"{result['algo']} on {result['env']}: {result['eval_return_mean']:.2f} ± "
               f"{result['eval_return_std']:.2f} over {result['eval_episodes']} episodes ({checkpoint} checkpoint)")
    extras = [k for k in result if k in ("eval_cost_mean", "eval_team_return_mean") or "eval_return_mean/" in k]
    click.echo("".join(f"  {key}: {result[key]:.2f}\n" for key in extras), nl=False)
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
        for line in report["groups"]:
            click.echo(line)
        click.echo(report["table"])
        click.echo(f"figure: {report['figure']}")


@main.command()
@_RUN_DIRS
@click.option("-o", "--output", help="PNG file (default RUN_DIR/inspect.png).")
@click.option("--checkpoint", default="best", show_default=True, metavar="best|last|PATH",
              help="The run's best or last checkpoint, or the path of a checkpoint file.")
@_errors
def inspect(run_dirs: tuple[str, ...], output: str | None, checkpoint: str) -> None:
    """Replay one evaluation episode and draw actions vs bounds, rewards, values, Q-values and the policy per step.

    Several runs of one algorithm, env and seed (a glob) mean the latest of them.
    """
    from porcini.experiment.inspector import inspect_run

    run_dir = _one_run(run_dirs)
    click.echo(f"figure: {inspect_run(run_dir, output=output, checkpoint=checkpoint)}")


@main.command()
@click.argument("suite", type=click.Choice(["classic", "mujoco", "classical"]))
@click.option("--algos", metavar="A,B", help="Only these algorithms of the suite (comma-separated).")
@click.option("--envs", metavar="E,F", help="Only these envs of the suite (comma-separated).")
@click.option("--seeds", type=click.IntRange(min=1), default=5, show_default=True, help="Seeds per pair: 0 .. N-1.")
@click.option("--jobs", type=click.IntRange(min=1), help="Runs at once, one process each (default: one per core).")
@click.option("--out", type=click.Path(file_okay=False), help="Folder of the runs and report (default bench/SUITE).")
@click.option("--resume", is_flag=True, help="Continue the suite in --out; finished runs are not run again.")
@click.option("--steps-scale", type=click.FloatRange(min=0, max=1, min_open=True), default=1.0,
              help="Scale every run's budget (a smoke test: 0.05).")
@click.option("--eval-episodes", type=click.IntRange(min=1), help="Episodes per evaluation instead of the configs'.")
@click.option("--report", type=click.Path(dir_okay=False), help="Markdown page to write (default OUT/report.md).")
@click.option("--report-only", is_flag=True, help="Train nothing: report the finished runs.")
@click.option("--notes", type=click.Path(exists=True, dir_okay=False),
              help="YAML mapping algo/env -> a note shown with that pair (what was tried).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON line, last on stdout.")
@_errors
def bench(suite: str, algos: str | None, envs: str | None, seeds: int, jobs: int | None, out: str | None, resume: bool,
          steps_scale: float, eval_episodes: int | None, report: str | None, report_only: bool, notes: str | None,
          as_json: bool) -> None:
    """Run every (algorithm, env) pair of SUITE with its config of record over several seeds, then write a report.

    Suites: classic (classic control and LunarLander), mujoco (hours per run), classical (tabular, linear, DP).
    A failed run is reported and the suite goes on.
    """
    from porcini.experiment.bench import run_bench

    outcome = run_bench(suite, seeds=seeds, out=out, algos=algos.split(",") if algos else None,
                        envs=envs.split(",") if envs else None, jobs=jobs,
                        resume=resume, steps_scale=steps_scale, eval_episodes=eval_episodes, report=report,
                        report_only=report_only, notes=notes)
    if as_json:
        sys.stdout.write(json.dumps({"report": str(outcome.report), "trained": outcome.trained,
                                     "pairs": [p.to_dict() for p in outcome.pairs]}) + "\n")
        return
    for p in outcome.pairs:
        score = "-" if p.iqm is None else f"{p.iqm:.1f} [{p.ci_low:.1f}, {p.ci_high:.1f}]"
        click.echo(f"{p.env:<26} {p.algo:<10} {len(p.scores)}/{p.seeds_planned} seeds  IQM {score:<24} "
                   f"zoo {'-' if p.zoo_score is None else f'{p.zoo_score:.1f}':<8} {p.status}")
    click.echo(f"report: {outcome.report} ({outcome.trained} runs trained now)")


@main.command(name="tune")
@click.argument("algo")
@click.argument("env")
@click.option("--space", "space_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Search space YAML: config key -> {choice|uniform|loguniform|int: [...]} (docs/tuning.md).")
@click.option("--method", type=click.Choice(["grid", "random", "optuna", "pbt"]), default="random", show_default=True)
@click.option("--trials", type=click.IntRange(min=1),
              help="Trials (random, optuna: default 10; pbt: the population, default 4); grid: at most this many "
                   "combinations (default all).")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Selection seeds per trial (0 .. K-1); the objective is their mean final eval return.")
@click.option("--steps", type=click.IntRange(min=1), help="Env steps of every run (default: the config's).")
@click.option("--jobs", type=click.IntRange(min=1),
              help="local: runs at once, one process each (a trial's seeds, the report's seeds; default 1); "
                   "ray: trials at once (default: one per CPU of the cluster).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the random search, of Optuna's sampler and of PBT (member n trains with seed + n).")
@click.option("--pruner", type=click.Choice(["median", "hyperband", "none"]), default="median", show_default=True,
              help="Optuna only: prune on each epoch's evaluation of a trial's first seed.")
@click.option("--top-k", type=click.IntRange(min=1), default=1, show_default=True,
              help="Best trials re-evaluated on fresh seeds.")
@click.option("--report-seeds", type=click.IntRange(min=0), default=3, show_default=True,
              help="Fresh seeds (from 1000, never a selection seed) per re-evaluated trial; 0 skips the re-evaluation.")
@click.option("--pbt-interval", type=click.IntRange(min=1), help="PBT: env steps per round (default steps / 10).")
@click.option("--pbt-quantile", type=click.FloatRange(0, 0.5, min_open=True), default=0.25, show_default=True,
              help="PBT: fraction of the population that copies a better member after each round.")
@click.option("--pbt-resample", type=click.FloatRange(0, 1), default=0.25, show_default=True,
              help="PBT: probability that explore redraws a hyperparameter instead of perturbing it by 0.8 or 1.2.")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this machine's processes; ray: Ray Tune (extra porcini[ray]).")
@click.option("--ray-address", metavar="ADDRESS",
              help="Ray cluster to join (default RAY_ADDRESS, else a local Ray); with --backend ray.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Setting of every trial, as train.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Tune directory (default tunes/ALGO-ENV-STAMP); an existing one is resumed.")
@click.option("--json", "as_json", is_flag=True, help="Print the tune summary as one JSON line, last on stdout.")
@_errors
def tune_command(algo: str, env: str, space_file: str, method: str, trials: int | None, seeds: int,
                 steps: int | None, jobs: int | None, seed: int, pruner: str, top_k: int, report_seeds: int,
                 pbt_interval: int | None, pbt_quantile: float, pbt_resample: float, backend: str,
                 ray_address: str | None, overrides: tuple[str, ...], out: str | None, as_json: bool) -> None:
    """Search hyperparameters of ALGO on ENV (grid, random, Optuna or PBT), then re-evaluate the best on fresh seeds.

    Every trial is a normal run directory per seed under OUT/trials/; a failed trial is recorded and the search
    goes on. Start the same command with --out OUT again to continue a stopped tune.
    """
    from porcini.experiment.tune import tune

    if ray_address is not None and backend != "ray":
        raise click.UsageError("--ray-address needs --backend ray")
    result = tune(algo, env, space_file, method=method, trials=trials, seeds=seeds, steps=steps, jobs=jobs, out=out,
                  overrides=overrides, seed=seed, pruner=pruner, top_k=top_k, report_seeds=report_seeds,
                  pbt_interval=pbt_interval, pbt_quantile=pbt_quantile, pbt_resample=pbt_resample,
                  backend=backend, ray_address=ray_address).to_dict()
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    if result["best_trial"] is None:
        click.echo(f"no trial completed; see {result['tune_dir']}/results.csv")
        return
    click.echo(f"best trial {result['best_trial']}: objective {result['best_value']:.4g} {result['best_params']}")
    click.echo(f"best config: {result['best_config']}\ntune directory: {result['tune_dir']}")


@main.command(name="list")
@click.argument("what", type=click.Choice(["algorithms", "envs", "wrappers", "all"]), default="all")
def list_command(what: str) -> None:
    """List algorithms (their action spaces and configs of record), built-in environments and wrappers."""
    from porcini.experiment.listing import listing_lines

    for line in listing_lines(what):
        click.echo(line)


register_dataset_commands(main, _errors)  # collect, dataset info (porcini/experiment/dataset_cli.py)


def _one_run(run_dirs: tuple[str, ...]) -> str:
    """The run directory a command acts on; a note on stderr when it is the latest of several."""
    from porcini.experiment.run_groups import choose_run

    choice = choose_run(run_dirs)
    if note := choice.note():
        click.echo(note, err=True)
    return str(choice.path)


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
