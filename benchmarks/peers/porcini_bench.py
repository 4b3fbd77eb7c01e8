"""porcini's side of ``benchmarks/vs_peers.py`` through its Python API: ``Core.learn`` with the task's settings.

The agent gets every key of ``settings.TASKS`` that is a field of its config (the rest are porcini's defaults,
which are SB3's), the env is ``make_env(ENV, n_envs=..., seed=...)``, and ``core.learn(steps=N)`` is timed alone
(no callbacks, no progress bar); its schedules span those N steps.

``--run-dir DIR`` instead scores the last checkpoint of a ``porcini train`` run (``load_policy``) with the same
evaluation, and prints the run's ``summary.json`` times with it: how ``vs_peers.py`` scores the command line.

usage: python benchmarks/peers/porcini_bench.py TASK --seed S [--steps N] [--eval-episodes E] [--threads T]
       python benchmarks/peers/porcini_bench.py TASK --run-dir DIR [--eval-episodes E]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import harness


def agent_class(task: str) -> Any:
    """porcini's agent class of ``task``."""
    from porcini.algorithms import DQN, PPO
    from porcini.algorithms.actor_critic.sac import SAC

    return {"ppo": PPO, "dqn": DQN, "sac": SAC}[harness.TASKS[task]["algo"]]


def agent_settings(task: str, seed: int) -> dict[str, Any]:
    """The keyword arguments of the agent: the task's settings that are fields of its config, and the seed."""
    fields = {f.name for f in dataclasses.fields(agent_class(task).Config)}
    return {**{k: v for k, v in harness.TASKS[task]["settings"].items() if k in fields}, "seed": seed}


def score_run(argv: list[str]) -> None:
    """``--run-dir DIR``: score a CLI run's last checkpoint; print its record with the summary's times."""
    from porcini.experiment.evaluation import load_policy

    run_dir = Path(argv[argv.index("--run-dir") + 1])
    args = harness.parse_args([a for i, a in enumerate(argv) if a != "--run-dir" and argv[i - 1] != "--run-dir"])
    summary = json.loads((run_dir / "summary.json").read_text())
    config, agent, train_env, eval_env = load_policy(run_dir, "last")
    train_env.close()
    eval_env.close()

    def act(obs: Any) -> Any:
        """The greedy action for one observation."""
        return agent.act(obs[None], explore=False)[0]

    args.seed = int(summary["seed"])
    harness.emit(harness.record("porcini-cli", str(summary["porcini_version"]), args, summary["env_steps"],
                                summary["wall_time_s"], float("nan"), act, eval_time_s=summary["eval_time_s"],
                                run_eval_return_mean=summary["eval_return_mean"]))


def main() -> None:
    """Train, time and score one run; print its JSON record."""
    if "--run-dir" in sys.argv:
        score_run(sys.argv[1:])
        return
    import porcini
    from porcini import Core, make_env

    args = harness.parse_args()
    env = make_env(args.env_id, n_envs=args.settings["n_envs"], seed=args.seed)
    agent = agent_class(args.task)(env.info, **agent_settings(args.task, args.seed))
    core = Core(agent, env, progress=False)
    wall, cpu = harness.timed(lambda: core.learn(steps=args.steps))

    def act(obs: Any) -> Any:
        """The greedy action for one observation."""
        return agent.act(obs[None], explore=False)[0]

    harness.emit(harness.record("porcini", porcini.__version__, args, core.env_steps, wall, cpu, act))


if __name__ == "__main__":
    main()
