"""metrics.csv never holds a half-written row, and readers never take one for data."""

import errno
import os

import pytest

from porcini.errors import RunDirectoryError
from porcini.experiment.loggers import CSVLogger, read_metrics_csv


def written(tmp_path, rows):
    path = tmp_path / "metrics.csv"
    logger = CSVLogger(path)
    for step, value in rows:
        logger.log({"eval_return_mean": value}, step)
    return path


def test_a_cut_last_row_is_dropped_with_a_warning(tmp_path):
    path = written(tmp_path, [(40_000, 500.0), (42_000, 498.5)])
    text = path.read_text()
    path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1] + "42000,4.9")  # the last row cut mid-value
    with pytest.warns(UserWarning, match="cut row"):
        _, rows = read_metrics_csv(path)
    assert [row["env_steps"] for row in rows] == [40_000]


def test_a_row_cut_inside_the_step_column_is_not_read_as_a_step(tmp_path):
    path = written(tmp_path, [(40_000, 500.0)])
    path.write_text(path.read_text() + "4")
    with pytest.warns(UserWarning, match="cut row"):
        _, rows = read_metrics_csv(path)
    assert [row["env_steps"] for row in rows] == [40_000]


def test_a_last_row_with_too_few_cells_is_dropped(tmp_path):
    path = written(tmp_path, [(1000, 1.0)])
    path.write_text(path.read_text() + "2000\n")
    with pytest.warns(UserWarning, match="cut row"):
        _, rows = read_metrics_csv(path)
    assert len(rows) == 1


def test_a_malformed_row_before_the_last_is_an_error(tmp_path):
    path = written(tmp_path, [(1000, 1.0), (2000, 2.0)])
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "10\n" + "".join(lines[1:]))
    with pytest.raises(ValueError, match="line 2 has 1 cells"):
        read_metrics_csv(path)


def test_resume_repairs_the_file(tmp_path):
    path = written(tmp_path, [(1000, 1.0)])
    path.write_text(path.read_text() + "20")
    with pytest.warns(UserWarning, match="cut row"):
        logger = CSVLogger(path, resume=True)
    logger.log({"eval_return_mean": 3.0}, 2000)
    _, rows = read_metrics_csv(path)
    assert [(r["env_steps"], r["eval_return_mean"]) for r in rows] == [(1000, 1.0), (2000, 3.0)]


def test_a_failed_append_leaves_no_partial_row(tmp_path, monkeypatch):
    path = written(tmp_path, [(1000, 1.0)])
    logger = CSVLogger(path, resume=True)
    before = path.read_bytes()
    real_write = os.write

    def disk_full(fd, data):
        real_write(fd, data[:5])  # the device takes a few bytes, then is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(RunDirectoryError, match="No space left on device while writing .*metrics.csv"):
        logger.log({"eval_return_mean": 2.0}, 2000)
    monkeypatch.undo()
    assert path.read_bytes() == before
