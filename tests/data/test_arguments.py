"""Argument checks shared by the replay buffers and datasets."""

import numpy as np
import pytest

from porcini.data.arguments import check_count, check_rng


def test_check_rng_takes_a_generator_and_names_the_fix_otherwise():
    rng = np.random.default_rng(0)
    assert check_rng(rng, "X.sample") is rng
    with pytest.raises(TypeError, match=r"X.sample needs rng to be a np.random.Generator .*got int"):
        check_rng(0, "X.sample")


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_check_count_refuses_non_integers_and_small_values(bad):
    with pytest.raises(ValueError, match=r"X: n must be an integer >= 1"):
        check_count(bad, "X", "n")


def test_check_count_returns_a_python_int():
    value = check_count(np.int32(3), "X", "n", minimum=3)
    assert value == 3 and type(value) is int
