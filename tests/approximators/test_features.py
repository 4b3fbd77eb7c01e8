import gymnasium as gym
import numpy as np
import pytest

from porcini.approximators import (
    FourierFeatures,
    LinearQ,
    OneHotFeatures,
    PolynomialFeatures,
    QTable,
    RBFFeatures,
    TileCoding,
    make_features,
)


def test_tile_indices_of_hand_picked_points_1d():
    # [0, 1] with 4 tiles per tiling (width 0.25), 2 tilings: tiling 1 shifted by half a tile (1 * 1 / 2).
    # Each tiling has 5 tiles (one extra for the shift), so tiling 1's indices start at 5.
    tc = TileCoding(low=[0.0], high=[1.0], n_tilings=2, tiles_per_dim=4)
    points = np.array([[0.0], [0.1], [0.2], [0.3], [0.99], [1.0]])
    # tiling 0: floor(4x); tiling 1: floor(4x + 0.5)
    expected = np.array([[0, 5], [0, 5], [0, 6], [1, 6], [3, 9], [4, 9]])
    np.testing.assert_array_equal(tc.indices(points), expected)
    assert tc.n_features == 10 and tc.n_active == 2


def test_tile_indices_2d_asymmetric_offsets_and_clipping():
    # [-1, 1] x [0, 10], 2 tiles per dim, 4 tilings, displacement (1, 3): offsets (i/4, 3i/4 mod 1) in tile units.
    tc = TileCoding(low=[-1.0, 0.0], high=[1.0, 10.0], n_tilings=4, tiles_per_dim=2)
    np.testing.assert_allclose(tc.offsets, [[0, 0], [0.25, 0.75], [0.5, 0.5], [0.75, 0.25]])
    x = np.array([[0.1, 2.0], [5.0, -3.0]])  # second point is outside the bounds: clipped to (1, 0)
    # scaled: (1.1, 0.4) and (2.0, 0.0); grid 3x3 per tiling, index = 9 i + 3 row + col
    coords = np.floor(np.array([[1.1, 0.4], [2.0, 0.0]])[:, None, :] + tc.offsets[None])
    expected = 9 * np.arange(4)[None, :] + 3 * coords[..., 0] + coords[..., 1]
    np.testing.assert_array_equal(tc.indices(x), expected.astype(int))
    # by hand for the first point, tiling 1: floor(1.1 + 0.25) = 1, floor(0.4 + 0.75) = 1 -> 9 + 3 + 1 = 13
    assert tc.indices(x)[0, 1] == 13


def test_tile_coding_generalizes_locally():
    tc = TileCoding(low=[0.0, 0.0], high=[1.0, 1.0], n_tilings=8, tiles_per_dim=8)
    a, near, far = np.array([[0.5, 0.5]]), np.array([[0.51, 0.5]]), np.array([[0.9, 0.1]])
    shared_near = len(np.intersect1d(tc.indices(a), tc.indices(near)))
    shared_far = len(np.intersect1d(tc.indices(a), tc.indices(far)))
    assert shared_near >= 6 and shared_far == 0


def test_hashed_tiles_stay_in_table_and_match_unhashed_partition():
    exact = TileCoding(low=[0, 0, 0], high=[1, 1, 1], n_tilings=4, tiles_per_dim=5)
    hashed = TileCoding(low=[0, 0, 0], high=[1, 1, 1], n_tilings=4, tiles_per_dim=5, hash_size=4096)
    x = np.random.default_rng(0).random((500, 3))
    hi, ei = hashed.indices(x), exact.indices(x)
    assert hi.min() >= 0 and hi.max() < 4096 and hashed.n_features == 4096
    # same tile -> same hash; the hash is a function of the exact tile
    for k in range(4):
        lookup = {}
        for e, h in zip(ei[:, k], hi[:, k]):
            assert lookup.setdefault(e, h) == h
    # deterministic across instances (a fixed hash, not Python's salted hash())
    np.testing.assert_array_equal(hi, TileCoding([0, 0, 0], [1, 1, 1], 4, 5, hash_size=4096).indices(x))


def test_dense_equals_sparse_scatter():
    tc = TileCoding(low=[0.0], high=[1.0], n_tilings=3, tiles_per_dim=2)
    x = np.array([[0.2], [0.7]])
    dense = tc(x)
    assert dense.shape == (2, tc.n_features) and (dense.sum(1) == 3).all()
    for row, idx in zip(dense, tc.indices(x)):
        assert set(np.flatnonzero(row)) == set(idx)


def test_fourier_features_by_formula():
    f = FourierFeatures(low=[-2.0, 0.0], high=[2.0, 4.0], order=2)
    x = np.array([[0.0, 1.0], [-2.0, 4.0], [1.5, 3.0]])
    phi = f(x)
    assert phi.shape == (3, 9)
    for b in range(3):
        u = ((x[b, 0] + 2) / 4, x[b, 1] / 4)
        k = 0
        for c0 in range(3):
            for c1 in range(3):
                assert phi[b, k] == pytest.approx(np.cos(np.pi * (c0 * u[0] + c1 * u[1])))
                k += 1
    assert (phi[:, 0] == 1).all()  # c = 0: the constant feature


def test_polynomial_features_by_formula():
    p = PolynomialFeatures(obs_dim=2, degree=2)
    x = np.array([[2.0, 3.0], [-1.0, 0.5]])
    phi = p(x)
    exps = [tuple(e) for e in p.exponents]
    assert sorted(exps) == sorted([(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)])
    assert exps[0] == (0, 0)
    for b in range(2):
        for k, (e0, e1) in enumerate(exps):
            assert phi[b, k] == pytest.approx(x[b, 0] ** e0 * x[b, 1] ** e1)
    scaled = PolynomialFeatures(1, 3, low=[0.0], high=[10.0])
    np.testing.assert_allclose(scaled(np.array([[5.0]])), [[1, 0.5, 0.25, 0.125]])


def test_rbf_features_by_formula():
    f = RBFFeatures(low=[0.0], high=[2.0], centers_per_dim=3, width=0.5)
    x = np.array([[1.0], [0.5]])
    centers = np.array([0.0, 0.5, 1.0])
    for b, u in enumerate([0.5, 0.25]):
        np.testing.assert_allclose(f(x)[b], np.exp(-((u - centers) ** 2) / (2 * 0.25)))
    norm = RBFFeatures([0.0], [2.0], centers_per_dim=3, normalize=True)
    np.testing.assert_allclose(norm(x).sum(1), 1.0)


def test_one_hot_and_q_table_agree_with_linear_q():
    q_table = QTable(5, 3, initial_value=2.0)
    linear = LinearQ(OneHotFeatures(5), 3, initial_value=2.0)
    obs = np.array([4, 0, 4])
    for q in (q_table, linear):
        q.add(*q.active(obs), action=np.array([1, 2, 1]), step=np.array([0.5, -1.0, 0.25]))
    np.testing.assert_allclose(q_table(obs), linear(obs))
    assert q_table.table[4, 1] == pytest.approx(2.75)  # the repeated (4, 1) rows add up
    assert q_table.table[0, 2] == pytest.approx(1.0)


def test_linear_q_with_tiles_starts_at_initial_value_and_moves_by_learning_rate():
    tc = TileCoding(low=[0.0], high=[1.0], n_tilings=8, tiles_per_dim=4)
    q = LinearQ(tc, 2, initial_value=-1.0)
    x = np.array([[0.3]])
    np.testing.assert_allclose(q(x), [[-1.0, -1.0]])
    # a step of alpha * step_scale per active tile moves Q(x, a) by exactly alpha * delta
    q.add(*q.active(x), action=np.array([0]), step=np.array([0.5 * q.step_scale * 2.0]))
    np.testing.assert_allclose(q(x), [[0.0, -1.0]])


def test_make_features_kinds_and_errors():
    box = gym.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 5.0], np.float32))
    assert isinstance(make_features(gym.spaces.Discrete(4)), OneHotFeatures)
    assert isinstance(make_features(box), TileCoding)
    assert make_features(box, "fourier", fourier_order=1).n_features == 4
    assert make_features(box, "rbf", rbf_centers_per_dim=3).n_features == 9
    assert make_features(box, "polynomial", poly_degree=1).n_features == 3
    with pytest.raises(ValueError, match="obs_low/obs_high"):
        make_features(gym.spaces.Box(-np.inf, np.inf, (2,)), "tile")
    assert make_features(gym.spaces.Box(-np.inf, np.inf, (2,)), "tile", low=[-1, -1], high=[1, 1]).n_active == 8
    with pytest.raises(ValueError, match="unknown"):
        make_features(box, "wavelets")
    with pytest.raises(ValueError, match="Discrete"):
        make_features(box, "one_hot")
    with pytest.raises(ValueError, match="binary"):
        LinearQ(FourierFeatures([0], [1], 1), 2, initial_value=1.0)
