"""Every deep agent on every device: a couple of fits, NumPy actions, and a checkpoint that loads on the CPU.

On a machine without CUDA the ``cuda`` cases are skipped, and the simulated device of :mod:`.device_spy` stands in
for it: an agent built with ``device="cpu:0"`` under :class:`DeviceSpy` fails these tests where a CUDA run would
fail (a host tensor meeting a device tensor, ``.numpy()`` of a device tensor, a generator on the wrong device), and
its host → device transfers are counted: a fit moves its data once whatever the number of minibatches, and an
act moves its observations once.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.registry import available, get_algorithm
from porcini.data import collect_dataset
from porcini.envs.testing import SpaceEnv
from porcini.errors import ConfigError
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint

from .device_spy import SPY_DEVICE, DeviceSpy

SPY = "cpu:0 (spy)"
DEVICES = [SPY, pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                reason="no CUDA device here"))]
OFF_POLICY = dict(learning_starts=16, batch_size=8, buffer_size=500, net_arch=(16,))
ON_POLICY = dict(n_steps=16, batch_size=16, net_arch=(16,))


def cartpole_expert(obs: np.ndarray) -> np.ndarray:
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def pendulum_expert(obs: np.ndarray) -> np.ndarray:
    return np.clip(-2.0 * obs[:, 2:3] - 1.0 * obs[:, 1:2], -2.0, 2.0).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Case:
    """How to build and train one deep agent quickly."""

    env: str
    overrides: dict[str, Any]
    data: Callable[[np.ndarray], np.ndarray] | None = None  # an expert: demonstrations for offline and imitation
    offline: bool = False  # learns with Core.learn_offline from the demonstrations
    more_minibatches: dict[str, Any] = dataclasses.field(default_factory=dict)  # same data, more gradient steps
    n_envs: int = 2
    env_kwargs: dict[str, Any] | None = None


PENDULUM, CARTPOLE = "Pendulum-v1", "CartPole-v1"
SPREAD, SPREAD_KWARGS = "mpe2.simple_spread_v3:parallel_env", dict(N=2, max_cycles=25, continuous_actions=False)
CASES: dict[str, Case] = {
    "ppo": Case(CARTPOLE, dict(ON_POLICY, n_epochs=1), more_minibatches=dict(n_epochs=2, batch_size=4)),
    "a2c": Case(PENDULUM, dict(n_steps=8, net_arch=(16,))),
    "trpo": Case(PENDULUM, dict(ON_POLICY, n_critic_updates=1), more_minibatches=dict(n_critic_updates=3)),
    "reinforce": Case(CARTPOLE, dict(net_arch=(16,), fit_every_episodes=1)),
    "recurrent_ppo": Case(CARTPOLE, dict(ON_POLICY, n_epochs=1, batch_size=32, lstm_hidden_size=8),
                          more_minibatches=dict(n_epochs=3, batch_size=16)),
    "ppo_lagrangian": Case("porcini/CartPoleBand-v0", dict(ON_POLICY, n_epochs=1),
                           more_minibatches=dict(n_epochs=2, batch_size=4)),
    "dqn": Case(CARTPOLE, dict(OFF_POLICY, train_freq=4), more_minibatches=dict(gradient_steps=3)),
    "qr_dqn": Case(CARTPOLE, dict(OFF_POLICY, train_freq=4), more_minibatches=dict(gradient_steps=3)),
    "ddpg": Case(PENDULUM, dict(OFF_POLICY, train_freq=4), more_minibatches=dict(gradient_steps=3)),
    "td3": Case(PENDULUM, dict(OFF_POLICY, train_freq=4), more_minibatches=dict(gradient_steps=3)),
    "sac": Case(PENDULUM, dict(OFF_POLICY, train_freq=4), more_minibatches=dict(gradient_steps=3)),
    "discrete_sac": Case(CARTPOLE, dict(OFF_POLICY, train_freq=4), more_minibatches=dict(gradient_steps=3)),
    "sac_lagrangian": Case("porcini/PendulumSpeed-v0", dict(OFF_POLICY, train_freq=4),
                           more_minibatches=dict(gradient_steps=3)),
    "mbpo": Case(PENDULUM, dict(OFF_POLICY, train_freq=4, model_train_freq=16, rollout_batch_size=8,
                                model_hidden=(16,), n_members=2, n_elites=1, model_epochs=2, model_batch_size=8)),
    "pets": Case(PENDULUM, dict(model_hidden=(16,), n_members=2, n_elites=1, model_epochs=2, model_batch_size=8,
                                horizon=3, population=8, iterations=2, elites=2, particles=2, learning_starts=16,
                                model_train_freq=8)),
    "bc": Case(CARTPOLE, dict(batch_size=8, net_arch=(16,)), cartpole_expert, offline=True),
    "td3_bc": Case(PENDULUM, dict(batch_size=8, net_arch=(16,)), pendulum_expert, offline=True),
    "iql": Case(PENDULUM, dict(batch_size=8, net_arch=(16,)), pendulum_expert, offline=True),
    "cql": Case(PENDULUM, dict(batch_size=8, net_arch=(16,), cql_n_actions=2), pendulum_expert, offline=True),
    "discrete_cql": Case(CARTPOLE, dict(batch_size=8, net_arch=(16,)), cartpole_expert, offline=True),
    "fqi": Case(CARTPOLE, dict(regressor="mlp", fit_every_steps=32, n_iterations=2, n_epochs=2, batch_size=16,
                               hidden_sizes=(16,)), more_minibatches=dict(n_epochs=4, batch_size=8)),
    "gail": Case(CARTPOLE, dict(ON_POLICY, n_epochs=1, discriminator_batch_size=8), cartpole_expert,
                 more_minibatches=dict(discriminator_epochs=3, n_epochs=2)),
    "gail_trpo": Case(PENDULUM, dict(ON_POLICY, discriminator_batch_size=8, gradient_penalty=1.0), pendulum_expert,
                      more_minibatches=dict(discriminator_batch_size=4)),
    "airl": Case(CARTPOLE, dict(ON_POLICY, n_epochs=1, discriminator_batch_size=8), cartpole_expert,
                 more_minibatches=dict(discriminator_epochs=3, n_epochs=2)),
    "dagger": Case(CARTPOLE, dict(round_steps=16, updates_per_round=4, batch_size=8, net_arch=(16,)),
                   cartpole_expert, more_minibatches=dict(updates_per_round=12)),
    "preferences": Case(CARTPOLE, dict(ON_POLICY, n_epochs=1, reward_epochs=2, reward_batch_size=16, query_interval=1,
                                       segment_length=4), more_minibatches=dict(reward_epochs=4, reward_batch_size=4)),
    # multi-agent learners: Dict observations (MAPPO's critic reads the global state); tic-tac-toe's action masks
    "ippo": Case(SPREAD, dict(ON_POLICY, n_epochs=1, batch_size=64), n_envs=1, env_kwargs=SPREAD_KWARGS,
                 more_minibatches=dict(n_epochs=2, batch_size=8)),
    "mappo": Case(SPREAD, dict(ON_POLICY, n_epochs=1, batch_size=64), n_envs=1, env_kwargs=SPREAD_KWARGS,
                  more_minibatches=dict(n_epochs=2, batch_size=8)),
    "idqn": Case(SPREAD, dict(OFF_POLICY, train_freq=4), n_envs=1, env_kwargs=SPREAD_KWARGS,
                 more_minibatches=dict(gradient_steps=3)),
    "self_play_ppo": Case("pettingzoo.classic.tictactoe_v3:env", dict(ON_POLICY, n_epochs=1, snapshot_every=32),
                          more_minibatches=dict(n_epochs=2, batch_size=4)),
}
DEEP = sorted(CASES)


def build(name: str, device: str, **extra: Any) -> tuple[Any, Any]:
    """The agent ``name`` on ``device`` and its training env (demonstrations given, when it takes them)."""
    case = CASES[name]
    env = make_env(case.env, n_envs=case.n_envs, seed=0, env_kwargs=case.env_kwargs)
    overrides = {**case.overrides, **extra}
    if name == "dagger":
        overrides["expert"] = case.data
    agent = get_algorithm(name)(env.info, device=device, **overrides)
    if case.data is not None and name != "dagger":
        agent.add_dataset(collect_dataset(make_env(case.env, seed=1), case.data, steps=64, seed=1))
    return agent, env


def learned(state: Any) -> list[torch.Tensor]:
    """Every floating-point tensor of a state dict (nested), copied to the CPU."""
    if isinstance(state, torch.Tensor):
        return [state.detach().cpu().clone()] if state.is_floating_point() else []
    items = state.values() if isinstance(state, dict) else state if isinstance(state, (list, tuple)) else []
    return [t for item in items for t in learned(item)]


def train(name: str, agent: Any, env: Any, fits: int = 2) -> None:
    """A couple of fits (gradient steps from the demonstrations for offline agents) that change parameters."""
    before = learned(agent.state_dict())
    core = Core(agent, env, progress=False)
    if CASES[name].offline:
        core.learn_offline(gradient_steps=4, updates_per_fit=2)
    elif agent.fit_every_steps is None:  # REINFORCE: whole episodes
        core.learn(episodes=fits * agent.fit_every_episodes * env.num_envs)
    else:
        core.learn(steps=2 * getattr(agent.config, "learning_starts", 0) + agent.fit_every_steps * fits)
        assert core.state.fits >= fits
    after = learned(agent.state_dict())
    changed = any(a.shape != b.shape or not torch.equal(a, b) for a, b in zip(before, after))
    assert changed or not before, f"{name} learned nothing"  # FQI keeps its data, not its model


def test_the_cases_cover_every_deep_agent():
    deep = {n for n in available() if "device" in {f.name for f in dataclasses.fields(get_algorithm(n).Config)}}
    assert deep == set(CASES)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", DEEP)
def test_agent_fits_acts_and_checkpoints_on_the_device(name, device, tmp_path):
    spy = DeviceSpy() if device == SPY else None
    device = str(SPY_DEVICE) if spy else device
    with spy or contextlib.nullcontext():
        agent, env = build(name, device)
        train(name, agent, env)
        save_checkpoint(tmp_path / "last.pt", agent.state_dict(), {})
        obs, _ = env.reset(seed=3)
        actions = agent.act(obs, explore=False)  # PETS plans with random samples: act after saving
        assert isinstance(actions, np.ndarray) and env.action_space.contains(actions.astype(env.action_space.dtype))
        state = load_checkpoint(tmp_path / "last.pt")  # read with map_location="cpu"
        restored, env = build(name, device)
        restored.load_state_dict(state)
        np.testing.assert_allclose(restored.act(obs, explore=False), actions, rtol=1e-5, atol=1e-6)
        train(name, restored, env)  # the loaded optimizer state is on the device too
    if spy:
        assert not spy.violations, "\n".join(spy.violations)
    on_cpu, _ = build(name, "cpu")
    on_cpu.load_state_dict(load_checkpoint(tmp_path / "last.pt"))
    tolerance = 1e-6 if spy else 1e-4  # a GPU's kernels round differently from the CPU's
    np.testing.assert_allclose(on_cpu.act(obs, explore=False), actions, rtol=tolerance, atol=tolerance)


def transfers(name: str, method: str, **extra: Any) -> tuple[int, int, Any]:
    """Host → device transfers inside ``agent.<method>`` over a short training run, the calls made, the agent."""
    calls = 0
    with DeviceSpy() as spy:
        spy.recording = False
        agent, env = build(name, str(SPY_DEVICE), **extra)
        inner = getattr(agent, method)

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            spy.recording = True
            try:
                return inner(*args, **kwargs)
            finally:
                spy.recording = False

        setattr(agent, method, counted)
        train(name, agent, env)
    return sum(spy.transfers.values()), calls, agent


@pytest.mark.parametrize("name", [n for n in DEEP if CASES[n].more_minibatches])
def test_a_fit_moves_its_data_once_however_many_minibatches(name):
    method = "update" if CASES[name].offline else "fit"
    moved, fits, _ = transfers(name, method)
    assert moved > 0 and fits > 0
    assert transfers(name, method, **CASES[name].more_minibatches)[:2] == (moved, fits)


def leaves(space: Any) -> int:
    return sum(leaves(s) for s in space.spaces.values()) if hasattr(space, "spaces") and isinstance(
        space.spaces, dict) else 1


@pytest.mark.parametrize("name", [n for n in DEEP if not CASES[n].offline])
def test_acting_moves_the_observations_once_per_step(name):
    moved, acts, agent = transfers(name, "act")
    learners = len(getattr(agent, "learners", [None]))  # IPPO's learners each move their own rows
    assert acts > 0 and moved <= acts * learners * leaves(agent.info.observation_space)


S = gym.spaces
IMAGE_DICT = S.Dict({"image": S.Box(0, 255, (8, 8, 3), np.uint8), "direction": S.Discrete(4)})
VECTOR_DICT = S.Dict({"a": S.Box(-1.0, 1.0, (2,), np.float32), "b": S.Box(0.0, 5.0, (3,), np.float64)})
BOX1 = S.Box(-1.0, 1.0, (1,), np.float32)


def space_env(obs: Any, action: Any = None) -> Callable[[], gym.Env]:
    return lambda: SpaceEnv(obs, action) if action is not None else SpaceEnv(obs)


# (algorithm, env (an id or a factory), env kwargs, hyperparameters): the paths the cases above leave out
VARIANTS: dict[str, tuple[str, Any, dict[str, Any] | None, dict[str, Any]]] = {
    "dqn_prioritized_nstep_double_dueling": ("dqn", CARTPOLE, None, dict(
        OFF_POLICY, train_freq=4, prioritized_replay=True, n_steps=3, double_q=True, dueling=True,
        target_update_interval=8)),
    "dqn_image_dict_obs": ("dqn", space_env(IMAGE_DICT), None, dict(OFF_POLICY, train_freq=4, features_dim=16)),
    "dqn_masks": ("dqn", "porcini/MaskedChain-v0", None, dict(OFF_POLICY, train_freq=4)),
    "qr_dqn_masks": ("qr_dqn", "porcini/MaskedChain-v0", None, dict(OFF_POLICY, train_freq=4)),
    "dqn_her": ("dqn", "porcini/BitFlipping-v0", {"n_bits": 4}, dict(OFF_POLICY, train_freq=4, replay="her")),
    "sac_dict_obs": ("sac", space_env(VECTOR_DICT, BOX1), None, dict(OFF_POLICY, train_freq=4)),
    "td3_image_obs": ("td3", space_env(S.Box(0, 255, (8, 8, 3), np.uint8), BOX1), None,
                      dict(OFF_POLICY, train_freq=4)),
    "discrete_sac_dict_obs": ("discrete_sac", space_env(VECTOR_DICT), None, dict(OFF_POLICY, train_freq=4)),
    "ppo_box_linear_schedules": ("ppo", PENDULUM, None, dict(
        ON_POLICY, n_epochs=2, batch_size=8, learning_rate_schedule="linear", clip_range_schedule="linear",
        clip_range_vf=0.2, target_kl=0.5, ent_coef=0.01)),
    "ppo_multi_discrete": ("ppo", "porcini/MatchCues-v0", None, dict(ON_POLICY, n_epochs=1)),
    "ppo_masks_image_dict": ("ppo", "porcini/MaskedChain-v0", None, dict(ON_POLICY, n_epochs=1)),
    "a2c_linear_adam": ("a2c", CARTPOLE, None, dict(n_steps=8, net_arch=(16,), learning_rate_schedule="linear",
                                                    use_rms_prop=False, normalize_advantage=True)),
    "recurrent_ppo_box": ("recurrent_ppo", PENDULUM, None, dict(ON_POLICY, n_epochs=1, lstm_hidden_size=8)),
    "trpo_multi_binary": ("trpo", "porcini/MatchBits-v0", None, ON_POLICY),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_run_on_the_simulated_device(variant):
    name, env_id, env_kwargs, overrides = VARIANTS[variant]
    with DeviceSpy() as spy:
        env = make_env(env_id, n_envs=2, seed=0, env_kwargs=env_kwargs)
        agent = get_algorithm(name)(env.info, device=str(SPY_DEVICE), **overrides)
        core = Core(agent, env, progress=False)
        core.learn(steps=2 * overrides.get("learning_starts", 0) + 2 * agent.fit_every_steps, horizon=10_000)
        assert core.state.fits >= 2
        obs, _ = env.reset(seed=3)
        for explore in (True, False):
            actions = agent.act(obs, explore=explore)
            assert isinstance(actions, np.ndarray)
        if hasattr(agent, "explain"):  # `porcini inspect`'s per-step tensors
            assert all(isinstance(v, np.ndarray) for v in agent.explain(obs).values())
        if hasattr(agent, "value"):
            assert isinstance(agent.value(obs), np.ndarray)
    assert not spy.violations, "\n".join(spy.violations)


@pytest.mark.parametrize("name", [n for n in DEEP if CASES[n].offline])
def test_offline_gradient_steps_move_their_sample_once(name):
    counts = []
    for n_updates in (1, 6):
        with DeviceSpy() as spy:
            spy.recording = False
            agent, _ = build(name, str(SPY_DEVICE))
            spy.recording = True
            agent.update(n_updates)
        assert not spy.violations, "\n".join(spy.violations)
        counts.append(sum(spy.transfers.values()))
    assert counts[0] > 0 and counts[0] == counts[1]


@pytest.mark.parametrize("name", DEEP)
def test_a_device_torch_does_not_know_is_refused_naming_the_field(name):
    config_cls = get_algorithm(name).Config
    with pytest.raises(ConfigError, match=rf"{config_cls.__name__}\.device = 'gpu0' is invalid"):
        config_cls(device="gpu0")
