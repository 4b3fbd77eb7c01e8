"""A disk that fills up while an improved epoch is checkpointed: after ``resume``, best.pt holds the best epoch."""

import pytest

import porcini.experiment.experiment as experiment_module
from porcini.errors import RunDirectoryError
from porcini.experiment.checkpoint import read_checkpoint
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv


def _config(out):
    overrides = ["steps=800", "steps_per_epoch=200", "log.sinks=[csv]", f"out={out}", "eval_episodes=3",
                 "learning_rate=0.3"]
    return resolve("q_learning", "porcini/RiverSwim-v0", None, overrides)


def _best_step(run_dir):
    _, rows = read_metrics_csv(f"{run_dir}/metrics.csv")
    best = max(row["eval_return_mean"] for row in rows)
    return next(int(row["env_steps"]) for row in rows if row["eval_return_mean"] == best)  # first: strict >


def _checkpoint_step(path):
    return int(read_checkpoint(path).state["core"]["env_steps"])


def test_best_pt_is_the_best_epoch_after_a_failed_write_and_a_resume(tmp_path, monkeypatch):
    reference = Experiment.start(_config(tmp_path / "reference")).train().extra["run_dir"]
    step = _best_step(reference)
    _, rows = read_metrics_csv(f"{reference}/metrics.csv")
    assert step > rows[0]["env_steps"]  # the scenario: an improvement after the first epoch's checkpoint
    assert _checkpoint_step(f"{reference}/checkpoints/best.pt") == step

    real_save = experiment_module.save_checkpoint

    def disk_full_at_best(path, state, identity):
        if path.name == "best.pt" and int(state["core"]["env_steps"]) == step:
            raise RunDirectoryError(f"No space left on device while writing {path}: free some space")
        real_save(path, state, identity)

    monkeypatch.setattr(experiment_module, "save_checkpoint", disk_full_at_best)
    experiment = Experiment.start(_config(tmp_path / "faulty"))
    run_dir = experiment.run_dir.path
    with pytest.raises(RunDirectoryError):
        experiment.train()
    monkeypatch.setattr(experiment_module, "save_checkpoint", real_save)  # space freed
    summary = Experiment.resume(run_dir).train().to_dict()

    assert _best_step(run_dir) == step
    assert _checkpoint_step(run_dir / "checkpoints" / "best.pt") == step
    assert summary["best_eval_return"] == max(row["eval_return_mean"] for row in rows)
