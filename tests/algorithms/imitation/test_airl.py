"""AIRL: its discriminator's logit, the absorbing state of terminations, the learner's reward, the exported
reward, checkpoints and seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.imitation.airl import AIRL
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.functional import airl_logits

from .conftest import rollout

SMALL = {"n_steps": 64, "batch_size": 64, "n_epochs": 2, "discriminator_batch_size": 32, "net_arch": (16,),
         "discriminator_arch": (16,), "seed": 0}


def by_hand(agent: AIRL, flat) -> torch.Tensor:
    """ℓ = g(s) + γ (1 - terminated) h(s') - h(s) - log π(a | s), from the networks directly."""
    obs = torch.as_tensor(flat.obs[:, 0], dtype=torch.float32)
    next_obs = torch.as_tensor(flat.next_obs[:, 0], dtype=torch.float32)
    flag = torch.zeros(len(obs), 1)
    with torch.no_grad():
        g = agent.reward_net(torch.cat([obs, flag], -1)).squeeze(-1)
        log_pi = agent.model.log_prob(agent.model.policy(obs), torch.as_tensor(flat.action[:, 0]))
        done = torch.as_tensor(flat.terminated[:, 0], dtype=torch.float32)
        return airl_logits(g, agent.potential(obs).squeeze(-1), agent.potential(next_obs).squeeze(-1), done,
                           log_pi, agent.config.gamma)


@pytest.mark.parametrize("learner_reward", ["logit", "softplus"])
def test_the_learner_fits_on_airls_reward_with_the_rollouts_end_flags(learner_reward, demos, monkeypatch):
    env = make_env("CartPole-v1", seed=0)
    agent = AIRL(env.info, **SMALL, learner_reward=learner_reward)
    agent.add_dataset(demos)
    batch = rollout(agent, env, 128)
    assert batch.terminated.any()
    given = []
    monkeypatch.setattr(PPO, "fit", lambda self, b: given.append(b) or {})
    agent.fit(batch)
    (seen,) = given
    logits = by_hand(agent, batch.flatten()).numpy()
    done = batch.flatten().terminated[:, 0]
    if learner_reward == "logit":
        expected = logits + done * agent.terminal_reward()
    else:
        expected = np.logaddexp(0.0, logits)
    np.testing.assert_allclose(seen.reward.reshape(-1), expected, rtol=1e-5, atol=1e-5)
    for field in ("obs", "action", "next_obs", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(seen, field), getattr(batch, field))


def test_each_termination_adds_one_absorbing_row_whose_logit_is_g_of_the_flag(demos):
    env = make_env("CartPole-v1", seed=0)
    agent = AIRL(env.info, **SMALL)
    flat = rollout(agent, env, 128).flatten()
    inputs = agent.inputs(flat)
    rows = agent.training_rows(inputs)
    ended = int(flat.terminated.sum())
    assert ended > 0 and len(rows) == len(inputs) + ended
    torch.testing.assert_close(rows[:len(inputs)], inputs)
    absorbing = rows[len(inputs):]
    assert torch.all(absorbing[:, -1] == 1) and torch.all(absorbing[:, :-1] == 0)
    flag = torch.zeros(1, agent.obs_dim + 1)
    flag[0, -1] = 1
    with torch.no_grad():
        g_abs = agent.reward_net(flag).item()
        torch.testing.assert_close(agent.logits(absorbing), torch.full((ended,), g_abs))
        torch.testing.assert_close(agent.logits(inputs), by_hand(agent, flat).float(), rtol=1e-5, atol=1e-5)
    assert agent.terminal_reward() == pytest.approx(agent.config.gamma / (1 - agent.config.gamma) * g_abs)


def test_a_truncated_successor_keeps_its_potential_and_a_terminated_one_has_none(demos):
    agent = AIRL(make_env("CartPole-v1").info, **SMALL)
    flat = rollout(agent, make_env("CartPole-v1", seed=0), 64).flatten()
    flat = type(flat)(flat.obs[:2], flat.action[:2], flat.reward[:2], flat.next_obs[:2],
                      np.array([[True], [False]]), np.array([[False], [True]]))
    with torch.no_grad():
        logits = agent.logits(agent.inputs(flat))
        h_next = agent.potential(torch.as_tensor(flat.next_obs[:, 0], dtype=torch.float32)).squeeze(-1)
        unshaped = by_hand(agent, type(flat)(flat.obs, flat.action, flat.reward, flat.next_obs,
                                             np.array([[True], [True]]), flat.truncated))
    assert logits[0].item() == pytest.approx(unshaped[0].item(), abs=1e-5)
    assert logits[1].item() == pytest.approx(unshaped[1].item() + agent.config.gamma * h_next[1].item(), abs=1e-5)


def test_the_exported_reward_is_g_or_f_with_the_terminal_reward(demos):
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = AIRL(env.info, **SMALL)
    agent.add_dataset(demos)
    Core(agent, env, progress=False).learn(steps=256)
    flat = rollout(agent, make_env("CartPole-v1", seed=4), 64).flatten()
    obs, next_obs = (torch.as_tensor(x[:, 0], dtype=torch.float32) for x in (flat.obs, flat.next_obs))
    done = flat.terminated[:, 0].astype(np.float32)
    with torch.no_grad():
        g = agent.reward_net(torch.cat([obs, torch.zeros(len(obs), 1)], -1)).squeeze(-1).numpy()
        h, h_next = agent.potential(obs).squeeze(-1).numpy(), agent.potential(next_obs).squeeze(-1).numpy()
    args = (flat.obs[:, 0], flat.action[:, 0], flat.next_obs[:, 0], flat.terminated[:, 0])
    terminal = agent.terminal_reward()
    np.testing.assert_allclose(agent.reward_model()(*args), g + terminal * done, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(agent.reward_model(shaped=True)(*args),
                               g + agent.config.gamma * (1 - done) * h_next - h + terminal * done, rtol=1e-5, atol=1e-5)
    exported = agent.reward_model()
    before = exported(*args)
    for p in agent.reward_net.parameters():  # a copy: training on does not change it
        p.data.add_(1.0)
    np.testing.assert_array_equal(exported(*args), before)
    assert not np.allclose(agent.reward_model()(*args), before)


def test_save_load_gives_identical_actions_and_identical_continuation(demos):
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = AIRL(env.info, **SMALL)
    agent.add_dataset(demos)
    Core(agent, env, progress=False).learn(steps=256)
    restored = AIRL(env.info, **{**SMALL, "seed": 7})
    restored.add_dataset(demos)
    restored.load_state_dict(agent.state_dict())
    obs, _ = make_env("CartPole-v1", n_envs=2, seed=5).reset(seed=5)
    np.testing.assert_array_equal(restored.act(obs, explore=False), agent.act(obs, explore=False))
    batch = rollout(agent, make_env("CartPole-v1", seed=9), 64)
    agent.fit(batch)
    restored.fit(batch)
    for name in ("reward_net", "potential", "model"):
        for a, b in zip(getattr(agent, name).parameters(), getattr(restored, name).parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_same_seed_gives_the_same_parameters_and_another_seed_others(demos):
    def train(seed: int) -> list[torch.Tensor]:
        env = make_env("CartPole-v1", n_envs=2, seed=seed)
        agent = AIRL(env.info, **{**SMALL, "seed": seed})
        agent.add_dataset(demos)
        Core(agent, env, progress=False).learn(steps=256)
        return [p.detach().clone() for p in agent.reward_net.parameters()]

    first, again, other = train(0), train(0), train(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_a_bad_learner_reward_is_named():
    with pytest.raises(ValueError, match="learner_reward"):
        AIRL(make_env("CartPole-v1").info, **SMALL, learner_reward="exp")


def test_absorbing_rows_weigh_each_termination(demos):
    env = make_env("CartPole-v1", seed=0)
    agent = AIRL(env.info, **SMALL, absorbing_rows=5)
    inputs = agent.inputs(rollout(agent, env, 128).flatten())
    ended = int((inputs[:, -3] > 0.5).sum())
    rows = agent.training_rows(inputs)
    assert len(rows) == len(inputs) + 5 * ended and int(rows[:, -1].sum()) == 5 * ended


def test_the_gradient_penalty_is_wgan_gps_over_the_transition_not_along_log_pi(demos, monkeypatch):
    from porcini.algorithms.imitation import adversarial

    env = make_env("CartPole-v1", seed=0)
    agent = AIRL(env.info, **SMALL, gradient_penalty=10.0)
    agent.add_dataset(demos)
    flat = rollout(agent, env, 64).flatten()
    original, checked = adversarial.gradient_penalty, []

    def spy(logits_of, expert, policy, mix, *rest):
        value = original(logits_of, expert, policy, mix, *rest)
        points = (mix * expert + (1 - mix) * policy).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(logits_of(points).sum(), points)
        features = 2 * agent.obs_dim + agent.action_width  # obs | one-hot action | next_obs: what g and h read
        expected = (grad[:, :features].norm(dim=-1) - 1).pow(2).mean()
        checked.append((float(value.detach()), float(expected)))
        return value

    monkeypatch.setattr(adversarial, "gradient_penalty", spy)
    agent._train_discriminator(agent.inputs(flat))
    assert checked
    for value, expected in checked:
        assert value == pytest.approx(expected, rel=1e-5)


def test_gamma_1_is_refused_when_built_since_the_absorbing_states_value_needs_gamma_below_1(demos):
    from porcini.errors import ConfigError

    with pytest.raises(ConfigError, match="gamma"):  # on base: ZeroDivisionError at the first fit
        agent = AIRL(make_env("CartPole-v1").info, **{**SMALL, "gamma": 1.0})
        agent.add_dataset(demos)
        agent.fit(rollout(agent, make_env("CartPole-v1", seed=0), 64))
