"""HerReplayBuffer: hindsight relabelling checked against a slow, obvious reference on random episodes."""

from collections import defaultdict

import numpy as np
import pytest

from porcini.core.batch import TransitionBatch
from porcini.data import DataFileError, HerReplayBuffer

from .conftest import chi2_upper


def goal_reward(achieved, desired, info):
    """A goal env's vectorized reward: 0 where the goals match, else -1."""
    return np.all(achieved == desired, axis=-1).astype(np.float32) - 1.0


def goal_reached(achieved, desired, info):
    return np.all(achieved == desired, axis=-1)


class EpisodeStream:
    """Random goal-env episodes of ``n_envs`` envs; every transition is labelled and recorded for the reference.

    Transition ``i`` has ``obs["observation"] = [i, env]``; its next achieved goal ``[i, 1]`` is unique and its
    desired goal ``[-1 - episode, 7]`` is negative, so a relabelled goal (always an achieved one) is never the
    real goal and a reward of 0 means the goal is the transition's own next achieved goal.
    """

    def __init__(self, n_envs, seed, p_terminated=0.12, p_truncated=0.08):
        self.n_envs, self.rng = n_envs, np.random.default_rng(seed)
        self.p_terminated, self.p_truncated = p_terminated, p_truncated
        self.next_id, self.n_episodes = 0, 0
        self.episode = [self._new_episode() for _ in range(n_envs)]
        self.position = [0] * n_envs
        self.achieved = [np.array([-5.0, 1.0]) for _ in range(n_envs)]
        self.records = {}  # id -> dict(env, episode, position, next_ag, reward, terminated, truncated, action)
        self.members = defaultdict(list)  # (episode) -> ids in time order

    def _new_episode(self):
        self.n_episodes += 1
        return self.n_episodes - 1

    def batch(self, n_steps):
        b = self.n_envs
        keys = ("observation", "achieved_goal", "desired_goal")
        obs = {k: np.zeros((n_steps, b, 2), np.float32) for k in keys}
        next_obs = {k: np.zeros((n_steps, b, 2), np.float32) for k in keys}
        action = self.rng.integers(0, 5, size=(n_steps, b))
        reward = self.rng.normal(size=(n_steps, b)).astype(np.float32)
        u = self.rng.random((n_steps, b))
        terminated = u < self.p_terminated
        truncated = (u >= self.p_terminated) & (u < self.p_terminated + self.p_truncated)
        for t in range(n_steps):
            for env in range(b):
                self._step(t, env, obs, next_obs, action, reward, terminated, truncated)
        return TransitionBatch(obs=obs, action=action, reward=reward, next_obs=next_obs, terminated=terminated,
                               truncated=truncated, extras={"cost": reward * 2.0})

    def _step(self, t, env, obs, next_obs, action, reward, terminated, truncated):
        i, episode = self.next_id, self.episode[env]
        self.next_id += 1
        desired = np.array([-1.0 - episode, 7.0])
        next_ag = np.array([float(i), 1.0])
        obs["observation"][t, env] = [i, env]
        obs["achieved_goal"][t, env] = self.achieved[env]
        obs["desired_goal"][t, env] = desired
        next_obs["observation"][t, env] = [i + 0.5, env]
        next_obs["achieved_goal"][t, env] = next_ag
        next_obs["desired_goal"][t, env] = desired
        self.records[i] = dict(env=env, episode=episode, position=self.position[env], next_ag=next_ag,
                               reward=reward[t, env], terminated=terminated[t, env], truncated=truncated[t, env],
                               action=action[t, env])
        self.members[episode].append(i)
        self.achieved[env] = next_ag
        self.position[env] += 1
        if terminated[t, env] or truncated[t, env]:
            self.episode[env], self.position[env] = self._new_episode(), 0
            self.achieved[env] = np.array([-5.0, 1.0])


def reference_goals(stream, i, strategy, stored_ids):
    """The goals the strategy may give transition ``i``: next achieved goals of its episode's stored steps."""
    episode = [j for j in stream.members[stream.records[i]["episode"]] if j in stored_ids]
    if strategy == "future":
        episode = [j for j in episode if stream.records[j]["position"] >= stream.records[i]["position"]]
    elif strategy == "final":
        episode = episode[-1:]
    return [stream.records[j]["next_ag"] for j in episode]


def check_sample(stream, sample, strategy, stored_ids, with_terminated=True):
    """Check every sampled transition against the reference; return (relabelled mask, goal ids)."""
    n = sample.reward.shape[0]
    relabelled, goal_ids = np.zeros(n, bool), np.full(n, -1)
    for s in range(n):
        i = int(sample.obs["observation"][s, 0, 0])
        rec = stream.records[i]
        assert i in stored_ids
        assert sample.obs["observation"][s, 0, 1] == rec["env"]
        assert sample.next_obs["observation"][s, 0, 0] == i + 0.5
        assert np.array_equal(sample.next_obs["achieved_goal"][s, 0], rec["next_ag"])
        assert sample.action[s, 0] == rec["action"] and sample.truncated[s, 0] == rec["truncated"]
        assert sample.extras["cost"][s, 0] == np.float32(rec["reward"] * 2.0)
        goal = sample.obs["desired_goal"][s, 0]
        assert np.array_equal(goal, sample.next_obs["desired_goal"][s, 0])
        if goal[0] < 0:  # the real goal
            assert goal[0] == -1.0 - rec["episode"]
            assert sample.reward[s, 0] == rec["reward"] and sample.terminated[s, 0] == rec["terminated"]
            continue
        relabelled[s], goal_ids[s] = True, int(goal[1] == 1.0) * int(goal[0])
        assert any(np.array_equal(goal, g) for g in reference_goals(stream, i, strategy, stored_ids))
        reached = np.array_equal(goal, rec["next_ag"])
        assert sample.reward[s, 0] == (0.0 if reached else -1.0)
        assert sample.terminated[s, 0] == (reached if with_terminated else rec["terminated"])
    return relabelled, goal_ids


def fill(buffer, stream, rng, n_batches, max_steps=6):
    for _ in range(n_batches):
        buffer.add(stream.batch(int(rng.integers(1, max_steps + 1))))


@pytest.mark.parametrize("strategy", ["future", "final", "episode"])
def test_relabelling_matches_the_reference_on_interleaved_episodes(strategy):
    rng = np.random.default_rng(1)
    stream = EpisodeStream(n_envs=3, seed=2)
    buffer = HerReplayBuffer(10_000, goal_reward, strategy=strategy, n_sampled_goal=4, compute_terminated=goal_reached)
    fill(buffer, stream, rng, n_batches=40)  # batches of 1-6 steps: episodes span several adds and end anywhere
    assert len(buffer) == len(stream.records) and buffer.n_added == len(stream.records)
    sample = buffer.sample(4000, np.random.default_rng(3))
    relabelled, _ = check_sample(stream, sample, strategy, set(stream.records))
    p = 4 / 5
    assert abs(relabelled.mean() - p) < 4 * np.sqrt(p * (1 - p) / 4000)


def test_zero_sampled_goals_replays_the_real_goals_only():
    stream = EpisodeStream(n_envs=2, seed=1)
    buffer = HerReplayBuffer(500, goal_reward, n_sampled_goal=0, compute_terminated=goal_reached)
    fill(buffer, stream, np.random.default_rng(0), n_batches=10)
    relabelled, _ = check_sample(stream, buffer.sample(500, np.random.default_rng(1)), "future", set(stream.records))
    assert not relabelled.any() and buffer.relabel_probability == 0.0


def test_future_goals_are_uniform_over_the_later_steps_of_the_episode():
    stream = EpisodeStream(n_envs=1, seed=0, p_terminated=0.0, p_truncated=0.0)
    batch = stream.batch(5)  # one episode in progress, 5 steps
    buffer = HerReplayBuffer(100, goal_reward, strategy="future", n_sampled_goal=1)
    buffer.add(batch)
    n = 40_000
    sample = buffer.sample(n, np.random.default_rng(0))
    relabelled, goal_ids = check_sample(stream, sample, "future", set(stream.records), with_terminated=False)
    source = sample.obs["observation"][:, 0, 0].astype(int)
    counts = np.zeros((5, 5))
    np.add.at(counts, (source[relabelled], goal_ids[relabelled]), 1)
    expected = np.array([[n / 5 * 0.5 / (5 - i) if j >= i else 0.0 for j in range(5)] for i in range(5)])
    assert counts[expected == 0].sum() == 0  # never a goal from an earlier step
    chi2 = (((counts - expected) ** 2)[expected > 0] / expected[expected > 0]).sum()
    assert chi2 < chi2_upper(15 - 1)


def test_goals_of_an_episode_in_progress_come_only_from_its_stored_steps():
    stream = EpisodeStream(n_envs=2, seed=4, p_terminated=0.0, p_truncated=0.0)
    buffer = HerReplayBuffer(1000, goal_reward, strategy="final", n_sampled_goal=1_000_000)
    for n_steps in (3, 2):
        buffer.add(stream.batch(n_steps))
        sample = buffer.sample(200, np.random.default_rng(n_steps))
        check_sample(stream, sample, "final", set(stream.records), with_terminated=False)
        newest = {stream.records[i]["env"]: i for i in sorted(stream.records)}
        for s in range(200):
            env = int(sample.obs["observation"][s, 0, 1])
            if sample.obs["desired_goal"][s, 0, 0] >= 0:
                assert sample.obs["desired_goal"][s, 0, 0] == newest[env]  # the final goal moves as steps arrive


def test_relabelled_termination_and_truncation():
    def one_episode(terminated_at_end):
        obs = {k: np.zeros((3, 1, 2), np.float32) for k in ("observation", "achieved_goal", "desired_goal")}
        next_obs = {k: v.copy() for k, v in obs.items()}
        next_obs["achieved_goal"][:, 0, 0] = [10, 20, 30]
        obs["desired_goal"][:] = next_obs["desired_goal"][:] = -1
        end = np.array([[False], [False], [True]])
        return TransitionBatch(obs=obs, action=np.zeros((3, 1), np.int64), reward=np.full((3, 1), -1, np.float32),
                               next_obs=next_obs, terminated=end & terminated_at_end,
                               truncated=end & (not terminated_at_end))

    for compute_terminated in (goal_reached, None):
        for terminated_at_end in (True, False):
            buffer = HerReplayBuffer(10, goal_reward, strategy="episode", n_sampled_goal=1_000_000,
                                     compute_terminated=compute_terminated)
            buffer.add(one_episode(terminated_at_end))
            sample = buffer.sample(300, np.random.default_rng(0))
            last = sample.next_obs["achieved_goal"][:, 0, 0] == 30
            own = sample.obs["desired_goal"][:, 0, 0] == sample.next_obs["achieved_goal"][:, 0, 0]
            assert sample.reward[:, 0].tolist() == np.where(own, 0.0, -1.0).tolist()
            if compute_terminated is None:  # SB3's rule: the stored flag
                assert sample.terminated[:, 0].tolist() == (last & terminated_at_end).tolist()
            else:  # reaching the new goal ends the relabelled episode; not reaching it does not
                assert sample.terminated[:, 0].tolist() == own.tolist()
            assert sample.truncated[:, 0].tolist() == (last & (not terminated_at_end)).tolist()


@pytest.mark.parametrize("strategy", ["future", "final", "episode"])
def test_goals_never_come_from_overwritten_steps_or_across_the_ring_seam(strategy):
    rng = np.random.default_rng(5)
    stream = EpisodeStream(n_envs=2, seed=6, p_terminated=0.04, p_truncated=0.02)
    buffer = HerReplayBuffer(2 * 23, goal_reward, strategy=strategy, n_sampled_goal=3, compute_terminated=goal_reached)
    fill(buffer, stream, rng, n_batches=60, max_steps=9)  # about 6 ring turns; one batch of 30 > the ring's rows
    buffer.add(stream.batch(30))
    stored = set(sorted(stream.records)[-len(buffer):])
    sample = buffer.sample(2000, np.random.default_rng(7))
    relabelled, _ = check_sample(stream, sample, strategy, stored)
    assert relabelled.any()


def test_state_dict_round_trip_gives_identical_samples(tmp_path):
    rng = np.random.default_rng(8)
    stream = EpisodeStream(n_envs=2, seed=9)
    make = lambda: HerReplayBuffer(60, goal_reward, strategy="future", compute_terminated=goal_reached)  # noqa: E731
    original = make()
    fill(original, stream, rng, n_batches=25)  # past a ring turn, with episodes in progress
    original.save(tmp_path / "her.npz")
    restored = make()
    restored.load(tmp_path / "her.npz")
    assert len(restored) == len(original) and restored.n_added == original.n_added
    for step in range(3):  # identical now and after more (interleaved, episode-ending) steps on both
        a, b = original.sample(256, np.random.default_rng(step)), restored.sample(256, np.random.default_rng(step))
        for field in ("action", "reward", "terminated", "truncated"):
            assert np.array_equal(getattr(a, field), getattr(b, field))
        for key in a.obs:
            assert np.array_equal(a.obs[key], b.obs[key]) and np.array_equal(a.next_obs[key], b.next_obs[key])
        batch = stream.batch(4)
        original.add(batch)
        restored.add(batch)


def test_an_empty_buffer_round_trips_and_then_fills():
    empty = HerReplayBuffer(40, goal_reward, strategy="final")
    restored = HerReplayBuffer(40, goal_reward, strategy="final")
    restored.load_state_dict(empty.state_dict())
    stream = EpisodeStream(n_envs=2, seed=3)
    restored.add(stream.batch(6))
    check_sample(stream, restored.sample(100, np.random.default_rng(0)), "final", set(stream.records), False)


def test_corrupt_or_foreign_state_is_rejected():
    stream = EpisodeStream(n_envs=2, seed=0)
    buffer = HerReplayBuffer(50, goal_reward)
    buffer.add(stream.batch(5))
    state = buffer.state_dict()
    broken = dict(state, episode_end=state["episode_end"][:2])
    with pytest.raises(DataFileError, match="inconsistent"):
        HerReplayBuffer(50, goal_reward).load_state_dict(broken)
    with pytest.raises(DataFileError):
        HerReplayBuffer(50, goal_reward).load_state_dict({"format": np.array("porcini.ReplayBuffer"),
                                                          "version": np.array(1)})


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="strategy must be one of"):
        HerReplayBuffer(10, goal_reward, strategy="futur")
    with pytest.raises(ValueError, match="n_sampled_goal must be an integer >= 0"):
        HerReplayBuffer(10, goal_reward, n_sampled_goal=-1)
    flat = TransitionBatch(obs=np.zeros((1, 1, 2)), action=np.zeros((1, 1)), reward=np.zeros((1, 1)),
                           next_obs=np.zeros((1, 1, 2)), terminated=np.zeros((1, 1), bool),
                           truncated=np.zeros((1, 1), bool))
    with pytest.raises(ValueError, match="needs obs as a dict with 'achieved_goal'"):
        HerReplayBuffer(10, goal_reward).add(flat)
    buffer = HerReplayBuffer(10, lambda a, d, info: np.zeros((len(a), 2)), n_sampled_goal=1_000_000)
    buffer.add(EpisodeStream(n_envs=1, seed=0).batch(2))
    with pytest.raises(ValueError, match="compute_reward returned shape"):
        buffer.sample(4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="holds 1 envs per time step but the batch has 2"):
        buffer.add(EpisodeStream(n_envs=2, seed=0).batch(2))
    with pytest.raises(ValueError, match="empty"):
        HerReplayBuffer(10, goal_reward).sample(1, np.random.default_rng(0))


@pytest.mark.parametrize("strategy", ["future", "final", "episode"])
def test_truncate_last_ends_the_episodes_in_progress_and_the_next_add_starts_new_ones(strategy):
    stream = EpisodeStream(n_envs=2, seed=10, p_terminated=0.0, p_truncated=0.0)
    buffer = HerReplayBuffer(100, goal_reward, strategy=strategy, n_sampled_goal=1_000_000)
    buffer.add(stream.batch(4))
    buffer.truncate_last()  # the envs' episodes are cut here (a resume restarts them)
    for env in range(2):
        stream.records[max(i for i, r in stream.records.items() if r["env"] == env)]["truncated"] = True
        stream.episode[env], stream.position[env] = stream._new_episode(), 0
    buffer.add(stream.batch(3))
    sample = buffer.sample(2000, np.random.default_rng(11))
    relabelled, _ = check_sample(stream, sample, strategy, set(stream.records), with_terminated=False)
    assert relabelled.all()  # each goal came from the sampled step's own episode: the cut one or the new one
    restored = HerReplayBuffer(100, goal_reward, strategy=strategy, n_sampled_goal=1_000_000)
    restored.load_state_dict(buffer.state_dict())
    again = restored.sample(2000, np.random.default_rng(11))
    assert np.array_equal(again.obs["desired_goal"], sample.obs["desired_goal"])


def test_an_empty_buffer_with_known_n_envs_round_trips_and_then_fills(tmp_path):
    # A buffer told its n_envs saved before any add (e.g. a checkpoint at step 0) must load, not be called corrupt.
    empty = HerReplayBuffer(40, goal_reward, strategy="future", n_envs=2)
    empty.save(tmp_path / "her.npz")
    restored = HerReplayBuffer(40, goal_reward, strategy="future", n_envs=2, compute_terminated=goal_reached)
    restored.load(tmp_path / "her.npz")
    assert len(restored) == 0 and restored.n_envs == 2
    stream = EpisodeStream(n_envs=2, seed=5)
    fill(restored, stream, np.random.default_rng(0), n_batches=6)
    check_sample(stream, restored.sample(300, np.random.default_rng(1)), "future", set(stream.records))
