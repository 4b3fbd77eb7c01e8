import math

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.envs.wrappers.randomization import DomainRandomization, set_env_params


def cartpole():
    return gym.make("CartPole-v1", disable_env_checker=True)


DISTS = {
    "length": (0.2, 1.5),
    "masscart": [0.5, 1.0, 4.0],
    "gravity": lambda rng: 9.8 + rng.normal(0.0, 1.0),
}


def reference_cartpole_step(state, action, p):
    """CartPole's Euler step written out from Barto et al. (1983) / Florian (2007)."""
    x, x_dot, theta, theta_dot = state
    force = 10.0 if action == 1 else -10.0
    masspole, tau = 0.1, 0.02
    total = masspole + p["masscart"]
    cos, sin = math.cos(theta), math.sin(theta)
    temp = (force + masspole * p["length"] * theta_dot**2 * sin) / total
    thetaacc = (p["gravity"] * sin - cos * temp) / (p["length"] * (4.0 / 3.0 - masspole * cos**2 / total))
    xacc = temp - masspole * p["length"] * thetaacc * cos / total
    # explicit Euler (CartPole's default integrator): positions move with the old velocities
    return np.array([x + tau * x_dot, x_dot + tau * xacc, theta + tau * theta_dot, theta_dot + tau * thetaacc])


def test_values_within_ranges_and_in_info_every_step():
    env = DomainRandomization(cartpole(), DISTS)
    _, info = env.reset(seed=0)
    lengths, masses = [], []
    for _ in range(300):
        assert 0.2 <= info["param/length"] <= 1.5
        assert info["param/masscart"] in (0.5, 1.0, 4.0)
        assert math.isfinite(info["param/gravity"])
        lengths.append(info["param/length"])
        masses.append(info["param/masscart"])
        for _ in range(3):
            _, _, terminated, truncated, step_info = env.step(env.action_space.sample())
            assert {k: step_info[k] for k in info if k.startswith("param/")} == env_params_info(env)
            if terminated or truncated:
                break
        _, info = env.reset()
    # the draws cover the range and every choice (uniform / uniform choice)
    assert min(lengths) < 0.3 and max(lengths) > 1.4
    counts = np.unique(masses, return_counts=True)[1]
    assert len(counts) == 3 and counts.min() > 60


def env_params_info(env):
    return {"param/" + k: v for k, v in env.params.items()}


def test_drawn_values_drive_the_dynamics():
    env = DomainRandomization(cartpole(), DISTS)
    env.reset(seed=1)
    checked = 0
    for _ in range(30):
        _, info = env.reset()
        p = {k[len("param/"):]: v for k, v in info.items()}
        base = env.unwrapped
        assert (base.length, base.masscart, base.gravity) == (p["length"], p["masscart"], p["gravity"])
        for _ in range(5):
            state = base.state.copy()
            action = int(env.action_space.sample())
            _, _, terminated, truncated, _ = env.step(action)
            np.testing.assert_allclose(base.state, reference_cartpole_step(state, action, p), rtol=1e-12)
            checked += 1
            if terminated or truncated:
                break
    assert checked > 100


def test_a_longer_pole_falls_slower():
    # the same start and actions under two drawn lengths: the pole angle grows more slowly on the longer pole
    angles = {}
    for length in (0.3, 1.5):
        env = DomainRandomization(cartpole(), {"length": [length]})
        env.reset(seed=4)
        env.unwrapped.state = np.array([0.0, 0.0, 0.02, 0.0])
        for _ in range(6):
            assert not env.step(0)[2]
        angles[length] = abs(env.unwrapped.state[2])
    assert angles[1.5] < angles[0.3]


def test_seeds_repeat_and_differ():
    def draws(seed):
        env = DomainRandomization(cartpole(), DISTS)
        first = env.reset(seed=seed)
        return first[0], [env.params] + [dict(env.reset()[1]) for _ in range(5)]

    obs_a, a = draws(7)
    obs_b, b = draws(7)
    _, c = draws(8)
    assert a == b and a != c
    # a seeded reset starts the episode exactly as the plain env would
    np.testing.assert_array_equal(obs_a, cartpole().reset(seed=7)[0])


def test_dotted_paths_reach_nested_objects():
    class Physics:
        def __init__(self):
            self.friction = np.array([1.0, 1.0])

    class Env(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (1,))
        action_space = gym.spaces.Discrete(2)

        def __init__(self):
            self.physics = Physics()

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return np.zeros(1, dtype=np.float32), {}

        def step(self, action):
            return np.zeros(1, dtype=np.float32), 0.0, False, False, {}

    inner = Env()
    array = inner.physics.friction
    env = DomainRandomization(inner, {"physics.friction": lambda rng: rng.uniform(0, 1, size=2)})
    _, info = env.reset(seed=0)
    assert inner.physics.friction is array  # arrays are written in place (MuJoCo model arrays cannot be rebound)
    np.testing.assert_array_equal(array, info["param/physics.friction"])


def test_errors_name_the_fix():
    with pytest.raises(AttributeError, match="no parameter 'lenght'"):
        DomainRandomization(cartpole(), {"lenght": (0, 1)})
    with pytest.raises(ValueError, match="low > high"):
        DomainRandomization(cartpole(), {"length": (1.0, 0.5)})
    with pytest.raises(ValueError, match=r"\(low, high\)"):
        DomainRandomization(cartpole(), {"length": (1.0, 0.5, 2.0)})
    with pytest.raises(TypeError, match="callable"):
        DomainRandomization(cartpole(), {"length": 0.5})
    with pytest.raises(ValueError, match="empty"):
        DomainRandomization(cartpole(), {"length": []})


def test_set_env_params_updates_cartpole_derived_masses():
    env = cartpole()
    set_env_params(env, {"masscart": 2.0, "length": 1.0})
    assert env.unwrapped.total_mass == pytest.approx(2.1)
    assert env.unwrapped.polemass_length == pytest.approx(0.1)


def test_params_reach_batch_extras_through_core():
    class Recorder:
        fit_every_steps = 50
        fit_every_episodes = None

        def __init__(self):
            self.batches = []

        def act(self, obs, *, explore):
            return np.ones(len(obs), dtype=np.int64)

        def fit(self, batch):
            self.batches.append(batch)
            return {}

        def reset(self, ended):
            pass

    env = make_env(lambda: DomainRandomization(cartpole(), {"length": (0.2, 1.5)}), n_envs=2, seed=0)
    agent = Recorder()
    Core(agent, env, info_keys=("param/length",), progress=False).learn(steps=400)
    lengths = np.concatenate([b.extras["param/length"].ravel() for b in agent.batches])
    assert ((lengths >= 0.2) & (lengths <= 1.5)).all() and len(np.unique(lengths)) > 2
