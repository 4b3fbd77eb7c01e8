"""Checkpoints: the whole run state in one file, written atomically, loaded without executing code.

The file is a ``torch.save`` of plain containers, tensors and Python scalars (NumPy arrays are stored as tensors
tagged with their dtype), read back with ``torch.load(..., weights_only=True)``. It carries a format version and
the identity of the run (algorithm, env, number of envs, observation and action spaces, wrappers), checked on load
before anything else is touched.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np

from porcini.errors import CheckpointError, MissingCheckpointError, UserError
from porcini.experiment.safe_files import atomic_file

if TYPE_CHECKING:
    from porcini.envs.info import EnvInfo
    from porcini.experiment.config import RunConfig

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
    """Write ``state`` with ``identity`` and the format version to ``path`` atomically (temp file + rename).

    Raises:
        RunDirectoryError: the file could not be written (disk full, read-only file system, ...); ``path`` is
            left as it was.
    """
    import torch

    payload = {"format_version": FORMAT_VERSION, "identity": to_safe(identity), "state": to_safe(state)}
    with atomic_file(path, "wb") as file:
        recording = _ErrorRecordingFile(file)
        try:
            torch.save(payload, cast(IO[bytes], recording))  # torch needs only write and flush
        except RuntimeError:
            # torch's writer turns a failed write into "unexpected pos ...": report the OS's own error instead
            if recording.error is not None:
                raise recording.error from None
            raise


class _ErrorRecordingFile:
    """A binary file that remembers the ``OSError`` of a failed write (torch.save replaces it by its own)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.file.flush()


@dataclasses.dataclass
class Checkpoint:
    """A checkpoint read from a file: where it came from, the identity of its run and the run state."""

    path: Path
    identity: dict[str, Any]
    state: dict[str, Any]

    def check_identity(self, identity: dict[str, Any]) -> None:
        """Check that this checkpoint belongs to a run of ``identity`` (keys missing on either side are skipped).

        Raises:
            CheckpointError: a key differs; the message names it, both values and the fix.
        """
        for key, expected in identity.items():
            if key not in self.identity:  # older checkpoints carry fewer keys: compare what both have
                continue
            got = self.identity[key]
            if _normalize(got) != _normalize(expected):
                raise CheckpointError(
                    f"checkpoint {self.path} is for {key} = {got!r}, but this run has {key} = {expected!r}; "
                    "its config.yaml no longer describes the run that wrote it: undo the change, or start a "
                    "new run (porcini train --config RUN_DIR/config.yaml)"
                )


    def check_run(self, run_dir: Path) -> None:
        """Check that this checkpoint, when it lies outside ``run_dir/checkpoints/``, was written by that run.

        The files in a run's own ``checkpoints/`` are its own (whatever the directory is called now); any other
        file must name the run in its identity (``run``, the directory's name). Older checkpoints carry no
        ``run`` and are not checked.

        Raises:
            CheckpointError: another run wrote it; the message names the checkpoint, that run and the fix.
        """
        owner = self.identity.get("run")
        if owner is None or owner == run_dir.name or self.path.resolve().parent == (run_dir / "checkpoints").resolve():
            return
        raise CheckpointError(
            f"checkpoint {self.path} belongs to run {owner}, not to {run_dir.name} (resuming it would mix two runs in "
            f"one metrics.csv): pass a checkpoint of {run_dir.name} (best, last or a copy of one of its files), or "
            f"resume {owner} itself"
        )


def read_checkpoint(path: str | Path, identity: dict[str, Any] | None = None) -> Checkpoint:
    """Read a checkpoint; check its format version and, if given, that its identity matches ``identity``.

    Raises:
        CheckpointError: missing, truncated or corrupt file (a record whose CRC-32 does not match included),
            unknown format version, or an identity mismatch
            (another algorithm, env, number of envs, observation or action space, wrapper list); the message
            names the mismatch.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path} (a run stopped before its first epoch ended has none); "
                              f"{_other_checkpoint(path)}")
    try:
        verify_checksums(path)
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
    checkpoint = Checkpoint(path, from_safe(payload["identity"]), from_safe(payload["state"]))
    checkpoint.check_identity(identity or {})
    return checkpoint


def verify_checksums(path: Path) -> None:
    """Check every record of the checkpoint's zip archive against the CRC-32 that ``torch.save`` stored for it.

    ``torch.load`` does not check them: a file damaged after it was written (a flipped bit on disk or in a copy)
    would load, and a run would go on from wrong weights or replay data.

    Raises:
        ValueError: a record's content does not match its CRC-32.
        zipfile.BadZipFile: the file is not a zip archive (truncated, or not a checkpoint).
    """
    with zipfile.ZipFile(path) as archive:
        damaged = archive.testzip()
    if damaged is not None:
        raise ValueError(f"record {damaged} does not match its CRC-32 checksum: the file was damaged after it was "
                         "written")


def load_checkpoint(path: str | Path, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run state of a checkpoint, read and checked as :func:`read_checkpoint` does.

    Raises:
        CheckpointError: see :func:`read_checkpoint`.
    """
    return read_checkpoint(path, identity).state


def describe_space(space: Any) -> str:
    """A space as a checkpoint's identity holds it: its type, shape and dtype (bounds may change, sizes not)."""
    import gymnasium as gym

    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({int(space.n)}, start={int(space.start)})"
    if isinstance(space, gym.spaces.MultiDiscrete):
        return f"MultiDiscrete({np.asarray(space.nvec).tolist()})"
    if isinstance(space, gym.spaces.Dict):
        return "Dict(" + ", ".join(f"{k}: {describe_space(v)}" for k, v in space.spaces.items()) + ")"
    if isinstance(space, gym.spaces.Tuple):
        return "Tuple(" + ", ".join(describe_space(v) for v in space.spaces) + ")"
    return f"{type(space).__name__}(shape={tuple(space.shape or ())}, dtype={space.dtype})"


def run_identity(config: RunConfig, env_info: EnvInfo | None = None) -> dict[str, Any]:
    """What a checkpoint must match to be loaded into a run of ``config`` whose training env has ``env_info``.

    Without ``env_info``, the part known from the config alone (checked before any env is built).
    """
    wrappers = [entry if isinstance(entry, str) else next(iter(entry)) for entry in config.env.wrappers]
    identity: dict[str, Any] = {"algo": config.algo_name, "env": config.env.id, "n_envs": config.env.n_envs,
                                "wrappers": wrappers}
    if env_info is not None:
        identity.update(obs_shape=list(env_info.obs_shape),
                        observation_space=describe_space(env_info.observation_space),
                        action_space=describe_space(env_info.action_space))
    return identity


def resolve_checkpoint(run_dir: str | Path, checkpoint: str | Path) -> Path:
    """The file a ``--checkpoint`` option names: ``best`` (``last`` when the run has no best), ``last``, or a path.

    Raises:
        UserError: ``checkpoint`` is neither ``best`` nor ``last`` and no file exists at that path.
        MissingCheckpointError: ``best`` or ``last`` of a run that has no checkpoint yet.
    """
    folder = Path(run_dir) / "checkpoints"
    if checkpoint in ("best", "last"):
        path = folder / f"{checkpoint}.pt"
        path = folder / "last.pt" if checkpoint == "best" and not path.exists() else path
        if not path.is_file() and (folder / "best.pt").is_file():  # last.pt deleted, or lost after best.pt
            raise MissingCheckpointError(f"{run_dir} has no last checkpoint ({path} does not exist) but has "
                                         f"{folder / 'best.pt'}: pass --checkpoint best")
        if not path.is_file():
            raise MissingCheckpointError(
                f"{run_dir} has no checkpoint ({path} does not exist): a run writes its first at the end of its "
                "first epoch, and this one stopped before (or is still in it); wait for it, or start the run over "
                "(porcini train --config RUN_DIR/config.yaml)")
        return path
    path = Path(checkpoint)
    if not path.is_file():
        raise UserError(f"--checkpoint {checkpoint}: no such file; pass best, last or the path of a checkpoint file")
    return path


def _loads(path: Path) -> bool:
    import torch

    try:
        verify_checksums(path)
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # any failure to load means: do not recommend it
        return False
    return isinstance(payload, dict) and payload.get("format_version") == FORMAT_VERSION


def _other_checkpoint(path: Path) -> str:
    """Advice after ``path`` failed to load: another checkpoint of the run that does load, if there is one."""
    for other in sorted(p for p in path.parent.glob("*.pt") if p.resolve() != path.resolve()):
        if _loads(other):
            return f"{other} loads: pass --checkpoint {other} to porcini resume, eval or inspect, or start the run over"
    return "no other checkpoint next to it loads; start the run over (porcini train --config RUN_DIR/config.yaml)"


def _normalize(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    return value



def load_agent_state(agent: Any, state: dict[str, Any], path: Path) -> None:
    """``agent.load_state_dict(state)``, where a network or buffer that does not fit the saved one is a CheckpointError.

    The identity does not hold the sizes of networks and buffers: an edited ``net_arch`` (or ``dueling``,
    ``buffer_size``...) in a run's ``config.yaml`` builds an agent that cannot take the saved state.

    Raises:
        CheckpointError: the saved parameters have other shapes or names than the networks this run builds, or a
            saved replay buffer another capacity or kind; the message names the first difference and the fix.
    """
    from porcini.data._npz import DataFileError

    try:
        agent.load_state_dict(state)
    except (RuntimeError, DataFileError) as err:
        lines = str(err).splitlines()
        if isinstance(err, RuntimeError) and not (lines and lines[0].startswith("Error(s) in loading state_dict")):
            raise
        detail = next((line.strip().rstrip(".") for line in lines[1:] if line.strip()), lines[0] if lines else "")
        raise CheckpointError(
            f"checkpoint {path} does not fit the agent this run builds ({detail}): its config.yaml no longer "
            "describes the run that wrote it (net_arch, dueling, buffer_size, ...): undo the change, or start a "
            "new run (porcini train --config RUN_DIR/config.yaml)"
        ) from None


def optimizers_of(obj: Any, depth: int = 4) -> list[Any]:
    """The ``torch.optim.Optimizer`` objects reachable from ``obj`` through attributes, dicts and lists."""
    import torch

    found: dict[int, Any] = {}
    seen: set[int] = set()

    def visit(value: Any, level: int) -> None:
        if id(value) in seen or level > depth or isinstance(value, (str, bytes, np.ndarray, torch.Tensor)):
            return
        seen.add(id(value))
        if isinstance(value, torch.optim.Optimizer):
            found[id(value)] = value
        elif isinstance(value, dict):
            for item in value.values():
                visit(item, level + 1)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item, level + 1)
        elif hasattr(value, "__dict__") and not isinstance(value, (type, torch.nn.Module)):
            for item in vars(value).values():
                visit(item, level + 1)

    visit(obj, 0)
    return list(found.values())


def keeping_optimizer_settings(agent: Any, load: Any) -> None:
    """Call ``load()`` (which loads a checkpoint into ``agent``), then give every optimizer its settings back.

    A loaded optimizer state carries the learning rate, betas, eps and weight decay of the run that saved it.
    The settings of the optimizers as built from this run's config are kept instead, so a config changed between
    two segments of a run (``porcini tune --method pbt`` perturbs learning rates; a user edits ``config.yaml``
    before resuming) takes effect. Only the moments and step counts come from the checkpoint.
    """
    before = [(opt, [{k: v for k, v in group.items() if k != "params"} for group in opt.param_groups])
              for opt in optimizers_of(agent)]
    load()
    for opt, groups in before:
        if len(groups) == len(opt.param_groups):
            for group, settings in zip(opt.param_groups, groups):
                group.update(settings)
