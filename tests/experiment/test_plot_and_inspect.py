import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.inspector import record_episode_trace, saturation
from porcini.experiment.launch import resolve


def run(tmp_path, algo, env, seed, steps=1200, per_epoch=400):
    config = resolve(algo, env, None, [f"steps={steps}", f"steps_per_epoch={per_epoch}", "log.sinks=[csv]",
                                       f"out={tmp_path}", f"seed={seed}", "eval_episodes=3"])
    return Experiment.start(config).train().extra["run_dir"]


def test_plot_several_seeds_and_algorithms(tmp_path):
    dirs = [run(tmp_path, algo, "FrozenLake-v1", s) for algo in ("q_learning", "random") for s in (0, 1, 2)]
    out = tmp_path / "curves.png"
    result = CliRunner().invoke(main, ["plot", *dirs, "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report["aggregates"]) == {"q_learning", "random"}
    finals = []
    for d in dirs[3:]:
        rows = (tmp_path / d / "metrics.csv").read_text().splitlines()
        header = rows[0].split(",")
        finals.append(float(rows[-1].split(",")[header.index("eval_return_mean")]))
    assert np.isclose(report["aggregates"]["random"]["mean"]["value"], np.mean(finals))
    ci = report["aggregates"]["random"]["mean"]
    assert ci["low"] <= ci["value"] <= ci["high"]
    width, height = Image.open(out).size
    assert width > 400 and height > 300


def test_saturation_fraction():
    actions = np.array([[2.0, 0.0], [1.99, 0.5], [0.0, -1.0], [-2.0, 0.2]])
    low, high = np.array([-2.0, -1.0]), np.array([2.0, 1.0])
    np.testing.assert_allclose(saturation(actions, low, high), [0.75, 0.25])


def test_inspect_draws_continuous_actions(tmp_path):
    run_dir = run(tmp_path, "random", "Pendulum-v1", 0, steps=400, per_epoch=200)
    out = tmp_path / "inspect.png"
    result = CliRunner().invoke(main, ["inspect", run_dir, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000


def test_figures_go_to_new_folders_and_a_path_through_a_file_is_one_line_exit_2(tmp_path):
    # plot creates the folders of -o; inspect writes its PNG the same way, and neither shows a traceback
    run_dir = run(tmp_path, "random", "Pendulum-v1", 0, steps=400, per_epoch=200)
    (tmp_path / "a_file").write_text("not a folder")
    for command in ("plot", "inspect"):
        out = tmp_path / f"new_{command}" / "figure.png"
        result = CliRunner().invoke(main, [command, run_dir, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert Image.open(out).format == "PNG"
        blocked = tmp_path / "a_file" / "figure.png"
        result = CliRunner().invoke(main, [command, run_dir, "-o", str(blocked)])
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("Error: ") and str(blocked) in line and "-o FILE.png" in line

def test_episode_trace_records_every_step():
    from porcini import make_env
    from porcini.algorithms.random import RandomAgent

    env = make_env("Pendulum-v1", seed=0)
    trace = record_episode_trace(RandomAgent(env.info), env, seed=3)
    assert trace["action"].shape == (200, 1) and trace["reward"].shape == (200,)
    assert (trace["reward"] <= 0).all()


def one_line_exit_2(result, *needles):
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and all(needle in errors[0] for needle in needles), result.output


def test_a_figure_that_cannot_be_written_is_one_line_naming_it_and_the_option(tmp_path):
    run_dir = run(tmp_path, "random", "FrozenLake-v1", 0, steps=200, per_epoch=200)
    a_file = tmp_path / "notes.txt"  # a folder on the path that is a file: what a read-only folder also gives
    a_file.write_text("not a folder\n")
    target = a_file / "figure.png"
    one_line_exit_2(CliRunner().invoke(main, ["plot", run_dir, "-o", str(target)]),
                    f"while writing {target}", "-o FILE.png")
    one_line_exit_2(CliRunner().invoke(main, ["inspect", run_dir, "-o", str(target)]),
                    f"while writing {target}", "-o FILE.png")
