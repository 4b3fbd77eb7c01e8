"""On-policy agents (PPO, A2C, REINFORCE, TRPO): fits on toy envs, checkpoints, seeding, truncation, config."""

import copy
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.policy_gradient.a2c import A2C, A2CConfig
from porcini.algorithms.policy_gradient.common import gae_rollout
from porcini.algorithms.policy_gradient.ppo import PPO, PPOConfig
from porcini.algorithms.policy_gradient.reinforce import Reinforce, ReinforceConfig
from porcini.algorithms.policy_gradient.trpo import TRPO, TRPOConfig
from porcini.algorithms.registry import get_algorithm
from porcini.core.batch import TransitionBatch
from porcini.errors import ConfigError
from porcini.experiment.checkpoint import from_safe, to_safe
from porcini.networks.optim import FlatParameters

SMALL = {
    PPO: dict(n_steps=16, batch_size=32, n_epochs=2, net_arch=(16, 16)),
    A2C: dict(n_steps=8, net_arch=(16, 16)),
    Reinforce: dict(fit_every_episodes=2, net_arch=(16, 16)),
    TRPO: dict(n_steps=16, batch_size=32, n_critic_updates=2, cg_max_steps=5, net_arch=(16, 16)),
}
AGENTS = list(SMALL)


def make(agent_cls, env, **overrides):
    return agent_cls(env.info, **{**SMALL[agent_cls], **overrides})


def params_of(agent):
    return {k: v.clone() for k, v in agent.model.state_dict().items()}


@pytest.mark.parametrize("name, cls", [("ppo", PPO), ("a2c", A2C), ("reinforce", Reinforce), ("trpo", TRPO)])
def test_registry_names_resolve_to_the_classes(name, cls):
    assert get_algorithm(name) is cls
    assert cls.name == name


@pytest.mark.parametrize("agent_cls", AGENTS)
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_a_few_fits_change_the_parameters_and_return_finite_metrics(agent_cls, env_id):
    env = make_env(env_id, n_envs=2, seed=0)
    agent = make(agent_cls, env)
    before = params_of(agent)
    core = Core(agent, env, progress=False)
    core.learn(steps=800)  # Pendulum's episodes last 200 steps: REINFORCE fits twice
    assert core.fits >= 2
    assert core.last_metrics and all(math.isfinite(v) for v in core.last_metrics.values())
    after = params_of(agent)
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("agent_cls", AGENTS)
def test_continuous_actions_are_clipped_to_the_bounds_and_mode_is_deterministic(agent_cls):
    env = make_env("Pendulum-v1", n_envs=4, seed=0)
    agent = make(agent_cls, env, log_std_init=1.5)  # std 4.5 on bounds of ±2: most samples fall outside
    obs, _ = env.reset(seed=1)
    actions = np.stack([agent.act(obs, explore=True) for _ in range(50)])
    assert actions.dtype == np.float32 and actions.shape == (50, 4, 1)
    assert actions.min() == -2.0 and actions.max() == 2.0  # clipped, and the bounds are reached
    assert np.array_equal(agent.act(obs, explore=False), agent.act(obs, explore=False))


@pytest.mark.parametrize("agent_cls", AGENTS)
def test_save_load_gives_identical_actions(agent_cls, tmp_path):
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = make(agent_cls, env, seed=3)
    Core(agent, env, progress=False).learn(steps=300)
    file = tmp_path / "agent.pt"
    torch.save(to_safe(agent.state_dict()), file)  # as the checkpoints do
    clone = make(agent_cls, env, seed=99)
    clone.load_state_dict(from_safe(torch.load(file, weights_only=True)))
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert np.array_equal(agent.act(obs, explore=False), clone.act(obs, explore=False))
    # the sampling generator travels too: explored actions repeat draw for draw
    assert np.array_equal(agent.act(obs, explore=True), clone.act(obs, explore=True))
    # and so do the optimizer state and counters: the next fit is the same
    batch_env = make_env("CartPole-v1", n_envs=2, seed=5)
    for a in (agent, clone):
        Core(a, batch_env.spawn(2, 5), progress=False).learn(steps=200)
    assert all(torch.equal(v, params_of(clone)[k]) for k, v in params_of(agent).items())


@pytest.mark.parametrize("agent_cls", AGENTS)
def test_same_seed_twice_gives_identical_parameters(agent_cls):
    def run(seed):
        env = make_env("CartPole-v1", n_envs=2, seed=0)
        agent = make(agent_cls, env, seed=seed)
        Core(agent, env, progress=False).learn(steps=300)
        return params_of(agent)

    first, second, other = run(7), run(7), run(8)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_seeding_leaves_the_global_torch_rng_alone():
    env = make_env("CartPole-v1", n_envs=1, seed=0)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    PPO(env.info, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_rollout_targets_use_values_of_the_true_next_obs(reference_gae):
    """GAE inputs: V(next_obs) on every row, zero after a termination, kept after a truncation."""
    env = make_env("CartPole-v1", n_envs=3, seed=0)
    agent = PPO(env.info, n_steps=6)
    rng = np.random.default_rng(0)
    n_rows, n_envs = 6, 3
    terminated = np.zeros((n_rows, n_envs), bool)
    truncated = np.zeros((n_rows, n_envs), bool)
    terminated[2, 0] = truncated[4, 1] = truncated[1, 2] = terminated[3, 2] = True
    batch = TransitionBatch(
        obs=rng.normal(size=(n_rows, n_envs, 4)).astype(np.float32),
        action=rng.integers(0, 2, (n_rows, n_envs)),
        reward=rng.normal(size=(n_rows, n_envs)),
        next_obs=rng.normal(size=(n_rows, n_envs, 4)).astype(np.float32),
        terminated=terminated, truncated=truncated,
    )
    data = gae_rollout(agent.model, agent._to_torch(batch), 0.9, 0.8)
    value = agent.value(batch.obs.reshape(-1, 4)).reshape(n_rows, n_envs)
    next_value = agent.value(batch.next_obs.reshape(-1, 4)).reshape(n_rows, n_envs)
    expected = reference_gae(batch.reward, value, next_value, terminated, truncated, 0.9, 0.8)
    np.testing.assert_allclose(data.advantage.numpy(), expected.reshape(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(data.returns.numpy(), (expected + value).reshape(-1), rtol=1e-5, atol=1e-5)
    # atol: one batched forward against another differs by float32 rounding, relatively large for values near 0
    np.testing.assert_allclose(data.old_value.numpy(), value.reshape(-1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("agent_cls, overrides, steps", [
    (PPO, dict(n_steps=16, batch_size=64, n_epochs=10, learning_rate=3e-3), 3000),
    (A2C, dict(n_steps=8, learning_rate=3e-3), 4000),
])
def test_truncation_bootstraps_and_termination_does_not(cycle_env, agent_cls, overrides, steps):
    """Reward 1 per step, episodes of 4 steps. Time limit: every state is worth 1/(1-γ) = 5, also the last one.
    A real end: the last state is worth 1. A critic that confused the two would get 1 (or 5) in both."""
    gamma = 0.8
    last = np.eye(4, dtype=np.float32)[3:4]
    values = {}
    for end in ("truncated", "terminated"):
        env = make_env(lambda e=end: cycle_env(4, e), n_envs=4, seed=0)
        agent = agent_cls(env.info, gamma=gamma, net_arch=(32,), **overrides)
        Core(agent, env, progress=False).learn(steps=steps)
        values[end] = float(agent.value(last)[0])
    assert values["truncated"] == pytest.approx(1 / (1 - gamma), abs=0.25)
    assert values["terminated"] == pytest.approx(1.0, abs=0.1)


def test_reinforce_baseline_bootstraps_truncated_episodes(cycle_env):
    gamma = 0.8
    env = make_env(lambda: cycle_env(4, "truncated"), n_envs=2, seed=0)
    agent = Reinforce(env.info, gamma=gamma, net_arch=(32,), learning_rate=3e-3, fit_every_episodes=2)
    Core(agent, env, progress=False).learn(steps=3000)
    assert float(agent.value(np.eye(4, dtype=np.float32)[3:4])[0]) == pytest.approx(1 / (1 - gamma), abs=0.25)


def test_reinforce_without_baseline_leaves_out_unfinished_episodes(cycle_env):
    env = make_env(lambda: cycle_env(4, "terminated"), n_envs=1, seed=0)
    agent = Reinforce(env.info, baseline=False)
    terminated = np.zeros((6, 2), bool)
    terminated[3, 0] = terminated[1, 1] = True  # env 0: rows 0-3 end; env 1: rows 0-1 end, 2-5 run on
    batch = TransitionBatch(np.zeros((6, 2, 4), np.float32), np.zeros((6, 2), np.int64), np.ones((6, 2)),
                            np.zeros((6, 2, 4), np.float32), terminated, np.zeros((6, 2), bool))
    metrics = agent.fit(batch)
    assert metrics["rows_used"] == 6.0
    assert metrics["return_mean"] == pytest.approx(np.mean([1 + .99 + .99**2 + .99**3, 1 + .99 + .99**2, 1 + .99, 1,
                                                            1 + .99, 1]))


def test_ppo_learning_rate_and_clip_range_decay_linearly_with_fitted_steps():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = PPO(env.info, n_steps=10, batch_size=20, n_epochs=1, learning_rate=1e-3, clip_range=0.2,
                learning_rate_schedule="linear", clip_range_schedule="linear")
    core = Core(agent, env, progress=False)
    core.learn(steps=40, horizon=100)  # two fits of 20 steps: progress remaining 1 - 40/100
    assert core.last_metrics["learning_rate"] == pytest.approx(1e-3 * 0.6)
    assert core.last_metrics["clip_range"] == pytest.approx(0.2 * 0.6)
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.6)
    core.learn(steps=100, horizon=100)  # past the horizon: the schedules stay at their end, fitting still works
    assert core.last_metrics["learning_rate"] == 0.0
    assert math.isfinite(core.last_metrics["loss_policy"])


def test_ppo_target_kl_stops_the_epochs_early():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    kw = dict(n_steps=64, batch_size=16, n_epochs=10, learning_rate=1e-2)  # 8 minibatches x 10 epochs per fit
    free = PPO(env.info, **kw)
    free_core = Core(free, env, progress=False)
    free_core.learn(steps=128)
    stopped = PPO(env.info, target_kl=1e-6, **kw)
    stopped_core = Core(stopped, env.spawn(2, 0), progress=False)
    stopped_core.learn(steps=128)
    assert free_core.last_metrics["gradient_steps"] == 80
    assert 1 <= stopped_core.last_metrics["gradient_steps"] < 80
    assert adam_steps(free) == 80 and adam_steps(stopped) == stopped_core.last_metrics["gradient_steps"]
    free_core.learn(steps=128)  # n_updates counts over the agent's life, gradient_steps within the fit
    assert free_core.last_metrics["gradient_steps"] == 80 and free_core.last_metrics["n_updates"] == 160
    assert free.n_updates == adam_steps(free) == 160
    restored = PPO(env.info, **kw)
    restored.load_state_dict(free.state_dict())
    assert restored.n_updates == 160


def adam_steps(agent):
    state = agent.optimizer.state_dict()["state"]
    return int(next(iter(state.values()))["step"])


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_trpo_policy_step_stays_in_the_trust_region(env_id):
    from porcini.networks.kl import kl_divergence

    env = make_env(env_id, n_envs=2, seed=0)
    agent = TRPO(env.info, n_steps=64, target_kl=0.005)
    seen = {}
    fit = agent.fit

    def spy(batch):
        seen.update(batch=batch, before=copy.deepcopy(agent.model))
        return fit(batch)

    agent.fit = spy
    core = Core(agent, env, progress=False)
    for _ in range(3):
        core.learn(steps=128)
        metrics = core.last_metrics
        assert metrics["line_search_success"] == 1.0
        assert 0 < metrics["kl_divergence"] < 0.005
        obs = torch.from_numpy(seen["batch"].obs.reshape(-1, *env.info.obs_shape))
        with torch.no_grad():  # the KL of the step, measured independently from a copy of the old policy
            kl = kl_divergence(seen["before"].policy(obs), agent.model.policy(obs)).mean()
        assert float(kl) == pytest.approx(metrics["kl_divergence"], rel=1e-4)


def test_flat_parameters_share_storage_with_the_module():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    flat = FlatParameters(net.parameters())
    net(torch.randn(5, 3)).square().sum().backward()
    reference = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    assert torch.equal(flat.grad, reference) and flat.grad.abs().sum() > 0
    for p in net.parameters():
        p.grad = None  # what zero_grad(set_to_none=True) would do
    flat.zero_grad()
    assert all(p.grad is not None and p.grad.abs().sum() == 0 for p in net.parameters())
    with torch.no_grad():
        flat.data.add_(1.0)
    assert torch.equal(torch.cat([p.reshape(-1) for p in net.parameters()]), flat.data.detach())
    net(torch.randn(5, 3)).square().sum().backward()
    flat.clip_grad_norm(1e-3)
    assert float(flat.grad.norm()) == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize("config_cls, field, value", [
    (PPOConfig, "gamma", 1.5), (PPOConfig, "batch_size", 0), (PPOConfig, "clip_range", 0.0),
    (PPOConfig, "target_kl", -1.0), (PPOConfig, "learning_rate_schedule", "cosine"),
    (A2CConfig, "n_steps", 0), (A2CConfig, "learning_rate", -1.0), (ReinforceConfig, "fit_every_episodes", 0),
    (TRPOConfig, "line_search_shrinking_factor", 1.0), (TRPOConfig, "cg_max_steps", 0),
    (PPOConfig, "device", "toaster"),
])
def test_invalid_config_values_raise_errors_naming_the_field(config_cls, field, value):
    with pytest.raises(ConfigError, match=f"{config_cls.__name__}.{field} = "):
        config_cls(**{field: value})


def test_unknown_fields_are_named():
    env = make_env("CartPole-v1", n_envs=1, seed=0)
    with pytest.raises(ConfigError, match="no field.*learning_rat"):
        PPO(env.info, learning_rat=1e-3)


def test_unsupported_action_space_is_rejected():
    from porcini.envs.info import EnvInfo

    info = EnvInfo("multi", gym.spaces.Box(-1.0, 1.0, (3,), np.float32), gym.spaces.Tuple([gym.spaces.Discrete(2)] * 2))
    with pytest.raises(ValueError, match="Discrete, Box, MultiDiscrete or MultiBinary action space"):
        PPO(info)

