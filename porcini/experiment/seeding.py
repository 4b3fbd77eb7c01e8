"""Seeding: one seed makes a run reproducible."""

from __future__ import annotations

import random
import sys

import numpy as np

# Env index i of the training env is reset with seed + i; evaluation envs start this far away so that their seeds
# never coincide with training seeds (n_envs stays far below it).
EVAL_SEED_OFFSET = 10_000


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (if it is imported) with ``seed``.

    porcini's own components draw from generators seeded through their configs; this covers user code and
    libraries that use the global generators.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def eval_seed(seed: int) -> int:
    """The reset seed of the evaluation env of a run with training seed ``seed``."""
    return seed + EVAL_SEED_OFFSET
