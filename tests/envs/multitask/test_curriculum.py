import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.envs.wrappers.curriculum import Curriculum, CurriculumSchedule


class OneStepEnv(gym.Env):
    """One-step episodes whose return is the action: the test chooses every episode's return."""

    observation_space = gym.spaces.Box(0.0, 10.0, (1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(11)

    def __init__(self):
        self.difficulty = 0.0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.array([self.difficulty], dtype=np.float32), {}

    def step(self, action):
        return np.array([self.difficulty], dtype=np.float32), float(action), True, False, {}


LEVELS = [{"difficulty": 0.0}, {"difficulty": 1.0}, {"difficulty": 2.0}]


def play(env, returns):
    levels = []
    for r in returns:
        obs, info = env.reset()
        assert obs[0] == LEVELS[info["level"]]["difficulty"]  # the level's parameters are applied
        _, _, _, _, step_info = env.step(r)
        assert step_info["level"] == info["level"]
        levels.append(info["level"])
    return levels


def test_advances_when_the_window_mean_meets_the_threshold_and_not_before():
    env = Curriculum(OneStepEnv(), LEVELS, threshold=5.0, window_episodes=3)
    env.reset(seed=0)
    # means of the last 3: (4,4,4)=4, (4,4,6)=4.67, (4,6,5)=5 -> moves up after the 5th episode
    assert play(env, [4, 4, 4, 4, 6, 5]) == [0, 0, 0, 0, 0, 0]
    assert env.level == 1
    # the window starts empty at the new level: two good episodes are not enough, the third is
    assert play(env, [10, 10]) == [1, 1] and env.level == 1
    assert play(env, [10]) == [1] and env.level == 2
    # the last level stays
    assert play(env, [10] * 5) == [2] * 5 and env.level == 2


def test_just_below_the_threshold_never_advances():
    env = Curriculum(OneStepEnv(), LEVELS, threshold=5.0, window_episodes=2)
    env.reset(seed=0)
    assert play(env, [5, 4] * 10) == [0] * 20


def test_per_level_thresholds():
    schedule = CurriculumSchedule(3, threshold=[2.0, 8.0], window_episodes=1)
    assert [schedule.record(r) for r in (2.0, 7.0, 8.0)] == [True, False, True]
    assert schedule.level == 2


def test_returns_of_another_level_do_not_count():
    schedule = CurriculumSchedule(3, threshold=1.0, window_episodes=2)
    schedule.record(5.0)
    schedule.record(5.0)
    assert schedule.level == 1
    assert not schedule.record(100.0, level=0)  # an episode that began before the move
    assert list(schedule.returns) == []


def test_state_dict_round_trip():
    env = Curriculum(OneStepEnv(), LEVELS, threshold=5.0, window_episodes=3)
    env.reset(seed=0)
    play(env, [9, 9, 9, 9])
    state = env.state_dict()
    assert state == {"level": 1, "returns": [9.0], "episode_level": 1}
    fresh = Curriculum(OneStepEnv(), LEVELS, threshold=5.0, window_episodes=3)
    fresh.load_state_dict(state)
    fresh.reset(seed=0)
    # same future as the original: one level-1 episode is already in the window
    assert play(fresh, [9, 9]) == play(env, [9, 9]) == [1, 1]
    assert fresh.level == env.level == 2
    with pytest.raises(ValueError, match="outside"):
        fresh.load_state_dict({"level": 3, "returns": []})
    with pytest.raises(ValueError, match="outside"):
        fresh.load_state_dict({"level": 1, "returns": [], "episode_level": 3})
    fresh.load_state_dict({"level": 1, "returns": []})  # a state saved before episode_level was kept


def test_bad_arguments():
    with pytest.raises(ValueError, match="thresholds"):
        CurriculumSchedule(3, threshold=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="window_episodes"):
        CurriculumSchedule(3, threshold=1.0, window_episodes=0)
    with pytest.raises(AttributeError, match="difficulty"):
        Curriculum(gym.make("CartPole-v1"), LEVELS, threshold=1.0)


def test_shared_schedule_advances_all_envs_of_a_vector_env_together():
    schedule = CurriculumSchedule(3, threshold=5.0, window_episodes=4)
    # "sync": the envs must live in this process to share the schedule
    env = make_env(lambda: Curriculum(OneStepEnv(), LEVELS, 5.0, schedule=schedule), n_envs=2, seed=0,
                   vectorization="sync")
    levels = []
    for _ in range(4):
        _, _, _, _, info = env.step(np.array([6, 6]))
        levels.append(info["final_info"]["level"].tolist())
    # two episodes per vector step are pooled: the window of 4 fills on the second step, at env 1's episode, after
    # env 0 had already begun its next episode at level 0 (that episode's return is then ignored)
    assert levels == [[0, 0], [0, 0], [0, 1], [1, 1]]
    assert schedule.level == 1 and list(schedule.returns) == [6.0, 6.0, 6.0]


def test_from_envs():
    def easy():
        return gym.make("CartPole-v1", disable_env_checker=True)

    def hard():
        env = easy()
        env.unwrapped.length = 2.0
        return env

    env = Curriculum.from_envs([easy, hard], threshold=0.0, window_episodes=1)
    env.reset(seed=0)
    while not any(env.step(0)[2:4]):
        pass
    _, info = env.reset()
    assert info["level"] == 1 and env.unwrapped.active == 1


def test_an_evaluation_env_plays_the_last_level_and_never_moves():
    from porcini.envs.make import evaluation_wrappers

    # a training env's curriculum in the evaluation env started at level 0 and moved with the evaluation returns
    wrappers = evaluation_wrappers([(Curriculum, {"levels": LEVELS, "threshold": 0.0, "window_episodes": 1})])
    env = make_env(OneStepEnv, n_envs=1, seed=0, vectorization="sync", wrappers=wrappers)
    curriculum = env.unwrapped.envs[0]
    levels = [int(env.step(np.array([10]))[4]["final_info"]["level"][0]) for _ in range(4)]
    assert levels == [2, 2, 2, 2] and curriculum.level == 2
    assert curriculum.schedule.level == 0 and not curriculum.schedule.returns


def test_fixed_level_counts_from_the_end_and_is_checked():
    env = Curriculum(OneStepEnv(), LEVELS, threshold=0.0, window_episodes=1, fixed_level=1)
    assert play(env, [10, 10, 10]) == [1, 1, 1]
    assert Curriculum(OneStepEnv(), LEVELS, threshold=0.0, fixed_level=-3).level == 0
    for bad in (3, -4, 1.0, True):
        with pytest.raises(ValueError, match="fixed_level"):
            Curriculum(OneStepEnv(), LEVELS, threshold=0.0, fixed_level=bad)


class BonusEnv(gym.Env):
    """Episodes end on action 1; every reward is the level's ``bonus`` and every observation 0 (replays match)."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.bonus = 0.0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), self.bonus, bool(action == 1), False, {}


def test_a_resumed_episode_plays_the_level_it_began_at_under_a_shared_schedule():
    from porcini.experiment.envs import env_resume_state, restore_envs, wrapper_states

    def build():
        schedule = CurriculumSchedule(2, threshold=-1.0, window_episodes=1)
        levels = [{"bonus": 0.0}, {"bonus": 5.0}]
        env = make_env(lambda: Curriculum(BonusEnv(), levels, -1.0, schedule=schedule), n_envs=2, seed=0,
                       vectorization="sync")
        env.unwrapped.record_for_resume()
        return env, env.reset(seed=0)[0]

    def run(stop):
        env, obs = build()
        rewards = []
        # env 1's first episode ends at once and moves the shared level to 1 while env 0's episode plays level 0
        for t, actions in enumerate([[0, 1], [0, 0], [1, 0], [1, 1]]):
            if t == stop:
                state = {"wrappers": wrapper_states(env), "env": env_resume_state(env), "core": {"obs": obs}}
                env.close()
                env, _ = build()
                assert restore_envs(env, state, seed=0) is None
            obs, reward, *_ = env.step(np.array(actions))
            rewards.append(reward.tolist())
        env.close()
        return rewards

    # the replay reset env 0 at the shared schedule's level 1, so the rest of its level-0 episode paid level 1's bonus
    assert run(stop=2) == run(stop=None) == [[0.0, 0.0], [0.0, 5.0], [0.0, 5.0], [5.0, 5.0]]
