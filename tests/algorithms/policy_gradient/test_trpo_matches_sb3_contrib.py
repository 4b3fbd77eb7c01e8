"""porcini's TRPO update is SB3-contrib's: same weights and rollout in, same policy step and critic out."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms import TRPO
from porcini.core.batch import TransitionBatch

sb3_contrib = pytest.importorskip("sb3_contrib")
from stable_baselines3.common.logger import configure  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

# porcini's ActorCritic module -> SB3's ActorCriticPolicy module with the same weights
PEER_NAMES = {"pi_trunk.layers.0": "mlp_extractor.policy_net.0", "pi_trunk.layers.1": "mlp_extractor.policy_net.2",
              "pi_head.linear": "action_net", "vf_trunk.layers.0": "mlp_extractor.value_net.0",
              "vf_trunk.layers.1": "mlp_extractor.value_net.2", "v_head.linear": "value_net"}


def peer_key(name: str) -> str:
    module, field = name.rsplit(".", 1)
    return f"{PEER_NAMES[module]}.{field}"


def feed_peer(peer, obs, action, reward, terminated):
    """Fill SB3's rollout buffer as its collect_rollouts would (no truncations: SB3 folds those into the reward)."""
    buffer = peer.rollout_buffer
    buffer.reset()
    episode_start = np.zeros(obs.shape[1], dtype=bool)
    for t in range(len(action)):
        with torch.no_grad():
            values, log_prob, _ = peer.policy.evaluate_actions(torch.as_tensor(obs[t]), torch.as_tensor(action[t]))
        buffer.add(obs[t], action[t][:, None], reward[t], episode_start, values.flatten(), log_prob)
        episode_start = terminated[t]
    with torch.no_grad():
        last_values = peer.policy.predict_values(torch.as_tensor(obs[-1]))
    buffer.compute_returns_and_advantage(last_values=last_values, dones=terminated[-1])


@pytest.mark.parametrize("seed", [0, 1])
def test_one_update_matches_sb3_contrib(seed):
    n_rows, n_envs = 32, 4
    settings = dict(n_steps=n_rows, batch_size=n_rows * n_envs, n_critic_updates=1)  # one critic minibatch
    peer = sb3_contrib.TRPO("MlpPolicy", DummyVecEnv([lambda: gym.make("CartPole-v1")] * n_envs), **settings,
                            seed=seed, device="cpu")
    peer.set_logger(configure(None, [""]))
    ours = TRPO(make_env("CartPole-v1", n_envs=n_envs).info, **settings, seed=seed)
    theirs = peer.policy.state_dict()
    with torch.no_grad():
        for name, param in ours.model.state_dict().items():
            param.copy_(theirs[peer_key(name)])
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n_rows + 1, n_envs, 4)).astype(np.float32)
    action = rng.integers(0, 2, size=(n_rows, n_envs))
    reward = rng.normal(size=(n_rows, n_envs)).astype(np.float32)
    terminated = rng.random((n_rows, n_envs)) < 0.1
    next_obs = obs[1:].copy()
    next_obs[terminated] = rng.normal(size=(int(terminated.sum()), 4))  # final observations: never bootstrapped
    ours.fit(TransitionBatch(obs[:-1], action, reward, next_obs, terminated, np.zeros_like(terminated)))
    feed_peer(peer, obs, action, reward, terminated)
    peer.train()
    theirs = peer.policy.state_dict()
    for name, param in ours.model.state_dict().items():
        torch.testing.assert_close(param, theirs[peer_key(name)], rtol=1e-4, atol=1e-6, msg=name)
