"""RecurrentPPO: the replay equals what acting computed, targets bootstrap with history, memory is learned."""

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms import PPO, RecurrentPPO
from porcini.algorithms.policy_gradient.recurrent_ppo import RecurrentPPOConfig
from porcini.core import Callback
from porcini.errors import ConfigError
from porcini.networks.cnn import NatureCNN

SMALL = dict(n_steps=8, batch_size=16, n_epochs=2, lstm_hidden_size=8, net_arch=(8,))


class ActingRecorder:
    """Wraps an agent's ``act`` and ``reset``: per step, the log-prob of the action taken and the critic's value
    of the observation, computed from the carried state *as acting left it*, and the critic's value of each
    successor computed step by step from the state after that step."""

    def __init__(self, agent):
        self.agent, self.log_probs, self.values = agent, [], []
        act = agent.act

        def recording_act(obs, *, explore):
            before = copy.deepcopy(agent.recurrent_state())
            action = act(obs, explore=explore)
            _, (vh, vc) = agent.recurrent_state()
            m = agent.model
            with torch.no_grad():
                x = torch.as_tensor(obs)
                out, _ = m.pi_lstm(x, before[0], torch.zeros(len(obs), dtype=torch.bool))
                self.log_probs.append(m.log_prob(m.heads.policy(out), torch.as_tensor(action)).numpy())
                self.values.append(m.heads.value(vh[-1]).numpy())
            self.after = (vh, vc)
            return action

        agent.act = recording_act

    def successor_value(self, next_obs):
        """V(next_obs) from the critic state after the step just taken (called before any reset)."""
        m = self.agent.model
        with torch.no_grad():
            out, _ = m.vf_lstm(torch.as_tensor(next_obs), self.after, torch.zeros(len(next_obs), dtype=torch.bool))
            return m.heads.value(out).numpy()


def test_replay_recomputes_exactly_what_acting_computed_and_gae_bootstraps_with_history(reference_gae):
    """Over four rollouts with episode ends inside them (terminations and time limits), the update's replay
    gives the log-probs and values acting computed step by step, and successor values from each step's history."""
    env = make_env("CartPole-v1", n_envs=3, seed=0, max_episode_steps=12)  # falls, and time limits
    agent = RecurrentPPO(env.info, **SMALL, gamma=0.9, gae_lambda=0.8)
    rec = ActingRecorder(agent)
    successor_values = []
    core = Core(agent, env, progress=False)
    step = env.step

    def recording_step(action):  # right after env.step, before Core resets the state of ended envs
        obs, reward, terminated, truncated, info = out = step(action)
        ended = terminated | truncated
        next_obs = obs.copy()
        for i in np.flatnonzero(ended):
            next_obs[i] = info["final_obs"][i]
        successor_values.append(rec.successor_value(next_obs))
        return out

    env.step = recording_step
    replays, batches = [], []
    replay = agent._replay

    def recording_replay(b, x, starts):
        data = replay(b, x, starts)
        replays.append(data)
        batches.append(b)
        return data

    agent._replay = recording_replay
    core.learn(steps=4 * 8 * 3)
    assert len(replays) == 4
    kinds = set()
    for k, (data, b) in enumerate(zip(replays, batches)):
        rows = slice(8 * k, 8 * (k + 1))
        np.testing.assert_allclose(data["old_log_prob"].numpy(), np.stack(rec.log_probs[rows]), atol=1e-5)
        np.testing.assert_allclose(data["old_value"].numpy(), np.stack(rec.values[rows]), atol=1e-5)
        ended = b.episode_end.numpy()
        kinds |= {"truncated"} if b.truncated.numpy().any() else set()
        kinds |= {"terminated"} if b.terminated.numpy().any() else set()
        terminated = b.terminated.numpy()
        expected = reference_gae(b.reward.numpy(), np.stack(rec.values[rows]), np.stack(successor_values[rows]),
                                 terminated, ended & ~terminated, 0.9, 0.8)
        np.testing.assert_allclose(data["advantage"].numpy(), expected, atol=1e-4)
    assert kinds == {"truncated", "terminated"}  # the rollouts did contain both kinds of episode end



@pytest.mark.parametrize("pending", [0, 5])  # the reset right after a fit, or in the middle of a rollout
def test_after_a_reset_between_rollouts_the_replay_recomputes_what_acting_computed(pending):
    """Episodes cut by ``Core.reset`` end for the replay too: the next ones start from a zero state, as acting's."""
    env = make_env("CartPole-v1", n_envs=3, seed=0)
    agent = RecurrentPPO(env.info, **SMALL)
    rec = ActingRecorder(agent)
    replays = []
    replay = agent._replay
    agent._replay = lambda b, x, starts: (replays.append(replay(b, x, starts)), replays[-1])[1]
    core = Core(agent, env, progress=False)
    core.learn(steps=3 * (8 + pending))
    core.reset(seed=1)
    core.learn(steps=3 * (8 - pending))
    assert len(replays) == 2
    for k, data in enumerate(replays):
        rows = slice(8 * k, 8 * (k + 1))
        np.testing.assert_allclose(data["old_log_prob"].numpy(), np.stack(rec.log_probs[rows]), atol=1e-5)
        np.testing.assert_allclose(data["old_value"].numpy(), np.stack(rec.values[rows]), atol=1e-5)

class CueOnce(Callback):
    """Evaluates in the middle of rollouts (every 5 steps), as epochs would."""

    def on_step(self, core, action, reward, terminated, truncated, info):
        if core.env_steps % 5 == 0:
            core.evaluate(3)


def test_evaluation_in_the_middle_of_a_rollout_leaves_training_unchanged():
    def run(evaluate):
        env = make_env("porcini/CueMemory-v0", n_envs=2, seed=1)
        agent = RecurrentPPO(env.info, **SMALL, seed=3)
        core = Core(agent, env, eval_env=make_env("porcini/CueMemory-v0", n_envs=3, seed=2),
                    callbacks=[CueOnce()] if evaluate else [], progress=False)
        core.learn(steps=64)
        return agent

    plain, evaluated = run(False), run(True)
    for (name, p), q in zip(plain.model.state_dict().items(), evaluated.model.state_dict().values()):
        assert torch.equal(p, q), name
    assert plain.recurrent_state()[0][0].shape == evaluated.recurrent_state()[0][0].shape == (1, 2, 8)


def test_acting_on_other_envs_without_evaluate_is_a_clear_error():
    env = make_env("porcini/CueMemory-v0", n_envs=2, seed=0)
    agent = RecurrentPPO(env.info, **SMALL)
    with pytest.raises(ValueError, match="recurrent state is for 2 envs.*Core.evaluate"):
        agent.act(np.zeros((3, 3), np.float32), explore=False)


def test_state_resets_at_episode_ends_only():
    env = make_env("porcini/CueMemory-v0", n_envs=2, seed=0)
    agent = RecurrentPPO(env.info, **SMALL)
    obs, _ = env.reset(seed=0)
    agent.act(obs, explore=True)
    agent.reset(np.array([True, False]))
    (h, c), (vh, vc) = agent.recurrent_state()
    assert torch.all(h[:, 0] == 0) and torch.all(c[:, 0] == 0) and torch.all(vh[:, 0] == 0)
    assert torch.any(h[:, 1] != 0) and torch.any(vc[:, 1] != 0)


def test_save_load_gives_identical_actions_and_same_seed_identical_parameters():
    def trained():
        env = make_env("porcini/CueMemory-v0", n_envs=2, seed=0)
        agent = RecurrentPPO(env.info, **SMALL, seed=5)
        core = Core(agent, env, progress=False)
        core.learn(steps=35)  # stops in the middle of a rollout and of episodes
        return agent, core

    a, core = trained()
    b, _ = trained()
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    state = copy.deepcopy(a.state_dict())
    clone = RecurrentPPO(a.info, **SMALL, seed=99)
    clone.load_state_dict(state)
    obs = core.obs
    for _ in range(4):  # the carried state matters: the same observation gives a history-dependent action
        assert np.array_equal(a.act(obs, explore=True), clone.act(obs, explore=True))
    np.testing.assert_array_equal(a.value(obs), clone.value(obs))


def test_continuous_actions_are_clipped():
    env = make_env("Pendulum-v1", n_envs=2, seed=0)
    agent = RecurrentPPO(env.info, **SMALL, log_std_init=2.0)
    result = Core(agent, env, progress=False).learn(steps=32)
    assert np.isfinite(result.last_metrics["loss_value"])
    obs, _ = env.reset(seed=0)
    actions = np.stack([agent.act(obs, explore=True) for _ in range(50)])
    assert actions.dtype == np.float32 and actions.min() >= -2.0 and actions.max() <= 2.0
    assert (np.abs(actions) == 2.0).any()  # std e^2: samples beyond the bounds were clipped


@pytest.mark.parametrize("field, value, match", [
    ("batch_size", 12, "RecurrentPPOConfig.batch_size = 12 .*multiple of n_steps = 8"),
    ("lstm_hidden_size", 0, "RecurrentPPOConfig.lstm_hidden_size = 0"),
    ("gamma", 2.0, "RecurrentPPOConfig.gamma = 2.0"),
])
def test_invalid_config_values_are_named(field, value, match):
    with pytest.raises(ConfigError, match=match):
        RecurrentPPOConfig(**{**dict(n_steps=8, batch_size=16), field: value})


def test_image_observations_go_through_a_cnn_before_the_lstms():
    env = make_env("porcini/PixelGridWorld-v0", seed=0)
    agent = RecurrentPPO(env.info, **SMALL)
    assert isinstance(agent.model.encoder, NatureCNN)
    assert Core(agent, env, progress=False).learn(steps=2 * SMALL["n_steps"]).steps == 2 * SMALL["n_steps"]


def _cue_memory_return(agent_cls, **overrides):
    env = make_env("porcini/CueMemory-v0", n_envs=8, seed=0)
    agent = agent_cls(env.info, n_steps=32, batch_size=128, n_epochs=10, learning_rate=3e-3, net_arch=(32,),
                      seed=0, **overrides)
    core = Core(agent, env, eval_env=make_env("porcini/CueMemory-v0", n_envs=4, seed=1), progress=False)
    core.learn(steps=4096)
    return float(np.mean(core.evaluate(200).returns))


def test_remembers_the_cue_where_a_feed_forward_ppo_cannot():
    """CueMemory: the answer depends on the first observation only. Chance is 0.5."""
    assert _cue_memory_return(RecurrentPPO, lstm_hidden_size=32) >= 0.95
    assert _cue_memory_return(PPO) <= 0.7


def test_registered_under_its_cli_name():
    from porcini.algorithms.registry import get_algorithm

    assert get_algorithm("recurrent_ppo") is RecurrentPPO
    assert isinstance(gym.make("porcini/CueMemory-v0").observation_space, gym.spaces.Box)
