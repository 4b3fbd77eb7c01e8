"""Lagrangian SAC: the cost target against a slow loop, the actor loss, λ's steps, state and resume, the CLI."""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from porcini import Core, make_env
from porcini.algorithms.actor_critic.common import as_sample
from porcini.algorithms.actor_critic.sac import SAC
from porcini.algorithms.registry import get_algorithm
from porcini.algorithms.safe.sac_lagrangian import SACLagrangian, lagrangian_actor_loss
from porcini.core.batch import TransitionBatch
from porcini.errors import ConfigError, EnvCheckError
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint
from porcini.experiment.cli import main
from porcini.functional import sac_actor_loss

SMALL = {"net_arch": (16, 16), "batch_size": 16, "learning_starts": 20}
ENV = "porcini/PendulumSpeed-v0"


def params(agent: Any) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.detach().clone() for m, mod in agent.modules.items() for k, v in mod.state_dict().items()}


def random_batch(rng: np.random.Generator, n_rows: int, n_envs: int = 1, p_end: float = 0.0,
                 cost: np.ndarray | None = None) -> TransitionBatch:
    terminated = rng.random((n_rows, n_envs)) < p_end
    truncated = (rng.random((n_rows, n_envs)) < p_end) & ~terminated
    return TransitionBatch(
        rng.uniform(-1, 1, (n_rows, n_envs, 3)).astype(np.float32),
        rng.uniform(-1, 1, (n_rows, n_envs, 1)).astype(np.float32),
        rng.normal(size=(n_rows, n_envs)).astype(np.float32),
        rng.uniform(-1, 1, (n_rows, n_envs, 3)).astype(np.float32), terminated, truncated,
        {"cost": (rng.random((n_rows, n_envs)) < 0.4).astype(np.float64) if cost is None else cost})


def member_q(critic: Any, k: int, x: torch.Tensor) -> torch.Tensor:
    """Ensemble member ``k`` of a critic, computed layer by layer from its own weights (relu hidden layers)."""
    p = dict(critic.named_parameters())
    for layer in range(critic.n_layers):
        x = x @ p[f"weight_{layer}"][k] + p[f"bias_{layer}"][k, 0]
        if layer < critic.n_layers - 1:
            x = torch.relu(x)
    return x[:, 0]


@pytest.mark.parametrize("seed", range(3))
def test_cost_target_matches_a_slow_loop_with_terminations_and_truncations(seed):
    rng = np.random.default_rng(seed)
    agent = SACLagrangian(make_env(ENV, seed=seed).info, seed=seed, gamma=0.9, **SMALL)
    torch.manual_seed(seed)
    with torch.no_grad():  # targets apart from the online critics, so a mix-up would show
        for p in agent.cost_critic_target.parameters():
            p.add_(0.3 * torch.randn_like(p))
    batch = random_batch(rng, 40, p_end=0.2)
    assert batch.terminated.any() and batch.truncated.any()
    s = as_sample(batch, agent.device, 0.9, agent.info.observation_space)
    cost = torch.as_tensor(batch.extras["cost"][:, 0], dtype=torch.float32)
    next_action = torch.as_tensor(rng.uniform(-1, 1, (40, 1)), dtype=torch.float32)
    target = agent.cost_target_values(s, cost, next_action).numpy()
    for i in range(40):
        x = torch.cat([torch.as_tensor(batch.next_obs[i]), next_action[i:i + 1]], dim=-1)
        with torch.no_grad():
            qs = [float(member_q(agent.cost_critic_target, k, x)) for k in range(2)]
        bootstrap = 0.0 if batch.terminated[i, 0] else 0.9 * sum(qs) / 2  # a truncation bootstraps
        assert target[i] == pytest.approx(batch.extras["cost"][i, 0] + bootstrap, rel=1e-5, abs=1e-5), i


def test_the_actor_loss_adds_lambda_times_the_cost_value():
    gen = torch.Generator().manual_seed(0)
    log_prob, q_min, cost_q = (torch.randn(32, generator=gen, requires_grad=True) for _ in range(3))
    alpha = torch.tensor(0.2)
    assert torch.equal(lagrangian_actor_loss(log_prob, q_min, cost_q, alpha, 0.0),
                       sac_actor_loss(log_prob, q_min, alpha)["loss_actor"])
    loss = lagrangian_actor_loss(log_prob, q_min, cost_q, alpha, 0.7)
    expected = (0.2 * log_prob - q_min + 0.7 * cost_q).mean()
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    grads = torch.autograd.grad(loss, (log_prob, q_min, cost_q))
    for grad, value in zip(grads, (0.2 / 32, -1 / 32, 0.7 / 32)):
        torch.testing.assert_close(grad, torch.full((32,), value))


def test_with_lambda_zero_an_update_is_sacs():
    info = make_env(ENV, seed=0).info
    sac, lag = SAC(info, seed=3, **SMALL), SACLagrangian(info, seed=3, cost_limit=1e6, **SMALL)
    for k in range(4):
        batch = random_batch(np.random.default_rng(k), 12)
        sac.fit(batch)
        lag.fit(batch)
    assert lag.multiplier.value == 0.0 and lag.n_updates == sac.n_updates == 28
    sac_params, lag_params = params(sac), params(lag)
    for key, value in sac_params.items():
        assert torch.equal(value, lag_params[key]), key
    assert torch.equal(sac.log_alpha, lag.log_alpha)
    assert not torch.equal(lag_params["cost_critic.weight_0"], params(SACLagrangian(info, seed=3, **SMALL))[
        "cost_critic.weight_0"])  # the cost critics learned


def test_lambda_weighs_the_cost_in_the_actor_update_only():
    info = make_env(ENV, seed=0).info
    plain, weighted = (SACLagrangian(info, seed=3, **{**SMALL, "learning_starts": 23}) for _ in range(2))
    weighted.multiplier.value = 5.0  # λ is read at each update
    for agent in (plain, weighted):
        agent.fit(random_batch(np.random.default_rng(0), 24))  # one update
    first, second = params(plain), params(weighted)
    actor = [key for key in first if key.startswith("actor")]
    assert actor and not all(torch.equal(first[key], second[key]) for key in actor)
    for key in first:
        if key.startswith(("critic", "cost_critic")):  # an update's critic steps precede its actor step
            assert torch.equal(first[key], second[key]), key


def ended_batch(cost_per_step: float, n_rows: int = 10, n_envs: int = 2) -> TransitionBatch:
    """Every env's episode ends (truncated) at the batch's last row; each step costs ``cost_per_step``."""
    truncated = np.zeros((n_rows, n_envs), bool)
    truncated[-1] = True
    batch = random_batch(np.random.default_rng(0), n_rows, n_envs, cost=np.full((n_rows, n_envs), cost_per_step))
    return TransitionBatch(batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated, truncated,
                           batch.extras)


@pytest.mark.parametrize("rule", ["gradient", "pid"])
def test_lambda_rises_while_episodes_cost_more_than_the_limit_and_falls_to_zero_below(rule):
    info = make_env(ENV, n_envs=2, seed=0).info
    agent = SACLagrangian(info, lagrangian=rule, cost_limit=5.0, lagrangian_lr=0.1, pid_kd=0.0,
                          **{**SMALL, "learning_starts": 10_000})
    values = [agent.fit(ended_batch(1.0))["lagrange_multiplier"] for _ in range(3)]  # episode cost 10 > 5
    assert 0 < values[0] < values[1] < values[2]
    assert agent.last_episode_cost == 10.0
    if rule == "gradient":
        assert values == pytest.approx([0.5, 1.0, 1.5])
    for _ in range(30):
        metrics = agent.fit(ended_batch(0.0))
    assert metrics["lagrange_multiplier"] == 0.0 and metrics["episode_cost"] == 0.0


def test_episode_costs_span_fits_and_lambda_waits_for_an_episode_end():
    info = make_env(ENV, seed=0).info
    agent = SACLagrangian(info, cost_limit=5.0, lagrangian_lr=0.1, learning_starts=10_000)
    no_end = random_batch(np.random.default_rng(0), 6, cost=np.ones((6, 1)))
    assert agent.fit(no_end)["lagrange_multiplier"] == 0.0 and np.isnan(agent.last_episode_cost)
    agent.fit(ended_batch(1.0, n_rows=4, n_envs=1))  # the episode began in the last fit: 6 + 4 steps
    assert agent.last_episode_cost == 10.0 and agent.multiplier.value == pytest.approx(0.5)
    assert agent.episode_cost_so_far.tolist() == [0.0]


@pytest.mark.parametrize("rule", ["gradient", "pid"])
def test_save_load_continues_exactly(rule, tmp_path):
    env = make_env(ENV, seed=0)
    agent = SACLagrangian(env.info, lagrangian=rule, cost_limit=1.0, **SMALL)
    Core(agent, env, info_keys=agent.info_keys, progress=False).learn(steps=230)  # mid-episode, λ > 0
    assert agent.multiplier.value > 0 and agent.episode_cost_so_far.shape == (1,)
    save_checkpoint(tmp_path / "agent.pt", agent.state_dict(), {"algo": "sac_lagrangian"})
    clone = SACLagrangian(env.info, lagrangian=rule, cost_limit=1.0, **{**SMALL, "seed": 123})
    clone.load_state_dict(load_checkpoint(tmp_path / "agent.pt", {"algo": "sac_lagrangian"}))
    assert clone.multiplier == agent.multiplier
    obs = np.random.default_rng(0).uniform(-1, 1, (7, 3)).astype(np.float32)
    for explore in (False, True, True):
        np.testing.assert_array_equal(agent.act(obs, explore=explore), clone.act(obs, explore=explore))
    for k in range(2):
        batch = ended_batch(1.0, n_rows=5, n_envs=1) if k else random_batch(np.random.default_rng(5), 5)
        assert agent.fit(batch) == clone.fit(batch)
    for key, value in params(agent).items():
        assert torch.equal(value, params(clone)[key]), key
    assert clone.multiplier == agent.multiplier and clone.last_episode_cost == agent.last_episode_cost
    assert {"cost_critic", "cost_critic_target"} <= set(agent.modules) and "cost_critic" in agent.optimizers


def test_registered_with_a_validated_config_and_one_line_refusals():
    assert get_algorithm("sac_lagrangian") is SACLagrangian
    env = make_env(ENV, seed=0)
    with pytest.raises(ConfigError, match="cost_limit = -1.0 is invalid") as caught:
        SACLagrangian(env.info, cost_limit=-1.0)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="lagrangian = 'adam' is invalid"):
        SACLagrangian(env.info, lagrangian="adam")
    agent = SACLagrangian(env.info, cost_key="hazard", **SMALL)
    assert agent.info_keys == ("hazard",) and agent.cost_key == "hazard" and agent.config.cost_limit == 25.0
    with pytest.raises(EnvCheckError, match=r"reported no info\['hazard'\]") as caught:
        Core(agent, env, progress=False).learn(steps=30)  # the Core records the agent's info_keys
    assert "\n" not in str(caught.value)


def test_cli_run_logs_the_evaluation_cost_and_the_multiplier(tmp_path):
    result = CliRunner().invoke(main, ["train", "sac_lagrangian", ENV, "--steps", "1500",
                                       "--set", "eval_episodes=2", "--set", "steps_per_epoch=750",
                                       "--set", "batch_size=64", "--set", "learning_starts=500",
                                       "--set", "net_arch=[64,64]",
                                       "--out", str(tmp_path), "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["eval_cost_mean"] >= 0
    rows = list(csv.DictReader((next(tmp_path.iterdir()) / "metrics.csv").open()))
    assert len(rows) == 2
    for row in rows:
        assert float(row["eval_cost_mean"]) >= 0 and float(row["train/lagrange_multiplier"]) >= 0
        assert float(row["train/episode_cost"]) >= 0 and "loss/cost_critic" in row
