"""MLflow refuses a whole request over one name it does not allow: porcini escapes names, so nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy's, inside MLflow's store


ODD = ["env/reward(ctrl)/episode_sum", "env/cost[0]/step_mean", "a//b", "/lead", "trail/", "x/../y", "%"]


def test_a_name_mlflow_refuses_loses_nothing_of_the_batch_or_the_params(tmp_path: Path, capsys) -> None:
    from mlflow.tracking import MlflowClient

    from porcini.experiment.loggers import MLflowLogger

    metrics = {"eval_return_mean": 5.0, **{key: float(i) for i, key in enumerate(ODD)}}
    with MLflowLogger(tmp_path) as logger:
        logger.log_params({"env": {"kwargs": {"cost(hazard)": 2}}, "seed": 0})
        logger.log(metrics, step=10)
    assert "not logged" not in capsys.readouterr().err
    run = MlflowClient(tracking_uri=logger.tracking_uri).get_run(logger.run_id)
    assert run.data.metrics["eval_return_mean"] == 5.0
    assert sorted(run.data.metrics.values()) == sorted(metrics.values())
    assert run.data.params["seed"] == "0" and sorted(run.data.params.values()) == ["0", "2"]


def test_escaped_names_are_names_mlflow_takes_and_valid_names_are_kept() -> None:
    from mlflow.utils.validation import path_not_unique, validate_param_and_metric_name

    from porcini.experiment.loggers.mlflow_logger import mlflow_name

    for key in ODD + ["", ".", "loss/value", "env/x_position/step_mean"]:
        name = mlflow_name(key)
        assert validate_param_and_metric_name(name) and not path_not_unique(name), (key, name)
    for key in ("loss/value", "eval return: mean", "env.kwargs.reset_noise_scale", "time/steps_per_second"):
        assert mlflow_name(key) == key
