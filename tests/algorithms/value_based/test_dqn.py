"""DQN: the update against hand-written reference loops, truncation, prioritized weights, checkpoints, config."""

import copy
import io

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.value_based.common import n_step_window
from porcini.algorithms.value_based.dqn import DQN, DQNConfig
from porcini.core.batch import TransitionBatch
from porcini.envs.info import EnvInfo
from porcini.envs.testing import CountingEnv, IdentityEnv
from porcini.errors import ConfigError
from porcini.experiment.checkpoint import from_safe, to_safe
from porcini.functional import n_step_targets

BOX_INFO = EnvInfo("toy", gym.spaces.Box(-10.0, 10.0, (3,), np.float32), gym.spaces.Discrete(3))


def random_batch(rng, n_steps, n_envs=1, p_term=0.2, p_trunc=0.2, obs_dim=3, n_actions=3):
    """A [T, B] batch with random observations and terminations/truncations at random places."""
    ended = rng.random((n_steps, n_envs))
    return TransitionBatch(
        obs=rng.normal(size=(n_steps, n_envs, obs_dim)).astype(np.float32),
        action=rng.integers(0, n_actions, size=(n_steps, n_envs)),
        reward=rng.normal(size=(n_steps, n_envs)).astype(np.float32),
        next_obs=rng.normal(size=(n_steps, n_envs, obs_dim)).astype(np.float32),
        terminated=ended < p_term,
        truncated=(ended >= p_term) & (ended < p_term + p_trunc),
    )


def huber(x):
    return torch.where(x.abs() <= 1.0, 0.5 * x * x, x.abs() - 0.5)


def reference_step(net0, target_net, obs, action, y, lr, max_grad_norm, weights=None):
    """One plain (for-loop) Adam step on mean(w * huber(Q(s, a) - y)), Q evaluated one sample at a time."""
    net = copy.deepcopy(net0)
    opt = torch.optim.Adam(net.parameters(), lr=lr, foreach=False)
    q = torch.stack([net(torch.as_tensor(obs[i]))[int(action[i])] for i in range(len(y))])
    w = torch.ones(len(y)) if weights is None else torch.as_tensor(weights)
    loss = (w * huber(q - torch.as_tensor(y, dtype=torch.float32))).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), max_grad_norm)
    opt.step()
    return net, q.detach().numpy()


def reference_targets(online, target_net, reward, next_obs, terminated, gamma, double):
    """y_i = r_i + gamma_i (1 - terminated_i) Q_target(s'_i, a*), a* from the target (DQN) or online (Double) net."""
    y = np.zeros(len(reward), dtype=np.float32)
    with torch.no_grad():
        for i in range(len(reward)):
            qt = target_net(torch.as_tensor(next_obs[i])).numpy()
            a_star = int(np.argmax(online(torch.as_tensor(next_obs[i])).numpy() if double else qt))
            g = gamma[i] if np.ndim(gamma) else gamma
            y[i] = reward[i] + g * (1.0 - float(terminated[i])) * qt[a_star]
    return y


def spy(agent, method):
    """Record what the replay buffer's ``method`` returns to the agent."""
    buffer = agent.buffer
    calls = []
    original = getattr(buffer, method)

    def recorder(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(out)
        return out

    setattr(buffer, method, recorder)
    return calls


def params(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def agent_with_distinct_target(**kw):
    """An agent whose target network differs from the online one (so max vs Double selection matters)."""
    agent = DQN(BOX_INFO, learning_starts=0, train_freq=1, gradient_steps=1, target_update_interval=10**9,
                learning_rate=1e-2, net_arch=(16,), seed=3, **kw)
    with torch.no_grad():
        for p in agent.target_net.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return agent


@pytest.mark.parametrize("double_q", [False, True])
def test_update_matches_reference_loop(double_q):
    agent = agent_with_distinct_target(double_q=double_q, batch_size=16)
    calls = spy(agent, "sample")
    online0, target0 = copy.deepcopy(agent.q_net), copy.deepcopy(agent.target_net)
    agent.fit(random_batch(np.random.default_rng(0), 20))
    s = calls[0]
    y = reference_targets(online0, target0, s.reward[:, 0], s.next_obs[:, 0], s.terminated[:, 0], 0.99, double_q)
    expected, _ = reference_step(online0, target0, s.obs[:, 0], s.action[:, 0], y, 1e-2, 10.0)
    torch.testing.assert_close(params(agent.q_net), params(expected), atol=1e-6, rtol=1e-5)
    assert torch.equal(params(agent.target_net), params(target0))  # no target update was due
    # the other target rule gives a measurably different update: the test can tell them apart
    y_other = reference_targets(online0, target0, s.reward[:, 0], s.next_obs[:, 0], s.terminated[:, 0], 0.99,
                                not double_q)
    assert np.abs(y_other - y).max() > 1e-3


@pytest.mark.parametrize("seed", range(6))
def test_n_step_window_follows_n_step_targets(seed):
    rng = np.random.default_rng(seed)
    n, size, gamma = int(rng.integers(1, 6)), 7, float(rng.uniform(0.5, 1.0))
    seq = random_batch(rng, n, size, p_term=0.25, p_trunc=0.25)
    value = rng.normal(size=(n, size))  # V(next_obs[k, i]); huge where terminated: must be ignored
    value[seq.terminated] = 1e6
    expected = n_step_targets(seq.reward, value, seq.terminated, seq.truncated, gamma, n)[0]
    w = n_step_window(seq, gamma)
    lookup = {tuple(seq.next_obs[k, i]): value[k, i] for k in range(n) for i in range(size)}
    boot = np.array([lookup[tuple(o)] for o in w.next_obs])
    np.testing.assert_allclose(w.reward + w.discount * (1 - w.terminated) * np.where(w.terminated, 0, boot), expected,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(w.obs, seq.obs[0])
    np.testing.assert_array_equal(w.action, seq.action[0])


def test_n_step_update_matches_reference_loop():
    n, gamma = 3, 0.9
    agent = agent_with_distinct_target(n_steps=n, gamma=gamma, batch_size=12, double_q=True)
    calls = spy(agent, "sample_sequences")
    online0, target0 = copy.deepcopy(agent.q_net), copy.deepcopy(agent.target_net)
    agent.fit(random_batch(np.random.default_rng(1), 30, n_envs=2, p_term=0.15, p_trunc=0.15))
    seq = calls[0]  # [n, batch] runs
    with torch.no_grad():  # Double DQN bootstrap value of every next_obs, then n_step_targets picks what it needs
        nxt = torch.as_tensor(seq.next_obs)
        value = target0(nxt).gather(-1, online0(nxt).argmax(-1, keepdim=True)).squeeze(-1).numpy()
    y = n_step_targets(seq.reward, value, seq.terminated, seq.truncated, gamma, n)[0]
    expected, _ = reference_step(online0, target0, seq.obs[0], seq.action[0], y, 1e-2, 10.0)
    torch.testing.assert_close(params(agent.q_net), params(expected), atol=1e-6, rtol=1e-5)


def test_prioritized_weights_reach_the_loss_and_priorities_are_updated():
    rng = np.random.default_rng(2)
    agent = DQN(BOX_INFO, learning_starts=40, train_freq=1, gradient_steps=1, batch_size=16,
                target_update_interval=10**9, prioritized_replay=True, learning_rate=1e-2, net_arch=(16,), seed=1)
    agent.set_horizon(100_000)  # β anneals over the run
    assert agent.fit(random_batch(rng, 40)) == {}  # stored only: learning_starts not passed
    agent.buffer.update_priorities(np.arange(40), rng.uniform(0.01, 5.0, size=40))
    calls = spy(agent, "sample")
    online0, target0 = copy.deepcopy(agent.q_net), copy.deepcopy(agent.target_net)
    metrics = agent.fit(random_batch(rng, 1))
    s = calls[0]
    assert np.ptp(s.weights) > 0.1 and metrics["beta"] == pytest.approx(0.4 + 0.6 * 41 / 100_000)
    b = s.batch
    y = reference_targets(online0, target0, b.reward[:, 0], b.next_obs[:, 0], b.terminated[:, 0], 0.99, False)
    expected, q_before = reference_step(online0, target0, b.obs[:, 0], b.action[:, 0], y, 1e-2, 10.0, s.weights)
    torch.testing.assert_close(params(agent.q_net), params(expected), atol=1e-6, rtol=1e-5)
    unweighted, _ = reference_step(online0, target0, b.obs[:, 0], b.action[:, 0], y, 1e-2, 10.0)
    assert (params(unweighted) - params(expected)).abs().max() > 1e-4
    priorities = (np.abs(y - q_before) + agent.buffer.eps) ** agent.buffer.alpha
    last = {int(i): p for i, p in zip(s.indices, priorities)}  # an index drawn twice keeps its last priority
    np.testing.assert_allclose(agent.buffer.priorities(np.array(list(last))), list(last.values()), rtol=1e-4)


def drop_episode_index(env, horizon):
    """CountingEnv's observation without the episode counter: the step within the episode, scaled to [0, 1]."""
    space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    return gym.wrappers.TransformObservation(env, lambda o: (o[1:] / horizon).astype(np.float32), space)


@pytest.mark.parametrize("ending", ["truncate_at", "terminate_at"])
def test_truncation_bootstraps_and_termination_does_not(ending):
    # Reward 1 per step, episodes of H steps, the step t/H observed. Cut by a time limit, every state is worth
    # 1 / (1 - gamma) = 10, the last one included; ended by termination, step t is worth sum_{k < H - t} gamma^k,
    # 1 at the last step.
    horizon, gamma = 5, 0.9
    env = make_env(lambda: drop_episode_index(CountingEnv(**{ending: horizon}), horizon), seed=0)
    agent = DQN(env.info, gamma=gamma, learning_rate=1e-2, learning_starts=100, train_freq=10, gradient_steps=10,
                batch_size=64, target_update_interval=20, net_arch=(16, 16), loss="mse", seed=0)
    # 3000 steps: at 1500 seed 0 is still on its way down from an overshoot (Q ≈ 23-31); seeds 0-3 are within 2% at 3000
    Core(agent, env, progress=False).learn(steps=3000)
    q = agent.q_values(np.arange(horizon, dtype=np.float32)[:, None] / horizon).max(axis=1)
    if ending == "truncate_at":
        np.testing.assert_allclose(q, 1 / (1 - gamma), rtol=0.1)
    else:
        np.testing.assert_allclose(q, [sum(gamma**k for k in range(horizon - t)) for t in range(horizon)], atol=0.3)


def test_learns_identity_env_with_one_hot_observations():
    env = make_env(lambda: IdentityEnv(n=4, episode_length=10), seed=0)
    eval_env = make_env(lambda: IdentityEnv(n=4, episode_length=10), seed=100)
    agent = DQN(env.info, learning_rate=3e-3, learning_starts=200, train_freq=4, batch_size=32, gamma=0.5,
                target_update_interval=100, exploration_fraction=0.5, net_arch=(32,), seed=0)
    core = Core(agent, env, eval_env=eval_env, progress=False)
    core.learn(steps=3000)
    # a random policy scores 10 / 4 = 2.5; the identity policy 10
    assert np.mean(core.evaluate(episodes=10).returns) >= 9.5


def test_cadence_counters_and_target_updates_follow_sb3():
    agent = DQN(BOX_INFO, learning_starts=300, train_freq=100, gradient_steps=-1, batch_size=8,
                target_update_interval=250, net_arch=(8,), seed=0)
    assert agent.fit_every_steps == 100
    rng = np.random.default_rng(0)
    assert agent.fit(random_batch(rng, 100, n_envs=2)) == {}  # 200 env steps <= learning_starts
    online_before = params(agent.q_net)
    metrics = agent.fit(random_batch(rng, 100, n_envs=2))  # 400 env steps: 250 crossed -> target copied first
    assert metrics["n_updates"] == 200  # gradient_steps=-1: one per env step of the batch
    assert torch.equal(params(agent.target_net), online_before)
    target_before = params(agent.target_net)
    agent.fit(random_batch(rng, 40, n_envs=2))  # 480: no multiple of 250 crossed
    assert torch.equal(params(agent.target_net), target_before)
    online_before = params(agent.q_net)
    agent.fit(random_batch(rng, 10, n_envs=2))  # 500: crossed -> the online net of this fit's start
    assert torch.equal(params(agent.target_net), online_before)
    assert not torch.equal(params(agent.q_net), online_before)


def test_epsilon_warm_up_and_linear_decay():
    agent = DQN(BOX_INFO, learning_starts=100, exploration_fraction=0.5, exploration_final_eps=0.1, seed=0)
    agent.set_horizon(1000)
    obs = np.zeros((4, 3), np.float32)
    assert agent.exploration_rate == 1.0
    for _ in range(25):
        agent.act(obs, explore=True)
    assert agent.behaviour_steps == 100
    assert agent.exploration_rate == pytest.approx(1.0 - 0.9 * 100 / 500)
    agent.behaviour_steps = 600
    assert agent.exploration_rate == pytest.approx(0.1)
    greedy = agent.act(obs, explore=False)
    assert agent.behaviour_steps == 600 and greedy.shape == (4,) and np.all(greedy == greedy[0])


def test_save_load_gives_identical_actions_and_continuation():
    env = make_env("CartPole-v1", seed=0)
    agent = DQN(env.info, learning_starts=64, train_freq=32, batch_size=16, gradient_steps=2, net_arch=(32,),
                prioritized_replay=True, n_steps=2, seed=0)
    Core(agent, env, progress=False).learn(steps=256)
    file = io.BytesIO()
    torch.save(to_safe(agent.state_dict()), file)  # as the checkpoints do
    file.seek(0)
    clone = DQN(env.info, agent.config, seed=99)
    clone.load_state_dict(from_safe(torch.load(file, weights_only=True)))
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(clone.act(obs, explore=False), agent.act(obs, explore=False))
    np.testing.assert_array_equal(clone.act(obs, explore=True), agent.act(obs, explore=True))
    # generator, counters, optimizer, target network and buffer came back too: fitting goes on identically
    batch = random_batch(np.random.default_rng(5), 32, obs_dim=4, n_actions=2)  # float32 rewards: cast on add
    assert clone.fit(batch) == agent.fit(batch)
    assert torch.equal(params(clone.q_net), params(agent.q_net))
    assert torch.equal(params(clone.target_net), params(agent.target_net))


def test_same_seed_gives_identical_parameters():
    def run(seed):
        env = make_env("CartPole-v1", seed=0)
        agent = DQN(env.info, learning_starts=64, train_freq=32, batch_size=16, gradient_steps=4, double_q=True,
                    dueling=True, net_arch=(32,), seed=seed)
        Core(agent, env, progress=False).learn(steps=300)
        return params(agent.q_net)

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_cnn_on_pixels_keeps_uint8_in_the_buffer():
    env = make_env("porcini/PixelGridWorld-v0", seed=0)
    agent = DQN(env.info, learning_starts=32, train_freq=16, batch_size=8, gradient_steps=2, dueling=True,
                features_dim=64, seed=0)
    metrics = Core(agent, env, progress=False).learn(steps=96).last_metrics
    assert np.isfinite(metrics["loss_td"])
    assert agent.buffer.sample(1, np.random.default_rng(0)).obs.dtype == np.uint8
    assert type(agent.q_net.trunk[0]).__name__ == "NatureCNN"


@pytest.mark.parametrize(
    "field, value",
    [("learning_rate", 0.0), ("gamma", 1.5), ("tau", 0.0), ("gradient_steps", -2), ("train_freq", 0),
     ("exploration_final_eps", -0.1), ("n_steps", 0), ("loss", "l1"), ("activation", "swish"),
     ("max_grad_norm", 0.0), ("prioritized_replay_beta0", 2.0), ("device", "nonsense")],
)
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ConfigError, match=f"DQNConfig.{field} = "):
        DQNConfig(**{field: value})


def test_unknown_field_and_continuous_actions_are_refused():
    with pytest.raises(ConfigError, match="no field.*learning_rat\\b"):
        DQN(BOX_INFO, learning_rat=1e-3)
    pendulum = EnvInfo("Pendulum-v1", gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-2, 2, (1,)))
    with pytest.raises(ValueError, match="Discrete.*Pendulum-v1.*SAC"):
        DQN(pendulum)


def test_flat_adam_matches_torch_adam_with_clipping_and_resumes():
    from porcini.algorithms.value_based.common import FlatAdam
    from porcini.networks import MLP

    torch.manual_seed(0)
    ours, ref = MLP(3, 2, (8, 8), "relu"), MLP(3, 2, (8, 8), "relu")
    ref.load_state_dict(ours.state_dict())
    flat = FlatAdam(list(ours.parameters()), lr=1e-2)
    adam = torch.optim.Adam(ref.parameters(), lr=1e-2, foreach=False)
    x = torch.randn(5, 16, 3)

    def loss_of(net, i):
        return (net(x[i]) ** 2).sum() * (1.0 if i % 2 else 50.0)  # every other step the clip binds

    for i in range(5):
        flat.zero_grad()
        loss_of(ours, i).backward()
        flat.clip_grad_norm(1.0)
        flat.step()
        adam.zero_grad()
        loss_of(ref, i).backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
        adam.step()
        torch.testing.assert_close(params(ours), params(ref), rtol=1e-6, atol=1e-7)
    resumed = FlatAdam(list(ours.parameters()), lr=1e-2)
    resumed.load_state_dict(copy.deepcopy(flat.state_dict()))
    for net, opt in ((ours, resumed), (ref, adam)):
        opt.zero_grad()
        loss_of(net, 1).backward()
        opt.step()
    torch.testing.assert_close(params(ours), params(ref), rtol=1e-6, atol=1e-7)


def reference_epsilon_greedy(agent, obs, rng):
    """ε-greedy written plainly with array draws: one ``random(B)``, then ``integers`` for the random envs."""
    eps = agent.exploration_rate
    randomize = rng.random(len(obs)) < eps
    agent.behaviour_steps += len(obs)
    with torch.no_grad():
        greedy = agent.q_net(torch.as_tensor(obs)).argmax(-1).numpy()
    if randomize.all():
        return rng.integers(0, agent.n_actions, size=len(obs))
    if randomize.any():
        return np.where(randomize, rng.integers(0, agent.n_actions, size=len(obs)), greedy)
    return greedy


@pytest.mark.parametrize("n_envs", [1, 4])
@pytest.mark.parametrize("eps", [1.0, 0.5, 0.0])
def test_exploring_actions_follow_the_plain_epsilon_greedy_draws(n_envs, eps):
    """act's shortcuts (a float draw for one env, no comparison at ε = 1) keep the random stream and the actions."""
    agent = DQN(BOX_INFO, learning_starts=0, exploration_initial_eps=eps, exploration_final_eps=eps, seed=3)
    twin = copy.deepcopy(agent)
    rng, obs_rng = np.random.default_rng(3), np.random.default_rng(0)
    rng.bit_generator.state = agent.rng.bit_generator.state
    for _ in range(200):
        obs = obs_rng.normal(size=(n_envs, 3)).astype(np.float32)
        np.testing.assert_array_equal(agent.act(obs, explore=True), reference_epsilon_greedy(twin, obs, rng))
    assert agent.rng.random() == rng.random() and agent.behaviour_steps == twin.behaviour_steps == 200 * n_envs
