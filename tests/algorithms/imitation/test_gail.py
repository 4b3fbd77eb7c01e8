"""GAIL on PPO and on TRPO: the rollout's rewards become the discriminator's, the discriminator learns,
checkpoints and seeding."""

from __future__ import annotations

import copy
import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.imitation import GAIL, GAILTRPO
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.algorithms.policy_gradient.trpo import TRPO
from porcini.data import collect_dataset
from porcini.errors import UnsupportedSpaceError
from porcini.functional import gail_reward

from .conftest import rollout

SMALL = {"n_steps": 64, "batch_size": 64, "n_epochs": 2, "discriminator_batch_size": 32, "net_arch": (16,),
         "discriminator_arch": (16,), "seed": 0}
SMALL_TRPO = {"n_steps": 64, "batch_size": 64, "n_critic_updates": 2, "discriminator_batch_size": 32,
              "net_arch": (16,), "discriminator_arch": (16,), "seed": 0}
LEARNERS = {"gail": (GAIL, PPO, SMALL), "gail_trpo": (GAILTRPO, TRPO, SMALL_TRPO)}


@pytest.mark.parametrize("name", LEARNERS)
def test_the_learner_fits_on_the_discriminators_reward_with_the_rollouts_end_flags(name, demos, monkeypatch):
    cls, learner, settings = LEARNERS[name]
    env = make_env("CartPole-v1", seed=0)
    agent = cls(env.info, **settings)
    agent.add_dataset(demos)
    batch = rollout(agent, env, 64)
    given = []
    monkeypatch.setattr(learner, "fit", lambda self, b: given.append(b) or {})
    metrics = agent.fit(batch)
    (seen,) = given
    with torch.no_grad():  # the discriminator after this fit's training, on the rollout's own pairs
        flat = batch.flatten()
        expected = gail_reward(agent.logits(agent.inputs(flat))).numpy()
    np.testing.assert_allclose(seen.reward.reshape(-1), expected, rtol=1e-6)
    assert seen.reward.shape == batch.reward.shape and (seen.reward >= 0).all()
    for field in ("obs", "action", "next_obs", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(seen, field), getattr(batch, field))
    assert metrics["env_reward_mean"] == 1.0 and metrics["learned_reward_mean"] == pytest.approx(expected.mean())


def test_the_discriminator_learns_to_tell_the_expert_from_a_random_policy(demos):
    env = make_env("CartPole-v1", seed=0)
    agent = GAIL(env.info, **{**SMALL, "discriminator_epochs": 5, "discriminator_learning_rate": 3e-3})
    agent.add_dataset(demos)
    random_pairs = rollout(agent, env, 256).flatten()
    random_pairs = type(random_pairs)(random_pairs.obs, np.random.default_rng(0).integers(0, 2, (256, 1)),
                                      random_pairs.reward, random_pairs.next_obs, random_pairs.terminated,
                                      random_pairs.truncated)
    losses = [agent._train_discriminator(agent.inputs(random_pairs))
              for _ in range(20)]
    assert losses[-1]["loss_discriminator"] < losses[0]["loss_discriminator"] - 0.1
    assert losses[-1]["expert_accuracy"] > 0.6 and losses[-1]["policy_accuracy"] > 0.6


def test_pairs_encode_discrete_actions_one_hot_and_box_actions_in_minus_one_one():
    cartpole = GAIL(make_env("CartPole-v1").info, **SMALL)
    pairs = torch.cat([cartpole.observations(np.ones((2, 4))), cartpole.actions(np.array([1, 0]))], dim=-1)
    np.testing.assert_array_equal(pairs.numpy(), [[1, 1, 1, 1, 0, 1], [1, 1, 1, 1, 1, 0]])
    pendulum = GAIL(make_env("Pendulum-v1").info, **SMALL)
    actions = pendulum.actions(np.array([[-2.0], [0.0], [1.0]], dtype=np.float32))
    np.testing.assert_allclose(actions[:, -1].numpy(), [-1.0, 0.0, 0.5])


def test_the_gradient_penalty_is_reported_when_asked(demos):
    env = make_env("CartPole-v1", seed=0)
    agent = GAIL(env.info, **{**SMALL, "gradient_penalty": 10.0, "label_smoothing": 0.1})
    agent.add_dataset(demos)
    metrics = agent.fit(rollout(agent, env, 64))
    assert metrics["gradient_penalty"] >= 0 and np.isfinite(metrics["loss_discriminator"])


def test_missing_or_empty_demonstrations_and_unbounded_actions_are_named(demos):
    env = make_env("CartPole-v1", seed=0)
    agent = GAIL(env.info, **SMALL)
    with pytest.raises(ValueError, match="no demonstrations; call add_dataset"):
        agent.fit(rollout(agent, env, 64))
    with pytest.raises(ValueError, match="demonstration dataset is empty"):
        agent.add_dataset(demos.__class__(demos.batch.index(slice(0, 0))))
    pendulum_demos = collect_dataset(make_env("Pendulum-v1", seed=0), lambda obs: np.zeros((len(obs), 1)), steps=10,
                                     seed=0)
    with pytest.raises(ValueError, match=r"observations \(3,\) and actions \(1,\), the env \(4,\) and \(\)"):
        agent.add_dataset(pendulum_demos)
    with pytest.raises(UnsupportedSpaceError, match="discriminator reads Box observations"):
        GAIL(make_env("FrozenLake-v1").info, **SMALL)
    with pytest.raises(UnsupportedSpaceError, match="discriminator reads Box observations"):
        GAILTRPO(make_env("FrozenLake-v1").info, **SMALL_TRPO)
    unbounded = dataclasses.replace(make_env("Pendulum-v1").info, action_space=gym.spaces.Box(-np.inf, np.inf, (1,)))
    with pytest.raises(UnsupportedSpaceError, match="finite bounds"):
        GAIL(unbounded, **SMALL)


@pytest.mark.parametrize("name", LEARNERS)
def test_save_load_gives_identical_actions_and_identical_continuation(name, demos):
    cls, _, settings = LEARNERS[name]
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = cls(env.info, **settings)
    agent.add_dataset(demos)
    Core(agent, env, progress=False).learn(steps=256)
    batch = rollout(copy.deepcopy(agent), make_env("CartPole-v1", seed=9), 64)  # leaves the agent's generator as it is
    restored = cls(env.info, **{**settings, "seed": 7})
    restored.add_dataset(demos)
    restored.load_state_dict(agent.state_dict())
    obs, _ = make_env("CartPole-v1", n_envs=2, seed=5).reset(seed=5)
    np.testing.assert_array_equal(restored.act(obs, explore=False), agent.act(obs, explore=False))
    agent.fit(batch)
    restored.fit(batch)
    for a, b in zip(agent.discriminator.parameters(), restored.discriminator.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(agent.model.parameters(), restored.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("name", LEARNERS)
def test_the_same_seed_gives_the_same_parameters_and_another_seed_others(name, demos):
    cls, _, settings = LEARNERS[name]

    def train(seed: int) -> list[torch.Tensor]:
        env = make_env("CartPole-v1", n_envs=2, seed=seed)
        agent = cls(env.info, **{**settings, "seed": seed})
        agent.add_dataset(demos)
        Core(agent, env, progress=False).learn(steps=256)
        return [p.detach().clone() for p in agent.discriminator.parameters()]

    first, again, other = train(0), train(0), train(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


@pytest.mark.parametrize("name", LEARNERS)
def test_demonstrations_with_nan_observations_or_impossible_actions_are_refused_as_bc_refuses_them(name, demos):
    from porcini.algorithms.imitation.airl import AIRL
    from porcini.algorithms.offline.bc import BC
    from porcini.data.validation import DatasetError

    b = demos.batch
    nan_obs = np.array(b.obs, dtype=np.float32)
    nan_obs[5] = np.nan
    out_of_range = np.full_like(np.asarray(b.action), 2)  # CartPole has actions 0 and 1
    env = make_env("CartPole-v1", seed=0)
    for bad in (type(b)(nan_obs, b.action, b.reward, b.next_obs, b.terminated, b.truncated),
                type(b)(b.obs, out_of_range, b.reward, b.next_obs, b.terminated, b.truncated)):
        with pytest.raises(DatasetError):  # the reference: what BC does with the same data
            BC(env.info).add_dataset(type(demos)(bad))
        cls, _, small = LEARNERS[name]
        for agent in (cls(env.info, **small), AIRL(env.info, **SMALL)):
            with pytest.raises(DatasetError):
                agent.add_dataset(type(demos)(bad))
