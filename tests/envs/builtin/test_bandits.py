import numpy as np
import pytest

from porcini.envs.builtin import BernoulliBandit, GaussianBandit


def test_bernoulli_regret_of_each_arm():
    env = BernoulliBandit([0.2, 0.5, 0.9, 0.9])
    env.reset(seed=0)
    assert (env.optimal_arm, env.optimal_mean, env.n_arms) == (2, 0.9, 4)  # the first of the tied best arms
    for arm, regret in enumerate([0.7, 0.4, 0.0, 0.0]):
        obs, reward, terminated, truncated, info = env.step(arm)
        assert info["regret"] == pytest.approx(regret, abs=1e-12)
        assert info["optimal_action"] is (regret == 0.0)
        assert (obs, terminated, truncated) == (0, True, False)  # one-step episodes
        assert reward in (0.0, 1.0)


def test_bernoulli_reward_frequencies():
    probs = np.array([0.1, 0.6])
    env = BernoulliBandit(probs)
    env.reset(seed=1)
    n = 5000
    means = [np.mean([env.step(arm)[1] for _ in range(n)]) for arm in range(2)]
    np.testing.assert_allclose(means, probs, atol=5 * np.sqrt(0.25 / n))


def test_gaussian_rewards_and_regret():
    env = GaussianBandit(means=[1.0, -0.5, 2.0], stds=[0.5, 1.0, 2.0])
    env.reset(seed=2)
    n = 5000
    for arm, (mean, std) in enumerate([(1.0, 0.5), (-0.5, 1.0), (2.0, 2.0)]):
        rewards = np.array([env.step(arm)[1] for _ in range(n)])
        assert rewards.mean() == pytest.approx(mean, abs=5 * std / np.sqrt(n))
        assert rewards.std() == pytest.approx(std, rel=0.05)
    assert env.step(1)[4]["regret"] == pytest.approx(2.5)


def test_fixed_horizon_truncates_after_horizon_pulls():
    env = BernoulliBandit([0.3, 0.7], horizon=5)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(5)]
    assert flags == [(False, False)] * 4 + [(False, True)]
    env.reset()
    assert env.step(1)[2:4] == (False, False)  # the count restarts with the episode


def test_random_instances_follow_instance_seed():
    a, b, c = (
        BernoulliBandit(instance_seed=7),
        BernoulliBandit(instance_seed=7),
        BernoulliBandit(instance_seed=8),
    )
    np.testing.assert_array_equal(a.means, b.means)
    assert not np.array_equal(a.means, c.means)
    assert a.n_arms == 10 and np.all((a.means >= 0) & (a.means <= 1))
    testbed = GaussianBandit(n_arms=5, instance_seed=3)
    assert testbed.means.shape == (5,) and np.all(testbed.stds == 1.0)
    assert testbed.optimal_arm == int(np.argmax(testbed.means))


def test_bandit_errors():
    with pytest.raises(ValueError, match=r"probs must lie in \[0, 1\]"):
        BernoulliBandit([0.5, 1.5])
    with pytest.raises(ValueError, match="stds"):
        GaussianBandit([0.0, 1.0], stds=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="horizon"):
        BernoulliBandit([0.5], horizon=0)
    env = BernoulliBandit([0.5])
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        env.step(1)


def _pulls_until_truncated(env) -> int:
    env.reset(seed=0)
    for pulls in range(1, 100):
        if env.step(0)[3]:
            return pulls
    raise AssertionError("never truncated")


@pytest.mark.parametrize("make", [lambda: BernoulliBandit([0.5, 0.2], horizon=5),
                                  lambda: GaussianBandit([0.0, 1.0], horizon=7)])
def test_env_info_horizon_is_the_pulls_of_an_episode(make):
    from porcini.envs import make_env

    venv = make_env(make, n_envs=1)
    assert venv.info.horizon == _pulls_until_truncated(make())
    venv = make_env("porcini/BernoulliBandit-v0", n_envs=1, env_kwargs={"horizon": 4})
    assert venv.info.horizon == 4
    assert make_env("porcini/BernoulliBandit-v0", n_envs=1).info.horizon is None  # one-pull episodes terminate


@pytest.mark.parametrize("horizon", [2.5, 3.0, True])
def test_a_horizon_that_is_not_a_whole_number_is_refused(horizon):
    with pytest.raises(ValueError, match="horizon"):
        BernoulliBandit([0.5], horizon=horizon)
