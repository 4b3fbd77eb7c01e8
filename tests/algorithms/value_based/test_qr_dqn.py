"""QR-DQN: the quantile Huber loss and the update against reference loops; checkpoints, config, a toy task."""

import copy
import io

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.value_based.qr_dqn import QRDQN, QRDQNConfig, quantile_huber_loss
from porcini.core.batch import TransitionBatch
from porcini.envs.info import EnvInfo
from porcini.envs.testing import IdentityEnv
from porcini.errors import ConfigError
from porcini.experiment.checkpoint import from_safe, to_safe

BOX_INFO = EnvInfo("toy", gym.spaces.Box(-10.0, 10.0, (3,), np.float32), gym.spaces.Discrete(3))


def random_batch(rng, n_steps):
    """A [T, 1] batch with random observations and terminations/truncations at random places."""
    ended = rng.random((n_steps, 1))
    return TransitionBatch(obs=rng.normal(size=(n_steps, 1, 3)).astype(np.float32),
                           action=rng.integers(0, 3, size=(n_steps, 1)),
                           reward=rng.normal(size=(n_steps, 1)).astype(np.float32),
                           next_obs=rng.normal(size=(n_steps, 1, 3)).astype(np.float32),
                           terminated=ended < 0.2, truncated=(ended >= 0.2) & (ended < 0.4))


def params(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def spy(agent, method):
    """Record what the replay buffer's ``method`` returns to the agent."""
    calls, original = [], getattr(agent.buffer, method)

    def recorder(*args, **kwargs):
        calls.append(original(*args, **kwargs))
        return calls[-1]

    setattr(agent.buffer, method, recorder)
    return calls


def reference_quantile_loss(quantiles, target, weights, kappa):
    """Dabney et al. 2018 eq. 10 with explicit loops over samples and quantile pairs."""
    b, n = quantiles.shape
    total = 0.0
    for s in range(b):
        per_sample = 0.0
        for i in range(n):
            tau = (2 * i + 1) / (2 * n)
            acc = 0.0
            for j in range(target.shape[1]):
                u = float(target[s, j] - quantiles[s, i])
                huber = 0.5 * u * u if abs(u) <= kappa else kappa * (abs(u) - 0.5 * kappa)
                acc += abs(tau - (1.0 if u < 0 else 0.0)) * huber / kappa
            per_sample += acc / target.shape[1]
        total += (1.0 if weights is None else float(weights[s])) * per_sample
    return total / b


@pytest.mark.parametrize("seed", range(4))
def test_quantile_huber_loss_matches_reference_loop(seed):
    gen = torch.Generator().manual_seed(seed)
    b, n, n_target = 3, 1 + seed, 2 + seed % 3
    quantiles = torch.randn(b, n, generator=gen, dtype=torch.float64) * 2
    target = torch.randn(b, n_target, generator=gen, dtype=torch.float64) * 2
    weights = None if seed % 2 else torch.rand(b, generator=gen, dtype=torch.float64)
    kappa = [1.0, 0.5, 2.0, 1.0][seed]
    loss = quantile_huber_loss(quantiles, target, weights, kappa)["loss_quantile"]
    assert loss.item() == pytest.approx(reference_quantile_loss(quantiles, target, weights, kappa), rel=1e-12)


def test_quantile_loss_is_minimized_at_the_target_quantiles():
    # a small kappa makes it the pure quantile loss: its minimizer over theta_i is the tau_i-quantile of the targets
    samples = torch.arange(100, dtype=torch.float64)[None]  # 0..99
    theta = torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=1.0)
    for _ in range(600):
        opt.zero_grad()
        quantile_huber_loss(theta, samples, kappa=1e-3)["loss_quantile"].backward()
        opt.step()
    np.testing.assert_allclose(theta.detach().numpy()[0], [12.5, 37.5, 62.5, 87.5], atol=1.0)


def test_quantile_loss_shape_errors():
    with pytest.raises(ValueError, match="quantiles.*target"):
        quantile_huber_loss(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="weights"):
        quantile_huber_loss(torch.zeros(3, 4), torch.zeros(3, 4), torch.ones(2))


@pytest.mark.parametrize("double_q", [False, True])
def test_update_matches_reference_loop(double_q):
    n_quantiles, gamma = 5, 0.9
    agent = QRDQN(BOX_INFO, n_quantiles=n_quantiles, gamma=gamma, double_q=double_q, learning_starts=0, train_freq=1,
                  batch_size=10, target_update_interval=10**9, learning_rate=1e-2, net_arch=(16,), seed=4)
    with torch.no_grad():
        for p in agent.target_net.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    calls = spy(agent, "sample")
    online0, target0 = copy.deepcopy(agent.q_net), copy.deepcopy(agent.target_net)
    agent.fit(random_batch(np.random.default_rng(0), 16))
    s = calls[0]
    obs, action, reward = s.obs[:, 0], s.action[:, 0], s.reward[:, 0]
    next_obs, terminated = s.next_obs[:, 0], s.terminated[:, 0]
    y = np.zeros((len(reward), n_quantiles), np.float32)
    with torch.no_grad():
        for i in range(len(reward)):
            theta_next = target0(torch.as_tensor(next_obs[i])).numpy()  # [A, N]
            chooser = online0(torch.as_tensor(next_obs[i])).numpy() if double_q else theta_next
            a_star = int(np.argmax(chooser.mean(axis=1)))
            y[i] = reward[i] + gamma * (1 - float(terminated[i])) * theta_next[a_star]
    net = copy.deepcopy(online0)
    # Dabney et al. 2018: Adam with ε = 0.01 / 32 for minibatches of 32 (SB3-contrib: 0.01 / batch_size)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, eps=0.01 / 10, foreach=False)
    quantiles = torch.stack([net(torch.as_tensor(obs[i]))[int(action[i])] for i in range(len(y))])
    loss = quantile_huber_loss(quantiles, torch.as_tensor(y))["loss_quantile"]
    assert loss.item() == pytest.approx(reference_quantile_loss(quantiles.detach(), y, None, 1.0), rel=1e-5)
    loss.backward()
    opt.step()  # QR-DQN's default: no gradient clipping
    torch.testing.assert_close(params(agent.q_net), params(net), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("batch_size", [32, 128])
def test_adam_epsilon_is_sb3_contribs_default_and_can_be_set(batch_size):
    sb3_contrib = pytest.importorskip("sb3_contrib")
    peer = sb3_contrib.QRDQN("MlpPolicy", "CartPole-v1", batch_size=batch_size, device="cpu")
    peer_eps = peer.policy.optimizer.param_groups[0]["eps"]
    agent = QRDQN(BOX_INFO, batch_size=batch_size)
    assert agent.optimizer.optimizer.param_groups[0]["eps"] == pytest.approx(peer_eps, rel=1e-12)
    assert QRDQN(BOX_INFO, adam_eps=1e-8).optimizer.optimizer.param_groups[0]["eps"] == 1e-8


def test_learns_identity_env_and_save_load_gives_identical_actions():
    env = make_env(lambda: IdentityEnv(n=4, episode_length=10), seed=0)
    eval_env = make_env(lambda: IdentityEnv(n=4, episode_length=10), seed=100)
    agent = QRDQN(env.info, n_quantiles=8, learning_rate=3e-3, learning_starts=200, train_freq=4, batch_size=32,
                  gamma=0.5, target_update_interval=100, exploration_fraction=0.5, exploration_final_eps=0.05,
                  net_arch=(32,), seed=0)
    core = Core(agent, env, eval_env=eval_env, progress=False)
    core.learn(steps=3000)
    assert np.mean(core.evaluate(episodes=10).returns) >= 9.5  # random: 2.5
    file = io.BytesIO()
    torch.save(to_safe(agent.state_dict()), file)
    file.seek(0)
    clone = QRDQN(env.info, agent.config, seed=7)
    clone.load_state_dict(from_safe(torch.load(file, weights_only=True)))
    obs = np.arange(4)
    np.testing.assert_array_equal(clone.act(obs, explore=False), obs)
    np.testing.assert_array_equal(clone.act(obs, explore=True), agent.act(obs, explore=True))
    np.testing.assert_allclose(clone.q_values(obs), agent.q_values(obs))


@pytest.mark.parametrize("field, value", [("n_quantiles", 0), ("loss", "mse"), ("dueling", True), ("tau", 2.0),
                                          ("adam_eps", 0.0)])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ConfigError, match=f"QRDQNConfig.{field} = "):
        QRDQNConfig(**{field: value})
