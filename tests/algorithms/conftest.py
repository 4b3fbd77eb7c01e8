"""Fixtures of every agent test under tests/algorithms/ (its subfolders add their own)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks on a shared 2-core machine are much slower with more than one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
