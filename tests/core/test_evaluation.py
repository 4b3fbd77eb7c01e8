import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.random import RandomAgent
from porcini.core.evaluation import episode_quotas, run_episodes
from porcini.envs.testing import CountingEnv


def test_quotas_split_episodes_over_envs_first_envs_one_more():
    assert episode_quotas(10, 3).tolist() == [4, 3, 3]
    assert episode_quotas(2, 4).tolist() == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="n_episodes = 0"):
        episode_quotas(0, 2)


@pytest.mark.parametrize("episodes", [0, -1])
def test_evaluating_fewer_than_one_episode_is_refused_naming_the_argument(episodes):
    env = make_env("CartPole-v1", n_envs=1, seed=0)
    agent = RandomAgent(env.info)
    core = Core(agent, make_env("CartPole-v1", seed=0), eval_env=env, progress=False)
    for evaluate in (lambda: run_episodes(agent, env, episodes, seed=0), lambda: core.evaluate(episodes)):
        with pytest.raises(ValueError, match=rf"^episodes = {episodes} is invalid: must be >= 1"):
            evaluate()


def test_short_episodes_do_not_crowd_out_long_ones():
    # env 0 ends every 2 steps, env 1 every 5: the first four episodes to finish would be lengths 2, 2, 5, 2
    env = gym.vector.SyncVectorEnv(
        [lambda: CountingEnv(truncate_at=2), lambda: CountingEnv(truncate_at=5)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    agent = RandomAgent(make_env(lambda: CountingEnv(truncate_at=2), seed=0).info)
    record = run_episodes(agent, env, 4, seed=0)
    assert sorted(record.lengths) == [2, 2, 5, 5]
    assert sorted(record.returns) == [2.0, 2.0, 5.0, 5.0]  # reward 1 per step, accumulated per env


def test_seeded_evaluations_repeat_and_unseeded_continue():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = RandomAgent(env.info, seed=3)
    first = run_episodes(agent, env, 4, seed=7).lengths
    agent = RandomAgent(env.info, seed=3)
    assert run_episodes(agent, env, 4, seed=7).lengths == first
    assert len(run_episodes(agent, env, 3).lengths) == 3
    assert np.all(np.asarray(first) >= 8)  # CartPole cannot fall in fewer than ~8 steps


class StepCountingAgent(RandomAgent):
    """Acts with the number of steps since its episode began (a stand-in for a recurrent state)."""

    def __init__(self, info):
        super().__init__(info)
        self.counts = None

    def act(self, obs, *, explore):
        if self.counts is None:
            self.counts = np.zeros(len(obs), dtype=np.int64)
        action = self.counts.copy()
        self.counts += 1
        return action

    def reset(self, ended):
        if self.counts is not None:
            self.counts[ended] = 0

    def recurrent_state(self):
        return None if self.counts is None else self.counts.copy()

    def set_recurrent_state(self, state):
        self.counts = state


def test_recurrent_agents_evaluate_from_a_fresh_state_and_get_their_training_state_back():
    env = make_env(lambda: CountingEnv(truncate_at=3, n_actions=5), n_envs=3, seed=0)
    agent = StepCountingAgent(env.info)
    agent.counts = np.array([4, 1, 2])  # the training envs' episodes are in progress
    actions = []
    act = agent.act
    agent.act = lambda obs, *, explore: actions.append(act(obs, explore=explore)) or actions[-1]
    run_episodes(agent, make_env(lambda: CountingEnv(truncate_at=3, n_actions=5), n_envs=2, seed=1), 4)
    assert np.stack(actions).tolist() == [[0, 0], [1, 1], [2, 2]] * 2  # fresh, and reset at each episode end
    assert agent.counts.tolist() == [4, 1, 2]


def test_a_recurrent_agent_without_a_state_yet_is_still_reset_at_each_episode_end():
    # recurrent_state() is None (set_recurrent_state(None): a fresh state at the next act), yet the agent carries a
    # state: the evaluation must reset it where an episode ends, or episode 2 starts from episode 1's last state
    env = make_env(lambda: CountingEnv(truncate_at=2, n_actions=5), n_envs=2, seed=0)
    agent = StepCountingAgent(env.info)
    actions = []
    act = agent.act
    agent.act = lambda obs, *, explore: actions.append(act(obs, explore=explore)) or actions[-1]
    run_episodes(agent, env, 4)
    assert np.stack(actions).tolist() == [[0, 0], [1, 1]] * 2
    assert agent.counts is None  # its state (none) is put back


def test_a_recurrent_ppo_evaluation_resets_its_lstm_state_per_episode_after_set_recurrent_state_none():
    from porcini.algorithms import RecurrentPPO

    env = make_env("CartPole-v1", n_envs=1, seed=0)
    agent = RecurrentPPO(env.info, n_steps=8, batch_size=8, lstm_hidden_size=4)
    agent.set_recurrent_state(None)
    resets = []
    reset = agent.reset
    agent.reset = lambda ended: resets.append(np.asarray(ended).copy()) or reset(ended)
    run_episodes(agent, env, 2)
    assert len(resets) == 2 and all(r.tolist() == [True] for r in resets)


def _next_exploring_actions(agent, env, steps: int) -> list:
    """The agent's exploring actions on ``steps`` observations of a freshly seeded env (no fit)."""
    obs, _ = env.reset(seed=7)
    actions = []
    for _ in range(steps):
        action = agent.act(obs, explore=True)
        actions.append(np.asarray(action).copy())
        obs, *_ = env.step(action)
    return actions


@pytest.mark.parametrize("algo, env_id", [("dqn", "CartPole-v1"), ("sac", "Pendulum-v1"), ("ppo", "CartPole-v1"),
                                          ("sarsa", "FrozenLake-v1")])
def test_an_exploring_evaluation_leaves_the_agents_exploration_as_it_was(algo, env_id):
    """ε's clock and the random generators are put back: the next exploring actions are those without the evaluation."""
    from porcini.algorithms.registry import get_algorithm

    env = make_env(env_id, n_envs=2, seed=0)
    overrides = {"learning_starts": 0, "exploration_fraction": 0.0, "exploration_initial_eps": 0.5,
                 "exploration_final_eps": 0.5} if algo == "dqn" else {}
    evaluated, untouched = (get_algorithm(algo)(env.info, seed=0, **overrides) for _ in range(2))
    before = evaluated.exploration_state()
    run_episodes(evaluated, make_env(env_id, n_envs=2, seed=1), 3, explore=True, seed=1)
    assert evaluated.exploration_state().keys() == before.keys() and before
    expected = _next_exploring_actions(untouched, env, 20)
    np.testing.assert_array_equal(_next_exploring_actions(evaluated, make_env(env_id, n_envs=2, seed=0), 20), expected)
    if algo == "dqn":
        assert evaluated.behaviour_steps == untouched.behaviour_steps == 40


def test_a_multi_agent_evaluation_gives_every_agent_as_many_episodes():
    # 10 episodes on 2 copies of a 3-agent game went to rows 0-3 twice and rows 4-5 once: agent_0 had 4 episodes,
    # the others 3; and 2 episodes left agent_2 with none, so its mean and the team's sum were NaN
    from pettingzoo import ParallelEnv

    from porcini.envs.multi_agent import make_multi_agent_env

    class Tick(ParallelEnv):
        metadata = {"name": "tick_v0"}
        possible_agents = ["agent_0", "agent_1", "agent_2"]

        def observation_space(self, agent):
            return gym.spaces.Box(0.0, 10.0, (1,), np.float32)

        def action_space(self, agent):
            return gym.spaces.Discrete(2)

        def reset(self, seed=None, options=None):
            self.t, self.agents = 0, list(self.possible_agents)
            return {a: np.zeros(1, np.float32) for a in self.agents}, {}

        def step(self, actions):
            self.t += 1
            done = {a: self.t >= 3 for a in self.agents}
            obs = {a: np.full(1, self.t, np.float32) for a in self.agents}
            rewards = {a: float(self.possible_agents.index(a)) for a in self.agents}
            self.agents = [a for a in self.agents if not done[a]]
            return obs, rewards, done, {a: False for a in obs}, {}

    env = make_multi_agent_env(Tick, 2, seed=0)
    agents = env.info.agents
    for asked, expected in ((10, 4), (2, 1), (6, 2)):
        record = run_episodes(RandomAgent(env.info), env, asked, seed=0)
        counts = np.bincount(np.asarray(record.env_indices) % 3, minlength=3)
        assert counts.tolist() == [expected] * 3, (asked, counts)
        by_agent = record.mean_return_by_agent(agents)
        assert by_agent == {"agent_0": 0.0, "agent_1": 3.0, "agent_2": 6.0}
