import gymnasium as gym
import numpy as np
import pytest

pettingzoo = pytest.importorskip("pettingzoo", reason='PettingZoo is not installed: pip install "porcini[pettingzoo]"')

from porcini import Core  # noqa: E402
from porcini.algorithms.random import RandomAgent  # noqa: E402
from porcini.envs.adapters import PettingZooAgentView, make_pettingzoo_env  # noqa: E402
from porcini.errors import EnvCheckError  # noqa: E402


class Relay(pettingzoo.ParallelEnv):
    """Two agents with different spaces; the runner leaves after ``runner_steps``, the game ends at ``max_steps``.

    runner: obs Box(2,) = [t, last guide action], actions Discrete(3), reward = action + guide's last action.
    guide:  obs Discrete(5) = t mod 5, actions Discrete(2), reward = 1 if it repeats the runner's action parity.
    Rewards are chosen so that tests can recompute them from the actions.
    """

    metadata = {"name": "relay_v0"}

    def __init__(self, runner_steps=4, max_steps=6):
        self.possible_agents = ["runner", "guide"]
        self.runner_steps, self.max_steps = runner_steps, max_steps
        self._spaces = {
            "runner": (gym.spaces.Box(0, 100, (2,), dtype=np.float32), gym.spaces.Discrete(3)),
            "guide": (gym.spaces.Discrete(5), gym.spaces.Discrete(2)),
        }

    def observation_space(self, agent):
        return self._spaces[agent][0]

    def action_space(self, agent):
        return self._spaces[agent][1]

    def _obs(self):
        obs = {"runner": np.array([self.t, self.last_guide], dtype=np.float32), "guide": np.int64(self.t % 5)}
        return {a: obs[a] for a in self.agents}

    def reset(self, seed=None, options=None):
        self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.t, self.last_guide = 0, int(self.rng.integers(2))
        return self._obs(), {a: {"seed_draw": self.last_guide} for a in self.agents}

    def step(self, actions):
        assert set(actions) == set(self.agents), (actions, self.agents)
        self.t += 1
        rewards = {}
        if "runner" in actions:
            rewards["runner"] = float(actions["runner"] + self.last_guide)
        if "guide" in actions:
            runner_parity = actions.get("runner", 0) % 2
            rewards["guide"] = float(actions["guide"] == runner_parity)
            self.last_guide = int(actions["guide"])
        obs = self._obs()
        terminations = {a: a == "runner" and self.t >= self.runner_steps for a in self.agents}
        truncations = {a: self.t >= self.max_steps for a in self.agents}
        infos = {a: {"t": self.t} for a in self.agents}
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        return obs, rewards, terminations, truncations, infos


def test_runner_view_rewards_spaces_and_termination():
    guide_actions = []

    def guide_policy(obs):
        guide_actions.append(int(obs) % 2)
        return int(obs) % 2

    view = PettingZooAgentView(Relay(), "runner", {"guide": guide_policy})
    assert view.observation_space == Relay().observation_space("runner")
    assert view.action_space == gym.spaces.Discrete(3)
    obs, info = view.reset(seed=0)
    assert info == {"seed_draw": int(obs[1])}
    for t in range(1, 5):
        last_guide = int(obs[1])
        obs, reward, terminated, truncated, info = view.step(2)
        assert reward == 2 + last_guide and info == {"t": t}
        assert obs[1] == guide_actions[-1]  # the guide acted from its policy on its own observation
        assert (terminated, truncated) == (t == 4, False)


def test_guide_view_outlives_the_runner_and_is_truncated():
    view = PettingZooAgentView(Relay(), "guide")
    view.reset(seed=1)
    ends = [view.step(1)[2:4] for _ in range(6)]
    assert ends == [(False, False)] * 5 + [(False, True)]


def test_seeded_views_repeat_and_random_others_are_seeded():
    def rollout(seed):
        view = PettingZooAgentView(Relay(max_steps=50, runner_steps=50), "guide")
        view.reset(seed=seed)
        return [view.step(0)[1] for _ in range(40)]

    assert rollout(3) == rollout(3)
    assert rollout(3) != rollout(4)


def test_through_make_env_and_core():
    env = make_pettingzoo_env(Relay, "runner", n_envs=2, seed=0)
    assert env.info.env_id == "relay_v0:runner"
    result = Core(RandomAgent(env.info), env, progress=False).learn(steps=80)
    assert result.episodes.lengths == [4] * 20
    assert all(0 <= r <= 4 * 3 for r in result.episodes.returns)


def test_bad_agents_are_named():
    with pytest.raises(ValueError, match="possible_agents"):
        PettingZooAgentView(Relay(), "coach")
    with pytest.raises(ValueError, match="not other agents"):
        PettingZooAgentView(Relay(), "runner", {"runner": lambda obs: 0})

    class Late(Relay):
        def reset(self, seed=None, options=None):
            obs, infos = super().reset(seed, options)
            return {"guide": obs["guide"]}, infos

    with pytest.raises(EnvCheckError, match="no observation at reset"):
        PettingZooAgentView(Late(), "runner").reset(seed=0)


def test_rock_paper_scissors():
    pytest.importorskip("pygame", reason="PettingZoo's classic envs import pygame")
    from pettingzoo.classic import rps_v2

    env = make_pettingzoo_env(rps_v2.parallel_env, "player_0", {"player_1": lambda obs: 0}, n_envs=2, seed=0)
    assert env.info.n_actions == 3 and env.info.n_observations == 4 and env.info.env_id == "rps_v2:player_0"

    class Paper:
        fit_every_steps = None
        fit_every_episodes = None

        def act(self, obs, *, explore):
            return np.ones(len(obs), dtype=np.int64)

        def reset(self, ended):
            pass

    # paper (1) beats rock (0) on every move: +1 per move, 15 moves per game
    result = Core(Paper(), env, progress=False).learn(episodes=4)
    assert result.episodes.returns[:4] == [15.0] * 4 and result.episodes.lengths[:4] == [15] * 4
