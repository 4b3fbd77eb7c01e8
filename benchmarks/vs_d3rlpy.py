"""porcini against d3rlpy offline: same dataset, hyperparameters, network sizes, batch size and thread count.

For TD3+BC, IQL and CQL (continuous actions) it times gradient steps per second on a Pendulum-v1 dataset and
scores the final policy over ``--eval-episodes`` episodes (``common.evaluate``: the same loop and env seeds for
both libraries). Each library learns through its usual entry point: porcini's ``Core.learn_offline``, d3rlpy's
``fit`` (no logging files, no progress bar, no evaluators), so each side's per-step loop overhead is included.
A short warm-up (``--warmup`` gradient steps, not timed) comes first; then ``--steps`` gradient steps are timed
in wall time and process CPU time (CPU time is steadier on a loaded machine).

The dataset is recorded by porcini (``collect_dataset``): the swing-up controller of docs/offline.md, acting at
random half of the time, ``--episodes`` episodes of 200 steps with seed 0, written as a plain ``.npz`` of flat
``obs``, ``action``, ``reward``, ``next_obs``, ``terminated``, ``truncated`` arrays in episode order. Each side
reads that one file: porcini as a ``Dataset``, d3rlpy as an ``MDPDataset`` with ``timeouts = truncated``. d3rlpy
cannot hold the final observation of a truncated episode, so it drops each episode's last transition (one in
200 here); porcini keeps it.

d3rlpy pins gymnasium 1.0.0, so it runs in its own virtual environment, made once under
``benchmarks/.venvs/`` (or ``--venv DIR``): the torch version of this interpreter first (a CPU build; a bare
torch requirement could pull a CUDA build), then ``d3rlpy==2.8.1``, through pip's own configuration (where it
finds no CPU wheel of that version, install one into the venv by hand and rerun). Both libraries run one after
the other in fresh subprocesses with ``--threads`` torch threads. porcini flushes subnormal floats while fitting
(``porcini.networks.denormals``); ``--peer-flush-denormals`` turns the same CPU mode on for d3rlpy.

The shared settings (``SETTINGS``, printed at the start) are the papers' and both libraries' defaults where they
agree; where they differ, one value is set on both sides (see ``SETTINGS_NOTES``). Differences that no setting
removes are listed in ``IMPLEMENTATION_NOTES``.

usage: python benchmarks/vs_d3rlpy.py [--algos td3_bc,iql,cql] [--steps 5000] [--warmup 200]
       [--eval-episodes 10] [--seeds 0 1] [--threads 1] [--episodes 50] [--venv DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ENV_ID = "Pendulum-v1"
D3RLPY_VERSION = "2.8.1"
ALGOS = ("td3_bc", "iql", "cql")
EVAL_SEED = 20_000  # env seeds of the final evaluation: EVAL_SEED, EVAL_SEED + 1, ...

COMMON = {"hidden": [256, 256], "batch_size": 256, "gamma": 0.99, "tau": 0.005, "n_critics": 2,
          "actions": "scaled to [-1, 1] from the env's bounds", "reward_scaling": None, "adam_eps": 1e-8}
SETTINGS: dict[str, dict[str, Any]] = {
    "td3_bc": {**COMMON, "learning_rate": 3e-4, "alpha": 2.5, "policy_noise": 0.2, "noise_clip": 0.5,
               "policy_delay": 2, "normalize_obs": True},
    "iql": {**COMMON, "learning_rate": 3e-4, "expectile": 0.7, "temperature": 3.0, "max_weight": 100.0,
            "normalize_obs": False},
    "cql": {**COMMON, "actor_learning_rate": 1e-4, "critic_learning_rate": 3e-4, "initial_temperature": 1.0,
            "temperature_learning_rate": 3e-4, "target_entropy": "-action_dim", "cql_alpha": 5.0,
            "n_action_samples": 10, "entropy_in_backup": False, "normalize_obs": False},
}
SETTINGS_NOTES = [
    "normalize_obs: TD3+BC's paper normalizes observations (porcini's default; d3rlpy: StandardObservationScaler, "
    "same 1e-3 on the std); IQL and CQL have no observation normalization in porcini, so none on either side",
    "cql temperature learning rate: porcini uses the critics' 3e-4, d3rlpy defaults to 1e-4: set to 3e-4",
    "cql_alpha: fixed 5.0 (the paper's locomotion value; d3rlpy: conservative_weight=5, initial_alpha=1, "
    "alpha_learning_rate=0) rather than the two libraries' differently scaled Lagrange tunings",
]
IMPLEMENTATION_NOTES = [
    "iql: d3rlpy steps Q and V with one optimizer over a joint loss and clamps the policy's log-std to [-5, 2]; "
    "porcini steps V, the actor and Q in turn (the official order) and clamps to [-10, 2]",
    "cql: d3rlpy's TD target (soft_q_backup=False) uses the policy's deterministic action at s', porcini a sample",
    "d3rlpy drops the last transition of each truncated episode (it cannot store its final observation)",
]


# ---------------------------------------------------------------------------------------------- the dataset
def swing_up(obs: np.ndarray) -> np.ndarray:
    """Pump energy with full torque, balance with a PD law near the top: actions ``[B, 1]``."""
    cos, sin, speed = obs[:, 0], obs[:, 1], obs[:, 2]
    energy = 0.5 * speed**2 / 15.0 + (cos - 1.0)  # 0 upright at rest
    torque = np.where(cos > 0.85, -(10 * np.arctan2(sin, cos) + 2 * speed), 2.0 * np.sign(speed) * (energy < 0))
    return np.clip(torque, -2, 2)[:, None].astype(np.float32)


def write_dataset(path: Path, episodes: int, seed: int = 0, random_share: float = 0.5) -> dict[str, Any]:
    """Record the noisy swing-up controller with porcini and write the flat ``.npz``; its return statistics."""
    from porcini import make_env
    from porcini.data import collect_dataset

    rng = np.random.default_rng(seed)

    def policy(obs: np.ndarray) -> np.ndarray:
        action = swing_up(obs)
        random = rng.uniform(-2, 2, size=action.shape).astype(np.float32)
        return np.where(rng.random((len(obs), 1)) < random_share, random, action)

    data = collect_dataset(make_env(ENV_ID, seed=seed), policy, episodes=episodes, seed=seed)
    parts = list(data.episodes())  # [L, 1, ...] each, in order: flat arrays keep episodes contiguous
    fields = ("obs", "action", "reward", "next_obs", "terminated", "truncated")
    flat = {name: np.concatenate([getattr(e, name)[:, 0] for e in parts]) for name in fields}
    np.savez(path, **flat)
    returns = [float(e.reward.sum()) for e in parts]
    return {"transitions": len(flat["reward"]), "episodes": len(parts),
            "return_mean": round(float(np.mean(returns)), 1),
            "return_best_decile": round(float(np.percentile(returns, 90)), 1)}


def read_flat(path: str | Path) -> dict[str, np.ndarray]:
    """The flat arrays of :func:`write_dataset`'s file."""
    with np.load(path) as file:
        return {name: file[name] for name in file.files}


def d3rlpy_arrays(flat: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arguments of d3rlpy's ``MDPDataset``: episodes end where ``terminals | timeouts``."""
    return {"observations": flat["obs"].astype(np.float32), "actions": flat["action"].astype(np.float32),
            "rewards": flat["reward"].astype(np.float32).reshape(-1, 1),
            "terminals": flat["terminated"].astype(np.float32), "timeouts": flat["truncated"].astype(np.float32)}


# ---------------------------------------------------------------------------------------------- one run
def _record(lib: str, version: str, algo: str, seed: int, steps: int, wall: float, cpu: float,
            returns: tuple[float, float], eval_episodes: int, transitions: int) -> dict[str, Any]:
    import torch

    return {"lib": lib, "version": version, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "algo": algo, "seed": seed, "gradient_steps": steps, "transitions": transitions,
            "update_wall_s": round(wall, 3), "update_cpu_s": round(cpu, 3),
            "steps_per_s": round(steps / wall, 1), "steps_per_cpu_s": round(steps / cpu, 1),
            "eval_return_mean": round(returns[0], 2), "eval_return_std": round(returns[1], 2),
            "eval_episodes": eval_episodes}


def porcini_agent(algo: str, info: Any, seed: int) -> Any:
    """The porcini agent of ``algo`` with :data:`SETTINGS`."""
    from porcini.algorithms.offline.cql import CQL
    from porcini.algorithms.offline.iql import IQL
    from porcini.algorithms.offline.td3_bc import TD3BC

    s = SETTINGS[algo]
    shared = {"net_arch": tuple(s["hidden"]), "batch_size": s["batch_size"], "gamma": s["gamma"], "tau": s["tau"],
              "n_critics": s["n_critics"], "seed": seed}
    if algo == "td3_bc":
        return TD3BC(info, **shared, learning_rate=s["learning_rate"], alpha=s["alpha"],
                     target_policy_noise=s["policy_noise"], target_noise_clip=s["noise_clip"],
                     policy_delay=s["policy_delay"], normalize_obs=s["normalize_obs"])
    if algo == "iql":
        return IQL(info, **shared, learning_rate=s["learning_rate"], expectile=s["expectile"],
                   temperature=s["temperature"], max_weight=s["max_weight"])
    # porcini's SAC temperature learns at the critics' rate from 1.0: "auto" with learning_rate
    return CQL(info, **shared, learning_rate=s["critic_learning_rate"], actor_learning_rate=s["actor_learning_rate"],
               ent_coef=f"auto_{s['initial_temperature']}", cql_alpha=s["cql_alpha"],
               cql_n_actions=s["n_action_samples"], backup_entropy=s["entropy_in_backup"])


def run_porcini(algo: str, data_path: str, steps: int, warmup: int, eval_episodes: int, seed: int) -> dict[str, Any]:
    """Learn ``algo`` offline with porcini from the flat file; time ``steps`` gradient steps; score the policy."""
    import common
    import torch

    import porcini
    from porcini import Core, make_env
    from porcini.core.batch import TransitionBatch
    from porcini.data import Dataset

    flat = read_flat(data_path)
    column = {name: array[:, None] for name, array in flat.items()}  # [T, 1, ...]: one env column, in order
    env = make_env(ENV_ID, seed=seed)
    agent = porcini_agent(algo, env.info, seed)
    agent.add_dataset(Dataset(TransitionBatch(**column), {"env_id": ENV_ID}))
    core = Core(agent, env, progress=False)
    if warmup:
        core.learn_offline(warmup)
    start, cpu = time.perf_counter(), time.process_time()
    core.learn_offline(steps)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert agent.n_updates == warmup + steps, (agent.n_updates, warmup, steps)

    def act(obs: np.ndarray) -> np.ndarray:
        return agent.act(obs[None], explore=False)[0]

    with torch.inference_mode():
        returns = common.evaluate(act, ENV_ID, eval_episodes, EVAL_SEED)
    return _record("porcini", porcini.__version__, algo, seed, steps, wall, cpu, returns, eval_episodes,
                   len(flat["reward"]))


def d3rlpy_algo(algo: str, low: np.ndarray, high: np.ndarray) -> Any:
    """The d3rlpy algorithm of ``algo`` with :data:`SETTINGS` (run in d3rlpy's virtual environment)."""
    import d3rlpy

    s = SETTINGS[algo]
    encoder = d3rlpy.models.encoders.VectorEncoderFactory(hidden_units=list(s["hidden"]))
    shared: dict[str, Any] = {
        "batch_size": s["batch_size"], "gamma": s["gamma"], "tau": s["tau"], "n_critics": s["n_critics"],
        "actor_encoder_factory": encoder, "critic_encoder_factory": encoder,
        "action_scaler": d3rlpy.preprocessing.MinMaxActionScaler(minimum=low, maximum=high),
        "observation_scaler": d3rlpy.preprocessing.StandardObservationScaler() if s["normalize_obs"] else None,
    }
    if algo == "td3_bc":
        return d3rlpy.algos.TD3PlusBCConfig(
            **shared, actor_learning_rate=s["learning_rate"], critic_learning_rate=s["learning_rate"],
            alpha=s["alpha"], target_smoothing_sigma=s["policy_noise"], target_smoothing_clip=s["noise_clip"],
            update_actor_interval=s["policy_delay"]).create(device="cpu:0")
    if algo == "iql":
        return d3rlpy.algos.IQLConfig(
            **shared, value_encoder_factory=encoder, actor_learning_rate=s["learning_rate"],
            critic_learning_rate=s["learning_rate"], expectile=s["expectile"], weight_temp=s["temperature"],
            max_weight=s["max_weight"]).create(device="cpu:0")
    return d3rlpy.algos.CQLConfig(
        **shared, actor_learning_rate=s["actor_learning_rate"], critic_learning_rate=s["critic_learning_rate"],
        temp_learning_rate=s["temperature_learning_rate"], initial_temperature=s["initial_temperature"],
        conservative_weight=s["cql_alpha"], initial_alpha=1.0, alpha_learning_rate=0.0, alpha_threshold=0.0,
        n_action_samples=s["n_action_samples"], soft_q_backup=s["entropy_in_backup"],
        max_q_backup=False).create(device="cpu:0")


def run_d3rlpy(algo: str, data_path: str, steps: int, warmup: int, eval_episodes: int, seed: int) -> dict[str, Any]:
    """Learn ``algo`` offline with d3rlpy from the flat file (d3rlpy's venv); time ``steps`` steps; score it."""
    import common
    import d3rlpy
    import torch

    d3rlpy.seed(seed)
    flat = read_flat(data_path)
    dataset = d3rlpy.dataset.MDPDataset(**d3rlpy_arrays(flat))
    bound = np.full(flat["action"].shape[1:], 2.0, dtype=np.float32)  # Pendulum-v1's torque bounds
    algo_ = d3rlpy_algo(algo, -bound, bound)
    fit = {"logger_adapter": d3rlpy.logging.NoopAdapterFactory(), "show_progress": False,
           "save_interval": 10**9}
    if warmup:
        algo_.fit(dataset, n_steps=warmup, n_steps_per_epoch=warmup, **fit)
    start, cpu = time.perf_counter(), time.process_time()
    algo_.fit(dataset, n_steps=steps, n_steps_per_epoch=steps, **fit)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert algo_.grad_step == warmup + steps, (algo_.grad_step, warmup, steps)

    def act(obs: np.ndarray) -> np.ndarray:
        return algo_.predict(obs[None].astype(np.float32))[0]

    with torch.inference_mode():
        returns = common.evaluate(act, ENV_ID, eval_episodes, EVAL_SEED)
    return _record("d3rlpy", d3rlpy.__version__, algo, seed, steps, wall, cpu, returns, eval_episodes,
                   dataset.transition_count)


# ---------------------------------------------------------------------------------------------- the driver
def ensure_venv(venv: Path) -> Path:
    """d3rlpy's virtual environment (made once, ``venvs.ensure_venv``): torch first, then d3rlpy."""
    import venvs

    return venvs.ensure_venv(venv, f"d3rlpy-{D3RLPY_VERSION}", [[f"d3rlpy=={D3RLPY_VERSION}"]])


def run_side(python: str, lib: str, algo: str, data: Path, args: argparse.Namespace, seed: int,
             flush_denormals: bool = False) -> dict[str, Any]:
    """Run one library on one algorithm and seed in a fresh subprocess of ``python``; its JSON record."""
    code = (
        f"import sys, json, torch; sys.path.insert(0, {str(HERE)!r}); torch.set_num_threads({args.threads}); "
        f"torch.set_flush_denormal({flush_denormals}); import vs_d3rlpy as b; "
        f"print(json.dumps(b.run_{lib}({algo!r}, {str(data)!r}, {args.steps}, {args.warmup}, "
        f"{args.eval_episodes}, {seed})))"
    )
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{lib} {algo} seed {seed} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """One line per algorithm and seed, then the median speed ratio per algorithm."""
    head = (f"{'algo':7} {'seed':>4} | {'porcini steps/s':>15} {'d3rlpy steps/s':>14} {'ratio':>6} "
            f"{'ratio (CPU)':>11} | {'porcini return':>14} {'d3rlpy return':>13}")
    print(head)
    print("-" * len(head))
    for ours, peer in rows:
        print(f"{ours['algo']:7} {ours['seed']:>4} | {ours['steps_per_s']:>15.1f} {peer['steps_per_s']:>14.1f} "
              f"{ours['steps_per_s'] / peer['steps_per_s']:>6.2f} "
              f"{ours['steps_per_cpu_s'] / peer['steps_per_cpu_s']:>11.2f} | "
              f"{ours['eval_return_mean']:>14.1f} {peer['eval_return_mean']:>13.1f}")
    for algo in dict.fromkeys(o["algo"] for o, _ in rows):
        pairs = [(o, p) for o, p in rows if o["algo"] == algo]
        ratio = statistics.median(o["steps_per_s"] / p["steps_per_s"] for o, p in pairs)
        print(f"{algo}: median speed ratio porcini/d3rlpy x{ratio:.2f} over {len(pairs)} seed(s); mean return "
              f"porcini {np.mean([o['eval_return_mean'] for o, _ in pairs]):.1f} vs "
              f"d3rlpy {np.mean([p['eval_return_mean'] for _, p in pairs]):.1f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--algos", default=",".join(ALGOS), help="comma-separated, from " + ", ".join(ALGOS))
    parser.add_argument("--steps", type=int, default=5000, help="timed gradient steps per run")
    parser.add_argument("--warmup", type=int, default=200, help="untimed gradient steps before them")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=50, help="episodes of the recorded dataset")
    parser.add_argument("--venv", type=Path, default=HERE / ".venvs" / f"d3rlpy-{D3RLPY_VERSION}")
    parser.add_argument("--peer-flush-denormals", action="store_true",
                        help="run d3rlpy with subnormals flushed to zero too (the CPU mode porcini sets while fitting)")
    parser.add_argument("--json", action="store_true", help="print all records as one JSON object, last line")
    args = parser.parse_args(argv)
    args.algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    unknown = sorted(set(args.algos) - set(ALGOS))
    if unknown or not args.algos:
        parser.error(f"--algos: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(ALGOS)}")
    if args.steps < 1 or args.warmup < 0 or args.eval_episodes < 1 or args.episodes < 1:
        parser.error("--steps, --eval-episodes and --episodes must be >= 1, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> None:
    """Make the dataset and d3rlpy's venv, run both libraries per algorithm and seed, print the table."""
    args = parse_args(argv)
    python = str(ensure_venv(args.venv))
    with tempfile.TemporaryDirectory(prefix="vs-d3rlpy-") as folder:
        data = Path(folder) / "pendulum-noisy-swing-up.npz"
        stats = write_dataset(data, args.episodes)
        print(f"dataset: {ENV_ID}, noisy swing-up controller (random torque half of the time), seed 0: {stats}")
        print(f"{args.steps} timed gradient steps after {args.warmup} warm-up steps, {args.threads} torch thread(s), "
              f"final evaluation over {args.eval_episodes} episode(s)")
        for algo in args.algos:
            print(f"{algo} settings (both libraries): {json.dumps(SETTINGS[algo])}")
        for note in SETTINGS_NOTES + IMPLEMENTATION_NOTES:
            print(f"note: {note}")
        rows = []
        for algo in args.algos:
            for seed in args.seeds:
                ours = run_side(sys.executable, "porcini", algo, data, args, seed)
                peer = run_side(python, "d3rlpy", algo, data, args, seed, args.peer_flush_denormals)
                rows.append((ours, peer))
                print(json.dumps({"porcini": ours, "d3rlpy": peer}), file=sys.stderr)
    print_table(rows)
    if args.json:
        print(json.dumps({"dataset": stats, "settings": {a: SETTINGS[a] for a in args.algos},
                          "runs": [{"porcini": o, "d3rlpy": p} for o, p in rows]}))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
