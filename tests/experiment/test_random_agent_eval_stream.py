"""A random-policy run trains on the same draws whatever its evaluation settings (evaluation has its own stream)."""

from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv


def _train_columns(tmp_path, env, eval_episodes):
    overrides = ["steps=600", "steps_per_epoch=200", "log.sinks=[csv]", f"out={tmp_path / str(eval_episodes)}",
                 f"eval_episodes={eval_episodes}"]
    run_dir = Experiment.start(resolve("random", env, None, overrides)).train().extra["run_dir"]
    _, rows = read_metrics_csv(f"{run_dir}/metrics.csv")
    return [{k: v for k, v in row.items() if k.startswith("train/episode")} for row in rows]


def test_evaluation_does_not_shift_the_training_draws(tmp_path):
    for env in ("CartPole-v1", "Pendulum-v1"):  # a Discrete and a Box action space
        assert _train_columns(tmp_path / env, env, 1) == _train_columns(tmp_path / env, env, 6)
