"""Writing the files of a run directory: atomically, with the umask's permissions, OS errors as one line.

Every file of a run directory that is rewritten (``config.yaml``, ``summary.json``, checkpoints) goes through a
temporary file in the same folder, renamed over the old one: a reader or a crash sees the old file or the new
one, never half of one. An ``OSError`` on the way (disk full, read-only file system, a path too long) becomes a
:class:`~porcini.errors.RunDirectoryError` whose message names the file, the problem and the fix.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from porcini.data.atomic import TEMP_SUFFIX, atomic_write
from porcini.errors import RunDirectoryError

F = TypeVar("F", bound=Callable[..., Any])
_log = logging.getLogger("porcini")

FIGURE_FIX = "write the figure to a path in a folder you can write to (-o FILE.png)"
_HINTS = {
    errno.ENOSPC: "free some space (`porcini resume RUN_DIR` continues a run from its last checkpoint)",
    errno.EDQUOT: "free some space or raise the quota (`porcini resume RUN_DIR` continues a run)",
    errno.EROFS: "write runs to a folder you can write to (porcini train --out DIR)",
    errno.EACCES: "write runs to a folder you can write to (porcini train --out DIR)",
    errno.EPERM: "write runs to a folder you can write to (porcini train --out DIR)",
    errno.ENAMETOOLONG: "use a shorter path (porcini train --out DIR)",
    errno.ENOTDIR: "a part of the path is a file, not a folder (porcini train --out DIR)",
    errno.EEXIST: "a file has that name (porcini train --out DIR takes a folder)",
    errno.ENOENT: "a folder on the path does not exist: was the run directory moved or deleted?",
}


def os_error_message(err: OSError, path: str | os.PathLike[str], action: str = "writing",
                     fix: str | None = None) -> str:
    """One line for ``err``: ``"No space left on device while writing runs/x/last.pt: free some space, ..."``.

    ``fix`` replaces the advice for run directories (``porcini train --out DIR``) for a file that is not one (a
    figure's path has its own option).
    """
    problem = err.strerror or str(err)
    hint = fix or _HINTS.get(err.errno or 0)
    return f"{problem} while {action} {os.fspath(path)}" + (f": {hint}" if hint else "")


@contextmanager
def reporting_os_errors(path: str | os.PathLike[str], action: str = "writing",
                        fix: str | None = None) -> Iterator[None]:
    """Turn an ``OSError`` raised inside the block into a :class:`RunDirectoryError` naming ``path`` (and ``fix``)."""
    try:
        yield
    except OSError as err:
        raise RunDirectoryError(os_error_message(err, path, action, fix)) from err


def read_json_object(path: str | os.PathLike[str], keys: tuple[str, ...], what: str, fix: str) -> dict[str, Any]:
    """The JSON object a file of porcini holds; a damaged file is a :class:`RunDirectoryError` of one line.

    Damaged: not UTF-8 JSON (a truncated write), not a JSON object, or without one of ``keys``. The message names
    the file, calls it not ``what`` (``"a summary of porcini"``) and ends with ``fix``; an ``OSError`` (a missing
    file) names the file and ``fix`` too.
    """
    with reporting_os_errors(path, "reading", fix):
        text = Path(path).read_bytes()
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError(f"it holds a JSON {type(data).__name__}, not an object")
        missing = [key for key in keys if key not in data]
        if missing:
            raise KeyError(", ".join(missing))
    except (ValueError, TypeError, KeyError) as err:  # JSON and Unicode errors are ValueErrors
        raise RunDirectoryError(f"{os.fspath(path)} is not {what} ({type(err).__name__}: {err}): {fix}") from None
    return data


def writes_to_path(method: F) -> F:
    """Decorate a method of an object with a ``path``: its ``OSError`` becomes a RunDirectoryError naming it."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with reporting_os_errors(self.path):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


@contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` when the block ends without an error.

    :func:`~porcini.data.atomic.atomic_write` (temporary file next to ``path``, flushed to disk, renamed over it),
    in a folder created if missing.

    Raises:
        RunDirectoryError: an ``OSError`` while writing (disk full, read-only file system, ...).
    """
    path = Path(path)
    with reporting_os_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, mode) as file:
            yield file


def check_writable(folder: Path, longest_name: str) -> None:
    """Create, write and remove a file named like ``longest_name`` with a random part, as atomic writes will.

    A path too long for the file system, a read-only or full disk then fails before any training, not at the
    first checkpoint.

    Raises:
        RunDirectoryError: the file could not be created or written.
    """
    prefix, _, suffix = longest_name.partition("XXXXXXXX")
    probe = folder / longest_name
    with reporting_os_errors(probe, "creating"):
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
        try:
            os.write(fd, b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(tmp)


def remove_stale_temp_files(folders: list[Path]) -> list[Path]:
    """Remove the ``*.tmp`` files that atomic writes interrupted by a kill or a crash left in ``folders``.

    Call it only while holding the run's lock: a live writer's temporary file must not be deleted.
    """
    removed: list[Path] = []
    for folder in folders:
        for tmp in sorted(folder.glob(f"*{TEMP_SUFFIX}")) if folder.is_dir() else []:
            if tmp.is_file():
                size = tmp.stat().st_size
                with reporting_os_errors(tmp, "removing"):
                    tmp.unlink()
                removed.append(tmp)
                _log.warning("porcini: removed %s (%.1f MB), left by an interrupted write", tmp, size / 1e6)
    return removed
