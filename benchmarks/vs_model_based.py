"""Model-based RL in porcini: planner throughput, sample efficiency against SAC, and PETS against mbrl-lib.

Three parts (``--parts``; default ``throughput,efficiency``, plus ``mbrl`` when its venv is ready):

**throughput**: candidate action sequences scored per second by porcini's batched scoring against a plain
per-candidate loop over the same model, the same arithmetic, one process, ``--threads`` torch threads for both.

* Learned model: a ``DynamicsEnsemble(3, 1, n_members=5, n_elites=5, hidden=(200, 200))`` fit for
  ``FIT_EPOCHS`` epochs on ``FIT_STEPS`` transitions of uniform random torques in Pendulum-v1 (a brief fit:
  the cost does not depend on how good the model is, the fit only keeps the rollouts in a realistic range).
  Batched: ``particle_cost(model, state, sequences [N, H, 1], particles=P, propagation="tsinf")``, every
  candidate and particle in one forward per step. Loop (:func:`loop_particle_cost`): for each candidate, for
  each particle, for each step, one row ``[obs, action]`` through that particle's elite (particle ``p`` rides
  elite ``p mod E``, as in ``particle_cost``), written as the member's own MLP on its weight matrices
  (normalize, linear + SiLU layers, a sample of the Gaussian, un-normalize, ``obs + delta``). Both sample
  from the Gaussian (PETS's setting); before timing, both are run with ``sample=False`` on the loop's
  candidates and must agree (a check of the loop, printed).
* Known model: ``rollout_cost(PendulumModel(), state, sequences)`` against a loop calling
  ``PendulumModel().step`` on one row ``[1, 3]`` per candidate and step (:func:`loop_rollout_cost`).

The state is Pendulum-v1's first observation after ``reset(seed=0)``; sequences are uniform in ``[-2, 2]``.
The loop's cost is linear in ``N``, so it is timed on the first ``--loop-candidates`` candidates only and its
rate (candidates/s) is extrapolated to ``N``; the batched scoring is timed on all ``N``. Each time is the best of
``--repeats`` calls, the two sides alternating. Ratio = batched candidates/s over the loop's.

**efficiency**: PETS (``pets``), MBPO (``mbpo``) and SAC (``sac``) on Pendulum-v1, each with porcini's config of
record (``load_config_of_record(algo, "Pendulum-v1")["algo"]``), built as ``get_algorithm(algo)(env.info,
**kwargs, seed=seed)`` on ``make_env("Pendulum-v1", seed=seed)`` and trained with ``Core(agent, env,
progress=False).learn`` in chunks (``horizon`` = the budget, so chunks equal one run). After every
``--eval-every`` env steps (the same schedule for all three) ``run_episodes`` plays ``--eval-episodes`` greedy
episodes on ``make_env("Pendulum-v1", seed=10_000 + seed)`` reset with seed ``10_000 + seed``; the agent's
generators and planning warm starts are put back after each evaluation, so evaluating does not change training.
A run ends at its budget (``--budget-pets/-mbpo/-sac``) or at the first evaluation >= ``--threshold``
(``--full-curves``: only at the budget). Reported per algorithm and seed: env steps to the threshold, training
wall time and process CPU time to it (``Core.learn`` calls only: no set-up, no evaluation), and the ratios
algorithm / SAC of the same seed for steps and wall time (``<`` or ``>``: a bound, when one side did not reach
the threshold within its budget). Each (algorithm, seed) runs in its own subprocess of this interpreter
(``--jobs`` at a time) that prints its JSON record; parallel runs share the CPU, so time them with ``--jobs 1``
on an idle machine.

``--plot PATH`` draws the evaluation return against env steps, every algorithm on one axis, one line per seed,
a dashed line at the threshold (matplotlib, 6 x 3.5 in, 100 dpi). With ``--plot`` no run stops before
``--plot-steps`` (3,000) env steps, so PETS's curve and SAC's cover the same steps at least; past them a run
stops at the threshold as usual (unless ``--full-curves``).

**mbrl**: PETS in porcini against Facebook's mbrl-lib 0.2.0, through ``benchmarks/peers/mbrl_pets.py`` run by
the python of ``--mbrl-venv`` (mbrl-lib pins an older Gymnasium). Both sides plan with porcini's config of
record on Pendulum-v1 where the peer script has the setting (horizon, population, CEM iterations with 10%
elites, particles, hidden width and depth, model batch size; ``--mbrl-notebook``: the notebook's settings
instead); :data:`MBRL_NOTES` lists what differs. The criterion is the same on both sides: the first training
episode (200 steps, the planner acting) whose return is >= ``--threshold``; its env steps and the training time
to its end (mbrl-lib: the random episode, the model fits and the planning episodes up to it, from its record's
``timing`` and ``fits``; porcini: the ``Core.learn`` calls); and the training time per env step over the whole
``--budget-pets``, in wall and process CPU time. The peer has no early stop, so porcini's PETS runs its whole
budget too, in its own runs (one evaluation, at the end: the criterion needs none). Per seed, porcini then
mbrl-lib run one after the other, never beside another run of this script (``--jobs`` does not apply), with
``--threads`` threads. If the venv is missing the part says how to make it (:func:`make_mbrl_venv`,
``--make-mbrl-venv``).

usage: python benchmarks/vs_model_based.py [--parts throughput,efficiency,mbrl] [--threads 1] [--json]
       [--shapes 200x15x5 400x30x20] [--loop-candidates 20] [--repeats 5]
       [--algos pets,mbpo,sac] [--seeds 0 1] [--jobs 1] [--eval-every 250] [--eval-episodes 3] [--threshold -250]
       [--budget-pets 3000] [--budget-mbpo 5000] [--budget-sac 20000] [--full-curves] [--plot PATH]
       [--plot-steps 3000] [--mbrl-venv DIR] [--mbrl-notebook] [--make-mbrl-venv]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
ENV_ID = "Pendulum-v1"
EPISODE_STEPS = 200  # Pendulum-v1's time limit; it never terminates
EVAL_SEED = 10_000  # evaluation env of seed s: make_env(ENV_ID, seed=EVAL_SEED + s), reset with the same seed
ALGOS = ("pets", "mbpo", "sac")
FIT_STEPS, FIT_EPOCHS = 1000, 5  # the throughput part's brief fit of the learned model
MBRL_VERSION = "0.2.0"
MBRL_SCRIPT = HERE / "peers" / "mbrl_pets.py"
# mbrl-lib 0.2.0 pins hydra-core 1.0.3, which cannot be imported on Python 3.11, so it goes in without its
# dependencies, and these come after it: hydra 1.3 (peers/mbrl_pets.py sets `_recursive_: False` for it), the
# Gymnasium it was written for, and numpy < 2 (Gymnasium 0.26 uses np.bool8).
MBRL_DEPENDENCIES = ["numpy<2", "gymnasium==0.26.3", "hydra-core==1.3.2", "omegaconf==2.3.0", "termcolor", "tqdm"]
MBRL_NOTES = [
    "reward: porcini's config of record plans with the model's learned reward, mbrl-lib with the known reward "
    "written out in peers/mbrl_pets.py (scored on the predicted next state)",
    "model fits: porcini fits every 200 env steps from the current weights, up to 100 epochs with held-out early "
    "stopping (patience 5, 10% held out) and Adam weight decay 1e-5; mbrl-lib fits before every episode for "
    "--epochs 50 epochs (5% held out, best weights kept) with weight decay 5e-5",
    "model: porcini's members are SiLU MLPs, mbrl-lib's LeakyReLU(0.01); both Gaussian, 5 members, TS-inf",
    "CEM: porcini clips Gaussian samples to the bounds, mbrl-lib samples a truncated normal (clipped_normal=False)",
]


# ---------------------------------------------------------------------------------------------- throughput
def fitted_model(seed: int = 0) -> tuple[Any, torch.Tensor]:
    """The throughput part's ensemble, fit briefly on random Pendulum-v1 data, and the state to plan from."""
    import gymnasium as gym

    from porcini.algorithms.model_based.dynamics import DynamicsEnsemble

    env = gym.make(ENV_ID)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    state = torch.as_tensor(obs, dtype=torch.float32)
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []
    while len(rows) < FIT_STEPS:
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        rows.append((obs, action, next_obs, float(reward)))
        obs = env.reset()[0] if terminated or truncated else next_obs
    torch.manual_seed(seed)
    model = DynamicsEnsemble(3, 1, n_members=5, n_elites=5, hidden=(200, 200))
    o, a, n = (np.array([r[i] for r in rows], dtype=np.float32) for i in range(3))
    model.fit(o, a, n, np.array([r[3] for r in rows], dtype=np.float32), rng=np.random.default_rng(seed),
              epochs=FIT_EPOCHS)
    return model, state


def member_layers(model: Any) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    """Each elite's layers as plain ``(weight [in, out], bias [out])`` pairs: one member on its own."""
    net = model.net
    assert net.activation_name == "silu", net.activation_name  # loop_particle_cost writes F.silu
    return [[(getattr(net, f"weight_{i}")[e].detach(), getattr(net, f"bias_{i}")[e, 0].detach())
             for i in range(net.n_layers)] for e in model.elites.tolist()]


def loop_particle_cost(model: Any, layers: list[list[tuple[torch.Tensor, torch.Tensor]]], state: torch.Tensor,
                       sequences: torch.Tensor, particles: int, generator: torch.Generator,
                       sample: bool = True) -> torch.Tensor:
    """``particle_cost`` (TS-inf) as the obvious loop: every candidate, particle and step, one row at a time.

    Particle ``p`` rides elite ``p mod E``; a step normalizes ``[obs, action]``, runs the elite's MLP, samples its
    Gaussian (``sample``), un-normalizes and adds the predicted change to ``obs``. Cost ``[N]``: minus the mean
    over particles of the summed predicted reward.
    """
    from porcini.functional.model_losses import bounded_log_var

    costs = torch.empty(len(sequences))
    with torch.no_grad():
        for i, sequence in enumerate(sequences.float()):
            total = torch.zeros(())
            for p in range(particles):
                member, obs = layers[p % len(layers)], state.float()
                for action in sequence:
                    x = (torch.cat([obs, action]) - model.in_mean) / model.in_std
                    for j, (weight, bias) in enumerate(member):
                        x = x @ weight + bias
                        x = F.silu(x) if j < len(member) - 1 else x
                    mean, raw = x.split(model.out_dim)
                    if sample:
                        log_var = bounded_log_var(raw, model.min_log_var, model.max_log_var)
                        mean = mean + torch.exp(0.5 * log_var) * torch.randn(mean.shape, generator=generator)
                    out = mean * model.out_std + model.out_mean
                    obs, total = obs + out[:-1], total + out[-1]
            costs[i] = -total / particles
    return costs


def loop_rollout_cost(model: Any, state: torch.Tensor, sequences: torch.Tensor) -> torch.Tensor:
    """``rollout_cost`` as the obvious loop: ``model.step`` on one row ``[1, S]`` per candidate and step."""
    costs = torch.empty(len(sequences))
    for i, sequence in enumerate(sequences):
        obs, total = state[None], torch.zeros(())
        for action in sequence:
            obs, reward, terminated = model.step(obs, action[None])
            total = total + reward[0]
            if bool(terminated[0]):  # nothing is earned after a termination
                break
        costs[i] = -total
    return costs


def best_seconds(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Best wall time of one call of each function over ``repeats`` rounds (alternating), after one warm-up."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def scorers(model: Any, state: torch.Tensor, sequences: torch.Tensor, particles: int,
            loop_candidates: int) -> dict[str, tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]]:
    """Per model, the batched scoring of all ``sequences`` and the loop's of the first ``loop_candidates``.

    Each takes ``sample`` (default True; the known model ignores it) and uses a generator seeded 0.
    """
    from porcini.algorithms.model_based.known_models import PendulumModel
    from porcini.algorithms.model_based.planners import rollout_cost
    from porcini.algorithms.model_based.trajectory_sampling import particle_cost

    layers, known, few = member_layers(model), PendulumModel(), sequences[:loop_candidates]
    batched_gen, loop_gen = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    return {
        "ensemble": (lambda sample=True: particle_cost(model, state, sequences, particles=particles, sample=sample,
                                                       propagation="tsinf", generator=batched_gen),
                     lambda sample=True: loop_particle_cost(model, layers, state, few, particles, loop_gen, sample)),
        "known": (lambda sample=True: rollout_cost(known, state, sequences),
                  lambda sample=True: loop_rollout_cost(known, state, few)),
    }


def throughput_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Candidates/s of the batched scoring and of the loop, per model and shape (see the module docstring)."""
    model, state = fitted_model()
    rows = []
    for n, horizon, particles in args.shapes:
        sequences = 4 * torch.rand(n, horizon, 1, generator=torch.Generator().manual_seed(n + horizon)) - 2
        few = min(args.loop_candidates, n)
        for name, (batched, loop) in scorers(model, state, sequences, particles, few).items():
            gap = float((batched(False)[:few] - loop(False)).abs().max())  # the loop computes the same costs
            batched_s, loop_s = best_seconds([batched, loop], args.repeats)
            rows.append({"model": name, "candidates": n, "horizon": horizon,
                         "particles": particles if name == "ensemble" else None, "loop_candidates": few,
                         "batched_per_s": round(n / batched_s, 1), "loop_per_s": round(few / loop_s, 1),
                         "ratio": round((n / batched_s) / (few / loop_s), 1), "max_cost_gap": gap,
                         "batched_s": round(batched_s, 5), "loop_s": round(loop_s, 5)})
            print(f"  {name} N={n} H={horizon} P={particles}: batched {batched_s:.4f} s, loop {loop_s:.4f} s "
                  f"({few} candidates)", file=sys.stderr, flush=True)
    return rows


def print_throughput(rows: list[dict[str, Any]], threads: int) -> None:
    """The throughput table: one line per model and shape."""
    print(f"\nPlanner throughput, Pendulum-v1, {threads} torch thread(s): candidates scored per second "
          "(loop timed on the first `loop N` candidates, its rate extrapolated)")
    head = (f"{'model':8} {'N':>5} {'H':>3} {'P':>3} | {'batched cand/s':>14} {'loop cand/s':>11} {'loop N':>6} "
            f"{'ratio':>7} | {'check: max |cost gap|':>21}")
    print(head)
    print("-" * len(head))
    for r in rows:
        particles = "-" if r["particles"] is None else r["particles"]
        print(f"{r['model']:8} {r['candidates']:>5} {r['horizon']:>3} {particles:>3} | {r['batched_per_s']:>14.1f} "
              f"{r['loop_per_s']:>11.1f} {r['loop_candidates']:>6} {r['ratio']:>6.1f}x | {r['max_cost_gap']:>21.2e}")


# ---------------------------------------------------------------------------------------------- efficiency
def make_agent(algo: str, seed: int) -> tuple[Any, Any, dict[str, Any]]:
    """The training env, the agent of ``algo`` with its config of record on Pendulum-v1, and that record's kwargs."""
    from porcini import make_env
    from porcini.algorithms.registry import get_algorithm
    from porcini.experiment.config.run import load_config_of_record

    record = load_config_of_record(algo, ENV_ID)
    if record is None or "algo" not in record:
        raise SystemExit(f"{algo} has no config of record on {ENV_ID} (porcini/configs/{algo}/{ENV_ID}.yaml)")
    kwargs = dict(record["algo"])
    env = make_env(ENV_ID, seed=seed)
    return env, get_algorithm(algo)(env.info, **kwargs, seed=seed), kwargs


def evaluate_aside(agent: Any, env: Any, episodes: int, seed: int) -> float:
    """Mean return of ``episodes`` greedy episodes; the agent's generators and warm starts are put back after."""
    from porcini.core.evaluation import run_episodes

    generator, rng = getattr(agent, "generator", None), getattr(agent, "rng", None)
    saved = (generator.get_state() if generator is not None else None,
             rng.bit_generator.state if rng is not None else None,
             agent.planning_state() if hasattr(agent, "planning_state") else None)
    try:
        return run_episodes(agent, env, episodes, seed=seed).mean_return()
    finally:
        if saved[0] is not None:
            generator.set_state(saved[0])
        if saved[1] is not None:
            rng.bit_generator.state = saved[1]
        if saved[2] is not None:
            agent.load_planning_state(saved[2])


def run_curve(algo: str, seed: int, budget: int, every: int, eval_episodes: int, threshold: float,
              stop_from: int) -> dict[str, Any]:
    """Train one (algorithm, seed) with evaluations every ``every`` env steps; its JSON record.

    The run stops at ``budget``, or at an evaluation >= ``threshold`` once ``stop_from`` env steps are done.
    ``Core.learn`` chunks end at evaluations and at episode ends, so each training episode's time is known.
    """
    import porcini
    from porcini import Core, make_env

    env, agent, kwargs = make_agent(algo, seed)
    core, eval_env = Core(agent, env, progress=False), make_env(ENV_ID, seed=EVAL_SEED + seed)
    evals: list[list[float]] = []
    episodes: list[list[float]] = []
    wall = cpu = eval_s = 0.0
    while core.env_steps < budget:
        done = core.env_steps
        chunk = min(every - done % every, EPISODE_STEPS - done % EPISODE_STEPS, budget - done)
        start, cpu_start = time.perf_counter(), time.process_time()
        result = core.learn(steps=chunk, horizon=budget)
        wall, cpu = wall + time.perf_counter() - start, cpu + time.process_time() - cpu_start
        episodes += [[core.env_steps, round(r, 2), round(wall, 3)] for r in result.episodes.returns]
        if core.env_steps % every and core.env_steps < budget:
            continue
        start = time.perf_counter()
        score = evaluate_aside(agent, eval_env, eval_episodes, EVAL_SEED + seed)
        eval_s += time.perf_counter() - start
        evals.append([core.env_steps, round(score, 2), round(wall, 3), round(cpu, 3)])
        if first_at(evals, threshold) and core.env_steps >= stop_from:
            break
    hit, hit_episode = first_at(evals, threshold), first_at(episodes, threshold)
    return {"lib": "porcini", "version": porcini.__version__, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "algo": algo, "seed": seed, "config": kwargs, "budget": budget,
            "eval_every": every, "eval_episodes": eval_episodes, "threshold": threshold, "env_steps": core.env_steps,
            "train_wall_s": round(wall, 2), "train_cpu_s": round(cpu, 2), "eval_s": round(eval_s, 2),
            "reached": hit and {"steps": hit[0], "train_wall_s": hit[2], "train_cpu_s": hit[3]},
            "episode_reached": hit_episode and {"steps": hit_episode[0], "train_wall_s": hit_episode[2]},
            "evals": evals, "episodes": episodes}


def first_at(curve: list[list[float]], threshold: float) -> list[float] | None:
    """The first point ``[env_steps, return, ...]`` of ``curve`` whose return is >= ``threshold``, or None."""
    return next((point for point in curve if point[1] >= threshold), None)


def run_side(algo: str, seed: int, args: argparse.Namespace, whole_budget: bool = False) -> dict[str, Any]:
    """:func:`run_curve` in a fresh subprocess of this interpreter with ``--threads`` threads; its JSON record.

    ``whole_budget``: the mbrl part's run, its whole budget with one evaluation at its end.
    """
    budget = getattr(args, f"budget_{algo}")
    stop_from = budget + 1 if args.full_curves or whole_budget else (args.plot_steps if args.plot else 0)
    every = budget if whole_budget else args.eval_every
    code = (f"import sys, json, torch; sys.path.insert(0, {str(HERE)!r}); torch.set_num_threads({args.threads}); "
            f"import vs_model_based as b; print(json.dumps(b.run_curve({algo!r}, {seed}, {budget}, {every}, "
            f"{args.eval_episodes}, {args.threshold}, {stop_from})))")
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{algo} seed {seed} failed:\n{out.stderr[-3000:]}")
    record = json.loads(out.stdout.strip().splitlines()[-1])
    reached = record["reached"]
    print(f"  {algo} seed {seed}: {record['env_steps']} env steps, train {record['train_wall_s']} s, evaluations "
          f"{record['eval_s']} s, threshold " + (f"at {reached['steps']}" if reached else "not reached"),
          file=sys.stderr, flush=True)
    return record


def run_all(algos: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every (algorithm, seed) of ``algos`` × ``--seeds``, ``--jobs`` at a time, the longest algorithms first."""
    tasks = [(algo, seed) for algo in algos for seed in args.seeds]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        return list(pool.map(lambda task: run_side(*task, args), tasks))


def bound_ratio(ours: float | None, ours_total: float, sac: float | None, sac_total: float) -> str:
    """``ours / sac`` as text; where a side did not reach the threshold its total is a bound (``<``, ``>``)."""
    if ours is not None and sac is not None:
        return f"{ours / sac:.2f}"
    if ours is not None:
        return f"<{ours / sac_total:.2f}"
    if sac is not None:
        return f">{ours_total / sac:.2f}"
    return "-"


def print_efficiency(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The sample-efficiency table: steps and training time to the threshold, ratios against SAC's same seed."""
    print(f"\nSample efficiency, {ENV_ID}: env steps and training time until an evaluation ({args.eval_episodes} "
          f"episodes, every {args.eval_every} env steps) >= {args.threshold}; {args.threads} torch thread(s), "
          f"--jobs {args.jobs}; ratios: algorithm / SAC of the same seed")
    head = (f"{'algo':5} {'seed':>4} {'budget':>6} | {'steps':>12} {'train s':>8} {'train CPU s':>11} | "
            f"{'steps/SAC':>9} {'wall/SAC':>8} {'CPU/SAC':>8} | {'s/env step':>10} {'last eval':>9}")
    print(head)
    print("-" * len(head))
    sac = {r["seed"]: r for r in runs if r["algo"] == "sac"}
    for r in runs:
        hit, base = r["reached"], sac.get(r["seed"])
        steps = f"{hit['steps']}" if hit else "not reached"
        wall, cpu = (f"{hit['train_wall_s']:.1f}", f"{hit['train_cpu_s']:.1f}") if hit else ("-", "-")
        ratios = ["-", "-", "-"]
        if base is not None and r is not base:
            b = base["reached"]
            ratios = [bound_ratio(hit and hit[key], r[total], b and b[key], base[total]) for key, total in
                      (("steps", "env_steps"), ("train_wall_s", "train_wall_s"), ("train_cpu_s", "train_cpu_s"))]
        print(f"{r['algo']:5} {r['seed']:>4} {r['budget']:>6} | {steps:>12} {wall:>8} {cpu:>11} | {ratios[0]:>9} "
              f"{ratios[1]:>8} {ratios[2]:>8} | {r['train_wall_s'] / r['env_steps']:>10.4f} {r['evals'][-1][1]:>9.1f}")
    for algo in dict.fromkeys(r["algo"] for r in runs if r["algo"] != "sac"):
        pairs = [(r["reached"], sac[r["seed"]]["reached"]) for r in runs
                 if r["algo"] == algo and r["seed"] in sac and r["reached"] and sac[r["seed"]]["reached"]]
        if pairs:
            steps = statistics.median(o["steps"] / s["steps"] for o, s in pairs)
            wall = statistics.median(o["train_wall_s"] / s["train_wall_s"] for o, s in pairs)
            print(f"{algo}: median over {len(pairs)} seed(s) where both reached: x{steps:.2f} SAC's env steps, "
                  f"x{wall:.2f} its training wall time")


def plot_curves(runs: list[dict[str, Any]], path: Path, threshold: float) -> None:
    """Evaluation return against env steps, every algorithm on one axis, one line per seed; dashed threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {"pets": "PETS", "mbpo": "MBPO", "sac": "SAC"}
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for color, algo in enumerate(dict.fromkeys(r["algo"] for r in runs)):
        mine = [r for r in runs if r["algo"] == algo]
        for i, r in enumerate(mine):
            steps, returns = zip(*[(e[0], e[1]) for e in r["evals"]], strict=True)
            label = f"{names.get(algo, algo)} (seed{'s' if len(mine) > 1 else ''} " \
                    f"{', '.join(str(m['seed']) for m in mine)})" if i == 0 else None
            ax.plot(steps, returns, color=f"C{color}", marker=".", lw=1.5, alpha=0.9, label=label)
    ax.axhline(threshold, color="0.4", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set_xlim(left=0)
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"evaluation return ({runs[0]['eval_episodes']} ep.)")
    ax.set_title(f"porcini on {ENV_ID}: configs of record", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nplot: {path}")


# ---------------------------------------------------------------------------------------------- mbrl-lib
def make_mbrl_venv(venv: Path) -> Path:
    """Create mbrl-lib's virtual environment (``venvs.ensure_venv``): torch first, then mbrl-lib.

    ``mbrl`` itself is installed with ``--no-deps``, then :data:`MBRL_DEPENDENCIES` (see there why).
    """
    import venvs

    return venvs.ensure_venv(venv, f"mbrl-{MBRL_VERSION}", [["--no-deps", f"mbrl=={MBRL_VERSION}"], MBRL_DEPENDENCIES])


def mbrl_missing(venv: Path) -> str | None:
    """Why the mbrl part cannot run (no peer script, no venv, mbrl not importable in it), or None."""
    python = venv / "bin" / "python"
    if not MBRL_SCRIPT.is_file():
        return f"{MBRL_SCRIPT} does not exist"
    if not python.is_file():
        return (f"no venv at {venv}: create it with `python benchmarks/vs_model_based.py --make-mbrl-venv` "
                "(make_mbrl_venv: python -m venv, torch of this interpreter, then mbrl-lib and MBRL_DEPENDENCIES)")
    check = subprocess.run([str(python), "-c", "import mbrl"], capture_output=True, text=True, timeout=300)
    if check.returncode != 0:
        return (f"`import mbrl` fails in {venv} ({check.stderr.strip().splitlines()[-1:]}); install mbrl-lib "
                f"{MBRL_VERSION} there, or recreate the venv with --make-mbrl-venv (make_mbrl_venv)")
    return None


def mbrl_flags(args: argparse.Namespace) -> list[str]:
    """The peer script's flags: porcini's PETS config of record where the script has the setting."""
    from porcini.algorithms.model_based.pets import PETSConfig
    from porcini.experiment.config.run import load_config_of_record

    steps = -(-args.budget_pets // EPISODE_STEPS) * EPISODE_STEPS  # whole episodes
    flags = ["--steps", str(steps), "--threads", str(args.threads)]
    if args.mbrl_notebook:
        return flags
    c = PETSConfig(**(load_config_of_record("pets", ENV_ID) or {}).get("algo", {}))
    if c.elites * 10 != c.population or len(set(c.model_hidden)) != 1 or c.planner != "cem":
        raise SystemExit(f"porcini's PETS record (elites {c.elites}/{c.population}, hidden {c.model_hidden}, planner "
                         f"{c.planner}) has no equivalent in peers/mbrl_pets.py (CEM, 10% elites, equal widths): "
                         "use --mbrl-notebook")
    return [*flags, "--planning-horizon", str(c.horizon), "--population", str(c.population),
            "--iterations", str(c.iterations), "--particles", str(c.particles), "--hidden", str(c.model_hidden[0]),
            "--layers", str(len(c.model_hidden)), "--batch-size", str(c.model_batch_size)]


def run_mbrl(venv: Path, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """mbrl-lib's PETS through the peer script in its venv; its JSON record with the first episode >= threshold."""
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    command = [str(venv / "bin" / "python"), str(MBRL_SCRIPT), "--seed", str(seed), *mbrl_flags(args)]
    print(f"  {' '.join(command)}", file=sys.stderr, flush=True)
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"mbrl-lib seed {seed} failed:\n{out.stderr[-3000:]}")
    record = json.loads(out.stdout.strip().splitlines()[-1])
    # training time at each episode's end: the random episode, then one fit and one planning episode per episode
    elapsed = np.cumsum([record["timing"]["random_episode_s"]]
                        + [f["seconds"] + f.get("episode_s", 0.0) for f in record["fits"]])
    episodes = [[steps, ret, round(float(t), 3)] for (steps, ret), t in zip(record["curve"], elapsed, strict=False)]
    hit = first_at(episodes, args.threshold)
    record["episode_reached"] = hit and {"steps": hit[0], "train_wall_s": hit[2]}
    record["episodes"], record["train_only_s"] = episodes, round(float(elapsed[-1]), 2)  # no set-up, no evaluations
    return record


def print_mbrl(pets: list[dict[str, Any]], peers: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """PETS in porcini beside mbrl-lib: the first training episode >= threshold, its env steps and time."""
    settings = "mbrl-lib's notebook" if args.mbrl_notebook else "porcini's config of record"
    print(f"\nPETS against mbrl-lib {MBRL_VERSION}, {ENV_ID}: the first training episode with return >= "
          f"{args.threshold}; settings: {settings} "
          f"({' '.join(mbrl_flags(args))}); ratios: mbrl-lib / porcini")
    for note in MBRL_NOTES:
        print(f"note: {note}")
    print("s/step: training time per env step over the whole budget, both sides (CPU: process time; mbrl-lib's "
          "includes its imports)")
    head = (f"{'seed':>4} | {'porcini steps':>13} {'mbrl steps':>10} | {'porcini s':>9} {'mbrl s':>8} {'ratio':>6} | "
            f"{'porcini s/step':>14} {'mbrl s/step':>11} {'ratio':>6} | {'CPU s/step':>10} {'mbrl':>7} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for ours in pets:
        peer = next(p for p in peers if p["seed"] == ours["seed"])
        a, b = ours["episode_reached"], peer["episode_reached"]
        ratio = bound_ratio(b and b["train_wall_s"], peer["train_only_s"], a and a["train_wall_s"],
                            ours["train_wall_s"])
        per_step = [ours["train_wall_s"] / ours["env_steps"], peer["train_only_s"] / peer["env_steps"]]
        cpu = [ours["train_cpu_s"] / ours["env_steps"], peer["train_cpu_s"] / peer["env_steps"]]
        print(f"{ours['seed']:>4} | {a['steps'] if a else 'not reached':>13} {b['steps'] if b else 'not reached':>10} "
              f"| {a['train_wall_s'] if a else '-':>9} {b['train_wall_s'] if b else '-':>8} {ratio:>6} "
              f"| {per_step[0]:>14.4f} {per_step[1]:>11.4f} {per_step[1] / per_step[0]:>6.2f} "
              f"| {cpu[0]:>10.4f} {cpu[1]:>7.4f} {cpu[1] / cpu[0]:>6.2f}")


# ---------------------------------------------------------------------------------------------- the driver
def parse_shape(text: str) -> tuple[int, int, int]:
    """``"200x15x5"`` to ``(candidates, horizon, particles)``."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"shape {text!r} must be NxHxP with positive integers, e.g. 200x15x5")
    n, horizon, particles = (int(p) for p in parts)
    if particles % 5:
        raise argparse.ArgumentTypeError(f"shape {text!r}: P must be a multiple of the model's 5 elites")
    return n, horizon, particles


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--parts", default=None, help="comma-separated from throughput, efficiency, mbrl (default: all; mbrl only "
                                      "when its venv is ready)")
    add("--threads", type=int, default=1, help="torch threads, the same for every side")
    add("--json", action="store_true", help="print all results as one JSON object, last line")
    add("--shapes", type=parse_shape, nargs="+", default=[(200, 15, 5), (400, 30, 20)], help="NxHxP ...")
    add("--loop-candidates", type=int, default=20, help="candidates the loop is timed on")
    add("--repeats", type=int, default=5, help="timed calls per side (best taken)")
    add("--algos", default=",".join(ALGOS), help="efficiency part: comma-separated from " + ", ".join(ALGOS))
    add("--seeds", type=int, nargs="+", default=[0, 1])
    add("--jobs", type=int, default=1, help="runs in parallel (they share the CPU)")
    add("--eval-every", type=int, default=250, help="env steps between evaluations")
    add("--eval-episodes", type=int, default=3)
    add("--threshold", type=float, default=-250.0)
    for algo, budget in (("pets", 3000), ("mbpo", 5000), ("sac", 20000)):
        add(f"--budget-{algo}", type=int, default=budget, help=f"env steps at most for {algo}")
    add("--full-curves", action="store_true", help="run every budget to its end (no stop at the threshold)")
    add("--plot", type=Path, default=None, help="write the evaluation curves to this png")
    add("--plot-steps", type=int, default=3000, help="with --plot: no run stops before this many env steps")
    add("--mbrl-venv", type=Path, default=HERE / ".venvs" / f"mbrl-{MBRL_VERSION}")
    add("--mbrl-notebook", action="store_true", help="mbrl-lib with its notebook's settings, not porcini's record")
    add("--make-mbrl-venv", action="store_true", help="create mbrl-lib's venv (make_mbrl_venv) and exit")
    args = parser.parse_args(argv)
    args.algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    if not args.algos or set(args.algos) - set(ALGOS):
        parser.error(f"--algos: choose from {', '.join(ALGOS)}")
    args.algos = [a for a in ALGOS if a in args.algos]  # the longest runs first
    if min(args.threads, args.loop_candidates, args.repeats, args.jobs, args.eval_every, args.eval_episodes) < 1:
        parser.error("--threads, --loop-candidates, --repeats, --jobs, --eval-every, --eval-episodes must be >= 1")
    return args


def choose_parts(args: argparse.Namespace) -> str | None:
    """Set ``args.parts`` (a list); the reason the mbrl part is skipped, if it is."""
    missing = mbrl_missing(args.mbrl_venv)
    wanted = ["throughput", "efficiency", "mbrl"] if args.parts is None else \
        [p.strip() for p in args.parts.split(",") if p.strip()]
    if set(wanted) - {"throughput", "efficiency", "mbrl"}:
        raise SystemExit(f"--parts: unknown {sorted(set(wanted) - {'throughput', 'efficiency', 'mbrl'})}")
    args.parts = [p for p in wanted if p != "mbrl" or missing is None]
    return missing if "mbrl" in wanted else None


def main(argv: list[str] | None = None) -> None:
    """Run the chosen parts and print their tables (and the plot, the JSON)."""
    args = parse_args(argv)
    if args.make_mbrl_venv:
        make_mbrl_venv(args.mbrl_venv)
        return
    skipped = choose_parts(args)
    torch.set_num_threads(args.threads)
    print(f"porcini model-based benchmark: parts {', '.join(args.parts)}; torch {torch.__version__}, "
          f"{args.threads} thread(s)")
    out: dict[str, Any] = {}
    if "throughput" in args.parts:
        out["throughput"] = throughput_rows(args)
        print_throughput(out["throughput"], args.threads)
    runs: list[dict[str, Any]] = []
    if "efficiency" in args.parts:
        runs = run_all(args.algos, args)
        print_efficiency(runs, args)
        out["efficiency"] = runs
        if args.plot:
            plot_curves(runs, args.plot, args.threshold)
    if "mbrl" in args.parts:
        pets, peers = [], []
        for seed in args.seeds:  # one after the other, alone: the times are compared
            pets.append(run_side("pets", seed, args, whole_budget=True))
            peers.append(run_mbrl(args.mbrl_venv, seed, args))
        print_mbrl(pets, peers, args)
        out["mbrl"] = {"porcini": pets, "mbrl-lib": peers}
    if skipped:
        print(f"\nmbrl part skipped: {skipped}")
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
