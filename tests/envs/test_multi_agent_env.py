"""MultiAgentVectorEnv: agents as rows, leaving agents idle, per-agent ends, same-step autoreset, exact resume."""

import functools

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo import ParallelEnv

from porcini import Core, make_env
from porcini.algorithms.random import RandomAgent
from porcini.core.evaluation import run_episodes
from porcini.envs.multi_agent import MultiAgentVectorEnv, make_multi_agent_env
from porcini.errors import EnvCheckError


class Relay(ParallelEnv):
    """Agent ``k`` of ``n`` earns 1 + its action per step and leaves after ``k + 2`` steps (terminated), or is
    truncated at ``limit`` steps; observations say the step count, the agent and a random draw."""

    metadata = {"name": "relay_v0"}

    def __init__(self, n=3, limit=10, truncate_all=False, obs_dim=3):
        self.possible_agents = [f"runner_{k}" for k in range(n)]
        self.limit, self.truncate_all = limit, truncate_all
        self.state_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self._obs_dim = obs_dim

    def observation_space(self, agent):
        return gym.spaces.Box(-np.inf, np.inf, (self._obs_dim,), np.float32)

    def action_space(self, agent):
        return gym.spaces.Discrete(2)

    def _obs(self, agent):
        k = self.possible_agents.index(agent)
        return np.array([self.t, k, self.np_random.normal()], dtype=np.float32)

    def state(self):
        return np.array([self.t, len(self.agents)], dtype=np.float32)

    def reset(self, seed=None, options=None):
        if seed is not None or not hasattr(self, "np_random"):
            self.np_random = np.random.default_rng(seed)
        self.t, self.agents = 0, list(self.possible_agents)
        return {a: self._obs(a) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        rewards = {a: 1.0 + float(actions[a]) for a in self.agents}
        terms = {a: not self.truncate_all and self.t >= self.possible_agents.index(a) + 2 for a in self.agents}
        truncs = {a: self.t >= self.limit and not terms[a] for a in self.agents}
        obs = {a: self._obs(a) for a in self.agents}
        self.agents = [a for a in self.agents if not (terms[a] or truncs[a])]
        return obs, rewards, terms, truncs, {a: {"cost": 0.5} for a in obs}


def relay_env(n_envs=2, seed=0, **kwargs):
    return make_multi_agent_env(functools.partial(Relay, **kwargs), n_envs, seed)


def test_rows_are_agents_copy_by_copy_with_their_id_and_the_global_state():
    env = relay_env(n_envs=2)
    assert env.num_envs == 6 and env.info.n_envs == 6
    assert env.info.agents == ("runner_0", "runner_1", "runner_2")
    obs, _ = env.reset(seed=1)
    assert set(obs) == {"observation", "agent", "state"}
    np.testing.assert_array_equal(obs["agent"], np.tile(np.eye(3, dtype=np.float32), (2, 1)))
    np.testing.assert_array_equal(obs["observation"][:, 1], [0, 1, 2, 0, 1, 2])  # the agent index the env wrote
    np.testing.assert_array_equal(obs["state"], [[0, 3]] * 6)
    assert env.agent_of_row(4) == "runner_1"


def test_an_agent_that_leaves_is_idle_until_its_copy_resets_and_its_episode_return_is_exact():
    env = relay_env(n_envs=1)
    env.reset(seed=0)
    ones = np.ones(3, dtype=np.int64)
    _, reward, term, trunc, info = env.step(ones)  # t = 1: all live
    assert not term.any() and not trunc.any() and "_final_obs" not in info
    np.testing.assert_array_equal(info["active"], [1, 1, 1])
    obs, reward, term, trunc, info = env.step(ones)  # t = 2: runner_0 leaves
    np.testing.assert_array_equal(term, [True, False, False])
    assert info["_final_obs"].tolist() == [True, False, False]
    assert info["final_obs"]["observation"][0, 0] == 2  # its true final observation
    np.testing.assert_array_equal(obs["observation"][0], np.zeros(3))  # now idle: a zero observation
    obs, reward, term, trunc, info = env.step(ones)  # t = 3: runner_0 idle, runner_1 leaves
    np.testing.assert_array_equal(info["active"], [0, 1, 1])
    np.testing.assert_array_equal(reward, [0.0, 2.0, 2.0])
    np.testing.assert_array_equal(term, [False, True, False])
    obs, reward, term, trunc, info = env.step(ones)  # t = 4: runner_2 leaves, the copy resets at once
    np.testing.assert_array_equal(term, [False, False, True])
    np.testing.assert_array_equal(obs["observation"][:, 0], [0, 0, 0])  # every row starts the new episode
    np.testing.assert_array_equal(obs["observation"][:, 1], [0, 1, 2])
    assert info["final_obs"]["observation"][2, 0] == 4


def test_the_loop_records_each_agents_own_return_through_idle_steps():
    env = relay_env(n_envs=2)
    record = run_episodes(RandomAgent(env.info), env, episodes=12, seed=3)
    rows = np.asarray(record.env_indices) % 3
    returns = np.asarray(record.returns)
    for k in range(3):  # agent k earns 1 or 2 on each of its k + 2 steps, whatever the idle steps between
        assert ((returns[rows == k] >= k + 2) & (returns[rows == k] <= 2 * (k + 2))).all()
    per_agent = record.mean_return_by_agent(env.info.agents)
    assert per_agent["runner_0"] < per_agent["runner_2"]


def test_truncation_and_termination_stay_apart_per_agent():
    env = relay_env(n_envs=1, truncate_all=True, limit=3)
    env.reset(seed=0)
    for _ in range(2):
        env.step(np.zeros(3, dtype=np.int64))
    _, _, term, trunc, info = env.step(np.zeros(3, dtype=np.int64))
    assert not term.any() and trunc.all() and info["_final_obs"].all()


def test_info_entries_reach_the_rows_of_the_agents_that_reported_them():
    env = relay_env(n_envs=1)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(3, dtype=np.int64))
    np.testing.assert_array_equal(info["cost"], [0.5, 0.5, 0.5])


def test_seeded_envs_repeat_and_make_env_builds_the_multi_agent_env_from_a_factory():
    a = make_env(functools.partial(Relay), n_envs=2, seed=5)
    b = make_env(functools.partial(Relay), n_envs=2, seed=5)
    assert isinstance(a, MultiAgentVectorEnv)
    for _ in range(7):
        actions = a.action_space.sample()
        oa, ra, *_ = a.step(actions)
        ob, rb, *_ = b.step(actions)
        np.testing.assert_array_equal(oa["observation"], ob["observation"])
        np.testing.assert_array_equal(ra, rb)


def test_an_episode_in_progress_is_rebuilt_exactly_from_its_resume_state():
    env = relay_env(n_envs=2, seed=None)
    env.record_for_resume()
    env.reset(seed=11)
    rng = np.random.default_rng(0)
    for _ in range(5):  # past an autoreset (unseeded: the env's generator state is recorded)
        env.step(rng.integers(0, 2, 6))
    state = env.resume_state()
    copy = relay_env(n_envs=2, seed=None)
    obs = copy.load_resume_state(state)
    np.testing.assert_array_equal(obs["observation"], env._last_obs["observation"])
    for _ in range(6):
        actions = rng.integers(0, 2, 6)
        o1, r1, t1, u1, _ = env.step(actions)
        o2, r2, t2, u2, _ = copy.step(actions)
        np.testing.assert_array_equal(o1["observation"], o2["observation"])
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(t1 | u1, t2 | u2)


def test_agents_with_different_spaces_are_refused_in_one_line_naming_the_fixes():
    class Uneven(Relay):
        def observation_space(self, agent):
            return gym.spaces.Box(-1, 1, (3 if agent.endswith("0") else 4,), np.float32)

    with pytest.raises(EnvCheckError) as caught:
        make_multi_agent_env(Uneven, 1, 0)
    message = str(caught.value)
    assert "\n" not in message and "different spaces" in message and "pad" in message


def test_global_state_of_an_env_without_state_and_turn_based_games_are_refused():
    class Stateless(Relay):
        def __init__(self):
            super().__init__()
            del self.state_space

    with pytest.raises(EnvCheckError, match="state"):
        MultiAgentVectorEnv([Stateless], global_state=True)
    assert "state" not in make_multi_agent_env(Stateless, 1, 0).single_observation_space.spaces
    from pettingzoo.classic import tictactoe_v3

    with pytest.raises(TypeError, match="turn-based"):
        make_multi_agent_env(tictactoe_v3.env, 1, 0)


def test_single_agent_wrappers_are_refused_for_a_pettingzoo_env():
    with pytest.raises(ValueError, match="single-agent wrappers"):
        make_env(functools.partial(Relay), wrappers=[gym.wrappers.ClipReward])


def test_bad_actions_and_nan_rewards_get_clear_errors():
    env = relay_env(n_envs=1)
    with pytest.raises(Exception, match="action"):
        env.step(np.array([0, 5, 0]))

    class NaNReward(Relay):
        def step(self, actions):
            obs, rewards, *rest = super().step(actions)
            return (obs, {a: float("nan") for a in rewards}, *rest)

    bad = make_multi_agent_env(NaNReward, 1, 0)
    with pytest.raises(EnvCheckError, match="(?i)nan"):
        bad.step(np.zeros(3, dtype=np.int64))


def test_simple_spread_runs_in_the_loop_with_a_random_agent():
    pytest.importorskip("mpe2")
    env = make_env("mpe2.simple_spread_v3:parallel_env", n_envs=2, seed=0,
                   env_kwargs={"N": 3, "max_cycles": 25, "continuous_actions": False})
    assert env.info.agents == ("agent_0", "agent_1", "agent_2") and env.info.horizon == 25
    result = Core(RandomAgent(env.info), env, progress=False).learn(steps=6 * 50)
    assert result.episodes.n_episodes == 12 and set(result.episodes.lengths) == {25}


def test_vector_wrappers_on_a_pettingzoo_factory_keep_the_seed_the_info_and_spawn():
    from porcini.envs.wrappers import VectorRecordEpisodeStatistics

    plain = make_env(functools.partial(Relay), n_envs=2, seed=5)
    wrapped = make_env(functools.partial(Relay), n_envs=2, seed=5, wrappers=[VectorRecordEpisodeStatistics])
    assert isinstance(wrapped, VectorRecordEpisodeStatistics)
    assert getattr(wrapped, "reset_seed", None) == plain.reset_seed == 5
    assert getattr(wrapped, "info", None) == plain.info
    # Core.learn resets first with reset_seed: the wrapped env must start from the plain env's start states
    obs_wrapped, _ = wrapped.reset(seed=getattr(wrapped, "reset_seed", None))
    obs_plain, _ = plain.reset(seed=plain.reset_seed)
    np.testing.assert_array_equal(obs_wrapped["observation"], obs_plain["observation"])
    spawned = wrapped.spawn(1, 0)
    assert isinstance(spawned, VectorRecordEpisodeStatistics) and spawned.num_envs == len(plain.info.agents)
