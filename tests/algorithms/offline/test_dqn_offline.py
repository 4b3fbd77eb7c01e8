"""DQN and discrete CQL learning from a dataset: offline gradient steps, target syncs, mixing, targets, checkpoints."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms import QRDQN, DiscreteCQL
from porcini.algorithms.value_based.dqn import DQN
from porcini.core.batch import TransitionBatch
from porcini.data import Dataset, collect_dataset
from porcini.errors import ConfigError
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint
from porcini.experiment.offline import check_learns_from_data

AGENTS = {"dqn": DQN, "discrete_cql": DiscreteCQL}
SMALL = {"net_arch": (16, 16), "batch_size": 16, "learning_rate": 1e-3}


def params(agent: Any) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.detach().clone() for m, mod in agent.modules.items() for k, v in mod.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def cartpole_data(steps: int = 300, seed: int = 0) -> Dataset:
    """A noisy push-toward-the-lean controller's CartPole transitions."""
    rng = np.random.default_rng(seed)

    def policy(obs: np.ndarray) -> np.ndarray:
        action = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)
        return np.where(rng.random(len(obs)) < 0.3, rng.integers(0, 2, len(obs)), action)

    return collect_dataset(make_env("CartPole-v1", seed=seed), policy, steps=steps, seed=seed)


def with_data(name: str, data: Dataset | None = None, ratio: float = 0.5, **overrides: Any) -> Any:
    agent = AGENTS[name](make_env("CartPole-v1").info, **{**SMALL, **overrides})
    agent.add_dataset(cartpole_data() if data is None else data, ratio)
    return agent


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_learn_offline_takes_exactly_n_gradient_steps_and_no_env_step(name):
    agent = with_data(name, target_update_interval=10)
    env = make_env("CartPole-v1", seed=0)
    before = params(agent)
    result = Core(agent, env, progress=False).learn_offline(37, steps_per_epoch=20)
    assert result.steps == 37 and agent.n_updates == 37
    assert agent.steps_seen == 0 and agent.behaviour_steps == 0 and len(agent.buffer) == 0  # no env step, no act
    assert result.last_metrics["n_updates"] == 37 and np.isfinite(result.last_metrics["loss_td"])
    assert ("loss_cql" in result.last_metrics) == (name == "discrete_cql")
    assert all(not torch.equal(before[k], v) for k, v in params(agent).items())


def test_the_target_network_syncs_every_interval_gradient_steps_offline():
    agent = with_data("dqn", target_update_interval=5)
    online_at_start_of_segment: list[tuple[int, dict[str, torch.Tensor]]] = []
    train = agent._train

    def spy(n: int) -> Any:
        online_at_start_of_segment.append((n, {k: v.detach().clone() for k, v in agent.q_net.state_dict().items()}))
        return train(n)

    agent._train = spy
    initial_target = {k: v.clone() for k, v in agent.target_net.state_dict().items()}
    agent.update(3)
    assert same(agent.target_net.state_dict(), initial_target)  # 3 < 5: not yet
    agent.update(9)  # n_updates 3 -> 12: the call is cut after steps 5 and 10, where the target is synced
    assert [n for n, _ in online_at_start_of_segment] == [3, 2, 5, 2]
    assert agent.n_updates == 12
    # the target holds the online network as it was after gradient step 10 (= at the start of the last segment)
    assert same(agent.target_net.state_dict(), online_at_start_of_segment[-1][1])
    assert not same(agent.target_net.state_dict(), agent.q_net.state_dict())


def test_epsilon_does_not_advance_offline_and_a_dataset_skips_the_random_warm_up():
    agent = with_data("dqn", exploration_initial_eps=0.5, exploration_final_eps=0.1, learning_starts=1000)
    Core(agent, make_env("CartPole-v1", seed=0), progress=False).learn_offline(30)
    agent.set_horizon(100)  # what Core.learn does when the online phase starts
    assert agent.behaviour_steps == 0 and agent.exploration_rate == 0.5


@pytest.mark.parametrize(("ratio", "from_data"), [(0.25, 4), (0.5, 8), (1.0, 16)])
def test_online_minibatches_draw_the_dataset_share_and_offline_ones_all_of_it(ratio, from_data):
    data = cartpole_data()
    marked = Dataset(TransitionBatch(data.batch.obs, data.batch.action, np.full_like(data.batch.reward, 7.0),
                                     data.batch.next_obs, data.batch.terminated, data.batch.truncated))
    agent = with_data("discrete_cql", marked, ratio, train_freq=4, gradient_steps=2)
    rewards: list[torch.Tensor] = []
    sample = agent._sample

    def spy(n: int, lead: tuple[int, ...]) -> Any:
        s = sample(n, lead)
        rewards.append(s.reward.reshape(-1, 16))
        return s

    agent._sample = spy
    core = Core(agent, make_env("CartPole-v1", seed=0), progress=False)
    core.learn_offline(3)
    assert all(bool((r == 7.0).all()) for r in rewards)  # no online transition yet: the dataset alone
    rewards.clear()
    core.learn(steps=40)  # CartPole's rewards are 1: a 7 comes from the dataset
    assert agent.n_updates == 3 + 20 and len(rewards) == 10  # no warm-up with a dataset: every fit trains
    counts = torch.cat(rewards).eq(7.0).sum(dim=1)
    assert counts.tolist() == [from_data] * 20


def test_discrete_cql_targets_bootstrap_a_truncated_transition_and_not_a_terminated_one():
    terminated = np.array([0, 1, 0, 0, 1, 0], bool)[:, None]
    truncated = np.array([0, 0, 1, 0, 0, 1], bool)[:, None]
    rng = np.random.default_rng(0)
    data = Dataset(TransitionBatch(
        obs=rng.uniform(-0.1, 0.1, (6, 1, 4)).astype(np.float32), action=rng.integers(0, 2, (6, 1)),
        reward=np.arange(1.0, 7.0)[:, None], next_obs=rng.uniform(-1, 1, (6, 1, 4)).astype(np.float32),
        terminated=terminated, truncated=truncated))
    agent = with_data("discrete_cql", data, gamma=0.9)
    agent.update(3)  # the online and target networks differ from their initial copies
    s = agent._sample(64, (64,))  # the draw update takes: here all of it from the dataset
    y = agent._target(s, agent.target_net(s.next_obs))
    next_obs = data.batch.next_obs[:, 0]
    checked = set()
    for i in range(64):
        row = int(s.reward[i]) - 1  # rewards 1..6 name the rows
        with torch.no_grad():
            hidden = torch.from_numpy(next_obs[row])
            layers = [m for m in agent.target_net.modules() if isinstance(m, torch.nn.Linear)]
            for k, layer in enumerate(layers):  # the target network's MLP, layer by layer
                hidden = hidden @ layer.weight.T + layer.bias
                hidden = torch.relu(hidden) if k < len(layers) - 1 else hidden
        expected = (row + 1.0) + (0.0 if terminated[row, 0] else 0.9 * float(hidden.max()))
        assert float(y[i]) == pytest.approx(expected, rel=1e-5, abs=1e-5), row
        checked.add(row)
    assert checked == set(range(6))


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_save_load_after_offline_learning_gives_identical_actions_and_updates(name, tmp_path):
    data = cartpole_data()
    agent = with_data(name, data, seed=1, target_update_interval=7)
    Core(agent, make_env("CartPole-v1", seed=0), progress=False).learn_offline(20)
    save_checkpoint(tmp_path / "agent.pt", agent.state_dict(), {"algo": name})
    clone = with_data(name, data, seed=99, target_update_interval=7)
    clone.load_state_dict(load_checkpoint(tmp_path / "agent.pt", {"algo": name}))
    obs = np.random.default_rng(0).uniform(-0.2, 0.2, (9, 4)).astype(np.float32)
    agent.set_horizon(100)
    clone.set_horizon(100)
    for explore in (False, True, True):
        np.testing.assert_array_equal(agent.act(obs, explore=explore), clone.act(obs, explore=explore))
    agent.update(11)
    clone.update(11)
    assert same(params(agent), params(clone))


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_same_seed_gives_the_same_parameters_offline_and_another_seed_does_not(name):
    data = cartpole_data()

    def learned(seed: int) -> dict[str, torch.Tensor]:
        agent = with_data(name, data, seed=seed, target_update_interval=10)
        Core(agent, make_env("CartPole-v1", seed=seed), progress=False).learn_offline(25)
        return params(agent)

    first, second, other = learned(4), learned(4), learned(5)
    assert same(first, second) and not same(first, other)


@pytest.mark.parametrize(("cls", "extra"), [(QRDQN, {"n_quantiles": 5, "double_q": True}),
                                           (DQN, {"double_q": True, "dueling": True})])
def test_qr_dqn_and_double_dqn_learn_offline_through_the_same_kit(cls, extra):
    agent = cls(make_env("CartPole-v1").info, **SMALL, **extra)
    agent.add_dataset(cartpole_data())
    before = params(agent)
    metrics = Core(agent, make_env("CartPole-v1", seed=0), progress=False).learn_offline(12).last_metrics
    assert agent.n_updates == 12 and len(agent.buffer) == 0 and np.isfinite(metrics["loss_td"])
    assert all(not torch.equal(before[k], v) for k, v in params(agent).items() if k.startswith("q_net"))


@pytest.mark.parametrize(("field", "value", "fix"), [("n_steps", 3, "set n_steps=1"),
                                                    ("prioritized_replay", True, "set prioritized_replay=False")])
def test_a_dataset_with_n_step_or_prioritized_replay_is_refused_naming_the_fix(field, value, fix):
    agent = DQN(make_env("CartPole-v1").info, **{field: value})
    with pytest.raises(ConfigError, match=f"one-step uniform replay only, but {field} = {value}; {fix}$"):
        agent.add_dataset(cartpole_data())
    assert agent.dataset is None


def test_a_bad_ratio_or_no_data_is_refused():
    agent = DQN(make_env("CartPole-v1").info)
    with pytest.raises(ValueError, match=r"dataset_ratio = 1.5 is invalid: must be in \[0, 1\]"):
        agent.add_dataset(cartpole_data(), 1.5)
    with pytest.raises(ValueError, match="no transitions; call add_dataset"):
        agent.update(1)


def test_an_agent_without_dataset_support_gets_a_config_error_naming_those_with_it():
    with pytest.raises(ConfigError, match="ppo does not learn from a dataset; use .*discrete_cql.*dqn"):
        check_learns_from_data(type("PPOLike", (), {}), "ppo")
    for name in ("dqn", "qr_dqn", "discrete_cql"):
        check_learns_from_data(DQN if name == "dqn" else QRDQN if name == "qr_dqn" else DiscreteCQL, name)
