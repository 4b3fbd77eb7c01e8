"""On-policy agents in MultiDiscrete and MultiBinary action spaces: through Core, the batch they fit on, checkpoints,
exact resume of a run."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.policy_gradient.a2c import A2C
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.algorithms.policy_gradient.recurrent_ppo import RecurrentPPO
from porcini.algorithms.policy_gradient.reinforce import Reinforce
from porcini.algorithms.policy_gradient.trpo import TRPO
from porcini.experiment.checkpoint import from_safe, to_safe
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

TINY = {
    PPO: dict(n_steps=16, batch_size=32, n_epochs=2, net_arch=(16,)),
    A2C: dict(n_steps=8, net_arch=(16,)),
    Reinforce: dict(fit_every_episodes=2, net_arch=(16,)),
    TRPO: dict(n_steps=16, batch_size=32, n_critic_updates=2, cg_max_steps=5, net_arch=(16,)),
    RecurrentPPO: dict(n_steps=8, batch_size=16, n_epochs=2, lstm_hidden_size=8, net_arch=(8,)),
}
# env id -> (action shape, action dtype, explain key)
ENVS = {
    "porcini/MatchCues-v0": ((2,), np.int64, "component_probs"),
    "porcini/MatchBits-v0": ((4,), np.int8, "bit_probs"),
}


def parameters(agent):
    return [p.detach().clone() for p in agent.model.parameters()]


@pytest.mark.parametrize("env_id", list(ENVS))
@pytest.mark.parametrize("agent_cls", list(TINY))
def test_agent_learns_through_core_on_the_batch_of_the_space(agent_cls, env_id):
    shape, dtype, explain_key = ENVS[env_id]
    env = make_env(env_id, n_envs=2, seed=0)
    agent = agent_cls(env.info, seed=1, **TINY[agent_cls])
    batches = []
    fit = agent.fit
    agent.fit = lambda batch: batches.append(batch) or fit(batch)  # the batch Core hands over
    before = parameters(agent)
    core = Core(agent, env, progress=False)
    core.learn(steps=320)
    assert core.fits >= 2 and batches
    assert all(math.isfinite(v) for v in core.last_metrics.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, parameters(agent)))
    for batch in batches:  # RolloutStorage keeps the env's action dtype: [T, B, k]
        assert batch.action.dtype == dtype and batch.action.shape == (batch.reward.shape[0], 2, *shape)
    obs, _ = env.reset(seed=3)
    action = agent.act(obs, explore=True)
    assert action.dtype == dtype and action.shape == (2, *shape)
    assert all(env.single_action_space.contains(a) for a in action)
    assert np.array_equal(agent.act(obs, explore=False), agent.act(obs, explore=False))
    probs = agent.explain(obs)[explain_key]
    assert probs.shape[0] == 2 and ((probs >= 0) & (probs <= 1)).all()


def test_ppo_checkpoint_round_trip_gives_identical_multi_discrete_actions(tmp_path):
    env = make_env("porcini/MatchCues-v0", n_envs=2, seed=0)
    agent = PPO(env.info, seed=3, **TINY[PPO])
    Core(agent, env, progress=False).learn(steps=200)
    file = tmp_path / "agent.pt"
    torch.save(to_safe(agent.state_dict()), file)  # as the checkpoints do
    clone = PPO(env.info, seed=99, **TINY[PPO])
    clone.load_state_dict(from_safe(torch.load(file, weights_only=True)))
    obs = np.random.default_rng(0).uniform(size=(64, 6)).astype(np.float32)
    assert np.array_equal(agent.act(obs, explore=False), clone.act(obs, explore=False))
    explored = agent.act(obs, explore=True)
    assert np.array_equal(explored, clone.act(obs, explore=True))  # the sampling generator travels too
    assert len(np.unique(explored, axis=0)) > 1


def test_train_2n_equals_train_n_then_resume_with_multi_discrete_actions(tmp_path):
    def config(out, steps):
        # n_steps=24 with 1 env: the checkpoint at 300 steps falls inside a rollout, which must resume exactly
        return resolve("ppo", "porcini/MatchCues-v0", None, [
            f"steps={steps}", "steps_per_epoch=150", "log.sinks=[csv]", f"out={out}", "eval_episodes=3",
            "env.n_envs=1", "algo.n_steps=24", "algo.batch_size=24", "algo.n_epochs=2", "algo.net_arch=[16]"])

    straight = Experiment.start(config(tmp_path / "a", 600)).train()
    first = Experiment.start(config(tmp_path / "b", 300))
    first.train()
    resumed = Experiment.resume(first.run_dir.path, steps=600).train()
    assert resumed.env_steps == straight.env_steps == 600
    assert resumed.eval_return_mean == straight.eval_return_mean
    straight_rows = (Path(straight.extra["run_dir"]) / "metrics.csv").read_text().splitlines()
    resumed_rows = (first.run_dir.path / "metrics.csv").read_text().splitlines()
    header = straight_rows[0].split(",")
    keep = [i for i, name in enumerate(header) if "time" not in name and "per_second" not in name]
    assert [[r.split(",")[i] for i in keep] for r in resumed_rows] == [[r.split(",")[i] for i in keep]
                                                                        for r in straight_rows]
