"""What ``porcini list`` shows: algorithms with their action spaces and configs of record, envs, wrappers."""

from __future__ import annotations

from importlib import resources
from typing import NamedTuple

import gymnasium as gym

from porcini.experiment.config import record_env_id


class AlgorithmEntry(NamedTuple):
    """One row of ``porcini list algorithms``.

    Attributes:
        name: the CLI name (``ppo``).
        action_spaces: the ``gymnasium.spaces`` classes it acts in (``("Discrete", "Box")``), or ``("any",)``.
        configs: the envs it has a config of record for (``porcini/configs/<algo>/<env>.yaml``).
    """

    name: str
    action_spaces: tuple[str, ...]
    configs: tuple[str, ...]


def configs_of_record(algo: str) -> tuple[str, ...]:
    """The env ids porcini ships a config of record for ``algo`` on, sorted (``__`` in a file name is ``/``)."""
    folder = resources.files("porcini").joinpath("configs", algo)
    if not folder.is_dir():
        return ()
    return tuple(sorted(record_env_id(f.name) for f in folder.iterdir()
                        if f.name.endswith(".yaml")))


def algorithm_entries() -> list[AlgorithmEntry]:
    """Every available algorithm, in registry order, with what its agent class declares."""
    from porcini.algorithms.registry import available, get_algorithm

    return [AlgorithmEntry(name, tuple(get_algorithm(name).action_spaces), configs_of_record(name))
            for name in available()]


def algorithm_table() -> str:
    """The algorithms as aligned text: name, action spaces, configs of record (``-`` for none)."""
    rows = [("algorithm", "action spaces", "configs of record")]
    rows += [(e.name, ", ".join(e.action_spaces), ", ".join(e.configs) or "-") for e in algorithm_entries()]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{a.ljust(widths[0])}  {b.ljust(widths[1])}  {c}".rstrip() for a, b, c in rows)


def wrapper_names() -> list[str]:
    """The names porcini's wrappers module exports that are wrappers (``gymnasium.Wrapper``/``VectorWrapper``).

    Helpers exported next to them (``RunningMeanStd``, ``CurriculumSchedule``) and envs are left out: they
    cannot go in ``env.wrappers``.
    """
    import porcini.envs.wrappers as wrappers

    names = []
    for name in getattr(wrappers, "__all__", []):
        obj = getattr(wrappers, name, None)
        if isinstance(obj, type) and issubclass(obj, (gym.Wrapper, gym.vector.VectorWrapper)):
            names.append(name)
    return sorted(names)


def listing_lines(what: str) -> list[str]:
    """What ``porcini list WHAT`` prints: ``algorithms``, ``envs`` (porcini's built-in ids), ``wrappers`` or ``all``."""
    lines = []
    if what in ("algorithms", "all"):
        lines.append(("algorithms:\n" if what == "all" else "") + algorithm_table())
    if what in ("envs", "all"):
        import gymnasium as gym

        import porcini.envs  # noqa: F401  (registers the built-in envs)

        names = sorted(k for k in gym.registry if k.startswith("porcini/"))
        lines.append(("envs: " if what == "all" else "") + " ".join(names))
    if what in ("wrappers", "all"):
        lines.append(("wrappers: " if what == "all" else "") + " ".join(wrapper_names()))
    return lines
