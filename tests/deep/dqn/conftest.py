"""One torch thread in the DQN tests: tiny networks on a shared 2-core machine are slower with more."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
