"""What a run learns from outside its own directory, fingerprinted: a learned reward (``data.reward``), an expert.

A checkpoint records each fingerprint (``sources``); a resumed run reloads the reward or the expert from its run
directory and refuses a checkpoint trained on another one (that run trained on since), instead of continuing on
it without a word. A dataset has its own fingerprint (:mod:`porcini.experiment.offline`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from porcini.errors import CheckpointError
from porcini.experiment.config import RunConfig

#: each source's config field, and what to do when it changed
_FIELDS = {"reward": ("data.reward", "restore that run's checkpoints/last.pt, or start a new run on the new reward"),
           "expert": ("data.expert", "restore that run's checkpoints/best.pt, or start a new run with the new expert")}


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes (the expert's checkpoint)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sources(config: RunConfig, now: dict[str, str], saved: dict[str, str] | None) -> None:
    """Refuse a checkpoint whose recorded sources (``saved``) differ from this run's (``now``).

    A source the checkpoint does not record (one written before fingerprints were) is not checked.

    Raises:
        CheckpointError: one line naming the source, both fingerprints and the fix.
    """
    for key, fingerprint in now.items():
        before = (saved or {}).get(key)
        if before is not None and before != fingerprint:
            field, fix = _FIELDS[key]
            source = getattr(config.data, field.removeprefix("data."))
            raise CheckpointError(f"{field} = {source!r} now holds another {key} (fingerprint {fingerprint[:12]}) "
                                  f"than this run trained with ({before[:12]}): its run trained on since; {fix}")
