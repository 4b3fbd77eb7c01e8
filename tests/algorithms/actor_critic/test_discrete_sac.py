"""Discrete SAC: one update against a slow per-sample reference, truncation, checkpoints, seeding, bad input."""

from __future__ import annotations

import copy
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.actor_critic.discrete_sac import DiscreteSAC
from porcini.algorithms.actor_critic.sac import SAC
from porcini.algorithms.kit import ReplaySample
from porcini.core.batch import TransitionBatch
from porcini.errors import ConfigError
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint

SMALL = {"net_arch": (32, 32), "batch_size": 32, "learning_starts": 50}


class ConstantRewardEnv(gym.Env):
    """Observation ``[t / horizon]``, reward 1 per step, two actions that change nothing.

    With ``terminate=True`` the MDP ends at ``t = horizon`` (the last step is worth 1); otherwise only a time limit
    of ``horizon`` steps ends it (truncation), and every state is worth ``1 / (1 - gamma)``.
    """

    def __init__(self, horizon: int = 10, terminate: bool = False) -> None:
        self.horizon, self.terminate = horizon, terminate
        self.observation_space = gym.spaces.Box(0.0, 2.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._t += 1
        ended = self.terminate and self._t >= self.horizon
        return np.array([self._t / self.horizon], np.float32), 1.0, ended, False, {}


def params(agent: Any) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.detach().clone() for m, mod in agent.modules.items() for k, v in mod.state_dict().items()}


def trained(steps: int = 150, seed: int = 0, **overrides: Any) -> tuple[DiscreteSAC, Any]:
    env = make_env("CartPole-v1", seed=seed)
    agent = DiscreteSAC(env.info, seed=seed, **{**SMALL, **overrides})
    Core(agent, env, progress=False).learn(n_steps=steps)
    return agent, env


class ReferenceDiscreteSAC:
    """Christodoulou's update written sample by sample and action by action, with plain (for-loop) Adam."""

    def __init__(self, agent: DiscreteSAC, member_q: Any) -> None:
        self.member_q = member_q  # Q_k(s, ·) [N, n] of critic member k, layer by layer (conftest.py)
        self.agent = a = copy.deepcopy(agent)
        lr = a.config.learning_rate
        self.opt_actor = torch.optim.Adam([*a.actor_trunk.parameters(), *a.actor_head.parameters()], lr=lr,
                                          foreach=False)
        self.opt_critic = torch.optim.Adam(a.critic.parameters(), lr=lr, foreach=False)
        self.opt_alpha = torch.optim.Adam([a.log_alpha], lr=lr, foreach=False)

    def policy(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.agent.actor_head.linear(self.agent.actor_trunk(obs)), dim=-1)

    def update(self, s: ReplaySample) -> None:
        agent, member_q = self.agent, self.member_q
        gamma, tau, n_critics = agent.config.gamma, agent.config.tau, agent.config.n_critics
        n, n_actions = len(s.reward), agent.n_actions
        alpha = math.exp(agent.log_alpha.item())
        p = self.policy(s.obs)
        loss_alpha = sum(-agent.log_alpha * (sum(p[i, a].item() * math.log(p[i, a].item()) for a in range(n_actions))
                                             + agent.target_entropy) for i in range(n)) / n
        self.opt_alpha.zero_grad()
        loss_alpha.backward()
        self.opt_alpha.step()

        with torch.no_grad():
            p_next = self.policy(s.next_obs)
            q_next = torch.stack([member_q(agent.critic_target, k, s.next_obs) for k in range(n_critics)])
            y = []
            for i in range(n):
                v = sum(p_next[i, a] * (min(q_next[k, i, a] for k in range(n_critics))
                                        - alpha * math.log(p_next[i, a])) for a in range(n_actions))
                y.append(s.reward[i] + gamma * (1.0 - s.terminated[i]) * v)
        loss_critic = sum(0.5 * sum((member_q(agent.critic, k, s.obs[i:i + 1])[0, int(s.action[i])] - y[i]) ** 2
                                    for i in range(n)) / n for k in range(n_critics))
        self.opt_critic.zero_grad()
        loss_critic.backward()
        self.opt_critic.step()

        with torch.no_grad():
            q_min = torch.stack([member_q(agent.critic, k, s.obs) for k in range(n_critics)]).amin(dim=0)
        p = self.policy(s.obs)
        loss_actor = sum(sum(p[i, a] * (alpha * torch.log(p[i, a]) - q_min[i, a]) for a in range(n_actions))
                         for i in range(n)) / n
        self.opt_actor.zero_grad()
        loss_actor.backward()
        self.opt_actor.step()

        with torch.no_grad():
            for target, online in zip(agent.critic_target.parameters(), agent.critic.parameters()):
                target.copy_((1 - tau) * target + tau * online)


def random_sample(n: int, obs_dim: int, n_actions: int, seed: int, discount: float = 0.99) -> ReplaySample:
    g = torch.Generator().manual_seed(seed)
    return ReplaySample(obs=torch.randn(n, obs_dim, generator=g), action=torch.randint(0, n_actions, (n,), generator=g),
                        reward=torch.randn(n, generator=g), next_obs=torch.randn(n, obs_dim, generator=g),
                        terminated=(torch.rand(n, generator=g) < 0.3).float(), discount=discount)


@pytest.mark.parametrize("seed", [0, 1])
def test_update_matches_a_slow_per_sample_reference(seed, member_q):
    env = make_env("CartPole-v1")
    info = type(env.info)(env.info.env_id, env.info.observation_space, gym.spaces.Discrete(3))  # 3 actions
    agent = DiscreteSAC(info, net_arch=(16, 16), tau=0.3, learning_rate=1e-2, seed=seed)
    reference = ReferenceDiscreteSAC(agent, member_q)
    before = params(agent)
    for k in range(3):  # the first update also copies into the targets (tau=0.3): three steps check Adam's state
        s = random_sample(24, 4, 3, seed=10 * seed + k)
        agent.gradient_step(s)
        agent.n_updates += 1
        reference.update(s)
    ours, theirs = params(agent), params(reference.agent)
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], rtol=1e-5, atol=1e-6, msg=key)
        assert not torch.equal(ours[key], before[key]), f"{key} did not change: the comparison would be empty"
    torch.testing.assert_close(agent.log_alpha.detach(), reference.agent.log_alpha.detach())
    assert agent.log_alpha.item() != 0.0


def test_truncation_bootstraps_and_termination_does_not():
    gamma, horizon = 0.8, 10
    last = torch.tensor([[(horizon - 1) / horizon]])
    values = {}
    for terminate in (False, True):
        env = make_env(lambda t=terminate: ConstantRewardEnv(horizon, t), seed=0,
                       max_episode_steps=None if terminate else horizon)
        agent = DiscreteSAC(env.info, net_arch=(32, 32), batch_size=32, learning_starts=100, gamma=gamma, tau=0.1,
                            learning_rate=3e-3, ent_coef=0.0)  # no entropy bonus: the soft value is the plain one
        Core(agent, env, progress=False).learn(n_steps=1000)
        with torch.no_grad():
            values[terminate] = float(agent.critic(last).mean())  # both critics, both actions
    assert values[False] == pytest.approx(1 / (1 - gamma), rel=0.15)  # 5: time ran out, the state still has value
    assert values[True] == pytest.approx(1.0, abs=0.3)  # the last reward, nothing after it


def test_acts_uniformly_during_warm_up_then_from_the_policy_and_greedily_in_evaluation():
    agent, _ = trained(steps=200)
    obs = np.random.default_rng(0).normal(size=(500, 4)).astype(np.float32)
    explore, greedy = agent.act(obs, explore=True), agent.act(obs, explore=False)
    assert explore.dtype.kind == "i" and set(np.unique(explore)) <= {0, 1}
    with torch.no_grad():
        probs = agent.policy(torch.from_numpy(obs)).probs.numpy()
    np.testing.assert_array_equal(greedy, probs.argmax(axis=1))
    # sampled actions follow π: the mean of the chosen action's indicator matches the mean probability
    assert abs(explore.mean() - probs[:, 1].mean()) < 0.08
    fresh = DiscreteSAC(make_env("CartPole-v1").info, **SMALL)
    warm = fresh.act(obs, explore=True)
    assert 0.4 < warm.mean() < 0.6  # uniform before learning_starts


def test_save_load_gives_identical_actions_and_identical_continuation(tmp_path):
    agent, env = trained()
    save_checkpoint(tmp_path / "agent.pt", agent.state_dict(), {"algo": "discrete_sac"})
    clone = DiscreteSAC(env.info, **{**SMALL, "seed": 123})
    clone.load_state_dict(load_checkpoint(tmp_path / "agent.pt", {"algo": "discrete_sac"}))
    obs = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    for explore in (False, True, True):
        np.testing.assert_array_equal(agent.act(obs, explore=explore), clone.act(obs, explore=explore))
    rng = np.random.default_rng(3)
    batch = TransitionBatch(obs=rng.normal(size=(5, 1, 4)).astype(np.float32), action=rng.integers(0, 2, (5, 1)),
                            reward=np.ones((5, 1), np.float32), next_obs=rng.normal(size=(5, 1, 4)).astype(np.float32),
                            terminated=np.zeros((5, 1), bool), truncated=np.zeros((5, 1), bool))
    agent.fit(batch)
    clone.fit(batch)
    for key, value in params(agent).items():
        assert torch.equal(value, params(clone)[key]), key


def test_same_seed_gives_identical_parameters_and_another_seed_does_not():
    first, second, other = (params(trained(seed=s)[0]) for s in (4, 4, 5))
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_entropy_target_is_a_fraction_of_the_maximal_entropy():
    info = make_env("CartPole-v1").info
    assert DiscreteSAC(info).target_entropy == pytest.approx(0.89 * math.log(2))
    assert DiscreteSAC(info, target_entropy_scale=0.5).target_entropy == pytest.approx(0.5 * math.log(2))
    assert DiscreteSAC(info, target_entropy=0.1).target_entropy == 0.1


def test_wrong_action_spaces_and_config_errors_name_the_fix():
    with pytest.raises(ValueError, match="use SAC for Box actions"):
        DiscreteSAC(make_env("Pendulum-v1").info)
    with pytest.raises(ValueError, match="use DiscreteSAC or DQN"):
        SAC(make_env("CartPole-v1").info)
    with pytest.raises(ConfigError, match="target_entropy_scale"):
        DiscreteSAC(make_env("CartPole-v1").info, target_entropy_scale=1.5)
