"""Action masks reach the policy: masked categoricals (PPO and its family) and masked argmax and targets (DQN)."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from porcini import Core, make_env
from porcini.algorithms.actor_critic.discrete_sac import DiscreteSAC
from porcini.algorithms.kit import ReplaySample, obs_to_tensor
from porcini.algorithms.offline.bc import BC
from porcini.algorithms.policy_gradient.a2c import A2C
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.algorithms.policy_gradient.recurrent_ppo import RecurrentPPO
from porcini.algorithms.registry import get_algorithm
from porcini.algorithms.safe.ppo_lagrangian import PPOLagrangian
from porcini.algorithms.value_based.dqn import DQN
from porcini.algorithms.value_based.qr_dqn import QRDQN
from porcini.envs.builtin import MaskedChain
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.experiment.cli import main
from porcini.networks import CategoricalHead, make_trunk
from porcini.networks.distributions import Categorical
from porcini.networks.masking import legal_actions, masked_argmax, masked_values, random_legal_actions

ENV_ID = "porcini/MaskedChain-v0"


def random_masks(rng, rows, n):
    """Random 0/1 masks ``[rows, n]`` with at least one legal action per row; row 0 has exactly one."""
    mask = (rng.random((rows, n)) < 0.5).astype(np.int8)
    mask[np.arange(rows), rng.integers(0, n, rows)] = 1
    mask[0] = 0
    mask[0, rng.integers(0, n)] = 1
    return mask


def reference(logits, mask):
    """Log-probabilities and entropy of the softmax over legal actions only, row by row (float64)."""
    log_probs, entropies = [], []
    for row, legal in zip(logits.double(), mask.astype(bool)):
        lp = torch.full_like(row, -np.inf)
        lp[legal] = torch.log_softmax(row[legal], dim=-1)
        log_probs.append(lp)
        p = lp[legal].exp()
        entropies.append(-(p * lp[legal]).sum())
    return torch.stack(log_probs), torch.stack(entropies)


@pytest.mark.parametrize("seed", range(4))
def test_masked_categorical_matches_the_softmax_over_legal_actions(seed):
    rng = np.random.default_rng(seed)
    logits = torch.tensor(rng.normal(0, 3, (32, 7)), dtype=torch.float32, requires_grad=True)
    mask = random_masks(rng, 32, 7)
    dist = Categorical(masked_values(logits, legal_actions(torch.as_tensor(mask))))
    ref_log_probs, ref_entropy = reference(logits.detach(), mask)
    assert torch.all(dist.probs[torch.as_tensor(mask == 0)] == 0)
    torch.testing.assert_close(dist.probs.sum(-1), torch.ones(32))
    actions = torch.as_tensor(random_legal_actions(mask, rng))
    torch.testing.assert_close(dist.log_prob(actions).double(), ref_log_probs.gather(-1, actions[:, None])[:, 0],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(dist.entropy().double(), ref_entropy, atol=1e-5, rtol=1e-5)
    assert dist.entropy()[0] == 0  # a single legal action: no uncertainty
    (dist.log_prob(actions).sum() + dist.entropy().sum()).backward()
    assert torch.isfinite(logits.grad).all() and torch.all(logits.grad[torch.as_tensor(mask == 0)] == 0)
    samples = torch.stack([dist.sample(torch.Generator().manual_seed(i)) for i in range(50)])
    assert mask[np.arange(32)[None, :], samples.numpy()].all()
    assert mask[np.arange(32), dist.mode().numpy()].all()


def test_the_categorical_head_masks_its_logits():
    head = CategoricalHead(4, 3)
    features = torch.randn(5, 4)
    legal = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1], [0, 0, 0]]) > 0
    probs = head(features, legal_actions(legal)).probs
    assert torch.all(probs[:4][~legal[:4]] == 0)
    torch.testing.assert_close(probs[4], head(features).probs[4])  # no legal action: treated as all legal


def test_masked_argmax_matches_a_reference():
    rng = np.random.default_rng(0)
    values = torch.as_tensor(rng.normal(size=(64, 6)))
    mask = random_masks(rng, 64, 6)
    expected = [int(np.flatnonzero(m)[np.argmax(v[m.astype(bool)])]) for v, m in zip(values.numpy(), mask)]
    assert masked_argmax(values, legal_actions(torch.as_tensor(mask))).tolist() == expected


def test_random_legal_actions_are_uniform_over_the_legal_ones():
    rng = np.random.default_rng(0)
    mask = np.array([[1, 0, 1, 1], [0, 0, 0, 0]], dtype=np.int8)
    draws = np.stack([random_legal_actions(mask, rng) for _ in range(3000)])
    counts = np.bincount(draws[:, 0], minlength=4)
    assert counts[1] == 0 and np.all(np.abs(counts[[0, 2, 3]] / 3000 - 1 / 3) < 0.04)
    assert set(np.unique(draws[:, 1])) == {0, 1, 2, 3}  # no legal action: every action


def chain_obs(rng, n, n_cells=8):
    """Random MaskedChain observations (cells and masks, as the vector env stacks them)."""
    return {"action_mask": random_masks(rng, n, 3), "observation": rng.integers(0, n_cells, n)}


def test_ppo_policy_and_value_never_read_the_mask():
    env = make_env(ENV_ID, n_envs=2, seed=0, vectorization="sync")
    agent = PPO(env.info, n_steps=8, batch_size=8)
    obs = chain_obs(np.random.default_rng(0), 16)
    other = {**obs, "action_mask": random_masks(np.random.default_rng(1), 16, 3)}
    np.testing.assert_array_equal(agent.value(obs), agent.value(other))
    probs = agent.explain(obs)["action_probs"]
    assert np.all(probs[obs["action_mask"] == 0] == 0)
    for explore in (True, False):
        actions = agent.act(obs, explore=explore)
        assert obs["action_mask"][np.arange(16), actions].all()


@pytest.mark.parametrize("agent_cls", [PPO, A2C])
def test_categorical_agents_fit_with_finite_losses_and_take_no_illegal_action(agent_cls, monkeypatch):
    env = make_env(ENV_ID, n_envs=2, seed=0, vectorization="sync")
    kwargs = {"n_steps": 32, "batch_size": 32, "n_epochs": 2} if agent_cls is PPO else {"n_steps": 8}
    agent = agent_cls(env.info, ent_coef=0.01, **kwargs)
    check_finite_fits_and_legal_actions(agent, env, monkeypatch, steps=640)


def random_sample(info, rng, n, with_terminated=True):
    """A replay sample of ``n`` random MaskedChain transitions as tensors (some terminated, per-sample discounts)."""
    def tensors(obs):
        return obs_to_tensor(obs, torch.device("cpu"), info.observation_space)

    terminated = rng.random(n) < 0.3 if with_terminated else np.zeros(n, dtype=bool)
    return ReplaySample(tensors(chain_obs(rng, n)), torch.as_tensor(rng.integers(0, 3, n)),
                        torch.as_tensor(rng.normal(size=n), dtype=torch.float32),
                        torch.as_tensor(rng.uniform(0.5, 1.0, n), dtype=torch.float32),
                        torch.as_tensor(terminated), tensors(chain_obs(rng, n)))


@pytest.mark.parametrize("double_q", [False, True])
def test_dqn_target_bootstraps_from_the_next_states_legal_actions(double_q):
    """Terminated rows do not bootstrap; truncated ones are ordinary rows of the replay (they bootstrap)."""
    env = make_env(ENV_ID, seed=0, vectorization="sync")
    agent = DQN(env.info, double_q=double_q)
    rng = np.random.default_rng(0)
    s = random_sample(env.info, rng, 200)
    next_q_target = torch.as_tensor(rng.normal(size=(200, 3)), dtype=torch.float32)
    with torch.no_grad():
        online = agent.q_net(s.next_obs)
    mask = s.next_obs["action_mask"].numpy().astype(bool)
    expected = []
    for i in range(200):
        legal = np.flatnonzero(mask[i])
        if double_q:
            bootstrap = next_q_target[i, legal[int(np.argmax(online[i, legal].numpy()))]]
        else:
            bootstrap = next_q_target[i, legal].max()
        expected.append(float(s.reward[i]) + float(s.discount[i]) * (0.0 if s.terminated[i] else float(bootstrap)))
    torch.testing.assert_close(agent._target(s, next_q_target), torch.tensor(expected, dtype=torch.float32))


def test_qr_dqn_target_picks_a_legal_next_action():
    env = make_env(ENV_ID, seed=0, vectorization="sync")
    agent = QRDQN(env.info, n_quantiles=5)
    rng = np.random.default_rng(1)
    s = random_sample(env.info, rng, 100, with_terminated=False)
    next_quantiles = torch.as_tensor(rng.normal(size=(100, 3, 5)), dtype=torch.float32)
    y = agent._target(s, next_quantiles)
    mask = s.next_obs["action_mask"].numpy().astype(bool)
    for i in range(100):
        legal = np.flatnonzero(mask[i])
        a_star = legal[int(np.argmax(next_quantiles[i, legal].mean(-1).numpy()))]
        torch.testing.assert_close(y[i], s.reward[i] + s.discount[i] * next_quantiles[i, a_star])


@pytest.mark.parametrize("agent_cls", [DQN, QRDQN])
def test_q_agents_explain_the_value_of_the_best_legal_action(agent_cls):
    env = make_env(ENV_ID, seed=0, vectorization="sync")
    agent = agent_cls(env.info)
    obs = chain_obs(np.random.default_rng(0), 200)
    out = agent.explain(obs)
    q = out["q_values"]
    best_legal = [max(q[i, a] for a in np.flatnonzero(obs["action_mask"][i])) for i in range(200)]
    np.testing.assert_allclose(out["value"], best_legal)
    assert (q.max(axis=-1) > best_legal).any()  # the masks matter for these observations


@pytest.mark.parametrize("explore", [True, False])
def test_dqn_acts_legally_greedy_and_at_random(explore):
    env = make_env(ENV_ID, seed=0, vectorization="sync")
    agent = DQN(env.info, learning_starts=0, exploration_initial_eps=0.5, exploration_final_eps=0.5)
    agent.set_horizon(1000)
    obs = chain_obs(np.random.default_rng(0), 500)
    actions = agent.act(obs, explore=explore)
    assert obs["action_mask"][np.arange(500), actions].all()
    if explore:
        assert len(np.unique(actions)) == 3


def count_illegal_actions(monkeypatch):
    """Count MaskedChain's steps and illegal actions (``info["illegal_action"]``) in this process."""
    counts = {"steps": 0, "illegal": 0}
    step = MaskedChain.step

    def counting_step(self, action):
        out = step(self, action)
        counts["steps"] += 1
        counts["illegal"] += int(out[4]["illegal_action"])
        return out

    monkeypatch.setattr(MaskedChain, "step", counting_step)
    return counts


def check_finite_fits_and_legal_actions(agent, env, monkeypatch, steps):
    """Train ``steps`` env steps: every fit's losses are finite and MaskedChain saw no illegal action."""
    counts = count_illegal_actions(monkeypatch)
    seen = []
    original_fit = agent.fit
    monkeypatch.setattr(agent, "fit", lambda batch: seen.append(original_fit(batch)) or seen[-1])
    Core(agent, env, progress=False).learn(steps=steps)
    assert seen and all(np.isfinite(v) for metrics in seen for k, v in metrics.items() if k != "explained_variance")
    assert counts["steps"] == steps and counts["illegal"] == 0


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_cli_training_and_evaluation_take_no_illegal_action(algo, tmp_path, monkeypatch):
    counts = count_illegal_actions(monkeypatch)
    result = CliRunner().invoke(main, ["train", algo, ENV_ID, "--steps", "2000", "--json", "--no-progress",
                                       "--out", str(tmp_path), "--set", "eval_episodes=5",
                                       "--set", "env.vectorization=sync"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["env_steps"] == 2000 and summary["eval_episodes"] >= 5
    assert counts["steps"] > 2000 and counts["illegal"] == 0


BOX = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
MASKED_BOX_OBS = gym.spaces.Dict({"observation": gym.spaces.Box(-1.0, 1.0, (3,), np.float32),
                                  "action_mask": gym.spaces.Box(0, 1, (2,), np.int8)})


@pytest.mark.parametrize(("name", "overrides"), [("sac", {}), ("td3", {}), ("ddpg", {}), ("iql", {}), ("cql", {}),
                                                 ("td3_bc", {"normalize_obs": False})])
def test_box_action_agents_refuse_a_mask_they_would_encode_as_a_feature(name, overrides):
    with pytest.raises(UnsupportedSpaceError, match=r"^[A-Z0-9a-z]+ on toy does not apply the observation's "
                                                    r"'action_mask' entry.*PPO.*DQN.*FilterObservation"):
        get_algorithm(name)(EnvInfo("toy", MASKED_BOX_OBS, BOX, horizon=100), **overrides)


@pytest.mark.parametrize("agent_cls", [DiscreteSAC, BC])
def test_discrete_agents_without_masking_refuse_the_mask_instead_of_playing_illegal_actions(agent_cls):
    info = make_env(ENV_ID, n_envs=2, seed=0, vectorization="sync").info
    with pytest.raises(UnsupportedSpaceError, match=f"^{agent_cls.__name__} on {ENV_ID} does not apply the "
                                                    "observation's 'action_mask' entry"):
        agent_cls(info)


def test_a_network_builder_refuses_a_mask_left_in_the_space_it_encodes():
    with pytest.raises(UnsupportedSpaceError, match="make_trunk does not apply the observation's 'action_mask'"):
        make_trunk(MASKED_BOX_OBS, (8,))
    nested = gym.spaces.Dict({"inner": MASKED_BOX_OBS})  # a nested entry named so is an ordinary feature
    assert make_trunk(nested, (8,)).out_dim == 8


def test_ppo_lagrangian_cost_critic_never_reads_the_mask():
    env = make_env(ENV_ID, n_envs=2, seed=0, vectorization="sync")
    agent = PPOLagrangian(env.info, n_steps=8, batch_size=8)
    obs = chain_obs(np.random.default_rng(0), 16)
    other = {**obs, "action_mask": random_masks(np.random.default_rng(1), 16, 3)}
    space = env.info.observation_space
    costs = [agent.cost_critic(obs_to_tensor(o, agent.device, space)) for o in (obs, other)]
    torch.testing.assert_close(costs[0], costs[1])


def test_recurrent_ppo_fits_with_finite_losses_and_takes_no_illegal_action(monkeypatch):
    env = make_env(ENV_ID, n_envs=2, seed=0, vectorization="sync")
    agent = RecurrentPPO(env.info, n_steps=32, batch_size=64, n_epochs=2, ent_coef=0.01, lstm_hidden_size=16)
    check_finite_fits_and_legal_actions(agent, env, monkeypatch, steps=256)
    obs = chain_obs(np.random.default_rng(0), 2)
    assert np.all(agent.explain(obs)["action_probs"][obs["action_mask"] == 0] == 0)
    other = {**obs, "action_mask": random_masks(np.random.default_rng(1), 2, 3)}
    np.testing.assert_array_equal(agent.value(obs), agent.value(other))  # the mask is not a feature


@pytest.mark.slow
def test_masked_ppo_learns_the_chain_and_never_takes_an_illegal_action(monkeypatch):
    counts = count_illegal_actions(monkeypatch)
    env = make_env(ENV_ID, n_envs=4, seed=0, vectorization="sync")
    eval_env = make_env(ENV_ID, n_envs=4, seed=100, vectorization="sync")
    agent = PPO(env.info, n_steps=128, batch_size=128, n_epochs=4, ent_coef=0.01, seed=0)
    core = Core(agent, env, eval_env=eval_env, progress=False)
    core.learn(steps=20_000)
    train_steps = counts["steps"]
    greedy = core.evaluate(episodes=100)
    sampled = core.evaluate(episodes=100, explore=True)
    print(f"train steps {train_steps}, illegal {counts['illegal']}; greedy eval return {greedy.mean_return():.3f} "
          f"over {greedy.n_episodes}, sampled {sampled.mean_return():.3f} over {sampled.n_episodes}")
    assert counts["illegal"] == 0
    assert greedy.n_episodes == sampled.n_episodes == 100
    assert greedy.mean_return() >= 0.69  # the shortest path: 0.7
    assert sampled.mean_return() >= 0.5
    assert gym.spec(ENV_ID).max_episode_steps == 50
