"""The dataset commands of the ``porcini`` CLI: ``collect``, ``dataset info`` and ``dataset reference``.

``collect`` records a policy, ``dataset info`` prints a dataset's statistics, ``dataset reference`` builds the
reference datasets (:mod:`porcini.experiment.reference_datasets`).

They follow the CLI's contract (:mod:`porcini.experiment.cli`): a user error is one line and exit code 2, and
``--json`` prints one JSON object as the last stdout line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

TARGETS = "minari:NAME|PATH.npz"


def register(main: click.Group, errors: Callable[[Any], Any]) -> None:
    """Add ``collect`` and the ``dataset`` group to the CLI group ``main``, their errors handled by ``errors``."""
    _add_collect(main, errors)

    @main.group(name="dataset")
    def dataset_group() -> None:
        """Inspect datasets: local Minari ones (minari:NAME) and porcini .npz files."""

    _add_info(dataset_group, errors)
    _add_reference(dataset_group, errors)


def _add_collect(main: click.Group, errors: Callable[[Any], Any]) -> None:
    """The ``collect`` command."""

    @main.command(name="collect")
    @click.argument("policy", metavar="RUN_DIR|random")
    @click.option("--episodes", type=click.IntRange(min=1), required=True, help="Whole episodes to record.")
    @click.option("--to", "target", required=True, metavar=TARGETS,
                  help="A local Minari dataset (minari:pendulum/random-v0) or a porcini .npz file; must be new.")
    @click.option("--env", help="Gymnasium id to record in (required for random).")
    @click.option("--noise", type=click.FloatRange(0, 1), default=0.0, show_default=True, metavar="EPS",
                  help="ε: with this probability a step's action is uniformly random instead.")
    @click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
    @click.option("--checkpoint", default="best", show_default=True, metavar="best|last|PATH",
                  help="Of a run: its best or last checkpoint, or the path of a checkpoint file.")
    @click.option("--explore", is_flag=True, help="A run's agent samples its exploring policy (default: "
                  "its deterministic one).")
    @click.option("--json", "as_json", is_flag=True, help="Print the dataset's statistics as one JSON line.")
    @errors
    def collect_command(policy: str, episodes: int, target: str, env: str | None, noise: float, seed: int,
                        checkpoint: str, explore: bool, as_json: bool) -> None:
        """Record EPISODES episodes of a trained run's agent (RUN_DIR) or of a random policy into a dataset."""
        from porcini.data.dataset_stats import format_description
        from porcini.experiment.collect import collect_policy

        result = collect_policy(policy, episodes, target, env=env, noise=noise, seed=seed, checkpoint=checkpoint,
                                explore=explore)
        if as_json:
            sys.stdout.write(json.dumps(result) + "\n")
            return
        click.echo(format_description(result, target))
        click.echo(f"written to {result['to']}")


def _add_info(dataset_group: click.Group, errors: Callable[[Any], Any]) -> None:
    """The ``dataset info`` command."""

    @dataset_group.command(name="info")
    @click.argument("source", metavar=TARGETS)
    @click.option("--json", "as_json", is_flag=True, help="Print the statistics as one JSON line, last on stdout.")
    @errors
    def info_command(source: str, as_json: bool) -> None:
        """Episodes, steps, return mean/min/max, terminations vs truncations and spaces of the dataset SOURCE."""
        from porcini.data.dataset_stats import describe_dataset, format_description
        from porcini.data.sources import open_dataset

        description = describe_dataset(open_dataset(source))
        if as_json:
            sys.stdout.write(json.dumps({"source": source, **description}) + "\n")
            return
        click.echo(format_description(description, source))


def _add_reference(dataset_group: click.Group, errors: Callable[[Any], Any]) -> None:
    """The ``dataset reference`` command."""

    @dataset_group.command(name="reference")
    @click.argument("names", nargs=-1, metavar="[NAME ...]")
    @click.option("--all", "build_all", is_flag=True, help="Build every reference dataset.")
    @click.option("--root", type=click.Path(file_okay=False), default=None, metavar="DIR",
                  help="Cache folder (default: $PORCINI_DATASETS, else ~/.cache/porcini/datasets).")
    @click.option("--scale", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
                  help="Fraction of each recipe's budget, for a quick trial (cached under its own name).")
    @click.option("--json", "as_json", is_flag=True, help="Print the datasets' statistics as one JSON line.")
    @errors
    def reference_command(names: tuple[str, ...], build_all: bool, root: str | None, scale: float,
                          as_json: bool) -> None:
        """Build the reference datasets NAME (or --all) on first use and print their statistics; no NAME lists them."""
        from porcini.data.dataset import load_dataset
        from porcini.data.dataset_stats import describe_dataset, format_description
        from porcini.experiment.reference_datasets import (
            check_names,
            dataset_root,
            reference_dataset,
            reference_datasets,
        )

        available = reference_datasets()
        if build_all and names:
            raise click.UsageError("give dataset names or --all, not both")
        if not names and not build_all:
            if as_json:
                sys.stdout.write(json.dumps({"root": str(dataset_root(root)), "available": available}) + "\n")
                return
            for name, description in available.items():
                click.echo(f"{name}: {description}")
            click.echo("build them with: porcini dataset reference NAME ... (or --all)")
            return
        check_names(names)  # every name, before anything is built
        built = {}
        for name in (list(available) if build_all else names):
            path = reference_dataset(name, root, scale=scale)
            built[name] = {"path": str(path), **describe_dataset(load_dataset(path))}
            if not as_json:
                click.echo(format_description(built[name], name))
                click.echo(f"  at {path}")
        if as_json:
            sys.stdout.write(json.dumps({"root": str(dataset_root(root)), "datasets": built}) + "\n")
