from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from porcini.experiment.config import dump_yaml, resolve_run_config
from porcini.experiment.loggers import CSVLogger
from porcini.experiment.plots import (
    RunCurve,
    align_curves,
    final_scores,
    learning_curve_figure,
    load_run_curve,
    plot_learning_curves,
    report_table,
)
from porcini.experiment.statistics import aggregate_iqm, bootstrap_ci

pytest.importorskip("matplotlib")

STEPS = np.arange(1, 11) * 1000.0


def _curves(labels=("ppo", "dqn"), seeds=3, env_id="CartPole-v1") -> list[RunCurve]:
    rng = np.random.default_rng(0)
    return [
        RunCurve(label, STEPS, STEPS / 100 * (i + 1) + rng.normal(size=STEPS.size), env_id=env_id)
        for i, label in enumerate(labels)
        for _ in range(seeds)
    ]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_is_written_at_the_requested_size(tmp_path: Path) -> None:
    path = plot_learning_curves(_curves(), tmp_path / "sub" / "curves.png", figsize=(6.0, 4.0), dpi=50)
    assert path == tmp_path / "sub" / "curves.png"
    assert _png_size(path) == (300, 200)


def test_figure_has_one_line_and_band_per_algorithm_and_a_panel_per_env() -> None:
    curves = _curves(("ppo", "dqn", "sac")) + _curves(("ppo",), seeds=2, env_id="Pendulum-v1")
    fig = learning_curve_figure(curves, n_bootstrap=50)
    cartpole, pendulum = fig.axes
    assert cartpole.get_title() == "CartPole-v1" and pendulum.get_title() == "Pendulum-v1"
    assert [line.get_label() for line in cartpole.get_lines()] == ["ppo (3 seeds)", "dqn (3 seeds)", "sac (3 seeds)"]
    assert len(cartpole.collections) == 3  # one confidence band each
    assert [line.get_label() for line in pendulum.get_lines()] == ["ppo (2 seeds)"]
    assert cartpole.get_lines()[0].get_color() == pendulum.get_lines()[0].get_color()  # an algorithm keeps its color
    ppo = [c.eval_return_mean for c in curves[:3]]
    np.testing.assert_allclose(cartpole.get_lines()[0].get_ydata(), np.mean(ppo, axis=0))
    np.testing.assert_allclose(cartpole.get_lines()[0].get_xdata(), STEPS)


def test_align_curves_interpolates_runs_evaluated_at_different_steps() -> None:
    a = RunCurve("x", [0, 10, 20, 30], [0.0, 1.0, 2.0, 3.0])
    b = RunCurve("x", [0, 15, 25], [0.0, 30.0, 50.0])
    steps, returns = align_curves([a, b])
    np.testing.assert_array_equal(steps, [0, 10, 20])  # the denser grid, up to the last step both reached
    np.testing.assert_allclose(returns, [[0, 1, 2], [0, 20, 40]])
    same_steps, stacked = align_curves([a, a])
    np.testing.assert_array_equal(same_steps, a.env_steps)
    assert stacked.shape == (2, 4)


def test_run_curve_validation() -> None:
    with pytest.raises(ValueError, match="must be equal"):
        RunCurve("x", [1, 2], [1.0])
    with pytest.raises(ValueError, match="must increase"):
        RunCurve("x", [2, 1], [1.0, 2.0])


def test_load_run_curve_reads_a_run_directory(tmp_path: Path) -> None:
    run = resolve_run_config("ppo", "CartPole-v1", use_record=False)
    dump_yaml(run, tmp_path / "config.yaml")
    logger = CSVLogger(tmp_path / "metrics.csv")
    logger.log({"loss/value": 1.0}, step=500)  # an epoch without evaluation
    logger.log({"eval_return_mean": 20.0}, step=1000)
    logger.log({"eval_return_mean": 40.0, "loss/value": 0.5}, step=2000)
    curve = load_run_curve(tmp_path)
    assert (curve.label, curve.env_id) == ("ppo", "CartPole-v1")
    np.testing.assert_array_equal(curve.env_steps, [1000, 2000])
    np.testing.assert_array_equal(curve.eval_return_mean, [20.0, 40.0])
    assert load_run_curve(tmp_path, label="mine").label == "mine"


def test_final_scores_and_report_table_against_direct_computation() -> None:
    curves = _curves(("ppo", "dqn"), seeds=4) + _curves(("ppo", "dqn"), seeds=4, env_id="Acrobot-v1")
    scores = final_scores(curves, last_n=2)
    assert scores["ppo"].shape == (4, 2)  # runs x envs, envs sorted: Acrobot, CartPole
    assert scores["ppo"][0, 1] == pytest.approx(curves[0].eval_return_mean[-2:].mean())
    table = report_table(scores, n_bootstrap=300)
    lines = table.splitlines()
    assert lines[0].split("|")[1:4] == [" algorithm ", " runs x tasks ", " mean [95% CI]        "]
    ppo_row = next(line for line in lines if line.startswith("| ppo"))
    assert "4 x 2" in ppo_row
    iqm = bootstrap_ci(scores["ppo"], "iqm", n_bootstrap=300, rng=0)
    assert iqm.point == pytest.approx(aggregate_iqm(scores["ppo"]))
    assert str(iqm) in ppo_row
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_final_scores_rejects_uneven_runs_per_env() -> None:
    curves = _curves(("ppo",), seeds=3) + _curves(("ppo",), seeds=2, env_id="Acrobot-v1")
    with pytest.raises(ValueError, match="different numbers of runs per env"):
        final_scores(curves)


def test_missing_matplotlib_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "porcini\[plot\]"'):
        learning_curve_figure(_curves())
