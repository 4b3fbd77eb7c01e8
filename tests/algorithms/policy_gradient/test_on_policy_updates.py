"""One update of the on-policy agents against plain-loop references (SB3 semantics) on hand-made rollouts."""

import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms import A2C, PPO, TRPO, Reinforce
from porcini.algorithms.policy_gradient import ppo as ppo_module
from porcini.core.batch import TransitionBatch


def random_rollout(info, n_rows, n_envs, seed=0):
    """A ``[T, B]`` rollout of random observations, actions and rewards, with terminations and truncations."""
    rng = np.random.default_rng(seed)
    shape = (n_rows, n_envs, *info.observation_space.shape)
    obs = rng.normal(size=shape).astype(np.float32)
    next_obs = rng.normal(size=shape).astype(np.float32)
    terminated = rng.random((n_rows, n_envs)) < 0.2
    truncated = (rng.random((n_rows, n_envs)) < 0.2) & ~terminated
    action = np.array([[info.action_space.sample() for _ in range(n_envs)] for _ in range(n_rows)])
    reward = rng.normal(size=(n_rows, n_envs)).astype(np.float32)
    return TransitionBatch(obs, action, reward, next_obs, terminated, truncated)


def test_ppo_keeps_the_advantage_of_a_minibatch_of_one(monkeypatch):
    # 3 transitions in minibatches of 2: the last minibatch holds one; standardizing one number would make it 0
    # and drop the sample from the policy gradient, SB3 keeps it as it is.
    env = make_env("CartPole-v1", n_envs=1, seed=0)
    agent = PPO(env.info, n_steps=3, batch_size=2, n_epochs=1)
    seen = []
    loss = ppo_module.ppo_clip_loss

    def spy(log_prob, old_log_prob, advantage, clip_range):
        seen.append(advantage.clone())
        return loss(log_prob, old_log_prob, advantage, clip_range)

    monkeypatch.setattr(ppo_module, "ppo_clip_loss", spy)
    batch = random_rollout(env.info, 3, 1)
    with torch.no_grad():
        value = agent.value(batch.obs[:, 0])
        next_value = agent.value(batch.next_obs[:, 0])
    agent.fit(batch)
    single = [a for a in seen if a.numel() == 1]
    assert len(single) == 1
    # the GAE advantages by a plain loop: the one of the size-1 minibatch is one of them, unnormalized
    advantage, running = np.zeros(3), 0.0
    for t in reversed(range(3)):
        end = bool(batch.terminated[t, 0] or batch.truncated[t, 0])
        bootstrap = 0.0 if batch.terminated[t, 0] else next_value[t]
        delta = batch.reward[t, 0] + 0.99 * bootstrap - value[t]
        running = delta + (0.0 if end else 0.99 * 0.95 * running)
        advantage[t] = running
    assert float(single[0]) != 0.0
    assert np.isclose(advantage, float(single[0]), atol=1e-5).any()


def test_ppo_logs_the_kl_that_stopped_its_epochs():
    # The first minibatch is scored by the policy that collected the data (ratio 1, KL 0); with a tiny target_kl
    # the second stops the fit after one gradient step. The logged approx_kl must show the KL that stopped it
    # (SB3 averages it in), not the 0 of the one minibatch stepped on.
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = PPO(env.info, n_steps=16, batch_size=8, n_epochs=4, learning_rate=1e-2, target_kl=1e-7)
    seen = []
    terms_of = agent._minibatch_terms

    def spy(mb, clip_range, normalize):
        terms = terms_of(mb, clip_range, normalize)
        seen.append(float(terms["approx_kl"]))
        return terms

    agent._minibatch_terms = spy
    metrics = agent.fit(random_rollout(env.info, 16, 2))
    assert metrics["gradient_steps"] == 1 and len(seen) == 2
    assert seen[0] == 0.0 and seen[1] > 1.5e-7
    assert metrics["approx_kl"] == pytest.approx(np.mean(seen))


@pytest.mark.parametrize("agent_cls, overrides", [(Reinforce, {}), (Reinforce, {"baseline": False}),
                                                  (A2C, {"n_steps": 1, "normalize_advantage": True}),
                                                  (TRPO, {"n_steps": 1, "batch_size": 1})])
def test_a_batch_of_one_transition_still_moves_the_policy(agent_cls, overrides):
    # One-step episodes with one env give REINFORCE a single row per fit; standardizing a single advantage gives 0,
    # so the policy never learned. A lone advantage is kept as it is, as SB3's PPO does for a minibatch of one.
    env = make_env("CartPole-v1", n_envs=1, seed=0)
    agent = agent_cls(env.info, **overrides)
    batch = random_rollout(env.info, 1, 1, seed=3)
    batch = TransitionBatch(batch.obs, batch.action, np.full((1, 1), 2.0, np.float32), batch.next_obs,
                            np.ones((1, 1), bool), np.zeros((1, 1), bool))
    before = [p.detach().clone() for p in agent.model.actor_parameters()]
    agent.fit(batch)
    after = agent.model.actor_parameters()
    assert any(not torch.equal(b, a) for b, a in zip(before, after))
