"""Subnormals are flushed while agents fit, and only then."""

import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms import A2C, DQN, PPO, SAC, TD3, TRPO, Reinforce
from porcini.core.batch import TransitionBatch
from porcini.networks.denormals import denormals_flushed, flush_denormals, flushed_denormals

SUPPORTED = torch.set_flush_denormal(False)  # also leaves the mode off for every test below
needs_mode = pytest.mark.skipif(not SUPPORTED, reason="this CPU has no flush-to-zero mode")


def torch_tiny_times_two() -> float:
    return float(torch.tensor(1e-39, dtype=torch.float32) * 2)


@needs_mode
def test_block_flushes_inside_and_restores_after() -> None:
    assert not denormals_flushed() and torch_tiny_times_two() > 0
    with flushed_denormals():
        assert denormals_flushed()
        assert torch_tiny_times_two() == 0.0  # torch arithmetic sees the same mode as the NumPy probe
    assert not denormals_flushed() and torch_tiny_times_two() > 0


@needs_mode
def test_mode_set_by_the_user_is_kept() -> None:
    torch.set_flush_denormal(True)
    try:
        with flushed_denormals():
            assert denormals_flushed()
        assert denormals_flushed()
    finally:
        torch.set_flush_denormal(False)


@needs_mode
def test_an_exception_restores_the_mode() -> None:
    @flush_denormals
    def fit() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fit()
    assert not denormals_flushed()


def test_decorator_keeps_name_doc_and_result() -> None:
    @flush_denormals
    def fit(x: int, *, y: int) -> int:
        """Doc."""
        return x + y

    assert fit(1, y=2) == 3
    assert fit.__name__ == "fit" and fit.__doc__ == "Doc."


def _discrete_batch(env, t: int = 32) -> TransitionBatch:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(t, 1, 4)).astype(np.float32)
    terminated = np.zeros((t, 1), bool)
    terminated[-1] = True  # one whole episode, so that episode-based learners (REINFORCE) fit on it too
    return TransitionBatch(obs=obs, action=rng.integers(0, 2, size=(t, 1)), reward=np.ones((t, 1)),
                           next_obs=obs + 0.1, terminated=terminated, truncated=np.zeros((t, 1), bool))


@pytest.fixture
def modes_at_backward(monkeypatch) -> list[bool]:
    """The flush mode seen by every ``Tensor.backward`` call while the test runs."""
    seen: list[bool] = []
    original = torch.Tensor.backward

    def spy(self, *args, **kwargs):
        seen.append(denormals_flushed())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "backward", spy)
    return seen


@needs_mode
@pytest.mark.parametrize("agent_cls", [DQN, PPO, A2C, Reinforce, TRPO])
def test_agents_fit_with_subnormals_flushed(agent_cls, modes_at_backward) -> None:
    env = make_env("CartPole-v1", seed=0)
    if agent_cls is DQN:
        agent = agent_cls(env.info, learning_starts=0, batch_size=8, gradient_steps=2, net_arch=(8,))
    else:
        agent = agent_cls(env.info) if agent_cls is Reinforce else agent_cls(env.info, n_steps=32)
    agent.fit(_discrete_batch(env))
    assert modes_at_backward and all(modes_at_backward)  # every backward pass of the fit ran flushed
    assert not denormals_flushed()  # and the caller's mode is back


@needs_mode
@pytest.mark.parametrize("agent_cls", [SAC, TD3])
def test_off_policy_actor_critic_fits_flushed(agent_cls, modes_at_backward) -> None:
    env = make_env("Pendulum-v1", seed=0)
    agent = agent_cls(env.info, learning_starts=0, batch_size=8, net_arch=(8,))
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(16, 1, 3)).astype(np.float32)
    batch = TransitionBatch(obs=obs, action=rng.uniform(-2, 2, size=(16, 1, 1)).astype(np.float32),
                            reward=-np.ones((16, 1)), next_obs=obs, terminated=np.zeros((16, 1), bool),
                            truncated=np.zeros((16, 1), bool))
    agent.fit(batch)
    assert modes_at_backward and all(modes_at_backward)
    assert not denormals_flushed()
