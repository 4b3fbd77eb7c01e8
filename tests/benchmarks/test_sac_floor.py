"""benchmarks/sac_floor.py: ``--device cuda`` skips in one line on a machine without CUDA, and a CUDA run (where there
is one) builds every variant on the GPU."""

import importlib
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("sac_floor")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the benchmark would run")
def test_cuda_without_a_gpu_prints_skipped_and_runs_nothing(bench, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sac_floor.py", "--device", "cuda", "--updates", "1", "--rounds", "1"])
    monkeypatch.setattr(bench, "floor_plain", lambda: pytest.fail("built a variant"))
    bench.main()
    assert capsys.readouterr().out == "no CUDA device here; skipped\n"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_puts_every_variant_on_the_gpu(bench, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sac_floor.py", "--device", "cuda", "--updates", "1", "--rounds", "1"])
    bench.main()
    assert "SAC update on cuda" in capsys.readouterr().out
