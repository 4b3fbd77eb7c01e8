"""Minari read/write: round trips, a dataset from Minari's own DataCollector, and one-line errors on bad data.

Every test writes under a temporary MINARI_DATASETS_PATH (never ~/.minari); the datasets are made here.
"""

import os
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from porcini.core.batch import TransitionBatch
from porcini.data import Dataset, collect_dataset
from porcini.data.fingerprint import dataset_fingerprint
from porcini.data.minari_io import read_minari, write_minari
from porcini.data.validation import DatasetError
from porcini.envs import make_env
from porcini.errors import UserError

minari = pytest.importorskip("minari")

FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


class CountingEnv(gym.Env):
    """obs = (episode, step); even episodes terminate after 3 steps, odd ones are truncated by a TimeLimit of 5.

    Each step's info carries ``cost`` = 10 * episode + step, so infos can be traced to their steps.
    """

    observation_space = gym.spaces.Box(0, 1000, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(3)

    def __init__(self):
        self.episode, self.t = -1, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return self._obs(), {"cost": -1.0}

    def step(self, action):
        self.t += 1
        info = {"cost": 10.0 * self.episode + self.t}
        return self._obs(), float(action) - 0.5, self.episode % 2 == 0 and self.t == 3, False, info

    def _obs(self):
        return np.array([self.episode, self.t], dtype=np.float32)


def counting_env(**kwargs):
    return gym.wrappers.TimeLimit(CountingEnv(**kwargs), max_episode_steps=5)


def recorded(n_envs=2, steps=40, seed=0):
    """A Dataset collected from vector CountingEnvs, with a per-step extra ``cost`` traced from obs."""
    env = gym.vector.SyncVectorEnv([counting_env] * n_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    env.action_space.seed(seed)
    ds = collect_dataset(env, lambda obs: env.action_space.sample(), steps=steps, seed=seed,
                         metadata={"policy": "random"})
    b = ds.batch
    cost = 10.0 * b.next_obs[..., 0] + b.next_obs[..., 1]
    return Dataset(TransitionBatch(b.obs, b.action, b.reward, b.next_obs, b.terminated, b.truncated,
                                   extras={"cost": cost}), ds.metadata)


def write(ds, name, **kwargs):
    return write_minari(ds, name, observation_space=CountingEnv.observation_space,
                        action_space=CountingEnv.action_space, **kwargs)


@pytest.mark.parametrize("data_format", ["arrow", "hdf5"])
def test_write_then_read_gives_identical_arrays_flags_bounds_extras_and_metadata(data_format, minari_root):
    pytest.importorskip({"arrow": "pyarrow", "hdf5": "h5py"}[data_format])
    ds = recorded()
    assert ds.batch.terminated.any() and ds.batch.truncated.any()  # both kinds of ending are in the data
    folder = write(ds, "counting/random-v0", algorithm_name="random", author="tester", data_format=data_format)
    assert folder == minari_root / "counting" / "random-v0" and (folder / "data").is_dir()
    back = read_minari("counting/random-v0", infos=["cost"])
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(back.batch, name), getattr(ds.batch, name), err_msg=name)
    assert back.batch.obs.dtype == np.float32 and back.batch.action.dtype == ds.batch.action.dtype
    np.testing.assert_array_equal(back.batch.extras["cost"], ds.batch.extras["cost"])
    np.testing.assert_array_equal(back.episode_bounds(), ds.episode_bounds())
    assert back.metadata["policy"] == "random" and back.metadata["source"] == "minari:counting/random-v0"
    assert back.metadata["minari"]["algorithm_name"] == "random" and back.metadata["minari"]["author"] == ["tester"]
    # Minari's own API sees a proper dataset
    loaded = minari.load_dataset("counting/random-v0")
    assert loaded.total_episodes == len(ds.episode_bounds()) and loaded.total_steps == len(ds)
    assert loaded.observation_space == CountingEnv.observation_space


def test_a_truncated_step_keeps_its_real_final_observation():
    write(recorded(), "counting/random-v0")
    b = read_minari("counting/random-v0").batch
    # next_obs is always the true successor: same episode, one step further, also where an episode was cut
    np.testing.assert_array_equal(b.next_obs[..., 0], b.obs[..., 0])
    np.testing.assert_array_equal(b.next_obs[..., 1], b.obs[..., 1] + 1)
    odd = b.obs[..., 0] % 2 == 1
    cut = b.next_obs[..., 1] == 5
    assert (b.truncated[odd & cut]).all() and not b.terminated[odd].any()  # the time limit: truncated only
    assert b.terminated[~odd & (b.next_obs[..., 1] == 3)].all()  # the MDP ended: terminated


def test_reads_a_dataset_written_by_minaris_data_collector():
    pytest.importorskip("jax")  # Minari's DataCollector needs jax (minari[create])
    env = minari.DataCollector(counting_env(), record_infos=True, data_format="arrow")
    expected = {name: [] for name in (*FIELDS, "cost")}
    for episode in range(4):
        obs, _ = env.reset(seed=episode)
        while True:
            action = episode % 3
            next_obs, reward, terminated, truncated, info = env.step(action)
            for name, value in zip((*FIELDS, "cost"),
                                   (obs, action, reward, next_obs, terminated, truncated, info["cost"])):
                expected[name].append(value)
            obs = next_obs
            if terminated or truncated:
                break
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Minari asks for author, permalink, ... when absent
        env.create_dataset("collector/counting-v0", algorithm_name="fixed", author="tester")
    info = make_env(counting_env, n_envs=1).info
    ds = read_minari("collector/counting-v0", info, infos=["cost"])
    assert ds.batch.n_envs == 1 and len(ds) == len(expected["reward"]) == 3 + 5 + 3 + 5
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(ds.batch, name)[:, 0], np.array(expected[name]), err_msg=name)
    np.testing.assert_array_equal(ds.batch.extras["cost"][:, 0], expected["cost"])  # the reset info is left out
    assert ds.batch.truncated[:, 0].sum() == 2 and ds.batch.terminated[:, 0].sum() == 2
    assert ds.metadata["env_id"] is None and ds.metadata["minari"]["algorithm_name"] == "fixed"


def test_spaces_that_differ_from_the_env_are_refused_on_one_line():
    write(recorded(), "counting/random-v0")
    pendulum = make_env("Pendulum-v1", n_envs=1).info
    with pytest.raises(DatasetError, match=r"Minari dataset 'counting/random-v0'.*observation space Box"
                                           r".*Pendulum-v1 has Box") as err:
        read_minari("counting/random-v0", pendulum)
    assert "\n" not in str(err.value) and isinstance(err.value, UserError)
    other_actions = make_env(counting_env, n_envs=1).info
    other_actions = type(other_actions)(env_id="x", observation_space=CountingEnv.observation_space,
                                        action_space=gym.spaces.Discrete(2))
    with pytest.raises(DatasetError, match="action space Discrete\\(3\\).*x has Discrete\\(2\\)"):
        read_minari("counting/random-v0", other_actions)


def test_an_info_key_the_dataset_lacks_names_the_keys_it_has():
    write(recorded(), "counting/random-v0")
    with pytest.raises(DatasetError, match=r"no info 'reward_ctrl' \(it has \['cost'\]\)"):
        read_minari("counting/random-v0", infos=["reward_ctrl"])


def test_a_missing_or_malformed_dataset_id_is_a_user_error():
    with pytest.raises(DatasetError, match="no local Minari dataset 'nothing-v0'.*MINARI_DATASETS_PATH"):
        read_minari("nothing-v0")
    with pytest.raises(DatasetError, match="not a Minari dataset id.*name-vN"):
        read_minari("no version")


def test_a_truncated_data_file_is_reported_as_unreadable(minari_root):
    folder = write(recorded(), "counting/random-v0", data_format="arrow")
    files = sorted(p for p in (folder / "data").rglob("*") if p.is_file() and p.name != "metadata.json")
    victim = files[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"'counting/random-v0'.*unreadable \(corrupt or truncated\)") as err:
        read_minari("counting/random-v0")
    assert "\n" not in str(err.value)
    other = write(recorded(), "counting/other-v0")
    metadata = other / "data" / "metadata.json"
    metadata.write_text(metadata.read_text()[:40])
    with pytest.raises(DatasetError, match=r"'counting/other-v0'.*unreadable.*JSONDecodeError"):
        read_minari("counting/other-v0")


def test_an_empty_dataset_and_nan_rewards_are_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers("empty-v0", [], observation_space=CountingEnv.observation_space,
                                           action_space=CountingEnv.action_space, data_format="arrow")
    with pytest.raises(DatasetError, match="'empty-v0'.*holds no episodes"):
        read_minari("empty-v0")
    from minari.data_collector.episode_buffer import EpisodeBuffer

    episode = EpisodeBuffer(id=0, observations=np.zeros((3, 2), np.float32), actions=np.zeros(2, np.int64),
                            rewards=[1.0, np.nan], terminations=[False, True], truncations=[False, False])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers("nan-v0", [episode], observation_space=CountingEnv.observation_space,
                                           action_space=CountingEnv.action_space, data_format="arrow")
    with pytest.raises(DatasetError, match=r"'nan-v0'.*non-finite reward \(first at step 1"):
        read_minari("nan-v0")


def test_writing_refuses_an_existing_id_nans_and_episodes_out_of_order():
    ds = recorded()
    write(ds, "counting/random-v0")
    with pytest.raises(DatasetError, match="already exists.*another name or version"):
        write(ds, "counting/random-v0")
    b = ds.batch
    nan_obs = b.obs.copy()
    nan_obs[2, 1, 0] = np.nan
    with pytest.raises(DatasetError, match=r"NaN obs \(first at step 2 of env column 1\)"):
        write(Dataset(TransitionBatch(nan_obs, b.action, b.reward, b.next_obs, b.terminated, b.truncated)), "n-v0")
    shuffled = b.next_obs[::-1].copy()
    with pytest.raises(DatasetError, match="not in time order"):
        write(Dataset(TransitionBatch(b.obs, b.action, b.reward, shuffled, b.terminated, b.truncated)), "s-v0")
    assert sorted(minari.list_local_datasets()) == ["counting/random-v0"]


def test_a_failed_write_leaves_nothing_behind(minari_root, monkeypatch):
    from minari.dataset._storages.arrow_storage import ArrowStorage

    write_episodes = ArrowStorage.update_episodes

    def fail(self, episodes):
        write_episodes(self, list(episodes)[:1])  # one episode reaches the disk, then the disk is full
        raise OSError("disk full")

    monkeypatch.setattr(ArrowStorage, "update_episodes", fail)
    with pytest.raises(OSError, match="disk full"):
        write(recorded(), "counting/random-v0", data_format="arrow")
    assert not (minari_root / "counting" / "random-v0").exists()
    assert [p.name for p in minari_root.iterdir() if p.name.startswith(".")] == []  # no staging folder left
    assert minari.list_local_datasets() == {}


def test_the_tests_never_write_to_the_home_folder(minari_root):
    from minari.storage.datasets_root_dir import get_dataset_path

    assert Path(get_dataset_path("x-v0")).parent == minari_root
    assert os.environ["MINARI_DATASETS_PATH"].startswith(str(minari_root.parent))


def test_an_episode_recorded_without_an_end_flag_ends_truncated_at_the_end_of_data():
    from minari.data_collector.episode_buffer import EpisodeBuffer

    observations = np.arange(8, dtype=np.float32).reshape(4, 2)
    episode = EpisodeBuffer(id=0, observations=observations, actions=np.zeros(3, np.int64), rewards=[1.0] * 3,
                            terminations=[False] * 3, truncations=[False] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers("cut-v0", [episode], observation_space=CountingEnv.observation_space,
                                           action_space=CountingEnv.action_space, data_format="arrow")
    b = read_minari("cut-v0").batch
    assert b.truncated[:, 0].tolist() == [False, False, True] and not b.terminated.any()
    np.testing.assert_array_equal(b.next_obs[-1, 0], observations[-1])  # bootstraps from the last observation


def test_a_relative_minari_datasets_path_works(tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", "relative-minari")
    ds = recorded()
    write(ds, "counting/random-v0", data_format="hdf5")  # Minari's hdf5 writer sizes files by joining paths
    assert (tmp_path / "relative-minari" / "counting" / "random-v0" / "data").is_dir()
    np.testing.assert_array_equal(read_minari("counting/random-v0").batch.obs, ds.batch.obs)


@pytest.mark.parametrize("data_format", ["arrow", "hdf5"])
def test_float32_rewards_come_back_float32_with_the_same_fingerprint(data_format):
    pytest.importorskip({"arrow": "pyarrow", "hdf5": "h5py"}[data_format])
    b = recorded().batch
    ds = Dataset(TransitionBatch(b.obs, b.action, b.reward.astype(np.float32), b.next_obs, b.terminated,
                                 b.truncated))
    write(ds, "counting/float32-v0", data_format=data_format)
    back = read_minari("counting/float32-v0")
    assert back.batch.reward.dtype == np.float32
    np.testing.assert_array_equal(back.batch.reward, ds.batch.reward)
    assert dataset_fingerprint(back) == dataset_fingerprint(ds)  # a run resumed from either copy accepts the other


def test_integer_rewards_are_read_as_floats():
    from minari.data_collector.episode_buffer import EpisodeBuffer

    episode = EpisodeBuffer(id=0, observations=np.zeros((3, 2), np.float32), actions=np.zeros(2, np.int64),
                            rewards=np.array([1, 2]), terminations=[False, True], truncations=[False, False])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers("ints-v0", [episode], observation_space=CountingEnv.observation_space,
                                           action_space=CountingEnv.action_space, data_format="arrow")
    back = read_minari("ints-v0")
    assert back.batch.reward.dtype.kind == "f" and back.batch.reward[:, 0].tolist() == [1.0, 2.0]


def test_a_replay_whose_columns_end_inside_episodes_comes_back_exactly():
    b = recorded(n_envs=3, steps=45).batch
    cut = b.index(slice(0, 13))  # a replay's contents: each column stops where its run stopped
    cut.truncated[-1] = False
    cut.terminated[-1] = [True, False, False]  # one column ends with its episode, two inside one
    ds = Dataset(cut, {"policy": "replay"})
    write(ds, "counting/replay-v0")
    back = read_minari("counting/replay-v0", infos=["cost"])
    assert back.batch.n_envs == 3
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(back.batch, name), getattr(ds.batch, name), err_msg=name)
    assert dataset_fingerprint(back) == dataset_fingerprint(ds)
