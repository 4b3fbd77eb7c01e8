import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from click.testing import CliRunner

from porcini.experiment.cli import main
from porcini.experiment.evaluation import evaluate_run, load_policy
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve


def train(tmp_path, overrides=()):
    config = resolve("random", "CartPole-v1", None, ["steps=400", "steps_per_epoch=200", "log.sinks=[csv]",
                                                     f"out={tmp_path}", "eval_episodes=3", *overrides])
    return Experiment.start(config).train()


def test_eval_matches_the_final_evaluation_and_writes_video(tmp_path):
    summary = train(tmp_path)
    result = CliRunner().invoke(main, ["eval", summary.extra["run_dir"], "--episodes", "3", "--checkpoint", "last",
                                       "--video", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["eval_episodes"] == 3 and len(out["returns"]) == 3
    frames = list(iio.imiter(out["video"]))
    # one frame after the reset and one per step: an episode of L steps gives L + 1 frames
    assert len(frames) >= 9 and frames[0].ndim == 3


def test_eval_env_shares_frozen_normalization_statistics(tmp_path):
    summary = train(tmp_path, ["env.wrappers=[NormalizeObservation]"])
    config, agent, env, eval_env = load_policy(summary.extra["run_dir"], "last")
    assert type(env).__name__ == "NormalizeObservation" == type(eval_env).__name__
    trained = env.state_dict()
    assert trained["count"] > 400  # statistics came from the checkpoint, not from a fresh env
    np.testing.assert_array_equal(trained["mean"], eval_env.state_dict()["mean"])
    assert eval_env.frozen
    assert evaluate_run(summary.extra["run_dir"], episodes=2, checkpoint="last")["eval_episodes"] == 2


def test_video_of_an_env_without_frames_is_one_line_exit_2_and_writes_nothing(tmp_path):
    import gymnasium as gym

    # porcini/DiceGame-v0 declares no render mode and its constructor takes no render_mode: gym.make refuses it
    creator = gym.envs.registration.load_env_creator(gym.spec("porcini/DiceGame-v0").entry_point)
    assert "rgb_array" not in creator.metadata["render_modes"]
    config = resolve("random", "porcini/DiceGame-v0", None, ["steps=200", "steps_per_epoch=100", "log.sinks=[csv]",
                                                             f"out={tmp_path}", "eval_episodes=2"])
    run_dir = Experiment.start(config).train().extra["run_dir"]
    result = CliRunner().invoke(main, ["eval", run_dir, "--video", "--episodes", "1"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: --video needs rgb_array frames") and "porcini/DiceGame-v0" in line
    assert not (Path(run_dir) / "videos").exists()


def test_a_video_folder_that_cannot_be_written_is_one_line_before_any_episode(tmp_path, monkeypatch):
    run_dir = train(tmp_path).extra["run_dir"]
    (tmp_path / run_dir / "videos").write_text("a file where the videos folder goes\n")
    monkeypatch.setattr("porcini.experiment.evaluation.load_policy", lambda *a: 1 / 0)  # no episode may run
    result = CliRunner().invoke(main, ["eval", run_dir, "--episodes", "1", "--video"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"while creating {run_dir}/videos" in errors[0], result.output
    assert "evaluate without --video" in errors[0]


def test_eval_of_a_constrained_run_reports_its_episode_cost(tmp_path):
    config = resolve("ppo_lagrangian", "porcini/CartPoleBand-v0", None,
                     ["steps=256", "steps_per_epoch=256", "log.sinks=[csv]", f"out={tmp_path}", "eval_episodes=2",
                      "n_steps=16", "batch_size=64", "net_arch=[16]"])
    summary = Experiment.start(config).train()
    assert "eval_cost_mean" in summary.extra
    result = CliRunner().invoke(main, ["eval", summary.extra["run_dir"], "--episodes", "2", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    lengths_bound = 500 * len(out["returns"])
    assert 0.0 <= out["eval_cost_mean"] * len(out["returns"]) <= lengths_bound  # cost is 0/1 per step
    shown = CliRunner().invoke(main, ["eval", summary.extra["run_dir"], "--episodes", "2"])
    assert f"eval_cost_mean: {out['eval_cost_mean']:.2f}" in shown.stdout
