"""Checkpoints: the whole run state in one file, written atomically, loaded without executing code.

The file is a ``torch.save`` of plain containers, tensors and Python scalars (NumPy arrays are stored as tensors
tagged with their dtype), read back with ``torch.load(..., weights_only=True)``. It carries a format version and
the identity of the run (algorithm, env, observation shape), checked on load.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from porcini.core.errors import CheckpointError, UserError

FORMAT_VERSION = 1
_ARRAY_TAG = "__ndarray__"


def to_safe(obj: Any) -> Any:
    """Convert NumPy arrays and scalars inside ``obj`` into what ``weights_only`` loading accepts."""
    import torch

    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise CheckpointError("cannot checkpoint a NumPy object array; store numbers or strings instead")
        if obj.dtype.kind in "US":
            return {_ARRAY_TAG: obj.tolist(), "dtype": str(obj.dtype), "text": True}
        return {_ARRAY_TAG: torch.from_numpy(np.array(obj, order="C", copy=True)), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_safe(v) for v in obj]
    return obj


def from_safe(obj: Any) -> Any:
    """Undo :func:`to_safe`."""
    if isinstance(obj, dict):
        if _ARRAY_TAG in obj:
            if obj.get("text"):
                return np.asarray(obj[_ARRAY_TAG], dtype=obj["dtype"])
            return obj[_ARRAY_TAG].numpy().astype(obj["dtype"], copy=False)
        return {k: from_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_safe(v) for v in obj]
    return obj


def save_checkpoint(path: str | Path, state: dict[str, Any], identity: dict[str, Any]) -> None:
    """Write ``state`` with ``identity`` and the format version to ``path`` atomically (temp file + rename)."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, "identity": to_safe(identity), "state": to_safe(state)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a checkpoint; check its format version and, if given, that its identity matches ``identity``.

    Raises:
        CheckpointError: missing, truncated or corrupt file, unknown format version, or an identity mismatch
            (another algorithm, env or observation shape); the message names the mismatch.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # torch raises several types for truncated/corrupt archives
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(err).__name__}: {err}); {_other_checkpoint(path)}"
        ) from err
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointError(f"{path} is not a porcini checkpoint (no format_version)")
    version = payload["format_version"]
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {version}; this porcini reads version {FORMAT_VERSION}"
        )
    saved = from_safe(payload["identity"])
    for key, expected in (identity or {}).items():
        got = saved.get(key)
        if _normalize(got) != _normalize(expected):
            raise CheckpointError(f"checkpoint {path} is for {key} = {got!r}, but this run has {key} = {expected!r}")
    return from_safe(payload["state"])


def resolve_checkpoint(run_dir: str | Path, checkpoint: str | Path) -> Path:
    """The file a ``--checkpoint`` option names: ``best`` (``last`` when the run has no best), ``last``, or a path.

    Raises:
        UserError: ``checkpoint`` is neither ``best`` nor ``last`` and no file exists at that path.
    """
    folder = Path(run_dir) / "checkpoints"
    if checkpoint in ("best", "last"):
        path = folder / f"{checkpoint}.pt"
        return folder / "last.pt" if checkpoint == "best" and not path.exists() else path
    path = Path(checkpoint)
    if not path.is_file():
        raise UserError(f"--checkpoint {checkpoint}: no such file; pass best, last or the path of a checkpoint file")
    return path


def _loads(path: Path) -> bool:
    import torch

    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # any failure to load means: do not recommend it
        return False
    return isinstance(payload, dict) and payload.get("format_version") == FORMAT_VERSION


def _other_checkpoint(path: Path) -> str:
    """Advice after ``path`` failed to load: another checkpoint of the run that does load, if there is one."""
    for other in sorted(p for p in path.parent.glob("*.pt") if p.resolve() != path.resolve()):
        if _loads(other):
            return f"{other} loads: pass --checkpoint {other} to porcini resume, eval or inspect, or start the run over"
    return "no other checkpoint next to it loads; start the run over"


def _normalize(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    return value
