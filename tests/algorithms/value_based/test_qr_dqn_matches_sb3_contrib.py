"""porcini's QR-DQN update is SB3-contrib's: same weights and minibatches in, same weights out (default optimizer)."""

import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms import QRDQN
from porcini.core.batch import TransitionBatch

sb3_contrib = pytest.importorskip("sb3_contrib")
from stable_baselines3.common.logger import configure  # noqa: E402
from stable_baselines3.common.type_aliases import ReplayBufferSamples  # noqa: E402

SETTINGS = dict(learning_rate=1e-3, batch_size=32, gamma=0.99, learning_starts=0)
N_QUANTILES, N_ACTIONS = 7, 2


def make_pair(seed: int):
    env = make_env("CartPole-v1", seed=seed)
    ours = QRDQN(env.info, **SETTINGS, n_quantiles=N_QUANTILES, seed=seed)
    peer = sb3_contrib.QRDQN("MlpPolicy", "CartPole-v1", **SETTINGS, policy_kwargs=dict(n_quantiles=N_QUANTILES),
                             seed=seed, device="cpu")
    peer.set_logger(configure(None, [""]))
    ours_layers = [*ours.q_net.trunk.layers, ours.q_net.head.linear]
    peer_layers = [m for m in peer.quantile_net.quantile_net if isinstance(m, torch.nn.Linear)]
    # SB3-contrib's last layer is laid out [quantile, action], porcini's [action, quantile]
    rows = torch.arange(N_QUANTILES * N_ACTIONS).view(N_QUANTILES, N_ACTIONS).T.reshape(-1)
    with torch.no_grad():
        for mine, theirs in zip(ours_layers, peer_layers, strict=True):
            last = mine is ours_layers[-1]
            mine.weight.copy_(theirs.weight[rows] if last else theirs.weight)
            mine.bias.copy_(theirs.bias[rows] if last else theirs.bias)
    ours.target_net.load_state_dict(ours.q_net.state_dict())
    peer.quantile_net_target.load_state_dict(peer.quantile_net.state_dict())
    return ours, peer, ours_layers, peer_layers, rows


@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_steps_on_the_same_minibatches_give_the_same_parameters(seed, monkeypatch):
    n_grad, bs = 20, SETTINGS["batch_size"]
    ours, peer, ours_layers, peer_layers, rows = make_pair(seed)
    rng = np.random.default_rng(seed)
    n = n_grad * bs
    obs = rng.normal(size=(n, 1, 4)).astype(np.float32)
    ended = rng.random((n, 1))
    data = TransitionBatch(obs=obs, action=rng.integers(0, 2, size=(n, 1)),
                           reward=rng.normal(size=(n, 1)).astype(np.float32),
                           next_obs=(obs + rng.normal(scale=0.1, size=obs.shape)).astype(np.float32),
                           terminated=ended < 0.10, truncated=(ended >= 0.10) & (ended < 0.15))
    monkeypatch.setattr(ours.buffer, "sample", lambda n, rng: data)
    starts = iter(range(0, n, bs))

    def peer_sample(batch_size, env=None):
        start = next(starts)
        sl = slice(start, start + batch_size)
        done = data.terminated[sl] & ~data.truncated[sl]  # SB3 stores done * (1 - timeout)
        return ReplayBufferSamples(torch.from_numpy(data.obs[sl, 0]), torch.from_numpy(data.action[sl]),
                                   torch.from_numpy(data.next_obs[sl, 0]), torch.from_numpy(done.astype(np.float32)),
                                   torch.from_numpy(data.reward[sl]), None)

    monkeypatch.setattr(peer.replay_buffer, "sample", peer_sample)
    peer.train(gradient_steps=n_grad, batch_size=bs)
    ours._train_uniform(n_grad)
    assert next(starts, None) is None  # SB3-contrib consumed every minibatch
    for mine, theirs in zip(ours_layers, peer_layers, strict=True):
        last = mine is ours_layers[-1]
        torch.testing.assert_close(mine.weight, theirs.weight[rows] if last else theirs.weight, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(mine.bias, theirs.bias[rows] if last else theirs.bias, rtol=1e-4, atol=1e-5)
