"""benchmarks/vs_peers.py: its settings against porcini's configs of record, its step and ratio arithmetic, its venvs.

No peer library is run and no virtual environment is made here (each needs minutes and its own pins): the
settings every library's script reads are checked against the configs ``porcini train`` uses, the table's
ratios against sums worked out by hand, and ``venvs.ensure_venv`` against the pip commands it would run.
"""

import importlib
import statistics
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    added = [str(BENCHMARKS), str(BENCHMARKS / "peers")]
    sys.path[:0] = added
    try:
        yield importlib.import_module("vs_peers")
    finally:
        for path in added:
            sys.path.remove(path)


@pytest.mark.parametrize("task", ["ppo_cartpole", "dqn_cartpole", "sac_pendulum"])
def test_the_settings_are_porcinis_config_of_record(bench, task):
    from porcini.experiment import config_of_record, run_config_of_record

    entry = bench.TASKS[task]
    record = run_config_of_record(entry["algo"], entry["env_id"])
    settings = dict(entry["settings"])
    assert record.env.n_envs == settings.pop("n_envs")
    algo = config_of_record(entry["algo"], entry["env_id"], seed=0)  # the agent's whole config
    for key, value in settings.items():
        if key == "target_entropy":  # porcini spells SB3's "auto" the same way
            continue
        recorded = getattr(algo, key)
        assert (tuple(recorded) if isinstance(recorded, list) else recorded) == value, key
    # the record's run length; SAC's default budget is half of it on purpose (settings.py says why)
    assert record.steps == {"ppo_cartpole": 100_000, "dqn_cartpole": 50_000, "sac_pendulum": 20_000}[task]


def test_the_porcini_agent_gets_every_setting_its_config_has(bench):
    import porcini_bench

    from porcini import make_env

    for task in ("ppo_cartpole", "dqn_cartpole"):
        info = make_env("CartPole-v1").info
        agent = porcini_bench.agent_class(task)(info, **porcini_bench.agent_settings(task, seed=7))
        for key, value in bench.TASKS[task]["settings"].items():
            if hasattr(agent.config, key):
                recorded = getattr(agent.config, key)
                assert (tuple(recorded) if isinstance(recorded, list) else recorded) == value, key
        assert agent.config.seed == 7


def test_runs_are_whole_rollouts_with_sb3s_fits(bench):
    from settings import fits, run_steps

    # SB3 runs learn(N) in rollouts of n_steps x n_envs (PPO) or train_freq (DQN) steps, rounding N up
    assert run_steps("ppo_cartpole") == 391 * 256 == 100_096
    assert run_steps("dqn_cartpole") == 196 * 256 == 50_176
    assert run_steps("sac_pendulum") == 10_000 and run_steps("sac_pendulum", 20_000) == 20_000
    assert run_steps("ppo_cartpole", 1) == 256
    assert fits("ppo_cartpole", 100_096) == 391
    # DQN fits at the end of each rollout once more than learning_starts = 1000 steps were taken: 1024 ... 50176
    assert fits("dqn_cartpole", 50_176) == len(range(1024, 50_176 + 1, 256)) == 193
    assert fits("sac_pendulum", 10_000) == 9_900  # one gradient step per env step from step 101
    with pytest.raises(ValueError, match="at least 1 env step"):
        run_steps("dqn_cartpole", 0)


def test_the_command_line_rounds_step_overrides_and_refuses_bad_ones(bench, capsys):
    args = bench.parse_args(["--tasks", "sac_pendulum", "--steps", "sac_pendulum=20000", "dqn_cartpole=300"])
    assert args.tasks == ["sac_pendulum"] and args.repeats == 3 and args.eval_episodes == 20
    assert args.libs == ["porcini", "porcini-cli", "sb3", "tianshou", "mushroom"]
    assert args.steps == {"ppo_cartpole": 100_096, "dqn_cartpole": 512, "sac_pendulum": 20_000}
    for bad in (["--steps", "sac=5"], ["--steps", "dqn_cartpole=0"], ["--steps", "dqn_cartpole"]):
        with pytest.raises(SystemExit) as error:
            bench.parse_args(bad)
        assert error.value.code == 2
    assert "expected TASK=N" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--libs", "rllib"])


def run(lib, seed, wall):
    return {"lib": lib, "seed": seed, "train_wall_s": wall, "train_cpu_s": wall, "eval_return_mean": 500.0}


def test_the_table_takes_medians_of_per_repeat_ratios(bench):
    walls = {"porcini": [10, 20, 12], "sb3": [25, 30, 30], "tianshou": [40, 19, 60], "mushroom": [50, 50, 50]}
    runs = [run(lib, seed, wall[seed]) for seed in range(3) for lib, wall in walls.items()]
    assert bench.ratios(runs, "sb3", "porcini") == [2.5, 1.5, 2.5]
    # the fastest peer of each repeat: sb3 (25), tianshou (19), sb3 (30)
    assert bench.fastest_peer_ratios(runs, "porcini") == [2.5, 19 / 20, 2.5]
    lines = bench.table("ppo_cartpole", runs, list(walls))
    sb3 = next(line for line in lines if line.startswith("sb3"))
    assert "x2.50" in sb3 and f"{statistics.median([25, 30, 30]):.2f}" in sb3
    assert any(line.startswith("fastest peer / porcini (wall time): median x2.50 over 3 repeat(s)") for line in lines)
    assert "s0 500.0, s1 500.0, s2 500.0" in sb3


def test_the_command_lines_runs_have_no_cpu_time_and_get_their_own_ratio(bench):
    runs = [run("porcini", 0, 10), {**run("porcini-cli", 0, 8), "train_cpu_s": float("nan"), "process_wall_s": 15},
            run("sb3", 0, 24)]
    lines = bench.table("ppo_cartpole", runs, ["porcini", "porcini-cli", "sb3"])
    cli = next(line for line in lines if line.startswith("porcini-cli"))
    assert cli.split()[2] == "-" and "(process 15.0 s)" in cli  # no CPU time, the process's wall time
    assert bench.fastest_peer_ratios(runs, "porcini-cli") == [3.0]
    assert bench.fastest_peer_ratios(runs, "porcini-cli", "train_cpu_s") == []


def test_a_peer_installed_here_runs_here_and_another_gets_its_venv(bench, monkeypatch, tmp_path):
    from importlib import metadata

    import venvs

    made = []
    monkeypatch.setattr(venvs, "ensure_venv", lambda venv, tag, steps: made.append((venv, tag, steps)) or venv)
    monkeypatch.setattr(bench, "installed_here", lambda lib: lib.module == "stable_baselines3")
    assert bench.python_of("porcini", tmp_path) == sys.executable
    assert bench.python_of("sb3", tmp_path) == sys.executable and not made
    bench.python_of("mushroom", tmp_path)
    venv, tag, steps = made[0]
    assert venv == tmp_path / "mushroom-rl-1.10.2" and tag == "mushroom-rl-1.10.2"
    assert steps[0] == ["--no-deps", "mushroom-rl==1.10.2"]
    assert f"gymnasium=={metadata.version('gymnasium')}" in steps[1]  # porcini's Gymnasium
    assert not any(arg.startswith("torch") for step in steps for arg in step)  # ensure_venv installs torch first


def test_ensure_venv_installs_torch_first_then_the_steps_once(monkeypatch, tmp_path, bench):
    import venvs

    commands = []

    def run(command, check):
        commands.append(command)
        if command[1:3] == ["-m", "venv"]:
            Path(command[3]).mkdir(parents=True)

    monkeypatch.setattr(venvs.subprocess, "run", run)
    monkeypatch.setattr(venvs, "torch_version", lambda: "2.13.0")
    python = venvs.ensure_venv(tmp_path / "v", "peer-1.0", [["--no-deps", "peer==1.0"], ["numpy<2"]])
    assert python == tmp_path / "v" / "bin" / "python"
    assert commands[0][1:] == ["-m", "venv", str(tmp_path / "v")]
    installs = [command[command.index("install") + 1:] for command in commands[1:]]
    assert [[a for a in args if not a.startswith("--quiet") and not a.startswith("--disable")] for args in installs] \
        == [["torch==2.13.0"], ["--no-deps", "peer==1.0"], ["numpy<2"]]
    assert (tmp_path / "v" / ".peer-1.0-ready").read_text().splitlines()[0] == "torch==2.13.0"
    commands.clear()
    venvs.ensure_venv(tmp_path / "v", "peer-1.0", [["peer==1.0"]])
    assert commands == []  # made once


def test_tables_are_printed_again_from_a_saved_json_run(bench, tmp_path, capsys):
    import json

    runs = [run("porcini", 0, 10), run("mushroom", 0, 45)]
    saved = tmp_path / "run.out"
    saved.write_text("tables and progress\n" + json.dumps({"steps": {"dqn_cartpole": 50_176},
                                                           "runs": {"dqn_cartpole": runs}}) + "\n")
    bench.main(["--tables-from", str(saved)])
    out = capsys.readouterr().out
    assert "dqn_cartpole: 50,176 env steps" in out
    assert "fastest peer / porcini (wall time): median x4.50 over 1 repeat(s)" in out
