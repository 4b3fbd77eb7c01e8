"""Hashed tile coding collides no more than a uniform hash would, also for power-of-two table sizes, and in
particular the tilings of one observation rarely share a weight."""

import numpy as np
import pytest

from porcini.approximators import TileCoding


def birthday_collision_probability(n_items, table_size):
    """Probability that ``n_items`` uniform draws from ``table_size`` slots are not all distinct."""
    return 1.0 - float(np.prod(1.0 - np.arange(n_items) / table_size))


@pytest.mark.parametrize("hash_size", [512, 1024, 1000])
def test_tilings_of_one_observation_rarely_share_a_weight(hash_size):
    tc = TileCoding(np.zeros(2), np.ones(2), n_tilings=8, tiles_per_dim=8, hash_size=hash_size)
    indices = tc.indices(np.random.default_rng(0).random((4000, 2)))
    shared = np.mean([len(set(row)) < 8 for row in indices.tolist()])
    uniform = birthday_collision_probability(8, hash_size)  # 2.7% at 1024, 5.4% at 512
    # one hash realization varies about the uniform rate (up to about 1.8x of it at the 90th percentile over hash
    # seeds); a linear hash alone shared weights 8 to 10 times as often at 512 and 1024
    assert shared < 2.5 * uniform, (shared, uniform)


@pytest.mark.parametrize("hash_size", [256, 1024])
def test_distinct_tiles_fill_the_table_as_a_uniform_hash_would(hash_size):
    exact = TileCoding(np.zeros(2), np.ones(2), n_tilings=8, tiles_per_dim=8)
    hashed = TileCoding(np.zeros(2), np.ones(2), n_tilings=8, tiles_per_dim=8, hash_size=hash_size)
    # enough points to visit every tile inside the bounds; pairs (exact tile, hashed index) are the hash's graph
    x = np.random.default_rng(1).random((200_000, 2))
    tiles = np.unique(np.stack([exact.indices(x).ravel(), hashed.indices(x).ravel()], 1), axis=0)
    assert len(np.unique(tiles[:, 0])) == len(tiles) > 600  # a function of the tile, over most of the 648 tiles
    used = len(np.unique(tiles[:, 1]))
    expected = hash_size * (1.0 - (1.0 - 1.0 / hash_size) ** len(tiles))
    assert used > 0.93 * expected, (used, expected)
