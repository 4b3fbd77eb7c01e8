"""Planners on a known quadratic cost, iCEM's population, memory and sample efficiency, the planner factory,
rollout costs with terminations, the known Pendulum model against the env, and MPC's plans: reproducible,
resumable, refused where no model is known."""

from __future__ import annotations

import math
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms.model_based.known_models import PendulumModel
from porcini.algorithms.model_based.mpc import MPC
from porcini.algorithms.model_based.planners import (
    CEM,
    ICEM,
    MPPI,
    PLANNERS,
    RandomShooting,
    make_planner,
    rollout_cost,
    shift_plan,
    simulator_cost,
)
from porcini.errors import ConfigError, NoModelError, UnsupportedSpaceError

LOW, HIGH = torch.tensor([-1.0, -1.0], dtype=torch.float64), torch.tensor([1.0, 1.0], dtype=torch.float64)
TARGET = torch.tensor([[0.3, -0.5], [0.9, 0.1], [-0.2, 2.0]], dtype=torch.float64)  # the last beyond a bound


def quadratic(sequences: torch.Tensor) -> torch.Tensor:
    return ((sequences - TARGET) ** 2).sum(dim=(1, 2))


def planner(cls, **kwargs):
    return cls(low=LOW, high=HIGH, horizon=3, population=300, iterations=8,
               generator=torch.Generator().manual_seed(0), **kwargs)


@pytest.mark.parametrize("cls, kwargs, excess", [(CEM, {"elites": 30}, 1e-3),
                                                 (ICEM, {"elites": 30}, 1e-2),  # a sample, not a mean; 1,246 draws
                                                 (MPPI, {"temperature": 0.01, "noise_std": 0.1}, 1e-2),
                                                 (RandomShooting, {}, 1.0)])  # 2,400 uniform draws in 6 dimensions
def test_planners_find_the_optimum_of_a_quadratic_cost_inside_the_bounds(cls, kwargs, excess):
    plan = planner(cls, **kwargs).plan(quadratic)
    optimum = torch.clamp(TARGET, LOW, HIGH)  # the cost is separable: the optimum is the target clipped
    assert torch.all(plan >= LOW) and torch.all(plan <= HIGH)
    assert 0 <= (quadratic(plan[None]) - quadratic(optimum[None])).item() < excess


def test_a_warm_start_is_where_cem_starts_and_a_shifted_plan_repeats_its_last_action():
    cem = planner(CEM, elites=30)
    cem.iterations = 1
    near = cem.plan(quadratic, initial=torch.clamp(TARGET, LOW, HIGH))
    far = planner(CEM, elites=30)
    far.iterations = 1
    assert quadratic(near[None]) < quadratic(far.plan(quadratic)[None])
    plan = torch.arange(6.0).reshape(3, 2)
    assert shift_plan(plan).tolist() == [[2.0, 3.0], [4.0, 5.0], [4.0, 5.0]]


class _Recorder:
    """The quadratic cost, remembering every population it scores."""

    def __init__(self):
        self.calls: list[torch.Tensor] = []

    def __call__(self, sequences):
        self.calls.append(sequences.clone())
        return quadratic(sequences)


def test_icem_population_decays_and_grows_by_the_kept_elites_and_the_mean():
    icem = planner(ICEM, elites=20, population_decay=2.0, keep_elites=0.3)  # 300, 150, 75, then 2 · 20
    recorder = _Recorder()
    icem.plan(recorder)
    decayed = [max(40, int(300 / 2.0 ** i)) for i in range(8)]
    assert decayed == [300, 150, 75, 40, 40, 40, 40, 40]
    assert [len(c) for c in recorder.calls] == decayed[:-1] + [decayed[-1] + 1]  # the mean joins the last one
    recorder.calls.clear()
    icem.plan(recorder)
    assert [len(c) for c in recorder.calls] == [300 + 6] + decayed[1:-1] + [41]  # ⌊0.3 · 20⌋ elites carried


@pytest.mark.parametrize("population, decay", [(121, "1.1"), (1210, "1.1"), (400, "1.25"), (250, "1.2"), (97, "1.5")])
def test_icem_population_is_the_exact_floor_of_the_decayed_population(population, decay):
    icem = ICEM(low=torch.zeros(1), high=torch.ones(1), horizon=2, population=population, iterations=1, elites=1,
                population_decay=float(decay), generator=torch.Generator())
    for i in range(6):  # 121 / 1.1² is 100 exactly, which float arithmetic puts at 99.99999999999999
        exact = math.floor(Fraction(population) / Fraction(decay) ** i)
        assert icem.population_at(i) == max(2, exact)
    icem, recorder = planner(ICEM, elites=20, keep_elites=0.25), _Recorder()
    plan = icem.plan(recorder)
    seen = torch.cat(recorder.calls)
    assert quadratic(plan[None]).item() == quadratic(seen).min().item()
    carried = icem.state()["elites"]
    assert carried.shape == (5, 3, 2)  # ⌊0.25 · 20⌋ of the final elites
    assert torch.equal(carried[0], shift_plan(plan))  # the cheapest elite is the plan
    recorder.calls.clear()
    icem.plan(recorder)
    assert torch.equal(recorder.calls[0][-5:], carried)  # the second plan's first population holds them


def test_icem_reset_and_state_forget_save_and_restore_the_kept_elites():
    icem = planner(ICEM, elites=20)
    assert icem.state() == {}
    icem.plan(quadratic)
    saved = icem.state()
    other = planner(ICEM, elites=20)
    other.load_state(saved)
    icem.generator.manual_seed(7)
    other.generator.manual_seed(7)
    assert torch.equal(icem.plan(quadratic), other.plan(quadratic))
    icem.reset()
    recorder = _Recorder()
    icem.plan(recorder)
    assert icem.state() != {} and len(recorder.calls[0]) == 300  # nothing carried into that plan
    icem.load_state({})
    assert icem.state() == {}
    with pytest.raises(ValueError, match="shape"):
        icem.load_state({"elites": torch.zeros(4, 5, 2, dtype=torch.float64)})
    nothing_kept = planner(ICEM, elites=20, keep_elites=0.0)
    nothing_kept.plan(quadratic)
    assert nothing_kept.state() == {}


def test_icem_reaches_a_smooth_target_with_fewer_cost_evaluations_than_cem():
    steps = torch.arange(30, dtype=torch.float64)
    target = (0.7 * torch.sin(2 * math.pi * steps / 30 + 0.5))[:, None]  # one smooth period over the horizon

    def evaluations_to_reach(cls, seed, threshold=0.1):
        evaluations, best = [], [math.inf]

        def cost(sequences):
            costs = ((sequences - target) ** 2).sum(dim=(1, 2))
            best[0] = min(best[0], costs.min().item())
            evaluations.append((len(sequences), best[0]))
            return costs

        cls(low=LOW[:1], high=HIGH[:1], horizon=30, population=200, iterations=15, elites=20,
            generator=torch.Generator().manual_seed(seed)).plan(cost)
        done = np.cumsum([n for n, _ in evaluations])
        return next(int(total) for total, (_, b) in zip(done, evaluations) if b <= threshold)

    for seed in range(3):  # iCEM / CEM was 0.26 to 0.36 over seeds 0-19
        assert evaluations_to_reach(ICEM, seed) < 0.6 * evaluations_to_reach(CEM, seed)


@pytest.mark.parametrize("name, cls", [("cem", CEM), ("icem", ICEM), ("mppi", MPPI), ("random", RandomShooting)])
def test_make_planner_builds_every_planner_by_name(name, cls):
    built = make_planner(name, low=LOW, high=HIGH, horizon=3, population=50, iterations=2,
                         generator=torch.Generator(), elites=10, noise_beta=1.0, keep_elites=0.5)
    assert type(built) is cls and name in PLANNERS and len(PLANNERS) == 4
    if name == "icem":
        assert (built.noise_beta, built.population_decay, built.n_kept) == (1.0, 1.25, 5)


def test_make_planner_and_icem_refuse_what_they_cannot_build():
    with pytest.raises(ValueError, match=r"name = 'pets' is invalid.*'cem', 'icem', 'mppi', 'random'"):
        make_planner("pets", low=LOW, high=HIGH, horizon=3, population=50, iterations=2, generator=torch.Generator())
    for field, value in (("elites", 0), ("noise_beta", -1.0), ("population_decay", 0.5), ("keep_elites", 1.5)):
        kwargs = {"elites": 10, field: value}
        with pytest.raises(ValueError, match=f"ICEM: {field}"):
            planner(ICEM, **kwargs)


class _Countdown:
    """A toy model: the state counts down by one each step, reward = the action, terminated at 0."""

    def step(self, states, actions):
        nxt = states - 1
        return nxt, actions[:, 0], nxt[:, 0] <= 0


def test_rollout_cost_sums_rewards_until_the_model_terminates():
    sequences = torch.ones((2, 5, 1), dtype=torch.float64)
    sequences[1] *= 2
    costs = rollout_cost(_Countdown(), torch.tensor([3.0], dtype=torch.float64), sequences)
    assert costs.tolist() == [-3.0, -6.0]  # three steps, then nothing after the termination


def test_simulator_cost_plays_each_candidate_in_a_copy_and_leaves_the_env_where_it_was():
    env = gym.make("Pendulum-v1", max_episode_steps=6)
    obs, _ = env.reset(seed=3)
    env.step(np.array([0.5], np.float32))
    obs, *_ = env.step(np.array([0.5], np.float32))
    sequences = torch.tensor(np.random.default_rng(0).uniform(-2, 2, (4, 6, 1)))
    costs = simulator_cost(env, sequences)
    expected = rollout_cost(PendulumModel(), torch.tensor(obs, dtype=torch.float64), sequences[:, :4])
    torch.testing.assert_close(costs, expected, atol=1e-4, rtol=0)  # the copies' time limit cuts them at 4 steps
    after, _, _ = PendulumModel().step(torch.tensor(obs[None], dtype=torch.float64),
                                       torch.zeros(1, 1, dtype=torch.float64))
    np.testing.assert_allclose(env.step(np.array([0.0], np.float32))[0], after[0].numpy(), atol=1e-5)


def test_the_known_pendulum_model_steps_as_the_env_does():
    env = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    model, rng = PendulumModel(), np.random.default_rng(0)
    for _ in range(100):
        action = rng.uniform(-3, 3, (1,)).astype(np.float32)  # beyond the bounds too: both clip
        next_obs, reward, *_ = env.step(action)
        predicted, predicted_reward, terminated = model.step(torch.tensor(obs[None], dtype=torch.float64),
                                                             torch.tensor(action[None], dtype=torch.float64))
        np.testing.assert_allclose(predicted[0].numpy(), next_obs, atol=1e-5)
        assert predicted_reward.item() == pytest.approx(reward, abs=1e-5) and not terminated.item()
        obs = next_obs


@pytest.mark.parametrize("name", ["cem", "icem", "mppi", "random"])
def test_mpc_save_load_gives_identical_plans_and_seeds_decide_them(name):
    settings = {"planner": name, "horizon": 8, "population": 40, "iterations": 2, "elites": 5}
    env = make_env("Pendulum-v1", n_envs=2, seed=0)
    obs, _ = env.reset(seed=0)
    agent = MPC(env.info, seed=0, **settings)
    agent.act(obs, explore=True)
    restored = MPC(env.info, seed=5, **settings)
    restored.load_state_dict(agent.state_dict())
    np.testing.assert_array_equal(restored.act(obs, explore=True), agent.act(obs, explore=True))
    first, again, other = (MPC(env.info, seed=seed, **settings).act(obs, explore=True) for seed in (0, 0, 1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    agent.reset(np.array([True, False]))
    assert agent.warm[0] is None and agent.warm[1] is not None
    assert agent.memory[0] == {} and (name != "icem") == (agent.memory[1] == {})


def test_mpc_with_icem_continues_identically_after_save_and_load():
    settings = {"planner": "icem", "horizon": 8, "population": 40, "iterations": 3, "elites": 5, "keep_elites": 0.4}
    env = make_env("Pendulum-v1", n_envs=2, seed=0)
    obs, _ = env.reset(seed=0)
    agent = MPC(env.info, seed=0, **settings)
    for _ in range(3):
        obs, *_ = env.step(agent.act(obs, explore=True))
    assert all(m["elites"].shape == (2, 8, 1) for m in agent.memory)  # ⌊0.4 · 5⌋ kept per env
    restored = MPC(env.info, seed=5, **settings)
    restored.load_state_dict(agent.state_dict())
    forgetful = MPC(env.info, seed=5, **settings)
    forgetful.load_state_dict({k: v for k, v in agent.state_dict().items() if k != "memory"})
    a_obs = r_obs = f_obs = obs
    same, other = [], []
    for _ in range(3):
        action = agent.act(a_obs, explore=True)
        same.append(np.array_equal(action, restored.act(r_obs, explore=True)))
        other.append(np.array_equal(action, forgetful.act(f_obs, explore=True)))
        a_obs = r_obs = f_obs = env.step(action)[0]
    assert all(same) and not all(other)  # without the kept elites the continuation differs


def test_mpc_refuses_invalid_icem_fields():
    info = make_env("Pendulum-v1").info
    for field, value in (("noise_beta", -0.5), ("population_decay", 0.9), ("keep_elites", -0.1),
                         ("keep_elites", 1.2), ("planner", "pets")):
        with pytest.raises(ConfigError, match=f"MPCConfig.{field} = "):
            MPC(info, **{"planner": "icem", field: value})


def test_mpc_without_a_known_model_or_with_discrete_actions_is_refused():
    with pytest.raises(NoModelError, match=r"MountainCarContinuous-v0 has no known model.*Pendulum-v1"):
        MPC(make_env("MountainCarContinuous-v0").info)
    with pytest.raises(UnsupportedSpaceError, match="continuous actions"):
        MPC(make_env("CartPole-v1").info)
    with pytest.raises(ValueError, match="elites"):
        MPC(make_env("Pendulum-v1").info, population=10, elites=20)
