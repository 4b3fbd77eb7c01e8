"""IQL, CQL and discrete CQL: targets and penalties against references, checkpoints, seeding, refusals, learning."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms import ALGORITHMS, CQL, IQL, DiscreteCQL, get_algorithm
from porcini.algorithms.actor_critic.common import as_sample
from porcini.algorithms.offline.cql import CQLConfig
from porcini.algorithms.offline.discrete_cql import DiscreteCQLConfig
from porcini.algorithms.offline.iql import IQLConfig
from porcini.algorithms.value_based.dqn import DQN
from porcini.core.batch import TransitionBatch
from porcini.core.evaluation import run_episodes
from porcini.data import collect_dataset
from porcini.errors import ConfigError, UnsupportedSpaceError
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint
from porcini.functional import cql_penalty, polyak_update

CONTINUOUS = {"iql": IQL, "cql": CQL}
SMALL = {"net_arch": (32, 32), "batch_size": 32}
STORE_ONLY = 10**9  # learning_starts that makes fit only store transitions: the tests run the updates themselves


def params(agent: Any) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.detach().clone() for m, mod in agent.modules.items() for k, v in mod.state_dict().items()}


def pendulum_batch(t: int, seed: int = 0, terminated: Any = None, truncated: Any = None) -> TransitionBatch:
    rng = np.random.default_rng(seed)
    return TransitionBatch(
        obs=rng.uniform(-1, 1, (t, 1, 3)).astype(np.float32), action=rng.uniform(-2, 2, (t, 1, 1)).astype(np.float32),
        reward=rng.normal(size=(t, 1)).astype(np.float32), next_obs=rng.uniform(-1, 1, (t, 1, 3)).astype(np.float32),
        terminated=np.zeros((t, 1), bool) if terminated is None else np.asarray(terminated, bool).reshape(t, 1),
        truncated=np.zeros((t, 1), bool) if truncated is None else np.asarray(truncated, bool).reshape(t, 1))


def offline_updates(agent: Any, n: int) -> dict[str, float]:
    """``n`` gradient steps of an actor-critic agent on its replay buffer, as the offline loop runs them."""
    bs = agent.config.batch_size
    sample = as_sample(agent.buffer.sample(n * bs, agent.rng), agent.device, agent.config.gamma,
                       agent.info.observation_space)
    metrics: dict[str, torch.Tensor] = {}
    for k in range(n):
        metrics = agent.gradient_step(sample.select(slice(k * bs, (k + 1) * bs)))
        agent.n_updates += 1
    return {key: value.item() for key, value in metrics.items()}


def offline_q_updates(agent: DiscreteCQL, n: int, target_every: int) -> None:
    """``n`` gradient steps of a DQN-family agent on its replay buffer, copying the target every ``target_every``."""
    for _ in range(n // target_every):
        polyak_update(agent.target_net, agent.q_net, 1.0)
        agent._train_uniform(target_every)


def stored(cls: type, batch: TransitionBatch, **overrides: Any) -> Any:
    """An agent whose replay buffer holds ``batch`` (added by ``fit``, which runs no update)."""
    env = make_env("Pendulum-v1") if cls in CONTINUOUS.values() else make_env("CartPole-v1")
    agent = cls(env.info, **{**SMALL, "learning_starts": STORE_ONLY, **overrides})
    assert agent.fit(batch) == {} or cls is DiscreteCQL
    return agent


# ---------------------------------------------------------------------------------------------- targets, penalties


def test_iql_target_bootstraps_from_the_value_of_truncated_successors_only(member_q):
    terminated = [0, 1, 0, 0, 1, 0]
    truncated = [0, 0, 1, 0, 0, 1]
    agent = stored(IQL, pendulum_batch(6, terminated=terminated, truncated=truncated), gamma=0.9)
    s = as_sample(agent.buffer.gather(np.arange(6)), agent.device, agent.config.gamma)
    target = agent.critic_target_values(s)
    with torch.no_grad():
        v = member_q(agent.value, 0, s.next_obs)[:, 0]
    for i in range(6):
        expected = float(s.reward[i]) + (0.0 if terminated[i] else 0.9 * float(v[i]))
        assert float(target[i]) == pytest.approx(expected, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("backup_entropy", [False, True])
def test_cql_target_is_the_min_of_the_target_critics_with_entropy_only_when_asked(member_q, backup_entropy):
    terminated, truncated = [1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0]
    agent = stored(CQL, pendulum_batch(6, seed=1, terminated=terminated, truncated=truncated), gamma=0.9,
                   backup_entropy=backup_entropy)
    s = as_sample(agent.buffer.gather(np.arange(6)), agent.device, agent.config.gamma)
    state = agent.generator.get_state()
    target = agent.critic_target_values(s, torch.tensor(0.37))
    agent.generator.set_state(state)
    with torch.no_grad():
        next_action, next_log_prob = agent.policy(s.next_obs).rsample_with_log_prob(agent.generator)
        x = torch.cat([s.next_obs, next_action], -1)
        q = [member_q(agent.critic_target, k, x)[:, 0] for k in range(2)]
    for i in range(6):
        value = min(float(q[0][i]), float(q[1][i])) - (0.37 * float(next_log_prob[i]) if backup_entropy else 0.0)
        expected = float(s.reward[i]) + (0.0 if terminated[i] else 0.9 * value)
        assert float(target[i]) == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_cql_critic_loss_samples_three_proposals_and_matches_a_per_member_reference(member_q):
    agent = stored(CQL, pendulum_batch(8, seed=2), cql_n_actions=4, cql_alpha=2.5)
    s = as_sample(agent.buffer.gather(np.arange(8)), agent.device, agent.config.gamma)
    target = torch.randn(8, generator=torch.Generator().manual_seed(0))
    state = agent.generator.get_state()
    loss, loss_td, penalty = agent.critic_loss(s, target)
    agent.generator.set_state(state)
    actions, log_density = agent.sampled_actions(s)
    assert actions.shape == (8, 12, 1) and log_density.shape == (8, 12)
    torch.testing.assert_close(log_density[:, :4], torch.full((8, 4), -math.log(2.0)))  # uniform on [-1, 1]
    assert actions.abs().max() <= 1
    with torch.no_grad():
        sampled = torch.stack([torch.stack([member_q(agent.critic, k, torch.cat(
            [s.obs[i].expand(12, 3), actions[i]], -1))[:, 0] for i in range(8)]) for k in range(2)])
        q = torch.stack([member_q(agent.critic, k, torch.cat([s.obs, s.action], -1))[:, 0] for k in range(2)])
    expected_penalty = cql_penalty(sampled, log_density, q)["loss_cql"]
    expected_td = ((q - target) ** 2).mean()
    torch.testing.assert_close(penalty.detach(), expected_penalty, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss_td.detach(), expected_td, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss.detach(), 2 * (expected_td + 2.5 * expected_penalty), rtol=1e-5, atol=1e-5)


def test_cql_alpha_rises_above_the_target_gap_and_falls_below_it():
    batch = pendulum_batch(64, seed=3)
    high = stored(CQL, batch, cql_target_gap=-10.0)
    low = stored(CQL, batch, cql_target_gap=10.0)
    for agent in (high, low):
        offline_updates(agent, 5)
    assert float(high.cql_alpha) > 1.0 > float(low.cql_alpha)
    assert high.optimizers["actor"].param_groups[0]["lr"] == 1e-4  # the paper's actor step size, below 3e-4
    fixed = stored(CQL, batch, cql_alpha=3.0)
    offline_updates(fixed, 3)
    assert float(fixed.cql_alpha) == 3.0 and "cql_alpha" not in fixed.optimizers


def test_discrete_cql_without_penalty_is_dqn_and_with_it_adds_the_penalty():
    env = make_env("CartPole-v1", seed=0)
    data = collect_dataset(env, lambda obs: np.zeros(len(obs), dtype=np.int64), steps=200, seed=0).batch
    runs = {}
    for name, cls, extra in (("dqn", DQN, {}), ("cql0", DiscreteCQL, {"cql_alpha": 0.0}),
                             ("cql", DiscreteCQL, {"cql_alpha": 1.0})):
        agent = cls(env.info, learning_starts=STORE_ONLY, batch_size=16, **extra)
        agent.fit(data)
        offline_q_updates(agent, 20, target_every=10)
        runs[name] = agent
    for key, value in params(runs["dqn"]).items():
        assert torch.equal(value, params(runs["cql0"])[key]), key
    assert not all(torch.equal(v, params(runs["cql"])[k]) for k, v in params(runs["dqn"]).items())
    # the data only ever took action 0: the penalty lowers Q(s, 1) relative to Q(s, 0)
    obs = data.obs[:, 0]
    gap = {name: (a.q_values(obs)[:, 0] - a.q_values(obs)[:, 1]).mean() for name, a in runs.items()}
    assert gap["cql"] > gap["dqn"]


# ------------------------------------------------------------------------------- updates, checkpoints, seeding


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_gradient_steps_on_a_fixed_batch_change_every_network_and_keep_losses_finite(name):
    agent = stored(CONTINUOUS[name], pendulum_batch(100))
    before = params(agent)
    metrics = offline_updates(agent, 10)
    assert metrics and all(math.isfinite(v) for v in metrics.values())
    after = params(agent)
    for key in before:
        assert not torch.equal(before[key], after[key]), f"{key} did not change"


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_online_fits_through_core_update_every_network(name):
    env = make_env("Pendulum-v1", seed=0)
    agent = CONTINUOUS[name](env.info, **SMALL, learning_starts=50)
    before = params(agent)
    result = Core(agent, env, progress=False).learn(steps=100)
    assert agent.n_updates == 50 and all(math.isfinite(v) for v in result.last_metrics.values())
    assert all(not torch.equal(before[k], v) for k, v in params(agent).items())


def test_discrete_cql_fits_online_and_reports_both_terms():
    env = make_env("CartPole-v1", seed=0)
    agent = DiscreteCQL(env.info, learning_starts=32, train_freq=16, batch_size=8, target_update_interval=32)
    before = params(agent)
    metrics = Core(agent, env, progress=False).learn(steps=96).last_metrics
    assert {"loss_td", "loss_cql"} <= set(metrics) and all(math.isfinite(v) for v in metrics.values())
    assert all(not torch.equal(before[k], v) for k, v in params(agent).items())


def trained(name: str, seed: int = 0) -> tuple[Any, Any]:
    if name == "discrete_cql":
        env = make_env("CartPole-v1", seed=seed)
        agent = DiscreteCQL(env.info, seed=seed, learning_starts=32, train_freq=4, batch_size=8,
                            target_update_interval=40)
    else:
        env = make_env("Pendulum-v1", seed=seed)
        agent = CONTINUOUS[name](env.info, seed=seed, **SMALL, learning_starts=50)
    Core(agent, env, progress=False).learn(steps=120)
    return agent, env


@pytest.mark.parametrize("name", ["iql", "cql", "discrete_cql"])
def test_save_load_gives_identical_actions_and_identical_continuation(name, tmp_path):
    agent, env = trained(name)
    save_checkpoint(tmp_path / "agent.pt", agent.state_dict(), {"algo": name})
    clone = type(agent)(env.info, **{**dict(agent.config.__dict__), "seed": 123})
    clone.load_state_dict(load_checkpoint(tmp_path / "agent.pt", {"algo": name}))
    obs = np.random.default_rng(0).uniform(-0.05, 0.05, (7, *env.info.observation_space.shape)).astype(np.float32)
    for explore in (False, True, True):
        np.testing.assert_array_equal(agent.act(obs, explore=explore), clone.act(obs, explore=explore))
    batch = pendulum_batch(8, seed=3) if name != "discrete_cql" else collect_dataset(
        make_env("CartPole-v1", seed=5), lambda o: np.ones(len(o), dtype=np.int64), steps=8, seed=5).batch
    agent.fit(batch)
    clone.fit(batch)
    for key, value in params(agent).items():
        assert torch.equal(value, params(clone)[key]), key


@pytest.mark.parametrize("name", ["iql", "cql", "discrete_cql"])
def test_same_seed_gives_identical_parameters_and_another_seed_does_not(name):
    first, second, other = (params(trained(name, seed=s)[0]) for s in (4, 4, 5))
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


# --------------------------------------------------------------------------------------- refusals, registry


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_agents_refuse_discrete_actions(name):
    with pytest.raises(UnsupportedSpaceError, match=r"needs a Box action space; CartPole-v1 has Discrete\(2\)"):
        CONTINUOUS[name](make_env("CartPole-v1").info)


def test_discrete_cql_refuses_continuous_actions():
    with pytest.raises(UnsupportedSpaceError, match=r"DiscreteCQL needs a Discrete\(n\) action space.*Pendulum"):
        DiscreteCQL(make_env("Pendulum-v1").info)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: IQLConfig(expectile=1.0), "expectile"),
        (lambda: IQLConfig(temperature=-1.0), "temperature"),
        (lambda: IQLConfig(max_weight=0.0), "max_weight"),
        (lambda: CQLConfig(cql_alpha="autox"), "cql_alpha"),
        (lambda: CQLConfig(cql_alpha=-1.0), "cql_alpha"),
        (lambda: CQLConfig(cql_n_actions=0), "cql_n_actions"),
        (lambda: CQLConfig(actor_learning_rate=0.0), "actor_learning_rate"),
        (lambda: DiscreteCQLConfig(cql_alpha=-0.5), "cql_alpha"),
        (lambda: IQL(make_env("Pendulum-v1").info, expectil=0.7), "expectil"),
    ],
)
def test_config_errors_name_the_field(make, field):
    with pytest.raises(ConfigError, match=field):
        make()


def test_registered_and_exported():
    for name, cls in (("iql", IQL), ("cql", CQL), ("discrete_cql", DiscreteCQL)):
        assert name in ALGORITHMS and get_algorithm(name) is cls and cls.name == name


# -------------------------------------------------------------------------------------------------- learning


def test_discrete_cql_learns_the_best_action_of_a_chain_dataset():
    """From a behaviour that goes forward 70% of the time, the greedy policy goes forward in every state."""
    env = make_env("porcini/Chain-v0", seed=0, max_episode_steps=100)
    rng = np.random.default_rng(0)
    data = collect_dataset(env, lambda obs: (rng.random(len(obs)) < 0.3).astype(np.int64), steps=3000, seed=0)
    agent = DiscreteCQL(env.info, learning_starts=STORE_ONLY, gamma=0.9, batch_size=64, learning_rate=1e-3,
                        net_arch=(32,), cql_alpha=0.5)
    agent.fit(data.batch)
    offline_q_updates(agent, 1500, target_every=100)
    assert agent.q_values(np.arange(5)).argmax(-1).tolist() == [0, 0, 0, 0, 0]
    record = run_episodes(agent, make_env("porcini/Chain-v0", seed=1, max_episode_steps=100), 5, explore=False)
    assert record.mean_return() > 250  # always forward: 290-420 on these episodes (slips); always back: 150-170


@pytest.mark.parametrize("name", ["iql", "cql", "td3_bc", "td3", "sac"])
def test_learning_offline_without_a_dataset_says_to_add_one(name):
    # it failed inside the replay buffer ("the buffer is empty; add transitions first"), naming no fix for an agent
    agent = get_algorithm(name)(make_env("Pendulum-v1").info, net_arch=(8, 8))
    with pytest.raises(ValueError, match=r"update: no transitions; call add_dataset\(dataset\) first"):
        Core(agent, make_env("Pendulum-v1"), progress=False).learn_offline(1)
