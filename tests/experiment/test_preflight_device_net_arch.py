"""A device torch cannot use here, or hidden widths that are not positive: one line, exit 2, no run directory."""

import pytest
import torch
from click.testing import CliRunner

from porcini.experiment.cli import main


def _train(tmp_path, algo, env, setting):
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["train", algo, env, "--steps", "100", "--set", setting, "--out", str(out)])
    return result, out


@pytest.mark.parametrize(("algo", "env"), [("dqn", "CartPole-v1"), ("ppo", "CartPole-v1"),
                                           ("a2c", "Pendulum-v1"), ("trpo", "CartPole-v1")])
@pytest.mark.parametrize("net_arch", ["[64,-1]", "[0]", "{pi: [64], vf: [-2]}"])
def test_non_positive_widths_are_a_config_error(tmp_path, algo, env, net_arch):
    result, out = _train(tmp_path, algo, env, f"net_arch={net_arch}")
    assert result.exit_code == 2, result.output
    assert "net_arch" in result.output and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_config_error(tmp_path):
    result, out = _train(tmp_path, "dqn", "CartPole-v1", "device=cuda")
    assert result.exit_code == 2, result.output
    assert "device" in result.output and "cpu" in result.output
    assert not out.exists() or not any(out.iterdir())
