"""Test-session settings and shared fixtures."""

from pathlib import Path

import pytest
import torch

# One intra-op thread: the suite's networks are tiny, and on a 2-core machine (CI) extra threads only contend.
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def local_ray():
    """A real local Ray for one test module (2 CPUs, no dashboard, 127.0.0.1), shut down after it.

    Ray's SIGTERM handler, which ends the process at once, is not left behind: the signal tests run later in the
    same pytest process.
    """
    ray = pytest.importorskip("ray")
    from porcini.ray_runtime import keeping_signal_handlers

    with keeping_signal_handlers():
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def eval_columns():
    """``eval_columns(run_dir)``: a run's metrics.csv rows as strings, without the wall-clock columns.

    Two runs that resume exactly have equal ones.
    """

    def read(run_dir):
        rows = (Path(run_dir) / "metrics.csv").read_text().splitlines()
        header = rows[0].split(",")
        keep = [i for i, name in enumerate(header) if name not in ("wall_time_s", "time/steps_per_second")]
        return [[row.split(",")[i] for i in keep] for row in rows]

    return read
