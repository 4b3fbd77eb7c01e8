"""One writer per run directory: the lock file ``RUN_DIR/.lock``.

A process that writes a run (``porcini train``, ``porcini resume``) holds an exclusive ``flock`` on ``.lock``,
whose content names it: ``{"pid", "host", "started"}``. The kernel drops the ``flock`` when the process dies,
however it dies, so a ``.lock`` whose ``flock`` is free is stale:

* written on this host: its writer is gone (killed, crashed); the next writer takes it over with a warning;
* written on another host: porcini cannot see that host's processes (nor, on some network file systems, its
  locks), so it reports the owner and leaves the decision to the user, who deletes ``.lock`` once sure.

On a file system without ``flock`` the owner's pid decides on this host: a pid that no longer runs is stale.
Releasing the lock removes the file. Readers (``eval``, ``inspect``, ``plot``) do not take it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from porcini.errors import RunDirectoryError
from porcini.experiment.safe_files import reporting_os_errors

LOCK_NAME = ".lock"
_log = logging.getLogger("porcini")
_ATTEMPTS = 20  # a lock file being created or removed by another process is retried, not reported at once
_RETRY_S = 0.05


class RunLockedError(RunDirectoryError):
    """Another process writes this run directory (or did, on another host); the message names it."""


class RunLock:
    """The exclusive right to write one run directory; release it with :meth:`release` (or ``with``).

    Args:
        path: the lock file.
        fd: its open descriptor, holding the ``flock``.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, run_dir: str | os.PathLike[str]) -> RunLock:
        """Take the lock of ``run_dir``, taking over a stale lock of this host with a warning.

        Raises:
            RunLockedError: another live process holds it, or a process on another host wrote it.
            RunDirectoryError: the lock file cannot be created (read-only file system, ...).
        """
        path = Path(run_dir) / LOCK_NAME
        for _ in range(_ATTEMPTS):
            with reporting_os_errors(path, "creating the lock file"):
                lock = cls._try_acquire(path)
            if lock is not None:
                return lock
            time.sleep(_RETRY_S)
        raise RunLockedError(f"{path.parent} is locked by a process that is starting or stopping; try again")

    @classmethod
    def _try_acquire(cls, path: Path) -> RunLock | None:
        """The lock, or None to retry (a lock file half created or just released by its owner)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            created = True
        except FileExistsError:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:  # released between our two opens
                return None
            created = False
        try:
            # a new file is briefly locked by another process looking at it: wait for that one to let go
            locked = _flock(fd, wait_s=1.0 if created else 0.0)
            if not _same_file(fd, path) or (created and locked is False):  # removed by its owner meanwhile
                os.close(fd)
                return None
            owner = _read_owner(fd)
            if not created:
                if owner is None:  # its creator has not written it yet (or died doing so): look again
                    if locked is None or not _recently_modified(fd):
                        owner = {}
                    else:
                        os.close(fd)
                        return None
                _check_stale(path, owner, locked)
            _write_owner(fd)
            return cls(path, fd)
        except BaseException:
            os.close(fd)
            raise

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if _same_file(fd, self.path):  # remove it before unlocking, so no one takes over a removed file
                self.path.unlink(missing_ok=True)
        except OSError as err:
            _log.warning("porcini: could not remove %s (%s); the next writer will take it over", self.path, err)
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def owner_description(owner: dict[str, Any]) -> str:
    """``"pid 123 on host node7 (since 2024-05-01 12:00:00)"`` for a lock file's content."""
    since = f" (since {owner['started']})" if owner.get("started") else ""
    return f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}{since}"


def _check_stale(path: Path, owner: dict[str, Any], locked: bool | None) -> None:
    """Raise unless the lock at ``path`` (we now hold its ``flock`` when ``locked``) is stale and ours to take."""
    run_dir, who = path.parent, owner_description(owner)
    if locked is False:
        raise RunLockedError(
            f"{run_dir} is being written by {who}: one run directory has one writer at a time; wait for it to "
            f"finish or stop it (kill {owner.get('pid', 'PID')}), or train a new run"
        )
    if owner and owner.get("host") != socket.gethostname():
        raise RunLockedError(
            f"{run_dir} is locked by {who}, which porcini cannot check from host {socket.gethostname()}: if no "
            f"porcini process on {owner.get('host')} still writes this run, delete {path} and try again"
        )
    if locked is None and owner and _pid_alive(int(owner.get("pid", -1))):  # no flock here: the pid decides
        raise RunLockedError(
            f"{run_dir} is being written by {who}: one run directory has one writer at a time; wait for it to "
            f"finish or stop it (kill {owner['pid']}), or train a new run"
        )
    _log.warning("porcini: taking over the stale lock of %s left by %s, which no longer runs", run_dir,
                 who if owner else "a writer")


def _flock(fd: int, *, wait_s: float) -> bool | None:
    """Lock ``fd`` exclusively: True, False when another holds it, None when the file system has no ``flock``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        except OSError as err:
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
                return None
            raise


def _same_file(fd: int, path: Path) -> bool:
    try:
        now, ours = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (ours.st_dev, ours.st_ino)


def _read_owner(fd: int) -> dict[str, Any] | None:
    raw = os.pread(fd, 4096, 0)
    try:
        owner = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _write_owner(fd: int) -> None:
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    data = (json.dumps(owner) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def _recently_modified(fd: int) -> bool:
    return time.time() - os.fstat(fd).st_mtime < 2.0


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
