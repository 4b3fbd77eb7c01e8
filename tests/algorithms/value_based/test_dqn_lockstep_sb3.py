"""porcini's DQN run on Stable-Baselines3's random draws *is* SB3's DQN run, transition for transition, bit for bit.

Both libraries get the benchmark's CartPole config (benchmarks/tasks/dqn_cartpole.py) and the same seed. They
derive different things from it (porcini gives its env and its networks independent streams of the seed, see
``porcini.seeding``; SB3 seeds everything with the seed itself), and the arithmetic is grouped differently, so
porcini is given SB3's:

- initial weights: SB3's initial parameters are copied into porcini's Q-network and its target network;
- env start states: porcini's env is reset with SB3's reset seeds (``seed + i`` for env ``i``);
- random draws: warm-up and exploration actions from SB3's seeded action space, the ε test from NumPy's global
  generator, minibatch indices drawn per gradient step from the global generator (with the env-index draw SB3 makes
  after each);
- numerics: ``torch.optim.Adam`` (for-loop on CPU) with ``clip_grad_norm_`` instead of the fused ``FlatAdam``
  (which is tested against ``torch.optim.Adam`` on its own), and the target network run on one minibatch at a time.

Everything else is porcini's own: Core's stepping and true final observations, the rollout handed to ``fit``, the
replay buffer, the ε schedule, the target-update clock, the TD target, the loss and the gradient step. Then every
stored transition and every parameter after every fit must be *equal* to SB3's. Any difference in semantics (an
off-by-one in the warm-up or in ε, a target copy at another time, a transition dropped or stored twice, a wrong
bootstrap) shows up as a diverging action or parameter; the fast test covers the warm-up, the ε decay and seven
fits, the slow one the whole 50,176-step benchmark run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms import DQN
from porcini.algorithms.kit import ReplaySample
from porcini.algorithms.value_based import dqn as dqn_module
from porcini.algorithms.value_based.common import replay_to_torch

sb3 = pytest.importorskip("stable_baselines3")
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

ENV_ID = "CartPole-v1"
TOTAL = 50_000
ZOO = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
           target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
           exploration_final_eps=0.04)


@dataclass
class RunLog:
    """What one run stored and learned: transitions in order, and the flat parameters after each fit."""

    obs: list[np.ndarray] = field(default_factory=list)
    next_obs: list[np.ndarray] = field(default_factory=list)
    action: list[int] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)
    no_bootstrap: list[bool] = field(default_factory=list)
    time_limits: int = 0
    greedy_actions: int = 0
    params: list[np.ndarray] = field(default_factory=list)


def flat(layers: list[torch.nn.Linear]) -> np.ndarray:
    return torch.cat([t.detach().flatten() for layer in layers for t in (layer.weight, layer.bias)]).numpy().copy()


def sb3_model(seed: int):
    env = make_vec_env(ENV_ID, n_envs=1, seed=seed)
    return sb3.DQN("MlpPolicy", env, **ZOO, policy_kwargs=dict(net_arch=[256, 256]), seed=seed, device="cpu")


def sb3_linears(model) -> list[torch.nn.Linear]:
    return [m for m in model.q_net.q_net if isinstance(m, torch.nn.Linear)]


def run_sb3(seed: int, total: int) -> RunLog:
    model, log = sb3_model(seed), RunLog()
    add, train = model.replay_buffer.add, model.train

    def logged_add(obs, next_obs, action, reward, done, infos):
        timeout = bool(infos[0].get("TimeLimit.truncated", False))
        log.obs.append(obs[0].copy())
        log.next_obs.append(next_obs[0].copy())
        log.action.append(int(np.asarray(action).reshape(-1)[0]))
        log.reward.append(float(reward[0]))
        log.no_bootstrap.append(bool(done[0]) and not timeout)  # SB3 stores done * (1 - timeout)
        log.time_limits += timeout
        add(obs, next_obs, action, reward, done, infos)

    def logged_train(gradient_steps, batch_size=100):
        train(gradient_steps, batch_size)
        log.params.append(flat(sb3_linears(model)))

    class StopAt(BaseCallback):  # the ε schedule spans TOTAL steps even when the test stops earlier
        def _on_step(self) -> bool:
            return self.num_timesteps <= total  # False before storing step total + 1, and before its fit

    model.replay_buffer.add, model.train = logged_add, logged_train
    model.learn(total_timesteps=TOTAL, callback=StopAt())
    return log


class TorchAdam:
    """``torch.optim.Adam`` (for-loop on CPU) and ``clip_grad_norm_``, called as SB3 calls them, in FlatAdam's place."""

    def __init__(self, params: list[torch.nn.Parameter], lr: float) -> None:
        self.params = params
        for p in params:
            p.grad = None  # detach them from FlatAdam's flat buffer
        self.optimizer = torch.optim.Adam(params, lr=lr)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def clip_grad_norm(self, max_norm: float) -> None:
        torch.nn.utils.clip_grad_norm_(self.params, max_norm)

    def step(self) -> None:
        self.optimizer.step()


def run_porcini_on_sb3_draws(seed: int, total: int, monkeypatch) -> RunLog:
    log = RunLog()
    model = sb3_model(seed)  # seeds NumPy's global generator and the action space exactly as SB3's run does
    space, warm_up = model.action_space, ZOO["learning_starts"]

    class DQNOnSB3Draws(DQN):
        def act(self, obs, *, explore):
            if not explore:
                return super().act(obs, explore=False)
            if self.behaviour_steps < warm_up or np.random.rand() < self.exploration_rate:  # SB3's DQN.predict
                action = np.array([space.sample() for _ in range(len(obs))])
            else:
                action = super().act(obs, explore=False)
                log.greedy_actions += len(obs)
            self.behaviour_steps += len(obs)
            return action

        def _sample(self, n, lead):
            bs = self.config.batch_size
            rows = []
            for _ in range(n // bs):  # SB3: one minibatch per gradient step, then its env indices (one env)
                rows.append(np.random.randint(0, len(self.buffer), size=bs))
                np.random.randint(0, 1, size=bs)
            b = self.buffer.gather(np.concatenate(rows))
            s = ReplaySample(b.obs[:, 0], b.action[:, 0], b.reward[:, 0], self.config.gamma, b.terminated[:, 0],
                       b.next_obs[:, 0])
            return replay_to_torch(s, lead, self.info.observation_space, self.device)

    monkeypatch.setattr(dqn_module, "TARGET_CHUNK_ROWS", ZOO["batch_size"])  # the target net on one minibatch
    env = make_env(ENV_ID, n_envs=1, seed=seed)
    agent = DQNOnSB3Draws(env.info, **ZOO, net_arch=(256, 256), seed=seed)
    ours = [*agent.q_net.trunk.layers, agent.q_net.head.linear]
    with torch.no_grad():  # in place: the parameters stay the tensors the optimizer and the target copy know
        for mine, theirs in zip(ours, sb3_linears(model), strict=True):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    agent.target_net.load_state_dict(agent.q_net.state_dict())
    assert np.array_equal(flat(ours), flat(sb3_linears(model)))
    agent.optimizer = TorchAdam(agent.params, ZOO["learning_rate"])  # type: ignore[assignment]

    add, fit = agent.buffer.add, agent.fit

    def logged_add(batch):
        log.obs.extend(batch.obs[:, 0])
        log.next_obs.extend(batch.next_obs[:, 0])
        log.action.extend(int(a) for a in batch.action[:, 0])
        log.reward.extend(float(r) for r in batch.reward[:, 0])
        log.no_bootstrap.extend(bool(t) for t in batch.terminated[:, 0])
        log.time_limits += int((batch.truncated[:, 0] & ~batch.terminated[:, 0]).sum())
        add(batch)

    def logged_fit(batch):
        before = agent.n_updates
        metrics = fit(batch)
        if agent.n_updates > before:
            log.params.append(flat(ours))
        return metrics

    monkeypatch.setattr(agent.buffer, "add", logged_add)
    monkeypatch.setattr(agent, "fit", logged_fit)
    core = Core(agent, env, progress=False)
    core.reset(seed=[seed])  # SB3 resets env i with seed + i; porcini would derive its own seeds from an int
    core.learn(n_steps=total, horizon=TOTAL)  # ε decays over a fraction of TOTAL, as SB3 was told
    return log


def assert_same_run(ours: RunLog, theirs: RunLog, n_fits: int) -> None:
    n = len(theirs.action)
    assert len(ours.action) == n
    obs_equal = np.all(np.array(ours.obs) == np.array(theirs.obs), axis=1)
    first = int(np.argmin(obs_equal)) if not obs_equal.all() else None
    assert first is None, f"observation {first} differs: porcini {ours.obs[first]} vs SB3 {theirs.obs[first]}"
    differs = np.flatnonzero(np.array(ours.action) != np.array(theirs.action))
    assert differs.size == 0, f"first different action at step {differs[:1]}"
    assert np.array_equal(np.array(ours.next_obs), np.array(theirs.next_obs))
    assert ours.reward == theirs.reward
    assert ours.no_bootstrap == theirs.no_bootstrap
    assert ours.time_limits == theirs.time_limits
    assert sum(theirs.no_bootstrap) > 10  # terminations happened
    assert len(ours.params) == len(theirs.params) == n_fits
    for k, (mine, peer) in enumerate(zip(ours.params, theirs.params)):
        assert np.array_equal(mine, peer), f"fit {k}: parameters differ by up to {np.abs(mine - peer).max():.3g}"
    assert np.abs(ours.params[-1] - ours.params[0]).max() > 1e-2  # the fits moved the weights


def test_first_seven_fits_are_sb3s_bit_for_bit(monkeypatch):
    torch.set_num_threads(1)
    total = 2560  # warm-up to 1000, ε from 1 to 0.69, fits at 1024, 1280, ..., 2560
    theirs = run_sb3(3, total)
    ours = run_porcini_on_sb3_draws(3, total, monkeypatch)
    assert_same_run(ours, theirs, n_fits=7)
    assert ours.greedy_actions > 200  # the fitted network chose actions, so the fits' results steered the run


@pytest.mark.slow
def test_the_whole_benchmark_run_is_sb3s_bit_for_bit(monkeypatch):
    torch.set_num_threads(1)
    total = 50_176  # SB3 runs whole rollouts: 196 x 256 steps, 193 fits
    theirs = run_sb3(0, total)
    ours = run_porcini_on_sb3_draws(0, total, monkeypatch)
    assert_same_run(ours, theirs, n_fits=193)
    assert theirs.time_limits > 5  # episodes reached the 500-step limit: truncations bootstrapped in both
