"""The discriminator's learner replay (``discriminator_replay``), shared by GAIL and AIRL: what the discriminator
trains on, first in first out, inputs under the current policy, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.imitation import AIRL, GAIL
from porcini.algorithms.imitation.adversarial import AdversarialImitation
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint

from .conftest import rollout

SMALL = {"n_steps": 64, "batch_size": 64, "n_epochs": 2, "discriminator_batch_size": 32, "net_arch": (16,),
         "discriminator_arch": (16,), "seed": 0}
METHODS = {"gail": GAIL, "airl": AIRL}


def trained_rows(agent, monkeypatch) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Record, at each discriminator training, its learner rows and the inputs of everything in the replay then."""
    seen = []
    original = AdversarialImitation._train_discriminator

    def spy(self, learner):
        everything = (self.inputs(self.learner_replay.gather(np.arange(len(self.learner_replay))).flatten())
                      if self.learner_replay is not None else None)
        seen.append((learner.detach().clone(), everything))
        return original(self, learner)

    monkeypatch.setattr(AdversarialImitation, "_train_discriminator", spy)
    return seen


@pytest.mark.parametrize("name", METHODS)
def test_without_a_replay_the_discriminator_trains_on_the_rollout_alone(name, demos, monkeypatch):
    env = make_env("CartPole-v1", seed=0)
    agent = METHODS[name](env.info, **SMALL)
    agent.add_dataset(demos)
    seen = trained_rows(agent, monkeypatch)
    batch = rollout(agent, env, 64)
    expected = agent.inputs(batch.flatten())  # before the fit changes AIRL's log π
    agent.fit(batch)
    assert agent.learner_replay is None and "learner_replay" not in agent.state_dict()
    torch.testing.assert_close(seen[0][0], expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", METHODS)
def test_the_discriminator_trains_on_the_rollout_and_as_many_replayed_rows_under_the_current_policy(
        name, demos, monkeypatch):
    env = make_env("CartPole-v1", seed=0)
    agent = METHODS[name](env.info, **SMALL, discriminator_replay=150)
    agent.add_dataset(demos)
    seen = trained_rows(agent, monkeypatch)
    for k in range(3):
        batch = rollout(agent, make_env("CartPole-v1", seed=k), 64)
        rollout_rows = agent.inputs(batch.flatten())
        agent.fit(batch)  # the learner's update changes the policy, so AIRL's log π of old transitions changes
        rows, everything = seen[k]
        torch.testing.assert_close(rows[:64], rollout_rows, rtol=0, atol=0)
        replayed = rows[64:]
        assert len(replayed) == 64
        # each replayed row is the current inputs of a transition the replay holds
        distance = torch.cdist(replayed, everything, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values
        assert float(distance.max()) < 1e-5
    assert len(agent.learner_replay) == 150 and agent.learner_replay.n_added == 192


def test_the_replay_keeps_the_latest_transitions(demos):
    env = make_env("CartPole-v1", seed=0)
    agent = GAIL(env.info, **SMALL, discriminator_replay=100)
    agent.add_dataset(demos)
    batches = [rollout(agent, make_env("CartPole-v1", seed=k), 64) for k in range(3)]
    for batch in batches:
        agent.fit(batch)
    held = agent.learner_replay.gather(np.arange(100)).flatten().obs[:, 0]
    latest = np.concatenate([batches[1].flatten().obs[28:, 0], batches[2].flatten().obs[:, 0]])
    assert {row.tobytes() for row in held} == {row.tobytes() for row in latest}


@pytest.mark.parametrize("name", METHODS)
def test_a_checkpoint_holds_the_replay_and_resumes_exactly(name, demos, tmp_path):
    cls = METHODS[name]
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = cls(env.info, **SMALL, discriminator_replay=300)
    agent.add_dataset(demos)
    Core(agent, env, progress=False).learn(steps=256)
    save_checkpoint(tmp_path / "agent.pt", agent.state_dict(), {"algo": name})
    restored = cls(env.info, **{**SMALL, "seed": 7, "discriminator_replay": 300})
    restored.add_dataset(demos)
    restored.load_state_dict(load_checkpoint(tmp_path / "agent.pt", {"algo": name}))
    assert len(restored.learner_replay) == len(agent.learner_replay) == 256
    batch = rollout(agent, make_env("CartPole-v1", seed=9), 64)
    agent.fit(batch)
    restored.fit(batch)
    for name_, module in agent.modules.items():
        for a, b in zip(module.parameters(), restored.modules[name_].parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_negative_replay_is_named():
    with pytest.raises(ValueError, match="discriminator_replay"):
        GAIL(make_env("CartPole-v1").info, **SMALL, discriminator_replay=-1)


def test_absorbing_rows_ride_with_their_transitions_steps(demos):
    """AIRL's absorbing rows join their transitions' step: the step count is the transitions' alone."""
    env = make_env("CartPole-v1", seed=0)
    agent = AIRL(env.info, **SMALL, absorbing_rows=3)
    agent.add_dataset(demos)
    batch = rollout(agent, env, 64)
    assert batch.terminated.any()
    steps = []
    optimizer = agent.optimizers["discriminator"]
    original = optimizer.step
    optimizer.step = lambda *args, **kwargs: (steps.append(1), original(*args, **kwargs))[1]
    agent.fit(batch)
    assert len(steps) == 64 // SMALL["discriminator_batch_size"]
