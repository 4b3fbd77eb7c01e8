"""porcini's DQN update is Stable-Baselines3's: same weights and minibatches in, same weights out.

These tests pin down the update on its own, with porcini's fused optimizer (close to SB3's for-loop Adam in the
last bits) and on transitions with terminations and truncations, and the ε schedule over the whole run.
test_dqn_lockstep_sb3.py checks the whole agent, data path included, bit for bit against an SB3 run.
"""

import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms import DQN
from porcini.core.batch import TransitionBatch

sb3 = pytest.importorskip("stable_baselines3")
from stable_baselines3.common.type_aliases import ReplayBufferSamples  # noqa: E402

ZOO = dict(learning_rate=2.3e-3, batch_size=64, gamma=0.99, exploration_fraction=0.16, exploration_final_eps=0.04,
           learning_starts=1000)
TOTAL = 50_000


def make_pair(seed: int):
    env = make_env("CartPole-v1", seed=seed)
    ours = DQN(env.info, **ZOO, net_arch=(256, 256), seed=seed)
    ours.set_horizon(TOTAL)  # as Core.learn(steps=TOTAL) does
    peer = sb3.DQN("MlpPolicy", "CartPole-v1", **ZOO, policy_kwargs=dict(net_arch=[256, 256]), seed=seed,
                   device="cpu")
    peer._setup_learn(TOTAL)  # as learn() does: sets the horizon of the exploration schedule
    # SB3's Sequential(Linear, ReLU, Linear, ReLU, Linear) -> porcini's trunk layers and Q head
    ours_layers = [*ours.q_net.trunk.layers, ours.q_net.head.linear]
    peer_layers = [m for m in peer.q_net.q_net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for mine, theirs in zip(ours_layers, peer_layers, strict=True):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    ours.target_net.load_state_dict(ours.q_net.state_dict())
    peer.q_net_target.load_state_dict(peer.q_net.state_dict())
    return ours, peer, ours_layers, peer_layers


def random_minibatches(n_grad: int, batch_size: int, seed: int) -> TransitionBatch:
    """``n_grad * batch_size`` replayed transitions, laid out ``[N, 1]`` as ``ReplayBuffer.sample`` returns them."""
    rng = np.random.default_rng(seed)
    n = n_grad * batch_size
    obs = rng.normal(size=(n, 1, 4)).astype(np.float32)
    ended = rng.random((n, 1))
    return TransitionBatch(
        obs=obs, action=rng.integers(0, 2, size=(n, 1)), reward=rng.normal(size=(n, 1)).astype(np.float32),
        next_obs=(obs + rng.normal(scale=0.1, size=obs.shape)).astype(np.float32),
        terminated=ended < 0.10, truncated=(ended >= 0.10) & (ended < 0.15))  # truncations bootstrap


@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_steps_on_the_same_minibatches_give_the_same_parameters(seed, monkeypatch):
    n_grad, bs = 40, ZOO["batch_size"]
    ours, peer, ours_layers, peer_layers = make_pair(seed)
    initial = ours_layers[0].weight.detach().clone()
    data = random_minibatches(n_grad, bs, seed)

    # porcini draws all of a fit's minibatches from its buffer at once; hand it exactly these, in this order
    monkeypatch.setattr(ours.buffer, "sample", lambda n, rng: data)
    rows = iter(range(n_grad))

    def peer_sample(batch_size, env=None):
        start = next(rows) * batch_size
        sl = slice(start, start + batch_size)
        done = data.terminated[sl] & ~data.truncated[sl]  # SB3 stores done * (1 - timeout)
        return ReplayBufferSamples(
            torch.from_numpy(data.obs[sl, 0]), torch.from_numpy(data.action[sl]),
            torch.from_numpy(data.next_obs[sl, 0]), torch.from_numpy(done.astype(np.float32)),
            torch.from_numpy(data.reward[sl]), None)

    monkeypatch.setattr(peer.replay_buffer, "sample", peer_sample)
    peer.train(gradient_steps=n_grad, batch_size=bs)
    ours._train_uniform(n_grad)

    assert next(rows, None) is None  # SB3 consumed every minibatch
    for mine, theirs in zip(ours_layers, peer_layers):
        # fused (porcini) and for-loop (SB3) Adam round differently in the last bits; 40 steps keep it tiny
        torch.testing.assert_close(mine.weight, theirs.weight, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(mine.bias, theirs.bias, rtol=1e-4, atol=1e-5)
    assert (ours_layers[0].weight - initial).abs().max() > 1e-3  # the steps moved the weights: equality means something


def test_exploration_schedule_is_sb3s():
    ours, peer, _, _ = make_pair(0)
    for t in range(ZOO["learning_starts"], TOTAL, 731):
        ours.behaviour_steps = t
        assert ours.exploration_rate == pytest.approx(peer.exploration_schedule(1.0 - t / TOTAL), abs=1e-12)
