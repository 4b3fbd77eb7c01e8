import json

from click.testing import CliRunner

from porcini.experiment.cli import main, parse_seeds

KEYS = {"algo", "env", "seed", "env_steps", "wall_time_s", "eval_time_s", "eval_return_mean", "eval_return_std",
        "eval_episodes", "porcini_version"}


def test_train_json_is_the_last_stdout_line(tmp_path):
    result = CliRunner().invoke(
        main, ["train", "random", "CartPole-v1", "--steps", "300", "--seed", "1", "--json", "--out", str(tmp_path),
               "--set", "eval_episodes=3", "--set", "steps_per_epoch=150", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert KEYS <= set(summary)
    assert summary["algo"] == "random" and summary["env_steps"] == 300 and summary["eval_episodes"] == 3
    run_dir = tmp_path / next(p.name for p in tmp_path.iterdir())
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    assert (run_dir / "config.yaml").exists() and (run_dir / "metrics.csv").exists()


def test_usage_errors_exit_2_and_name_the_field(tmp_path):
    runner = CliRunner()
    bad_field = runner.invoke(main, ["train", "q_learning", "FrozenLake-v1", "--set", "epsilonn=0.1",
                                     "--out", str(tmp_path)])
    assert bad_field.exit_code == 2 and "epsilonn" in bad_field.output
    bad_value = runner.invoke(main, ["train", "q_learning", "FrozenLake-v1", "--set", "epsilon=2",
                                     "--out", str(tmp_path)])
    assert bad_value.exit_code == 2 and "epsilon" in bad_value.output and "2" in bad_value.output
    bad_algo = runner.invoke(main, ["train", "nope", "CartPole-v1", "--out", str(tmp_path)])
    assert bad_algo.exit_code == 2 and "unknown algorithm 'nope'" in bad_algo.output


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("1,3,7-8") == [1, 3, 7, 8]


def test_list_shows_algorithms():
    out = CliRunner().invoke(main, ["list", "algorithms"]).output.split()
    assert "random" in out and "q_learning" in out
    envs = CliRunner().invoke(main, ["list", "envs"]).output.split()
    assert "porcini/DiceGame-v0" in envs


def test_train_several_seeds_in_parallel_processes(tmp_path):
    result = CliRunner().invoke(
        main, ["train", "random", "CartPole-v1", "--steps", "200", "--seeds", "0-2", "--json", "--out", str(tmp_path),
               "--set", "steps_per_epoch=100", "--set", "eval_episodes=2", "--set", "log.sinks=[csv]", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["seeds"] == [0, 1, 2] and [r["seed"] for r in report["runs"]] == [0, 1, 2]
    assert len({r["run_dir"] for r in report["runs"]}) == 3
    assert len(list(tmp_path.iterdir())) == 3


def test_train_help_names_both_dataset_sources():
    # --dataset takes what open_dataset takes (docs/offline.md): a local Minari dataset or a porcini .npz
    result = CliRunner().invoke(main, ["train", "--help"], terminal_width=200)
    (line,) = [line for line in result.output.splitlines() if line.strip().startswith("--dataset")]
    assert "minari:NAME" in line and ".npz" in line
