"""Features and linear action-value functions for classical agents (NumPy only).

Feature maps (:mod:`~porcini.approximators.features`, :mod:`~porcini.approximators.tile_coding`) turn a batch of
observations ``[B, *obs_shape]`` into features ``[B, n_features]`` (or their sparse form); :class:`LinearQ` is
``Q(s, a) = w[:, a] · φ(s)`` and :class:`QTable` its one-hot special case, so one agent class serves both.
"""

from porcini.approximators.features import (
    Features,
    FourierFeatures,
    OneHotFeatures,
    PolynomialFeatures,
    RBFFeatures,
)
from porcini.approximators.q_functions import FEATURE_KINDS, LinearQ, QTable, make_features
from porcini.approximators.tile_coding import TileCoding

__all__ = [
    "FEATURE_KINDS",
    "Features",
    "FourierFeatures",
    "LinearQ",
    "OneHotFeatures",
    "PolynomialFeatures",
    "QTable",
    "RBFFeatures",
    "TileCoding",
    "make_features",
]
