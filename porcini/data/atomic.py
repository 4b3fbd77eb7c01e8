"""Atomic file writes: a temporary file next to the target, flushed to disk, then renamed over it.

A reader, or a crash (even a power cut after the rename), sees the old file or the new one, never half of one.
Every file porcini rewrites goes through :func:`atomic_write`: checkpoints and run files (through
:func:`porcini.experiment.safe_files.atomic_file`), and the ``.npz`` files of datasets and replay buffers.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".tmp"
"""The suffix of the temporary files (``.<name>.<random>.tmp``), which a crash may leave behind."""

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask (read from ``/proc`` where it can be, since setting it to read it is not thread-safe)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def honour_umask(fd: int) -> None:
    """Give a file made by ``tempfile.mkstemp`` (always mode 0600) the mode of a plain ``open``: 0666 & ~umask."""
    os.fchmod(fd, 0o666 & ~current_umask())


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` when the block ends without an error.

    The content goes to ``.<name>.<random>.tmp`` next to ``path``, is flushed to disk (``fsync``) and renamed over
    ``path``; on an error the temporary file is removed and ``path`` is left as it was. An ``OSError`` propagates.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        honour_umask(fd)
        with os.fdopen(fd, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
