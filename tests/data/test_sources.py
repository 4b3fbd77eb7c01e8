"""open_dataset / write_dataset: one entry point for minari:NAME and PATH.npz, with one-line errors on bad input."""

import errno
import os
import sys
import tempfile

import gymnasium as gym
import numpy as np
import pytest

from porcini.core.batch import TransitionBatch
from porcini.data import Dataset, save_dataset
from porcini.data.sources import check_target, open_dataset, write_dataset
from porcini.data.validation import DatasetError
from porcini.envs import make_env
from porcini.envs.info import EnvInfo
from porcini.errors import MissingExtraError, UserError

BOX = gym.spaces.Box(-10, 10, shape=(2,), dtype=np.float32)
ACTIONS = gym.spaces.Discrete(3)
INFO = EnvInfo(env_id="Toy-v0", observation_space=BOX, action_space=ACTIONS)


def toy(n_steps=6, n_envs=2, obs=None, reward=None, action=None):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n_steps + 1, n_envs, 2)).astype(np.float32) if obs is None else obs
    ends = np.zeros((n_steps, n_envs), bool)
    ends[2::3] = True
    return Dataset(TransitionBatch(
        obs=obs[:-1], next_obs=obs[1:], terminated=ends, truncated=np.zeros_like(ends),
        action=rng.integers(0, 3, size=(n_steps, n_envs)) if action is None else action,
        reward=rng.normal(size=(n_steps, n_envs)) if reward is None else reward), {"env_id": "Toy-v0"})


def one_line_user_error(err):
    assert isinstance(err.value, UserError) and "\n" not in str(err.value)


def test_an_npz_opens_checked_against_the_env(tmp_path):
    ds = toy()
    save_dataset(tmp_path / "toy.npz", ds)
    back = open_dataset(str(tmp_path / "toy.npz"), INFO)
    np.testing.assert_array_equal(back.batch.obs, ds.batch.obs)
    assert back.metadata == {"env_id": "Toy-v0"}


def test_a_source_of_neither_form_or_a_missing_file_names_the_forms(tmp_path):
    with pytest.raises(DatasetError, match="'data.csv' names no dataset: give minari:NAME .* or PATH.npz") as err:
        open_dataset("data.csv")
    one_line_user_error(err)
    with pytest.raises(DatasetError, match="no dataset file '.*gone.npz'"):
        open_dataset(str(tmp_path / "gone.npz"))


def test_a_truncated_npz_is_a_one_line_error_naming_the_file(tmp_path):
    path = tmp_path / "toy.npz"
    save_dataset(path, toy())
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(DatasetError, match=r"toy.npz' is not a readable dataset file \(corrupt, truncated") as err:
        open_dataset(str(path))
    one_line_user_error(err)


@pytest.mark.parametrize("field", ["obs", "reward"])
def test_nan_observations_or_rewards_are_refused_naming_file_and_step(tmp_path, field):
    obs = np.zeros((7, 2, 2), np.float32)
    reward = np.zeros((6, 2))
    (obs if field == "obs" else reward)[3, 1] = np.nan
    save_dataset(tmp_path / "nan.npz", toy(obs=obs, reward=reward))
    with pytest.raises(DatasetError, match=rf"nan.npz' has .*{field} \(first at step 3 of env column 1\)") as err:
        open_dataset(str(tmp_path / "nan.npz"))
    one_line_user_error(err)


def test_an_empty_dataset_is_refused(tmp_path):
    save_dataset(tmp_path / "empty.npz", toy(n_steps=0))
    with pytest.raises(DatasetError, match="empty.npz' holds no transitions"):
        open_dataset(str(tmp_path / "empty.npz"))


def test_data_that_does_not_fit_the_env_is_refused(tmp_path):
    save_dataset(tmp_path / "toy.npz", toy())
    pendulum = make_env("Pendulum-v1", n_envs=1).info
    with pytest.raises(DatasetError, match=r"toy.npz' has observations of shape \(2,\), but Pendulum-v1 observes"):
        open_dataset(str(tmp_path / "toy.npz"), pendulum)
    two_actions = EnvInfo(env_id="Two-v0", observation_space=BOX, action_space=gym.spaces.Discrete(2))
    save_dataset(tmp_path / "three.npz", toy(action=np.full((6, 2), 2)))
    with pytest.raises(DatasetError, match=r"actions in \[2, 2\], outside Two-v0's Discrete\(2\)"):
        open_dataset(str(tmp_path / "three.npz"), two_actions)
    continuous = EnvInfo(env_id="C-v0", observation_space=BOX, action_space=gym.spaces.Box(-1, 1, (2,)))
    with pytest.raises(DatasetError, match=r"actions of shape \(\), but C-v0 acts in Box"):
        open_dataset(str(tmp_path / "toy.npz"), continuous)


def test_writing_an_npz_never_overwrites_and_records_the_spaces(tmp_path):
    target = tmp_path / "toy.npz"
    where = write_dataset(toy(), str(target), observation_space=BOX, action_space=ACTIONS, env_id="Toy-v0",
                          algorithm_name="random")
    assert where == str(target)
    meta = open_dataset(where).metadata
    assert meta["observation_space"] == str(BOX) and meta["algorithm_name"] == "random"
    before = target.read_bytes()
    with pytest.raises(DatasetError, match="toy.npz' exists already"):
        write_dataset(toy(n_steps=3), str(target), observation_space=BOX, action_space=ACTIONS)
    assert target.read_bytes() == before
    with pytest.raises(DatasetError, match="no folder"):
        check_target(str(tmp_path / "missing" / "x.npz"))


def test_a_failed_npz_write_is_one_line_and_leaves_no_file(tmp_path, monkeypatch):
    def half_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", half_then_fail)
    with pytest.raises(DatasetError, match="No space left on device while writing dataset file .*toy.npz") as err:
        write_dataset(toy(), str(tmp_path / "toy.npz"), observation_space=BOX, action_space=ACTIONS)
    one_line_user_error(err)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary twin


def test_a_target_in_a_folder_that_cannot_be_written_is_refused_before_recording(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)  # what a read-only file system answers
    with pytest.raises(DatasetError, match="cannot write dataset file .*x.npz.: Read-only file system") as err:
        check_target(str(tmp_path / "x.npz"))
    one_line_user_error(err)


def test_minari_sources_go_through_the_same_entry_point(tmp_path, monkeypatch):
    pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    ds = toy()
    write_dataset(ds, "minari:toy/random-v0", observation_space=BOX, action_space=ACTIONS, data_format="arrow")
    back = open_dataset("minari:toy/random-v0", INFO)
    np.testing.assert_array_equal(back.batch.action, ds.batch.action)
    with pytest.raises(DatasetError, match="already exists"):
        check_target("minari:toy/random-v0")
    with pytest.raises(DatasetError, match="keeps all its extras"):
        open_dataset(str(tmp_path / "x.npz"), infos=["cost"])


def test_minari_without_its_extra_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "minari", None)  # import minari now raises ImportError
    with pytest.raises(MissingExtraError, match=r'pip install "porcini\[minari\]"'):
        open_dataset("minari:pendulum/random-v0")
    with pytest.raises(MissingExtraError, match="minari"):
        check_target("minari:pendulum/random-v0")
