"""``--seeds`` lists that name a seed twice or count down are refused before any run directory exists."""

import pytest
from click.testing import CliRunner

from porcini.experiment.cli import main


@pytest.mark.parametrize(("seeds", "said"), [("1,1", "[1] more than once"), ("0-2,2", "[2] more than once"),
                                             ("3-1", "counts up")])
def test_bad_seed_list_is_one_line_and_trains_nothing(tmp_path, seeds, said):
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["train", "random", "CartPole-v1", "--steps", "50", "--seeds", seeds,
                                       "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert said in result.output and "--seeds" in result.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(("args", "said"), [(["--seed", "1", "--seeds", "2-3"], "--seed and --seeds"),
                                            (["--seeds", ""], "not a seed list")])
def test_a_seed_option_is_never_silently_ignored(tmp_path, args, said):
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["train", "random", "CartPole-v1", "--steps", "50", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert not out.exists() or not any(out.iterdir())
