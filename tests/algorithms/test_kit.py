"""The deep agents' kit (porcini.algorithms.kit): seeding streams, device check, observations, checkpoints."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from porcini import Core, make_env
from porcini.algorithms import PPO
from porcini.algorithms.kit import Checkpointed, agent_generator, check_device, obs_to_tensor, seeded
from porcini.errors import ConfigError, UnsupportedSpaceError
from porcini.seeding import agent_torch_seed, torch_seed


def test_seeded_draws_from_the_network_stream_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected_global = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected_global)  # the global stream did not move
    assert torch.equal(inside, torch.rand(3, generator=torch.Generator().manual_seed(torch_seed(7))))
    with seeded(8):
        assert not torch.equal(torch.rand(3), inside)


def test_agent_generator_is_the_agent_torch_stream():
    g = agent_generator(5, torch.device("cpu"))
    ref = torch.Generator().manual_seed(agent_torch_seed(5))
    assert torch.equal(torch.rand(4, generator=g), torch.rand(4, generator=ref))
    assert not torch.equal(torch.rand(4, generator=agent_generator(6, torch.device("cpu"))),
                           torch.rand(4, generator=agent_generator(5, torch.device("cpu"))))


def test_check_device_names_the_field_and_the_fix():
    check_device("PPOConfig", "cpu")
    with pytest.raises(ConfigError, match=r"PPOConfig\.device = 'gpu0' is invalid: must be a torch device"):
        check_device("PPOConfig", "gpu0")


def test_obs_to_tensor_float32_images_uint8_discrete_one_hot():
    x = obs_to_tensor(np.array([[0.1, 0.2]], dtype=np.float64), torch.device("cpu"))
    assert x.dtype == torch.float32 and torch.equal(x, torch.tensor([[0.1, 0.2]], dtype=torch.float32))
    image = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    assert obs_to_tensor(image, torch.device("cpu")).dtype == torch.uint8
    shared = np.ones((2, 3), dtype=np.float32)
    assert obs_to_tensor(shared, torch.device("cpu")).data_ptr() == shared.ctypes.data  # no copy
    one_hot = obs_to_tensor(np.array([2, 0]), torch.device("cpu"), gym.spaces.Discrete(3))
    assert torch.equal(one_hot, torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    read_only = np.ones((2, 3), dtype=np.float32)
    read_only.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when it shares read-only NumPy memory
        assert torch.equal(obs_to_tensor(read_only, torch.device("cpu")), torch.ones(2, 3))


class _Agent(Checkpointed):
    def __init__(self, seed: int) -> None:
        self._init_registry()
        with seeded(seed):
            self.modules["net"] = nn.Linear(3, 2)
        self.tensors["log_alpha"] = torch.zeros(1, requires_grad=True)
        self.optimizers["adam"] = torch.optim.Adam([*self.modules["net"].parameters(), self.tensors["log_alpha"]])

    def step(self) -> None:
        opt = self.optimizers["adam"]
        opt.zero_grad()
        (self.modules["net"](torch.ones(1, 3)).sum() + self.tensors["log_alpha"].sum()).backward()
        opt.step()


def test_registered_state_is_a_copy_and_restores_modules_optimizers_and_tensors():
    a, b = _Agent(0), _Agent(1)
    a.step()
    state = a.registered_state()
    assert set(state) == {"modules", "optimizers", "tensors"}
    a.step()  # the saved state is a copy: later steps do not change it
    b.load_registered_state(state)
    b.step()
    for p, q in zip(a.modules["net"].parameters(), b.modules["net"].parameters()):
        assert torch.equal(p, q)
    assert torch.equal(a.tensors["log_alpha"], b.tensors["log_alpha"])


DEEP_AGENTS = ("ppo", "a2c", "trpo", "reinforce", "recurrent_ppo", "dqn", "qr_dqn", "ddpg", "td3", "sac",
               "discrete_sac")


@pytest.mark.parametrize("name", DEEP_AGENTS)
def test_every_deep_config_shares_the_base_fields_and_their_checks(name):
    import dataclasses

    from porcini.algorithms.kit import DeepConfig
    from porcini.algorithms.registry import get_algorithm
    from porcini.experiment.config.field_help import field_docs

    config_cls = get_algorithm(name).Config
    assert issubclass(config_cls, DeepConfig)
    shared = {f.name for f in dataclasses.fields(DeepConfig)}
    docs, base_docs = field_docs(config_cls), field_docs(DeepConfig)
    assert {field: docs[field] for field in shared} == base_docs  # documented once, on the base
    with pytest.raises(ConfigError, match=rf"{config_cls.__name__}\.device = 'gpu0' is invalid"):
        config_cls(device="gpu0")
    with pytest.raises(ConfigError, match=rf"{config_cls.__name__}\.gamma = 1.5 is invalid"):
        config_cls(gamma=1.5)
    with pytest.raises(ConfigError, match=rf"{config_cls.__name__}\.learning_rate = 0 is invalid"):
        config_cls(learning_rate=0)


def test_a_state_without_registered_modules_is_refused_with_the_keys_it_has():
    agent = _Agent(0)
    with pytest.raises(ValueError, match=r"_Agent state has no 'modules' \(keys: \['model', 'optimizers'\]\)"):
        agent.load_registered_state({"model": {}, "optimizers": {}})


def test_replay_sample_select_indexes_tensors_and_keeps_the_rest():
    from porcini.algorithms.kit import ReplaySample

    indices = np.arange(6)
    s = ReplaySample(torch.arange(12.0).reshape(6, 2), torch.arange(6), torch.ones(6), 0.9,
                     torch.zeros(6, dtype=torch.bool), torch.arange(12.0).reshape(6, 2), None, indices)
    part = s.select(slice(2, 4))
    assert part.obs.tolist() == [[4.0, 5.0], [6.0, 7.0]] and part.action.tolist() == [2, 3]
    assert part.discount == 0.9 and part.weights is None and part.indices is indices
    assert s.select(1).next_obs.tolist() == [2.0, 3.0]


class HugeObservations(gym.Env):
    """Float64 observations beyond the float32 range (finite, and within the declared bounds)."""

    observation_space = gym.spaces.Box(-1e300, 1e300, (2,), np.float64)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.array([1e39, 0.0]), {}

    def step(self, action):
        return np.array([1e39, 1.0]), 1.0, False, False, {}


def test_an_agent_refuses_float64_observations_its_float32_networks_would_make_inf():
    env = make_env(HugeObservations, n_envs=2, seed=0, vectorization="sync")
    agent = PPO(env.info, n_steps=8, batch_size=8)
    with pytest.raises(UnsupportedSpaceError, match="1e\\+39 is beyond the float32 range.*NormalizeObservation"):
        Core(agent, env, progress=False).learn(steps=16)
    assert all(torch.isfinite(p).all() for p in agent.model.parameters())
