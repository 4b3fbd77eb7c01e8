"""MultiDiscrete actions with an action mask: one block of flags per component, honoured by the on-policy agents."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.policy_gradient.a2c import A2C
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.algorithms.policy_gradient.recurrent_ppo import RecurrentPPO
from porcini.algorithms.policy_gradient.trpo import TRPO
from porcini.envs.testing import SpaceEnv
from porcini.errors import UnsupportedSpaceError
from porcini.networks.actor_critic import ActorCritic

S = gym.spaces
NVEC = (3, 4)
FEATURES = S.Box(-1.0, 1.0, (3,), np.float32)


class MaskedComponents(SpaceEnv):
    """Random features and a random mask of ``sum(NVEC)`` flags, each component keeping at least one legal value.

    Counts (class-wide) the steps and the actions with an illegal value in some component.
    """

    counts = {"steps": 0, "illegal": 0}

    def __init__(self):
        space = S.Dict({"observation": FEATURES, "action_mask": S.Box(0, 1, (sum(NVEC),), np.int8)})
        super().__init__(space, S.MultiDiscrete(NVEC))

    def _obs(self):
        obs = super()._obs()
        obs["action_mask"] = random_component_masks(self.np_random, 1)[0]
        self._mask = obs["action_mask"]
        return obs

    def step(self, action):
        type(self).counts["steps"] += 1
        type(self).counts["illegal"] += int(not legal_in(self._mask[None], np.asarray(action)[None])[0])
        return super().step(action)


def random_component_masks(rng, rows):
    """Masks ``[rows, sum(NVEC)]``: per component random flags, one forced legal (row 0: exactly one per component)."""
    blocks = []
    for n in NVEC:
        block = (rng.random((rows, n)) < 0.5).astype(np.int8)
        block[0] = 0
        block[np.arange(rows), rng.integers(0, n, rows)] = 1
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


def legal_in(mask, actions):
    """Whether each action ``[rows, k]`` takes a legal value in every component of its mask row."""
    offsets = np.concatenate([[0], np.cumsum(NVEC)[:-1]])
    return mask[np.arange(len(actions))[:, None], actions + offsets].all(axis=1)


def observations(rng, rows):
    return {"action_mask": random_component_masks(rng, rows),
            "observation": rng.uniform(-1, 1, (rows, 3)).astype(np.float32)}


@pytest.mark.parametrize("agent_cls", [PPO, A2C, TRPO, RecurrentPPO])
def test_on_policy_agents_take_no_illegal_component_value(agent_cls):
    info = dataclasses.replace(make_env(MaskedComponents, seed=0).info, n_envs=400)  # RecurrentPPO: a state per env
    agent = agent_cls(info, n_steps=16, net_arch=(8,), log_std_init=0.0)
    obs = observations(np.random.default_rng(0), 400)
    for explore in (True, False):
        assert legal_in(obs["action_mask"], agent.act(obs, explore=explore)).all()
    probs = agent.explain(obs)["component_probs"]  # [rows, k, max(nvec)]
    for i, n in enumerate(NVEC):
        block = obs["action_mask"][:, sum(NVEC[:i]):sum(NVEC[:i]) + n]
        assert np.all(probs[:, i, :n][block == 0] == 0)
        np.testing.assert_allclose(probs[:, i].sum(-1), 1.0, rtol=1e-5)


def test_masked_ppo_trains_with_finite_losses_and_never_acts_illegally(monkeypatch):
    MaskedComponents.counts.update(steps=0, illegal=0)
    env = make_env(MaskedComponents, n_envs=2, seed=0, vectorization="sync")  # counted in this process
    agent = PPO(env.info, n_steps=32, batch_size=32, n_epochs=2, ent_coef=0.01, net_arch=(8,))
    seen = []
    original_fit = agent.fit
    monkeypatch.setattr(agent, "fit", lambda batch: seen.append(original_fit(batch)) or seen[-1])
    Core(agent, env, progress=False).learn(steps=256)
    assert seen and all(np.isfinite(v) for metrics in seen for k, v in metrics.items() if k != "explained_variance")
    assert MaskedComponents.counts["steps"] >= 256 and MaskedComponents.counts["illegal"] == 0


def test_the_mask_is_not_a_feature_of_the_multi_discrete_policy():
    space = S.Dict({"observation": FEATURES, "action_mask": S.MultiBinary(sum(NVEC))})
    model = ActorCritic(space, S.MultiDiscrete(NVEC))
    rng = np.random.default_rng(1)
    obs = {key: torch.as_tensor(value, dtype=torch.float32) for key, value in observations(rng, 8).items()}
    other = {**obs, "action_mask": torch.as_tensor(random_component_masks(rng, 8), dtype=torch.float32)}
    torch.testing.assert_close(model.value(obs), model.value(other))


def test_a_component_without_a_legal_value_falls_back_to_all_values_alone():
    space = S.Dict({"observation": FEATURES, "action_mask": S.MultiBinary(sum(NVEC))})
    model = ActorCritic(space, S.MultiDiscrete(NVEC))
    mask = torch.tensor([[0, 0, 0, 0, 1, 0, 0]], dtype=torch.int8)  # component 0: none legal; component 1: value 0
    probs = model.policy({"observation": torch.zeros(1, 3), "action_mask": mask}).probs[0]
    assert torch.all(probs[0, :3] > 0)
    torch.testing.assert_close(probs[1], torch.tensor([0.0, 1.0, 0.0, 0.0]))


@pytest.mark.parametrize("action_space", [S.MultiBinary(3), S.Box(-1.0, 1.0, (3,), np.float32)])
def test_a_mask_for_actions_without_a_mask_convention_is_refused(action_space):
    space = S.Dict({"observation": FEATURES, "action_mask": S.MultiBinary(3)})
    with pytest.raises(UnsupportedSpaceError, match="'action_mask' entry masks Discrete or .*FilterObservation"):
        ActorCritic(space, action_space)


def test_a_multi_discrete_mask_of_the_wrong_width_is_refused():
    space = S.Dict({"observation": FEATURES, "action_mask": S.MultiBinary(4)})
    with pytest.raises(UnsupportedSpaceError, match=r"MultiBinary\(7\)"):
        ActorCritic(space, S.MultiDiscrete(NVEC))
