"""porcini against Stable-Baselines3, Tianshou and MushroomRL: the same tasks and hyperparameters, side by side.

Tasks (``benchmarks/peers/settings.py``, one table every library's script reads): ``ppo_cartpole`` (PPO,
CartPole-v1, 100k env steps), ``dqn_cartpole`` (DQN, CartPole-v1, 50k) and ``sac_pendulum`` (SAC, Pendulum-v1,
10k by default; the record's 20k with ``--steps sac_pendulum=20000``), each the RL Baselines3 Zoo's entry, which
is porcini's config of record. Every library runs the same env steps, rounded up to whole rollouts as SB3 does
(100,096 and 50,176), with schedules spanning exactly those steps, so all make the same fits and gradient
steps on the same samples with the same network sizes (64-64 tanh for PPO, 256-256 ReLU for DQN and SAC).

Libraries (``--libs``): ``porcini`` (the Python API: ``Core.learn``, ``peers/porcini_bench.py``),
``porcini-cli`` (``porcini train ALGO ENV --steps N --seed S --out TMP --json`` as users run it, the config of
record with its defaults: an evaluation and a checkpoint every epoch, DQN's replay buffer included, CSV logging,
console tables; its time is ``summary.json``'s ``wall_time_s``, training without evaluations, and the whole
process's wall time is reported beside it), ``sb3`` (``peers/sb3_bench.py``), ``tianshou``
(``peers/tianshou_bench.py``) and ``mushroom`` (``peers/mushroom_bench.py``). Each script's docstring says how
the settings map and lists the deliberate differences that no setting removes (the largest: MushroomRL steps
one env where the others step PPO's 8, and its SAC actor is two networks; Tianshou's DQN is not clipped).

Each run is a fresh subprocess with one torch thread (``--threads``; ``OMP_NUM_THREADS`` too) that times the
training call alone and scores the final deterministic policy over ``--eval-episodes`` episodes on env seeds 20000,
20001, ... with one loop (``common.evaluate``); the CLI run's last checkpoint is scored the same way. Runs are
interleaved: for each repeat r (seed ``--first-seed`` + r), each library once, in ``--libs`` order, since single
runs swing ±20% on a shared machine. The table gives per library the median training time, the median of the
per-repeat ratios library / porcini, and the final returns per seed; then the median over repeats of the fastest
peer's time over porcini's (and over the CLI's).

Peers whose pins conflict with porcini's environment run in virtual environments made once under
``--venv-dir`` (default ``benchmarks/.venvs/``) by ``venvs.ensure_venv`` (torch of this interpreter first, then
the peer); a peer already installed at its version in this interpreter runs here. Checked with pip
(``python benchmarks/vs_peers.py --check-pins``, ``venvs.pip_changes``): SB3 2.9.2 fits porcini's environment;
Tianshou 2.0.1 pins pandas < 3; MushroomRL 1.10.2 pins torch 2.5.1, NumPy 1.24.4 and others, so it is
installed with ``--no-deps`` and then its other pins and porcini's Gymnasium (it wraps only the old gym); Tianshou
gets porcini's Gymnasium and NumPy (``_pin``), so every side steps the same envs.

usage: python benchmarks/vs_peers.py [--tasks ppo_cartpole dqn_cartpole sac_pendulum]
       [--libs porcini porcini-cli sb3 tianshou mushroom] [--repeats 3] [--first-seed 0] [--steps TASK=N ...]
       [--eval-episodes 20] [--threads 1] [--venv-dir DIR] [--json] [--check-pins] [--tables-from FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = HERE / "peers"
sys.path[:0] = [str(HERE), str(PEERS)]

from settings import TASKS, fits, run_steps  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Lib:
    """A compared library: its script in ``benchmarks/peers/`` and, for a peer, where it is installed from."""

    script: str
    module: str = ""  # the import name of the peer's package ("" for porcini)
    version: str = ""
    steps: tuple[tuple[str, ...], ...] = ()  # the pip install steps of its venv, after torch

    @property
    def tag(self) -> str:
        """The venv's name and marker tag from the pinned requirement, e.g. ``mushroom-rl-1.10.2``."""
        pinned = next(arg for arg in self.steps[0] if "==" in arg)
        return pinned.replace("==", "-")


def _pin(package: str) -> str:
    """``package==VERSION`` of this interpreter's copy: a peer's venv gets porcini's Gymnasium (and NumPy)."""
    from importlib import metadata

    return f"{package}=={metadata.version(package)}"


MUSHROOM_PINS = ("numpy==1.24.4", "scipy==1.15.2", "scikit-learn==1.6.1", "matplotlib==3.10.1", "joblib==1.4.2",
                 "tqdm==4.67.1", "pygame==2.6.1", "opencv-python>=4.7", _pin("gymnasium"))
LIBS: dict[str, Lib] = {
    "porcini": Lib("porcini_bench.py"),
    "porcini-cli": Lib("porcini_bench.py"),
    "sb3": Lib("sb3_bench.py", "stable_baselines3", "2.9.2", (("stable-baselines3==2.9.2",),)),
    "tianshou": Lib("tianshou_bench.py", "tianshou", "2.0.1", (("tianshou==2.0.1", _pin("gymnasium"), _pin("numpy")),)),
    "mushroom": Lib("mushroom_bench.py", "mushroom_rl", "1.10.2",
                    (("--no-deps", "mushroom-rl==1.10.2"), MUSHROOM_PINS)),
}
PEER_NAMES = ("sb3", "tianshou", "mushroom")
REQUIREMENTS = {"sb3": ["stable-baselines3==2.9.2"], "tianshou": ["tianshou==2.0.1"],
                "mushroom": ["mushroom-rl==1.10.2"]}


def installed_here(lib: Lib) -> bool:
    """Whether this interpreter has the peer's package at its version."""
    from importlib import metadata

    try:
        return metadata.version(lib.module.replace("_", "-")) == lib.version
    except metadata.PackageNotFoundError:
        return False


def python_of(name: str, venv_dir: Path) -> str:
    """The interpreter that runs ``name``: this one for porcini or a peer installed here, else the peer's venv."""
    lib = LIBS[name]
    if not lib.module or installed_here(lib):
        return sys.executable
    import venvs

    return str(venvs.ensure_venv(venv_dir / lib.tag, lib.tag, [list(step) for step in lib.steps]))


def child_env(threads: int, porcini: bool) -> dict[str, str]:
    """The subprocess environment: ``threads`` threads, no progress bars; the worktree's porcini first."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    if porcini:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


def run_json(command: list[str], env: dict[str, str], what: str) -> dict[str, Any]:
    """Run ``command``; its last stdout line as JSON (exits with its stderr's tail if it fails)."""
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{what} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_script(python: str, name: str, task: str, seed: int, steps: int, args: argparse.Namespace) -> dict:
    """One run of library ``name`` through its script; its record."""
    command = [python, str(PEERS / LIBS[name].script), task, "--seed", str(seed), "--steps", str(steps),
               "--eval-episodes", str(args.eval_episodes), "--threads", str(args.threads)]
    return run_json(command, child_env(args.threads, name == "porcini"), f"{name} {task} seed {seed}")


def run_cli(task: str, seed: int, steps: int, args: argparse.Namespace) -> dict:
    """``porcini train`` with the config of record in a temporary folder, its run's last checkpoint scored."""
    algo, env_id = TASKS[task]["algo"], TASKS[task]["env_id"]
    env = child_env(args.threads, porcini=True)
    with tempfile.TemporaryDirectory(prefix="vs-peers-cli-") as out:
        command = [sys.executable, "-m", "porcini", "train", algo, env_id, "--seed", str(seed), "--steps",
                   str(steps), "--out", out, "--json"]
        start = time.perf_counter()
        summary = run_json(command, env, f"porcini train {algo} {env_id} --seed {seed}")
        process_wall = time.perf_counter() - start
        score = [sys.executable, str(PEERS / "porcini_bench.py"), task, "--run-dir", summary["run_dir"],
                 "--eval-episodes", str(args.eval_episodes), "--threads", str(args.threads)]
        result = run_json(score, env, f"scoring {summary['run_dir']}")
    return {**result, "lib": "porcini-cli", "process_wall_s": round(process_wall, 3)}


def ratios(runs: list[dict], name: str, base: str, key: str = "train_wall_s") -> list[float]:
    """Per repeat: ``name``'s training time (``key``: wall or CPU) over ``base``'s, in repeat order."""
    by_seed = {r["seed"]: r[key] for r in runs if r["lib"] == base and _number(r.get(key))}
    return [r[key] / by_seed[r["seed"]] for r in runs
            if r["lib"] == name and r["seed"] in by_seed and _number(r.get(key))]


def fastest_peer_ratios(runs: list[dict], base: str, key: str = "train_wall_s") -> list[float]:
    """Per repeat: the fastest peer's training time (``key``: wall or CPU) over ``base``'s."""
    out = []
    for seed in sorted({r["seed"] for r in runs if r["lib"] == base}):
        peers = [r[key] for r in runs if r["seed"] == seed and r["lib"] in PEER_NAMES and _number(r.get(key))]
        ours = [r[key] for r in runs if r["seed"] == seed and r["lib"] == base and _number(r.get(key))]
        if peers and ours:
            out.append(min(peers) / ours[0])
    return out


def _number(value: Any) -> bool:
    """Whether ``value`` is a number and not NaN (the CLI's record has no CPU time)."""
    return isinstance(value, (int, float)) and value == value


def table(task: str, runs: list[dict], libs: list[str]) -> list[str]:
    """The lines of one task's table."""
    lines = [f"{'library':12} {'median train s':>14} {'median CPU s':>12} {'x porcini':>9} {'(CPU)':>6} "
             f"{'x CLI':>6} | final return per seed (mean of the evaluation episodes)"]
    for name in libs:
        mine = [r for r in runs if r["lib"] == name]
        if not mine:
            continue
        cpu = [r["train_cpu_s"] for r in mine if _number(r.get("train_cpu_s"))]  # the CLI's record has none
        cell = f"{statistics.median(cpu):12.2f}" if cpu else f"{'-':>12}"
        returns = ", ".join(f"s{r['seed']} {r['eval_return_mean']:.1f}" for r in mine)
        process = [r["process_wall_s"] for r in mine if "process_wall_s" in r]
        extra = f" (process {statistics.median(process):.1f} s)" if process else ""
        lines.append(f"{name:12} {statistics.median(r['train_wall_s'] for r in mine):14.2f} {cell} "
                     f"{_median(ratios(runs, name, 'porcini')):>9} "
                     f"{_median(ratios(runs, name, 'porcini', 'train_cpu_s')):>6} "
                     f"{_median(ratios(runs, name, 'porcini-cli')):>6} | {returns}{extra}")
    for base, key in (("porcini", "train_wall_s"), ("porcini", "train_cpu_s"), ("porcini-cli", "train_wall_s")):
        per = fastest_peer_ratios(runs, base, key)
        if per:
            what = "CPU time" if key == "train_cpu_s" else "wall time"
            lines.append(f"fastest peer / {base} ({what}): median x{statistics.median(per):.2f} over {len(per)} "
                         f"repeat(s) (per repeat: {', '.join(f'{x:.2f}' for x in per)})")
    return lines


def _median(values: list[float]) -> str:
    """``x1.23`` or ``-``."""
    return f"x{statistics.median(values):.2f}" if values else "-"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--libs", nargs="+", default=list(LIBS), choices=list(LIBS))
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats, seeds S .. S+R-1")
    parser.add_argument("--first-seed", type=int, default=0, metavar="S", help="the seed of the first repeat")
    parser.add_argument("--steps", nargs="+", default=[], metavar="TASK=N",
                        help="env steps of a task (rounded up to whole rollouts), e.g. sac_pendulum=20000")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--venv-dir", type=Path, default=HERE / ".venvs")
    parser.add_argument("--json", action="store_true", help="print all raw runs as one JSON object, last line")
    parser.add_argument("--tables-from", type=Path, metavar="FILE",
                        help="print the tables of a saved run (a file whose last line is --json's output), then exit")
    parser.add_argument("--check-pins", action="store_true",
                        help="print what each peer's pip install would change in this interpreter, then exit")
    args = parser.parse_args(argv)
    overrides: dict[str, int] = {}
    for item in args.steps:
        task, _, value = item.partition("=")
        if task not in TASKS or not value.isdigit() or int(value) < 1:
            parser.error(f"--steps {item!r}: expected TASK=N with TASK in {', '.join(TASKS)} and N >= 1")
        overrides[task] = int(value)
    args.steps = {task: run_steps(task, overrides.get(task)) for task in TASKS}
    if args.repeats < 1 or args.eval_episodes < 1 or args.threads < 1 or args.first_seed < 0:
        parser.error("--repeats, --eval-episodes and --threads must be >= 1, --first-seed >= 0")
    return args


def check_pins() -> None:
    """Print, per peer, the installed packages its ``pip install`` would replace here (pip's dry run)."""
    import venvs

    for name, requirements in REQUIREMENTS.items():
        changes = venvs.pip_changes(requirements)
        listed = ", ".join(f"{k} {a} -> {b}" for k, a, b in ((k, *v) for k, v in sorted(changes.items())))
        print(f"{name} ({' '.join(requirements)}): {listed or 'no conflict with this environment'}")


def main(argv: list[str] | None = None) -> None:
    """Make the peers' venvs, run the interleaved repeats per task, print one table per task."""
    args = parse_args(argv)
    if args.check_pins:
        check_pins()
        return
    if args.tables_from:
        saved = json.loads(args.tables_from.read_text().strip().splitlines()[-1])
        for task, runs in saved["runs"].items():
            print(f"\n{task}: {saved['steps'][task]:,} env steps")
            print("\n".join(table(task, runs, [n for n in LIBS if any(r["lib"] == n for r in runs)])))
        return
    pythons = {name: python_of(name, args.venv_dir) for name in args.libs}
    print(f"{args.threads} torch thread(s); final evaluation: {args.eval_episodes} deterministic episodes; "
          f"interpreters: {json.dumps(pythons)}")
    every: dict[str, list[dict]] = {}
    for task in args.tasks:
        steps, load_start = args.steps[task], os.getloadavg()[0]
        print(f"\n{task}: {TASKS[task]['algo'].upper()} {TASKS[task]['env_id']}, {steps:,} env steps, "
              f"{fits(task, steps)} fits; settings {json.dumps(TASKS[task]['settings'])}", flush=True)
        runs: list[dict] = []
        for seed in range(args.first_seed, args.first_seed + args.repeats):
            for name in args.libs:
                if name == "porcini-cli":
                    record = run_cli(task, seed, steps, args)
                else:
                    record = run_script(pythons[name], name, task, seed, steps, args)
                record["load_average"] = round(os.getloadavg()[0], 2)
                runs.append(record)
                print(json.dumps(record), file=sys.stderr, flush=True)
                print(f"  repeat {seed}: {name:12} {record['train_wall_s']:8.2f} s, return "
                      f"{record['eval_return_mean']:.1f}, {record['env_steps']:,} env steps", flush=True)
        print(f"{task}: load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
        print("\n".join(table(task, runs, args.libs)), flush=True)
        every[task] = runs
    if args.json:
        print(json.dumps({"steps": {t: args.steps[t] for t in args.tasks}, "runs": every}))


if __name__ == "__main__":
    main()
