"""Run groups: which one run directory a command on runs (``eval``, ``inspect``, ``resume``) means.

A shell glob such as ``runs/ppo-CartPole-v1-s0-*`` matches every run of PPO on CartPole-v1 with seed 0: the
quick start and a later ``--seeds 0-2`` both make one. Runs of one algorithm, env and seed form a group, and a
command given a group acts on its latest run (by the start time in the folder name). Runs of different groups
are refused: which one was meant cannot be guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from porcini.errors import ConfigError
from porcini.experiment.config.dataclass_io import load_yaml

# <algo>-<env>-s<seed>-<YYYYmmdd-HHMMSS>[-<n>]: n counts runs started in the same second
_STAMP = re.compile(r"-(\d{8}-\d{6})(?:-(\d+))?$")


@dataclass(frozen=True)
class RunChoice:
    """The run a command acts on, and the group it was picked from.

    Attributes:
        path: the chosen run directory.
        group: ``(algo, env, seed)`` of the run, or None when a single path was given.
        candidates: every run directory given, oldest first.
    """

    path: Path
    group: tuple[str, str, int] | None
    candidates: tuple[Path, ...]

    def note(self) -> str | None:
        """A line saying which run of several was picked, or None when only one was given."""
        if len(self.candidates) < 2 or self.group is None:
            return None
        algo, env, seed = self.group
        return (f"{len(self.candidates)} runs of {algo} on {env} with seed {seed} match; using the latest: "
                f"{self.path}")


def run_group(path: Path) -> tuple[str, str, int]:
    """``(algo, env, seed)`` of the run in ``path``, read from its ``config.yaml``.

    Raises:
        ConfigError: ``path`` has no readable ``config.yaml`` naming the algorithm, env and seed.
    """
    file = path / "config.yaml"
    if not file.is_file():
        raise ConfigError(f"{path} has no config.yaml: is it a porcini run directory?")
    data = load_yaml(file)
    try:
        return str(data["algo_name"]), str(data["env"]["id"]), int(data.get("seed", 0))
    except (TypeError, KeyError, ValueError) as err:
        raise ConfigError(f"{file} does not name the run's algo_name, env.id and seed") from err


def start_order(path: Path) -> tuple[str, int, float]:
    """Sort key of a run by start: the time stamp of its folder name, then its same-second counter."""
    match = _STAMP.search(path.name)
    stamp, counter = (match.group(1), int(match.group(2) or 1)) if match else ("", 0)
    mtime = (path / "config.yaml").stat().st_mtime if (path / "config.yaml").exists() else 0.0
    return stamp, counter, mtime


def choose_run(paths: Sequence[str | Path]) -> RunChoice:
    """The one run directory ``paths`` mean: the only one given, or the latest of one group.

    Raises:
        ConfigError: no path, or paths of runs of different groups (the message lists the groups).
    """
    dirs = [Path(p) for p in paths]
    if not dirs:
        raise ConfigError("no run directory given; pass one, e.g. runs/ppo-CartPole-v1-s0-<stamp>")
    if len(dirs) == 1:
        return RunChoice(dirs[0], None, (dirs[0],))
    groups = {d: run_group(d) for d in dirs}
    distinct = sorted(set(groups.values()))
    if len(distinct) > 1:
        listed = "; ".join(f"{a} on {e} seed {s}" for a, e, s in distinct)
        raise ConfigError(f"the {len(dirs)} run directories given are runs of {len(distinct)} different "
                          f"(algorithm, env, seed) groups ({listed}); pass the runs of one group, e.g. one seed's glob")
    ordered = tuple(sorted(dirs, key=start_order))
    return RunChoice(ordered[-1], distinct[0], ordered)
