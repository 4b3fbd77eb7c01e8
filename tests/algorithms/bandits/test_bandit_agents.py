"""Bandit agents: regret against the env's known arm means, over 10 seeds, through Core."""

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.bandits.epsilon_greedy import EpsilonGreedyBandit
from porcini.algorithms.bandits.thompson import ThompsonSampling
from porcini.algorithms.bandits.ucb import UCB
from porcini.core import Callback, ConfigError, TransitionBatch


class ActionLog(Callback):
    def __init__(self):
        self.actions = []

    def on_step(self, core, action, reward, terminated, truncated, info):
        self.actions.append(np.array(action))


def regret_curves(agent_cls, env_id, n_pulls, seeds=range(10), env_kwargs=None, **config):
    """[n_seeds, n_pulls] cumulative pseudo-regret computed from the env's arm means (not from the agent)."""
    curves = []
    for seed in seeds:
        env = make_env(env_id, seed=seed, env_kwargs=env_kwargs)
        means = env.envs[0].unwrapped.means
        agent = agent_cls(env.info, seed=seed, **config)
        log = ActionLog()
        result = Core(agent, env, callbacks=[log], info_keys=("regret",), progress=False).learn(steps=n_pulls)
        curve = np.cumsum(means.max() - means[np.concatenate(log.actions)])
        # the agent's own report (info["regret"] copied by Core) agrees with our independent count
        assert result.last_metrics["regret_cumulative"] == pytest.approx(curve[-1])
        curves.append(curve)
    return np.array(curves)


def check_ordering_and_growth(curves, max_growth):
    """UCB's and Thompson's mean regret below epsilon-greedy's; their second half adds little (log growth)."""
    final = {name: c[:, -1].mean() for name, c in curves.items()}
    half = {name: c[:, c.shape[1] // 2 - 1].mean() for name, c in curves.items()}
    growth = {name: final[name] / half[name] for name in curves}
    assert final["ucb"] < final["epsilon_greedy"], final
    assert final["thompson"] < final["epsilon_greedy"], final
    for name in ("ucb", "thompson"):
        assert growth[name] < max_growth, growth
        assert growth[name] < growth["epsilon_greedy"], growth


def test_gaussian_testbed_regret_over_10_seeds():
    # The 10-armed testbed of Sutton & Barto (2018, §2.3; Figure 2.4: UCB beats epsilon = 0.1 within the first
    # few hundred steps). Logarithmic regret a ln t predicts R(T) / R(T/2) = ln 300 / ln 150 = 1.14; a linear one
    # gives 2 (epsilon-greedy's floor of epsilon x mean gap per pull). Measured (seeds 0-9): UCB 1.27, Thompson
    # 1.13, epsilon-greedy 1.59; final regrets 72, 56 and 101. Threshold 1.35 separates log from linear growth.
    n = 300
    curves = {
        "epsilon_greedy": regret_curves(EpsilonGreedyBandit, "porcini/GaussianBandit-v0", n, epsilon=0.1),
        "ucb": regret_curves(UCB, "porcini/GaussianBandit-v0", n),
        "thompson": regret_curves(ThompsonSampling, "porcini/GaussianBandit-v0", n, prior="gaussian"),
    }
    check_ordering_and_growth(curves, max_growth=1.35)


@pytest.mark.slow
@pytest.mark.parametrize("env_id,env_kwargs,prior,n", [
    ("porcini/BernoulliBandit-v0", {"probs": [0.3, 0.5, 0.7]}, "beta", 6_000),
    ("porcini/GaussianBandit-v0", None, "gaussian", 3_000),
])
def test_regret_over_10_seeds_long_horizon(env_id, env_kwargs, prior, n):
    # UCB1's bound (Auer et al. 2002, Thm 1) is logarithmic: R(T) / R(T/2) -> 1; epsilon-greedy with epsilon = 0.1
    # adds epsilon x mean gap per pull (0.1 x 0.2 = 0.02 on the Bernoulli instance), so its ratio approaches 2.
    # UCB1 pays ~8 ln T / gap up front, so on the Bernoulli instance it passes epsilon-greedy only after ~3000
    # pulls. Measured growth at these horizons is below 1.3 for UCB and Thompson (epsilon-greedy: above 1.6);
    # 1.4 leaves room for seed noise.
    curves = {
        "epsilon_greedy": regret_curves(EpsilonGreedyBandit, env_id, n, env_kwargs=env_kwargs, epsilon=0.1),
        "ucb": regret_curves(UCB, env_id, n, env_kwargs=env_kwargs),
        "thompson": regret_curves(ThompsonSampling, env_id, n, env_kwargs=env_kwargs, prior=prior),
    }
    check_ordering_and_growth(curves, max_growth=1.4)


def pulls(arms, rewards):
    arms, rewards = np.asarray(arms), np.asarray(rewards, float)
    z = np.zeros((len(arms), 1))
    return TransitionBatch(np.zeros((len(arms), 1), np.int64), arms[:, None], rewards[:, None],
                           np.zeros((len(arms), 1), np.int64), z.astype(bool) | True, z.astype(bool))


def bandit_info(n_arms=3, n_envs=1):
    import gymnasium as gym

    from porcini.envs import EnvInfo

    return EnvInfo("b", gym.spaces.Discrete(1), gym.spaces.Discrete(n_arms), n_envs=n_envs)


def test_ucb_indices_by_formula():
    agent = UCB(bandit_info(), ucb_coef=1.0)
    assert np.isinf(agent.upper_bounds()).all()  # every arm is tried first
    first = agent.act(np.zeros(1), explore=True)
    agent.fit(pulls([0, 1, 2, 0], [1.0, 0.0, 0.5, 0.0]))
    t = 4
    expected = np.array([0.5, 0.0, 0.5]) + np.sqrt(2 * np.log(t) / np.array([2, 1, 1]))
    np.testing.assert_allclose(agent.upper_bounds(), expected)
    assert agent.act(np.zeros(5), explore=True).tolist() == [2] * 5
    assert agent.act(np.zeros(1), explore=False)[0] in (0, 2)  # greedy on the means (tie)
    assert first.shape == (1,)


def test_thompson_posteriors_by_formula():
    beta = ThompsonSampling(bandit_info(), prior="beta", prior_alpha=2.0, prior_beta=1.0)
    beta.fit(pulls([0, 0, 1], [1.0, 0.0, 1.0]))
    a, b = beta.posterior()
    np.testing.assert_allclose(a, [3.0, 3.0, 2.0])
    np.testing.assert_allclose(b, [2.0, 1.0, 1.0])
    gauss = ThompsonSampling(bandit_info(), prior="gaussian", prior_mean=1.0, prior_std=2.0, noise_std=0.5)
    gauss.fit(pulls([2, 2], [3.0, 5.0]))
    mean, std = gauss.posterior()
    precision = 1 / 4 + 2 / 0.25
    assert mean[2] == pytest.approx((1.0 / 4 + 8.0 / 0.25) / precision)
    assert std[2] == pytest.approx(precision**-0.5)
    assert mean[0] == 1.0 and std[0] == 2.0  # untouched arms keep the prior
    with pytest.raises(ValueError, match="rewards in \\[0, 1\\]"):
        beta.fit(pulls([1], [2.0]))


def test_a_beta_prior_refuses_a_batch_with_a_reward_outside_the_unit_interval_before_counting_any_of_it():
    # the refused reward was counted first: a pull and a failure in the posterior that no reward justified
    agent = ThompsonSampling(bandit_info(), prior="beta")
    agent.fit(pulls([0, 1], [1.0, 0.0]))
    before = agent.state_dict()
    with pytest.raises(ValueError, match=r"rewards in \[0, 1\], got 2.0 from arm 2"):
        agent.fit(pulls([1, 2, 0], [1.0, 2.0, 1.0]))
    after = agent.state_dict()
    for key in ("counts", "means", "successes"):
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    assert after["pulls"] == before["pulls"] == 2
    np.testing.assert_array_equal(agent.posterior()[0], ThompsonSampling(bandit_info(), prior="beta").posterior()[0]
                                  + [1.0, 0.0, 0.0])


def test_epsilon_greedy_estimates_and_state_round_trip():
    agent = EpsilonGreedyBandit(bandit_info(), epsilon=0.0)
    agent.fit(pulls([1, 1, 2], [1.0, 3.0, -1.0]))
    np.testing.assert_allclose(agent.means, [0.0, 2.0, -1.0])
    assert (agent.act(np.zeros(4), explore=True) == 1).all()
    recency = EpsilonGreedyBandit(bandit_info(), learning_rate=0.5)
    recency.fit(pulls([0, 0], [4.0, 0.0]))
    assert recency.means[0] == pytest.approx(1.0)  # 0 -> 2 -> 1
    clone = EpsilonGreedyBandit(bandit_info(), epsilon=0.0, seed=9)
    clone.load_state_dict(agent.state_dict())
    np.testing.assert_array_equal(clone.means, agent.means)
    assert clone.pulls == 3
    with pytest.raises(ConfigError, match="epsilon"):
        EpsilonGreedyBandit(bandit_info(), epsilon=2.0)


@pytest.mark.parametrize("epsilon,final,field", [(0.1, 0.0, "exploration_final"), (0.0, 0.05, "epsilon")])
def test_an_exponential_decay_through_zero_is_a_config_error_naming_the_field(epsilon, final, field):
    # A geometric decay can neither start from nor reach 0: the config says which field to change (CLI exit code 2)
    # instead of the agent failing later with a ValueError about an ExponentialSchedule.
    with pytest.raises(ConfigError, match=f"{field} = .* exponential schedule"):
        EpsilonGreedyBandit(bandit_info(), epsilon=epsilon, exploration_final=final,
                            exploration_schedule="exponential")
    EpsilonGreedyBandit(bandit_info(), epsilon=epsilon, exploration_final=final, exploration_schedule="linear")


@pytest.mark.parametrize("make", [
    lambda: EpsilonGreedyBandit(bandit_info(n_arms=4), epsilon=0.3, seed=2),
    lambda: UCB(bandit_info(n_arms=4), seed=2),
    lambda: ThompsonSampling(bandit_info(n_arms=4), seed=2),
])
def test_greedy_actions_never_shift_the_training_draws(make):
    # greedy actions (an evaluation) broke ties with the training generator, so a run that evaluated explored
    # differently afterwards than one that did not
    rewards = np.random.default_rng(0).random(40)

    def explored(evaluate):
        agent = make()
        chosen = []
        for t in range(40):
            if evaluate:
                agent.act(np.zeros(3), explore=False)  # every arm's mean ties at first
            arm = agent.act(np.zeros(1), explore=True)
            chosen.append(int(arm[0]))
            agent.fit(pulls(arm, [float(rewards[t] > 0.5)]))
        return chosen, agent

    plain, agent = explored(False)
    evaluated, evaluating_agent = explored(True)
    assert evaluated == plain
    clone = make()
    clone.load_state_dict(evaluating_agent.state_dict())  # the greedy generator round-trips too
    np.testing.assert_array_equal(clone.act(np.zeros(8), explore=False), evaluating_agent.act(np.zeros(8),
                                                                                                explore=False))
