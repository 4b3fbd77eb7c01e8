"""How much code a reader follows from ``Core.learn`` to the optimizer step, measured by running it.

Runs a short ``Core.learn`` of PPO (CartPole-v1), DQN (CartPole-v1) or SAC (Pendulum-v1) under ``sys.setprofile``
and records every porcini function called. For each file it counts the non-blank lines (docstrings and decorators
included) of the functions that ran: what a reader must read to follow one training iteration by hand, without
the code a run never touches (checkpoints, other spaces, error paths). Files are grouped by package:
``core``, ``algorithms`` and ``networks`` are the loop and the deep-agent kit; ``functional`` (the documented pure
estimators and losses), ``envs`` and ``data`` are reported apart, as issue 14's reading target counts them.

Usage: ``python benchmarks/reading_path.py [ppo dqn sac]``.
"""

from __future__ import annotations

import ast
import collections
import pathlib
import sys
from typing import Any

import porcini
from porcini import Core, make_env

ROOT = pathlib.Path(porcini.__file__).parent
COUNTED = ("core", "algorithms", "networks")


def build(algo: str) -> Core:
    """A small run of ``algo`` that fits several times within 64 env steps."""
    if algo == "ppo":
        from porcini.algorithms import PPO
        env = make_env("CartPole-v1", n_envs=2, seed=0)
        return Core(PPO(env.info, n_steps=16, batch_size=16, n_epochs=1), env, progress=False)
    if algo == "dqn":
        from porcini.algorithms import DQN
        env = make_env("CartPole-v1", n_envs=1, seed=0)
        return Core(DQN(env.info, learning_starts=16, batch_size=8, train_freq=4), env, progress=False)
    if algo == "sac":
        from porcini.algorithms import SAC
        env = make_env("Pendulum-v1", n_envs=1, seed=0)
        return Core(SAC(env.info, learning_starts=16, batch_size=8, net_arch=(16, 16)), env, progress=False)
    raise SystemExit(f"unknown algorithm {algo!r}: choose ppo, dqn or sac")


def function_spans(path: pathlib.Path) -> dict[int, tuple[int, int]]:
    """``def`` line -> (first line including decorators, last line) of every function in ``path``."""
    spans = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            spans[node.lineno] = (min([node.lineno] + [d.lineno for d in node.decorator_list]), node.end_lineno or 0)
    return spans


def called_functions(core: Core, steps: int) -> dict[str, set[int]]:
    """File -> first lines of the porcini functions called during ``core.learn(steps)``."""
    called: dict[str, set[int]] = collections.defaultdict(set)

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(str(ROOT)):
            called[frame.f_code.co_filename].add(frame.f_code.co_firstlineno)

    sys.setprofile(profile)
    try:
        core.learn(steps)
    finally:
        sys.setprofile(None)
    return called


def lines_read(path: pathlib.Path, firsts: set[int]) -> int:
    """Non-blank lines of the functions of ``path`` that start at ``firsts`` (nested ones counted once)."""
    text = path.read_text().splitlines()
    spans = function_spans(path)
    lines: set[int] = set()
    for first in firsts:
        span = next(((a, b) for line, (a, b) in spans.items() if a <= first <= line), None)
        if span is not None:
            lines.update(range(span[0], span[1] + 1))
    return sum(1 for i in lines if text[i - 1].strip())


def report(algo: str) -> None:
    """Print the lines read per file and the totals for ``algo``."""
    per_file = {pathlib.Path(f).relative_to(ROOT): lines_read(pathlib.Path(f), firsts)
                for f, firsts in called_functions(build(algo), 64).items()}
    counted = {f: n for f, n in per_file.items() if f.parts[0] in COUNTED}
    apart = collections.Counter()
    for f, n in per_file.items():
        if f.parts[0] not in COUNTED:
            apart[f.parts[0] if len(f.parts) > 1 else "porcini/__init__"] += n
    print(f"{algo}: {sum(counted.values())} lines in {len(counted)} files of {'/'.join(COUNTED)}; "
          f"apart: {dict(apart)}")
    for f, n in sorted(counted.items()):
        print(f"  {n:5d}  {f}")


if __name__ == "__main__":
    for name in sys.argv[1:] or ["ppo", "dqn", "sac"]:
        report(name)
