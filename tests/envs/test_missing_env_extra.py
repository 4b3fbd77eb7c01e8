"""An env whose Gymnasium dependencies are missing names the porcini extra that installs them."""

import gymnasium as gym
import pytest

from porcini.envs import make_env
from porcini.errors import MissingExtraError


def _raise(message):
    def make(*args, **kwargs):
        raise gym.error.DependencyNotInstalled(message)

    return make


def test_a_missing_box2d_names_porcini_box2d(monkeypatch):
    monkeypatch.setattr(gym, "make", _raise('Box2D is not installed, run `pip install "gymnasium[box2d]"`'))
    with pytest.raises(MissingExtraError, match=r"the env LunarLander-v3: .*pip install \"porcini\[box2d\]\""):
        make_env("LunarLander-v3")


def test_a_dependency_without_a_porcini_extra_keeps_gymnasiums_error(monkeypatch):
    monkeypatch.setattr(gym, "make", _raise("pygame is not installed"))
    with pytest.raises(gym.error.DependencyNotInstalled, match="pygame"):
        make_env("CartPole-v1")
