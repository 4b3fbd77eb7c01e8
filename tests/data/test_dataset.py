"""Offline datasets: save/load round trip, minibatches, episodes, and collection through SAME_STEP autoreset."""

import gymnasium as gym
import numpy as np
import pytest

from porcini.core.batch import TransitionBatch
from porcini.data import DataFileError, Dataset, collect_dataset, load_dataset, save_dataset

FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


class CountingEnv(gym.Env):
    """obs = (episode number, step in episode). Even episodes terminate after 3 steps; odd ones run until the
    TimeLimit of 5 truncates them."""

    observation_space = gym.spaces.Box(0, 1000, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.episode, self.t = -1, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        return self._obs(), float(action) + 0.5, self.episode % 2 == 0 and self.t == 3, False, {}

    def _obs(self):
        return np.array([self.episode, self.t], dtype=np.float32)


def make_vec(n_envs, mode=gym.vector.AutoresetMode.SAME_STEP):
    return gym.vector.SyncVectorEnv(
        [lambda: gym.wrappers.TimeLimit(CountingEnv(), max_episode_steps=5)] * n_envs, autoreset_mode=mode
    )


def test_collect_puts_final_obs_in_next_obs_and_reset_obs_in_obs():
    env = make_vec(3)
    ds = collect_dataset(
        env, lambda obs: np.ones(len(obs), dtype=np.int64), steps=70, seed=0, metadata={"policy": "ones"}
    )
    b = ds.batch
    assert b.obs.shape == (24, 3, 2) and len(ds) == 72  # 70 rounded up to a multiple of 3 envs
    assert ds.metadata == {"env_id": None, "n_envs": 3, "seed": 0, "policy": "ones"}
    np.testing.assert_array_equal(b.reward, 1.5)
    for env_i in range(3):
        for t in range(b.n_rows):
            episode, step = b.obs[t, env_i]
            next_episode, next_step = b.next_obs[t, env_i]
            assert (next_episode, next_step) == (episode, step + 1)  # true successor, never the reset obs
            ended_here = next_step == (3 if episode % 2 == 0 else 5)
            assert b.terminated[t, env_i] == (ended_here and episode % 2 == 0)
            last = t == b.n_rows - 1
            assert b.truncated[t, env_i] == ((ended_here and episode % 2 == 1) or (last and not ended_here))
            if not last:
                expected = (episode + 1, 0) if ended_here else (episode, step + 1)
                assert tuple(b.obs[t + 1, env_i]) == expected
    env.close()


def test_collect_keeps_its_own_copy_of_next_obs_from_an_env_that_reuses_its_buffer():
    env = gym.vector.SyncVectorEnv([lambda: gym.wrappers.TimeLimit(CountingEnv(), max_episode_steps=5)] * 2,
                                   autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, copy=False)
    b = collect_dataset(env, lambda obs: np.ones(len(obs), dtype=np.int64), steps=40, seed=0).batch
    within = ~(b.terminated | b.truncated)[:-1]  # steps whose successor is the next row's observation
    np.testing.assert_array_equal(b.next_obs[:-1][within], b.obs[1:][within])
    assert b.next_obs[:, :, 1].max() >= 1  # real successors, not one buffer's last value repeated


def test_collect_n_episodes_and_whole_episodes():
    env = make_vec(2)
    ds = collect_dataset(env, lambda obs: np.zeros(len(obs), dtype=np.int64), episodes=7, seed=1)
    ends = int(np.count_nonzero(ds.batch.episode_end))
    assert ds.n_episodes == ends >= 7
    lengths = []
    for episode in ds.episodes():
        assert episode.obs.shape[1] == 1
        assert episode.episode_end[-1, 0] and not episode.episode_end[:-1].any()
        assert episode.obs[0, 0, 1] == 0  # starts at a reset...
        np.testing.assert_array_equal(episode.obs[1:, 0], episode.next_obs[:-1, 0])  # ...and is contiguous
        lengths.append(episode.n_rows)
    assert sum(lengths) == len(ds) and len(lengths) == ds.n_episodes
    env.close()


def test_collect_refuses_next_step_autoreset():
    env = make_vec(2, mode=gym.vector.AutoresetMode.NEXT_STEP)
    with pytest.raises(ValueError, match="SAME_STEP"):
        collect_dataset(env, lambda obs: np.zeros(len(obs), dtype=np.int64), steps=10)
    with pytest.raises(ValueError, match="exactly one of steps, episodes"):
        collect_dataset(make_vec(1), lambda obs: obs, steps=4, episodes=2)


def random_batch(rng, n_steps=12, n_envs=3):
    ended = rng.random((n_steps, n_envs))
    return TransitionBatch(
        obs=rng.integers(0, 255, size=(n_steps, n_envs, 2, 2), dtype=np.uint8),
        action=rng.normal(size=(n_steps, n_envs, 2)).astype(np.float32),
        reward=rng.normal(size=(n_steps, n_envs)),
        next_obs=rng.integers(0, 255, size=(n_steps, n_envs, 2, 2), dtype=np.uint8),
        terminated=ended < 0.15,
        truncated=(ended > 0.15) & (ended < 0.3),
        extras={"cost": rng.normal(size=(n_steps, n_envs)).astype(np.float32)},
    )


def test_save_load_round_trip(tmp_path, rng):
    batch = random_batch(rng)
    path = tmp_path / "data.npz"
    save_dataset(path, batch, {"env_id": "Toy-v0", "policy": {"name": "random", "seed": 3}})
    ds = load_dataset(path)
    assert ds.metadata == {"env_id": "Toy-v0", "policy": {"name": "random", "seed": 3}}
    for name in FIELDS:
        assert getattr(ds.batch, name).dtype == getattr(batch, name).dtype
        np.testing.assert_array_equal(getattr(ds.batch, name), getattr(batch, name))
    np.testing.assert_array_equal(ds.batch.extras["cost"], batch.extras["cost"])
    # a Dataset saves with its metadata, updated by the call's
    save_dataset(path, ds, {"note": "copy"})
    assert load_dataset(path).metadata["note"] == "copy" and load_dataset(path).metadata["env_id"] == "Toy-v0"


def test_bad_files_and_metadata(tmp_path, rng):
    path = tmp_path / "data.npz"
    save_dataset(path, random_batch(rng), {})
    raw = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) - 100])
    with pytest.raises(DataFileError, match="dataset"):
        load_dataset(tmp_path / "cut.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataFileError, match="format None"):
        load_dataset(tmp_path / "other.npz")
    with pytest.raises(TypeError, match="JSON"):
        save_dataset(path, random_batch(rng), {"bad": object()})


def test_minibatches_visit_every_transition_once(rng):
    batch = random_batch(rng, n_steps=10, n_envs=3)
    ds = Dataset(batch)
    seen = []
    for mb in ds.minibatches(7, rng):
        assert mb.obs.shape[1:] == (1, 2, 2) and mb.reward.shape[1] == 1
        seen.append(mb)
    assert [mb.n_rows for mb in seen] == [7, 7, 7, 7, 2]
    got = TransitionBatch.concatenate(seen)
    flat = batch.flatten()
    order = np.argsort(got.reward[:, 0])
    ref = np.argsort(flat.reward[:, 0])
    np.testing.assert_array_equal(got.obs[order], flat.obs[ref])
    np.testing.assert_array_equal(got.extras["cost"][order], flat.extras["cost"][ref])
    assert [mb.n_rows for mb in ds.minibatches(7, rng, drop_last=True)] == [7, 7, 7, 7]
    assert ds.sample(5, rng).obs.shape == (5, 1, 2, 2)


def test_episodes_match_a_reference_split(rng):
    batch = random_batch(rng, n_steps=15, n_envs=2)
    ds = Dataset(batch)
    ref = []
    for env in range(2):  # obviously correct: walk each column, cut after every end
        start = 0
        for t in range(15):
            if batch.episode_end[t, env] or t == 14:
                ref.append((env, start, t + 1))
                start = t + 1
    assert [tuple(r) for r in ds.episode_bounds()] == ref
    for (env, start, stop), episode in zip(ref, ds.episodes()):
        np.testing.assert_array_equal(episode.reward[:, 0], batch.reward[start:stop, env])
        np.testing.assert_array_equal(episode.extras["cost"][:, 0], batch.extras["cost"][start:stop, env])


@pytest.mark.parametrize("space", [gym.spaces.Dict({"a": gym.spaces.Discrete(3), "b": gym.spaces.Discrete(2)}),
                                   gym.spaces.Tuple((gym.spaces.Discrete(3), gym.spaces.Box(-1.0, 1.0, (2,))))],
                         ids=["dict", "tuple"])
def test_collect_refuses_dict_and_tuple_observations_and_names_the_flattening_fix(space):
    from porcini import make_env
    from porcini.envs.testing import SpaceEnv
    from porcini.envs.wrappers import FlattenObservation
    from porcini.errors import UnsupportedSpaceError

    env = make_env(lambda: SpaceEnv(space), n_envs=2, seed=0)
    with pytest.raises(UnsupportedSpaceError, match=f"{type(space).__name__} observations.*FlattenObservation"):
        collect_dataset(env, lambda obs: np.zeros(2, np.int64), steps=10)
    flat = make_env(lambda: SpaceEnv(space), n_envs=2, seed=0, wrappers=[FlattenObservation])
    data = collect_dataset(flat, lambda obs: np.zeros(2, np.int64), steps=10)  # the named fix works
    assert data.batch.obs.shape[:2] == (5, 2)


def test_a_dataset_of_dict_observations_is_refused_in_one_line():
    from porcini.errors import UnsupportedSpaceError

    obs = {"a": np.zeros((2, 1, 3))}
    batch = TransitionBatch(obs=obs, action=np.zeros((2, 1), np.int64), reward=np.zeros((2, 1)), next_obs=obs,
                            terminated=np.zeros((2, 1), bool), truncated=np.ones((2, 1), bool))
    with pytest.raises(UnsupportedSpaceError, match="Dict observations.*FlattenObservation"):
        Dataset(batch)
