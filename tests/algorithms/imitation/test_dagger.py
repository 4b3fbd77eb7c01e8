"""DAgger: β schedule, batched labelling, aggregation, checkpoints and seeding (learning is in the slow suite)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.imitation import DAgger, agent_expert
from porcini.algorithms.offline.bc import BC
from porcini.core.batch import TransitionBatch
from porcini.data import collect_dataset
from porcini.errors import ConfigError
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint


class CountingExpert:
    """CartPole's push-toward-the-fall controller, recording the batch size of every call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        self.calls.append(len(obs))
        return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def pendulum_expert(obs: np.ndarray) -> np.ndarray:
    """A torque against the angular velocity (any deterministic function of the state will do here)."""
    return np.clip(-1.5 * obs[:, 2:3], -2.0, 2.0).astype(np.float32)


def small(**overrides):
    return {"net_arch": (32,), "batch_size": 32, "round_steps": 40, "updates_per_round": 5, "seed": 0, **overrides}


def test_round_0_is_the_expert_alone_and_beta_decays_by_round():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    expert = CountingExpert()
    agent = DAgger(env.info, expert=expert, **small(beta_decay=0.5))
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(agent.act(obs, explore=True), expert(obs))  # β = 1 before the first fit
    betas = []
    for _ in range(3):
        Core(agent, env, progress=False).learn(steps=40)
        betas.append(agent.beta)
    assert betas == [0.5, 0.25, 0.125] and agent.rounds == 3


def test_the_expert_labels_each_rounds_states_in_one_call_and_acts_no_more_once_beta_is_0():
    env = make_env("CartPole-v1", n_envs=4, seed=0)
    expert = CountingExpert()
    agent = DAgger(env.info, expert=expert, **small(beta_decay=0.0))
    Core(agent, env, progress=False).learn(steps=40)  # round 0: β = 1, the expert acts at each step, then labels
    assert expert.calls == [4] * 10 + [40]
    expert.calls.clear()
    Core(agent, env, progress=False).learn(steps=80)  # β = 0: the learner acts; one labelling call per round
    assert expert.calls == [40, 40] and agent.labels == 120 and agent.rounds == 3


def test_the_aggregated_data_holds_every_visited_state_with_the_experts_label():
    env = make_env("Pendulum-v1", n_envs=2, seed=0)
    demos = collect_dataset(make_env("Pendulum-v1", seed=1), pendulum_expert, steps=50, seed=1)
    agent = DAgger(env.info, expert=pendulum_expert, **small(beta_decay=0.5))
    agent.add_dataset(demos)
    Core(agent, env, progress=False).learn(steps=120)
    data = agent.dataset.batch.flatten()
    assert len(agent.dataset) == 50 + 120 and agent.labels == 120
    obs = data.obs[:, 0]
    expected = 2.0 * (pendulum_expert(obs) + 2.0) / 4.0 - 1.0  # labels stored as BC's loss takes them, in [-1, 1]
    np.testing.assert_allclose(data.action[:, 0], expected, atol=1e-6)
    # the visited states are the env's: successive rows of one env chain through next_obs
    visited = data.obs[50:, 0].reshape(-1, 2, 3)  # [T, B, obs] of the rounds, time-major
    np.testing.assert_array_equal(visited[1:], data.next_obs[50:, 0].reshape(-1, 2, 3)[:-1])


def test_each_round_takes_its_gradient_steps_on_all_the_data():
    env = make_env("CartPole-v1", seed=0)
    agent = DAgger(env.info, expert=CountingExpert(), **small(updates_per_round=7))
    metrics = agent.fit(_batch(env, 40))
    assert agent.n_updates == 7 and metrics["dataset_size"] == 40 and metrics["rounds"] == 1
    assert np.isfinite(metrics["loss_bc"])


def _batch(env, steps: int, seed: int = 0) -> TransitionBatch:
    data = collect_dataset(env, lambda obs: np.zeros(len(obs), dtype=np.int64), steps=steps, seed=seed)
    return data.batch


def test_an_expert_that_answers_with_the_wrong_shape_is_named():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = DAgger(env.info, expert=lambda obs: np.zeros(1, dtype=np.int64), **small())
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expert returned actions of shape \(1,\).*expected \(2,\)"):
        agent.act(obs, explore=True)
    with pytest.raises(TypeError, match="callable"):
        DAgger(env.info, expert="runs/expert", **small())


def test_without_an_expert_the_clone_acts_greedily_and_asking_the_expert_names_the_fix():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = DAgger(env.info, **small())
    obs, _ = env.reset(seed=0)
    assert agent.act(obs, explore=False).shape == (2,)
    with pytest.raises(ConfigError, match="no expert.*--expert RUN_DIR"):
        agent.act(obs, explore=True)  # β = 1: the expert acts
    agent.set_expert(CountingExpert())
    assert agent.act(obs, explore=True).shape == (2,)


def test_a_trained_agent_is_an_expert_through_its_deterministic_actions():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    teacher = BC(env.info, net_arch=(8,), seed=3)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(agent_expert(teacher)(obs), teacher.act(obs, explore=False))


def test_save_then_load_restores_the_data_and_continues_exactly(tmp_path):
    env = make_env("Pendulum-v1", n_envs=2, seed=0)
    agent = DAgger(env.info, expert=pendulum_expert, **small())
    Core(agent, env, progress=False).learn(steps=80)
    save_checkpoint(tmp_path / "dagger.pt", agent.state_dict(), {"algo": "dagger"})
    restored = DAgger(env.info, expert=pendulum_expert, **small(seed=9))
    restored.load_state_dict(load_checkpoint(tmp_path / "dagger.pt", {"algo": "dagger"}))
    assert (restored.rounds, restored.labels, len(restored.dataset)) == (2, 80, 80)
    obs, _ = make_env("Pendulum-v1", n_envs=2, seed=5).reset(seed=5)
    np.testing.assert_array_equal(restored.act(obs, explore=False), agent.act(obs, explore=False))
    batch = collect_dataset(make_env("Pendulum-v1", seed=2), pendulum_expert, steps=40, seed=2).batch
    agent.fit(batch)
    restored.fit(batch)
    for a, b in zip(agent.policy.parameters(), restored.policy.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_same_seed_gives_the_same_parameters_and_another_seed_others():
    def train(seed: int) -> list[torch.Tensor]:
        env = make_env("CartPole-v1", n_envs=2, seed=seed)
        agent = DAgger(env.info, expert=CountingExpert(), **small(seed=seed))
        Core(agent, env, progress=False).learn(steps=120)
        return [p.detach().clone() for p in agent.policy.parameters()]

    first, again, other = train(0), train(0), train(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_the_logged_beta_is_the_one_the_round_acted_with():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = DAgger(env.info, expert=CountingExpert(), **small(beta_decay=0.5))
    logged = []
    for _ in range(3):
        core = Core(agent, env, progress=False)
        core.learn(steps=40)
        logged.append(core.last_metrics["beta"])
    assert logged == [1.0, 0.5, 0.25]  # round 0 is the expert alone


def test_dict_observations_are_refused_when_built_not_after_the_first_round():
    from porcini.errors import UnsupportedSpaceError

    env = make_env("porcini/BitFlipping-v0", n_envs=2, seed=0)

    def expert(obs):
        return np.argmax(obs["observation"] != obs["desired_goal"], axis=1)

    with pytest.raises(UnsupportedSpaceError, match="FlattenObservation"):
        agent = DAgger(env.info, expert=expert, round_steps=20, updates_per_round=5, net_arch=(16,), batch_size=8)
        Core(agent, env, progress=False).learn(steps=20)  # on base: a TransitionBatch shape error here
