"""Test-session settings."""

import torch

# One intra-op thread: the suite's networks are tiny, and on a 2-core machine (CI) extra threads only contend.
torch.set_num_threads(1)
