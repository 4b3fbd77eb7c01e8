"""An on-policy and an off-policy agent fit on the same collected batches (SharedRollout), and its example."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.actor_critic.sac import SAC
from porcini.algorithms.combinators import SharedRollout
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.algorithms.tabular.q_learning import QLearning
from porcini.algorithms.value_based.dqn import DQN
from porcini.core.batch import TransitionBatch
from porcini.envs.testing import CountingEnv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


def flat_params(*modules: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).clone() for m in modules for p in m.parameters()])


def learners(info: Any, n_steps: int = 32) -> tuple[PPO, SAC]:
    ppo = PPO(info, n_steps=n_steps, batch_size=32, n_epochs=2)
    sac = SAC(info, net_arch=(32, 32), batch_size=32, learning_starts=16)
    return ppo, sac


def record_batches(agent: Any) -> list[TransitionBatch]:
    seen: list[TransitionBatch] = []
    fit = agent.fit

    def spy(batch: TransitionBatch) -> dict[str, float]:
        seen.append(batch)
        return fit(batch)

    agent.fit = spy
    return seen


def test_ppo_and_sac_both_learn_from_the_same_transitions():
    env = make_env("Pendulum-v1", n_envs=2, seed=0)
    ppo, sac = learners(env.info)
    ppo_before, sac_before = flat_params(ppo.model), flat_params(sac.critic, sac.actor_trunk, sac.actor_head)
    ppo_seen, sac_seen = record_batches(ppo), record_batches(sac)
    both = SharedRollout({"ppo": ppo, "sac": sac}, actor="ppo")
    assert both.fit_every_steps == 2  # gcd(32 * 2, 1 * 2)
    result = Core(both, env, progress=False).learn(steps=64)
    assert len(ppo_seen) == 1 and len(sac_seen) == 32
    joined = TransitionBatch.concatenate(sac_seen, axis=0)
    for field in FIELDS:  # PPO's rollout is exactly the transitions SAC received, in the same order
        np.testing.assert_array_equal(getattr(ppo_seen[0], field), getattr(joined, field))
    assert not torch.equal(ppo_before, flat_params(ppo.model))
    assert not torch.equal(sac_before, flat_params(sac.critic, sac.actor_trunk, sac.actor_head))
    assert ppo.fits == 1 and sac.n_updates == 24  # (64 - 16) transitions, one update per vector step of 2
    assert any(k.startswith("ppo/") for k in result.last_metrics) or any(
        k.startswith("sac/") for k in result.last_metrics)


def test_the_actor_plays_and_metrics_are_namespaced():
    env = make_env("Pendulum-v1", seed=0)
    ppo, sac = learners(env.info, n_steps=8)
    both = SharedRollout({"ppo": ppo, "sac": sac}, actor="sac")
    obs = env.reset(seed=1)[0]
    sac_state = sac.state_dict()
    action = both.act(obs, explore=True)
    sac.load_state_dict(sac_state)
    np.testing.assert_array_equal(action, sac.act(obs, explore=True))
    batch = Core(both, env, progress=False)
    metrics = batch.learn(steps=24).last_metrics
    assert metrics and all(k.split("/")[0] in ("ppo", "sac") for k in metrics)


def test_resume_restores_the_batches_waiting_for_a_learner():
    env = make_env("Pendulum-v1", seed=0)
    first = SharedRollout(dict(zip(("ppo", "sac"), learners(env.info))), actor="ppo")
    Core(first, env, progress=False).learn(steps=20)  # PPO's rollout lacks 12 transitions
    second = SharedRollout(dict(zip(("ppo", "sac"), learners(env.info))), actor="ppo")
    second.load_state_dict(first.state_dict())
    rng = np.random.default_rng(0)
    rest = TransitionBatch(obs=rng.uniform(-1, 1, (12, 1, 3)).astype(np.float32),
                           action=rng.uniform(-2, 2, (12, 1, 1)).astype(np.float32), reward=rng.normal(size=(12, 1)),
                           next_obs=rng.uniform(-1, 1, (12, 1, 3)).astype(np.float32),
                           terminated=np.zeros((12, 1), bool), truncated=np.zeros((12, 1), bool))
    assert first.agents["ppo"].fits == second.agents["ppo"].fits == 0
    first.fit(rest)
    second.fit(rest)
    assert first.agents["ppo"].fits == second.agents["ppo"].fits == 1
    for name in ("ppo", "sac"):
        a, b = first.agents[name], second.agents[name]
        modules = (a.model,) if name == "ppo" else tuple(a.modules.values())
        twins = (b.model,) if name == "ppo" else tuple(b.modules.values())
        assert torch.equal(flat_params(*modules), flat_params(*twins)), name


def test_invalid_combinations_are_rejected_with_a_fix():
    env = make_env("Pendulum-v1", seed=0)
    ppo, sac = learners(env.info)
    with pytest.raises(ValueError, match="actor 'td3'"):
        SharedRollout({"ppo": ppo, "sac": sac}, actor="td3")
    tabular = QLearning(make_env("FrozenLake-v1").info)
    tabular.fit_every_steps = None
    tabular.fit_every_episodes = 1
    with pytest.raises(ValueError, match="step cadence"):
        SharedRollout({"ppo": ppo, "q": tabular}, actor="ppo")


def test_example_runs_and_reports_both_learners():
    spec = importlib.util.spec_from_file_location("shared_rollout_example", EXAMPLES / "shared_rollout_ppo_sac.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    scores = example.run(steps=256, ppo_kwargs={"n_steps": 32, "n_epochs": 1},
                         sac_kwargs={"net_arch": (16, 16), "batch_size": 16}, eval_episodes=1)
    assert set(scores) == {"ppo", "sac"}
    assert all(-2000 < s <= 0 for s in scores.values())  # Pendulum returns of a 200-step episode


def test_a_reset_after_a_fit_ends_the_episodes_in_every_learner():
    """``Core.reset`` after the shared agent's fit: the batches waiting for PPO end truncated, DQN's buffer too."""
    env = make_env(lambda: CountingEnv(truncate_at=50), seed=0)
    ppo = PPO(env.info, n_steps=4, batch_size=4, n_epochs=1)
    dqn = DQN(env.info, train_freq=1, learning_starts=10**6)
    batches = []
    fit = ppo.fit
    ppo.fit = lambda batch: (batches.append(batch), fit(batch))[1]
    core = Core(SharedRollout({"ppo": ppo, "dqn": dqn}, actor="ppo"), env, progress=False)
    core.learn(steps=2)
    core.reset()
    core.learn(steps=2)
    (batch,) = batches
    np.testing.assert_array_equal(batch.obs[:, 0], [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(batch.truncated[:, 0], [False, True, False, False])
    stored = dqn.buffer.gather(np.arange(4))
    np.testing.assert_array_equal(stored.obs[:, 0], batch.obs[:, 0])
    np.testing.assert_array_equal(stored.truncated[:, 0], batch.truncated[:, 0])
