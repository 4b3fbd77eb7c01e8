"""Atomic writes of datasets and replay buffers: flushed to disk before the rename, nothing left on an error."""

import os

import numpy as np
import pytest

from porcini.data import ReplayBuffer


def test_a_saved_replay_buffer_is_on_disk_before_it_replaces_the_old_file(tmp_path, make_batch, rng, monkeypatch):
    buf = ReplayBuffer(8, n_envs=2)
    buf.add(make_batch(0, 3, 2, rng))
    path = tmp_path / "buffer.npz"
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.fstat(fd).st_size))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    buf.save(path)
    assert [e[0] for e in events] == ["fsync", "replace"] and events[1][1] == os.fspath(path)
    assert events[0][1] == path.stat().st_size  # the whole file was flushed, then renamed


def test_a_failed_save_leaves_the_old_file_and_no_temporary_file(tmp_path, make_batch, rng, monkeypatch):
    buf = ReplayBuffer(8, n_envs=2)
    buf.add(make_batch(0, 3, 2, rng))
    path = tmp_path / "buffer.npz"
    buf.save(path)
    before = path.read_bytes()
    buf.add(make_batch(3, 2, 2, rng))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space left"):
        buf.save(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["buffer.npz"]
