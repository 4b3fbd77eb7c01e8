"""Every built-in env: registered, passes Gymnasium's and porcini's checkers, repeats under a seed."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

from porcini.envs.builtin import BUILTIN_ENVS, register_builtin_envs

register_builtin_envs()

ENV_IDS = sorted(BUILTIN_ENVS)
# The trading observations start with log returns, which are unbounded, and the swing-up's velocities are not
# clipped; Gymnasium warns about infinite bounds.
INFINITE_BOUNDS = {"porcini/Trading-v0", "porcini/Portfolio-v0", "porcini/CartPoleSwingUp-v0"}
DETERMINISTIC = {"porcini/CliffWalking-v0"}


def test_register_twice_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_builtin_envs()
        register_builtin_envs()
    assert set(ENV_IDS) <= set(gym.registry)
    assert all(env_id.startswith("porcini/") for env_id in ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(env.unwrapped)
    messages = [str(w.message) for w in caught]
    if env_id in INFINITE_BOUNDS:
        messages = [m for m in messages if "infinity" not in m]
    assert messages == []


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_porcini_check_env(env_id):
    from porcini.envs import check_env

    check_env(gym.make(env_id), steps=100)


def _snapshot(obs):
    """A copy of ``obs`` as one array; a Dict observation (goal envs) as its entries in key order."""
    if isinstance(obs, dict):
        return np.concatenate([np.asarray(obs[k]).ravel() for k in sorted(obs)])
    return np.asarray(obs).copy()


def _rollout(env_id, seed, n_steps=150):
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    trajectory = [_snapshot(obs)]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        trajectory += [
            _snapshot(obs),
            reward,
            terminated,
            truncated,
            info.get("cost"),
            info.get("regret"),
        ]
        if terminated or truncated:
            obs, _ = env.reset()
            trajectory.append(_snapshot(obs))
    return trajectory


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeding_repeats_and_differs(env_id):
    assert _same(_rollout(env_id, seed=3), _rollout(env_id, seed=3))
    if env_id not in DETERMINISTIC:
        # Same actions, other env seed: a stochastic env must go elsewhere.
        first, other = _rollout(env_id, seed=3), _rollout(env_id, seed=4)
        assert not _same(first, other)


@pytest.mark.parametrize(
    ("env_id", "gamma", "horizon"),
    [
        ("porcini/CliffWalking-v0", 1.0, 500),
        ("porcini/DiceGame-v0", 1.0, 100),
        ("porcini/RiverSwim-v0", 0.95, 1000),
        ("porcini/Chain-v0", 0.99, 1000),
        ("porcini/PixelGridWorld-v0", 0.99, 50),
        ("porcini/PointHazard-v0", None, 200),
        ("porcini/Trading-v0", None, None),
    ],
)
def test_make_env_reads_gamma_and_horizon(env_id, gamma, horizon):
    from porcini.envs import make_env

    env = make_env(env_id, n_envs=2, seed=0)
    assert env.info.gamma == gamma
    assert env.info.horizon == horizon
    env.close()


def test_time_limit_truncates_not_terminates():
    env = gym.make("porcini/Chain-v0", max_episode_steps=7)  # a continuing task: only the time limit ends it
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(7)]
    assert flags == [(False, False)] * 6 + [(False, True)]


def _documented_rows():
    """``(id, observation cell, action cell)`` of the built-in envs' table in docs/environments.md."""
    from pathlib import Path

    page = (Path(__file__).resolve().parents[3] / "docs" / "environments.md").read_text()
    rows = []
    for line in page.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("porcini/"):
            rows.append((cells[0], cells[2], cells[3]))
    return rows


def _matches(cell, space):
    """Whether a table cell written with literal numbers (``Discrete(48)``, ``Box(-1, 1, (2,))``) names ``space``;
    None for a cell written with symbols (``Discrete(rows*cols)``), which this check leaves alone."""
    import re

    if m := re.fullmatch(r"Discrete\((\d+)\)", cell):
        return isinstance(space, gym.spaces.Discrete) and space.n == int(m[1])
    if m := re.fullmatch(r"Box\((-?\d+), (-?\d+), \(([\d, ]+)\)(?:, (\w+))?\)", cell):
        shape = tuple(int(d) for d in m[3].replace(" ", "").split(",") if d)
        return bool(isinstance(space, gym.spaces.Box) and space.shape == shape and np.all(space.low == float(m[1]))
                    and np.all(space.high == float(m[2])) and (m[4] is None or space.dtype == np.dtype(m[4])))
    return None


def test_the_documented_spaces_are_the_registered_envs_spaces():
    rows = _documented_rows()
    assert {env_id for env_id, _, _ in rows} == set(ENV_IDS)
    wrong, checked = [], 0
    for env_id, observation, action in rows:
        env = gym.make(env_id)
        for cell, space in ((observation, env.observation_space), (action, env.action_space)):
            verdict = _matches(cell, space)
            checked += verdict is not None
            if verdict is False:
                wrong.append(f"{env_id}: the table says {cell}, the env has {space}")
    assert checked >= 20 and not wrong, wrong
