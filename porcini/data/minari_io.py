"""Minari, the Farama standard for offline datasets: write a porcini Dataset to a local Minari dataset, read one back.

Minari keeps each episode as ``L + 1`` observations (the last one the true final observation, also after a
truncation), ``L`` actions, rewards, terminations and truncations, and ``infos`` (``L + 1`` entries when recorded
by Minari's ``DataCollector``: the reset info, then one per step). Local datasets live under
``$MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``), one folder per id ``(namespace/)name-vN``.

Reading gives porcini's one :class:`~porcini.data.Dataset`: a step's ``next_obs`` is the observation after it
(a truncated last step keeps its real final observation, so agents bootstrap from it), ``terminated`` and
``truncated`` stay apart, and the ``infos`` keys asked for become ``extras``. A dataset porcini wrote comes back
as written: its ``[T, B]`` layout, metadata and flags (a column may end inside an episode, with neither flag); any
other is one column of its episodes in order, an episode stored with neither flag ending ``truncated``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.data.dataset import Dataset
from porcini.data.validation import DatasetError, check_finite, check_spaces
from porcini.errors import missing_extra

_PORCINI_KEY = "porcini"  # our own entry in a Minari dataset's metadata.json: layout and porcini metadata


def write_minari(
    dataset: Dataset,
    name: str,
    *,
    observation_space: Any,
    action_space: Any,
    env_id: str | None = None,
    algorithm_name: str | None = None,
    author: str | None = None,
    author_email: str | None = None,
    description: str | None = None,
    code_permalink: str | None = None,
    infos: Sequence[str] | None = None,
    data_format: str | None = None,
) -> Path:
    """Write ``dataset`` as the local Minari dataset ``name``, atomically: built in a hidden folder, then renamed.

    Args:
        dataset: the transitions; within an episode each ``next_obs`` must be the next ``obs`` (as recorded).
        name: the Minari id, ``(namespace/)name-vN``, e.g. ``"pendulum/random-v0"``.
        observation_space: the space of one observation (``env.info.observation_space``).
        action_space: the space of one action.
        env_id: the Gymnasium id the data was recorded in, stored as the dataset's ``env_spec`` when registered
            (then ``MinariDataset.recover_environment()`` works).
        algorithm_name: what produced the actions (``"sac"``, ``"random"``), in Minari's metadata.
        author: who recorded it.
        author_email: how to reach them.
        description: what the data is.
        code_permalink: a link to the code that recorded it.
        infos: the ``extras`` stored as Minari ``infos`` (default: all of them).
        data_format: Minari's storage format, ``"hdf5"`` (Minari's default) or ``"arrow"``.

    Returns:
        The dataset's folder.

    Raises:
        DatasetError: a malformed id, an id that already exists, an empty dataset or NaNs, or an episode whose
            ``next_obs`` are not its next ``obs`` (Minari keeps one observation sequence per episode).
        MissingExtraError: minari (or its storage backend) is not installed.
    """
    minari = _import_minari()
    from minari.data_collector.episode_buffer import EpisodeBuffer

    target = check_minari_target(name)
    source = f"Minari dataset {name!r}"
    check_finite(dataset, source)
    extras = list(dataset.batch.extras) if infos is None else list(infos)
    unknown = [k for k in extras if k not in dataset.batch.extras]
    if unknown:
        raise DatasetError(f"{source}: infos {unknown} are not extras of the dataset (it has "
                           f"{sorted(dataset.batch.extras)})")
    buffers = list(_episode_buffers(dataset, extras, EpisodeBuffer, source))
    metadata: dict[str, Any] = {"dataset_id": name, "minari_version": minari.__version__,
                                _PORCINI_KEY: {"metadata": dataset.metadata,
                                               "layout": [dataset.batch.n_rows, dataset.batch.n_envs]}}
    optional = {"algorithm_name": algorithm_name, "code_permalink": code_permalink, "description": description,
                "author": {author} if author else None, "author_email": {author_email} if author_email else None}
    metadata.update({k: v for k, v in optional.items() if v is not None})
    _write_atomically(name, target, buffers, metadata, (observation_space, action_space, env_id, data_format))
    return target


def _write_atomically(name: str, target: Path, buffers: list[Any], metadata: dict[str, Any],
                      storage_args: tuple[Any, Any, str | None, str | None]) -> None:
    """Write the episodes into a hidden staging folder beside the datasets, then rename it to ``target``."""
    from minari.dataset.minari_dataset import parse_dataset_id
    from minari.dataset.minari_storage import MinariStorage
    from minari.namespace import create_namespace, list_local_namespaces
    from minari.storage.datasets_root_dir import get_dataset_path

    namespace = _parse_id(name, parse_dataset_id)
    # absolute: Minari sizes its files by joining paths, which a relative MINARI_DATASETS_PATH breaks
    staging = Path(get_dataset_path()).resolve() / f".porcini-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        storage = _new_storage(MinariStorage, staging / "data", *storage_args)
        storage.update_metadata(metadata)
        storage.update_episodes(buffers)
        if namespace is not None and namespace not in list_local_namespaces():
            create_namespace(namespace)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_minari(name: str, env_info: Any = None, *, infos: Sequence[str] = ()) -> Dataset:
    """Load the local Minari dataset ``name`` into porcini's :class:`~porcini.data.Dataset`.

    Args:
        name: the Minari id, ``(namespace/)name-vN``.
        env_info: the env the data will be used in (an :class:`~porcini.envs.EnvInfo`); its observation and
            action spaces must equal the dataset's. None skips the check.
        infos: keys of the episodes' ``infos`` to return as ``extras`` (one value per step).

    Raises:
        DatasetError: no such local dataset, an unreadable (corrupt, truncated) one, spaces that differ from
            ``env_info``'s or actions outside them, Dict/Tuple observations, no episodes, NaNs, or an ``infos`` key
            it does not have.
        MissingExtraError: minari (or the storage backend of the dataset) is not installed.
    """
    minari = _import_minari()
    from minari.dataset.minari_dataset import parse_dataset_id
    from minari.storage.datasets_root_dir import get_dataset_path

    _parse_id(name, parse_dataset_id)
    folder = Path(get_dataset_path(name))
    source = f"Minari dataset {name!r} ({folder})"
    if not (folder / "data").is_dir():
        raise DatasetError(f"no local Minari dataset {name!r} in {folder.parent}: record one (porcini collect ... "
                           "--to minari:NAME), download it (minari download NAME) or set MINARI_DATASETS_PATH")
    data = _unless_unreadable(lambda: minari.load_dataset(name), source)
    _check_minari_spaces(data, env_info, source)
    episodes = _unless_unreadable(lambda: list(data.iterate_episodes()), source)
    if not episodes:
        raise DatasetError(f"{source} holds no episodes; record some or pick another dataset")
    stored = data.storage.metadata
    ours = stored.get(_PORCINI_KEY)  # a dataset porcini wrote keeps its flags: its columns may end inside episodes
    batch, ends = _one_column(episodes, list(infos), source, end_of_data=ours is None)
    batch = _layout(batch, (ours or {}).get("layout"), ends)
    dataset = Dataset(batch, _dataset_metadata(name, data, stored))
    check_finite(dataset, source)
    if env_info is not None:
        check_spaces(dataset, env_info, source)
    return dataset


def check_minari_target(name: str) -> Path:
    """The folder a new local Minari dataset ``name`` would be written to.

    Raises:
        DatasetError: ``name`` is not a Minari id, or a dataset of that id exists already.
        MissingExtraError: minari is not installed.
    """
    _import_minari()
    from minari.dataset.minari_dataset import parse_dataset_id
    from minari.storage.datasets_root_dir import get_dataset_path

    _parse_id(name, parse_dataset_id)
    target = Path(get_dataset_path(name))
    if target.exists():
        raise DatasetError(f"Minari dataset {name!r} already exists at {target}; delete it (minari delete {name}) "
                           "or write another name or version (-v1)")
    return target


def _unless_unreadable(read: Callable[[], Any], source: str) -> Any:
    """``read()``, its failures turned into one-line errors: a missing backend, a damaged dataset."""
    try:
        return read()
    except ImportError as err:
        raise missing_extra(f"reading {source}", "minari", err) from err
    except Exception as err:  # pyarrow, h5py and json each raise their own errors on a damaged file
        raise DatasetError(f"{source} is unreadable (corrupt or truncated): {type(err).__name__}: {err}; "
                           "record or download it again") from err


def _import_minari() -> Any:
    try:
        import minari
    except ImportError as err:
        raise missing_extra("Minari datasets", "minari", err) from err
    return minari


def _parse_id(name: str, parse_dataset_id: Any) -> str | None:
    """The namespace of the Minari id ``name``; a DatasetError names the expected form."""
    try:
        return parse_dataset_id(name)[0]
    except ValueError:
        raise DatasetError(f"{name!r} is not a Minari dataset id: write (namespace/)name-vN, e.g. "
                           "pendulum/random-v0") from None


def _new_storage(storage_cls: Any, data_path: Path, observation_space: Any, action_space: Any,
                 env_id: str | None, data_format: str | None) -> Any:
    """An empty Minari storage at ``data_path`` (its parent created here)."""
    import gymnasium as gym

    env_spec = None
    if env_id is not None:
        try:
            env_spec = gym.spec(env_id)
        except gym.error.Error:  # not a registered id (a factory, a class): no spec to recover the env from
            env_spec = None
    data_path.parent.mkdir(parents=True)
    format_kwarg = {"data_format": data_format} if data_format is not None else {}
    try:
        return storage_cls.new(data_path, observation_space=observation_space, action_space=action_space,
                               env_spec=env_spec, **format_kwarg)
    except ImportError as err:  # the storage backend (h5py, pyarrow) is imported when first used
        raise missing_extra("writing Minari datasets", "minari", err) from err


def _episode_buffers(dataset: Dataset, extras: list[str], buffer_cls: Any, source: str) -> Iterator[Any]:
    """Minari episode buffers of ``dataset``'s episodes; infos hold one zero reset entry, then one per step."""
    b = dataset.batch
    for i, (env, start, stop) in enumerate(dataset.episode_bounds()):
        obs, next_obs = b.obs[start:stop, env], b.next_obs[start:stop, env]
        if not np.array_equal(next_obs[:-1], obs[1:]):
            raise DatasetError(f"{source}: the episode at steps {start}-{stop} of env column {env} is not in time "
                               "order (a next_obs differs from the next obs); Minari stores whole episodes only")
        infos = {k: _info_values(np.concatenate([np.zeros_like(b.extras[k][start : start + 1, env]),
                                                  b.extras[k][start:stop, env]])) for k in extras}
        yield buffer_cls(id=i, observations=np.concatenate([obs, next_obs[-1:]]), actions=b.action[start:stop, env],
                         rewards=b.reward[start:stop, env], terminations=b.terminated[start:stop, env],
                         truncations=b.truncated[start:stop, env], infos=infos or None)


def _info_values(values: np.ndarray) -> Any:
    """Per-step info values as Minari stores them: scalars as a list (its arrow format cannot read 1-d arrays back)."""
    return list(values) if values.ndim == 1 else values


def _check_minari_spaces(data: Any, env_info: Any, source: str) -> None:
    import gymnasium as gym

    if isinstance(data.observation_space, (gym.spaces.Dict, gym.spaces.Tuple)):
        raise DatasetError(f"{source} has {type(data.observation_space).__name__} observations; porcini datasets "
                           "hold array observations (flatten them with gymnasium.spaces.flatten)")
    if env_info is None:
        return
    env = getattr(env_info, "env_id", "the env")
    for what, mine, theirs in (("observation", data.observation_space, env_info.observation_space),
                               ("action", data.action_space, env_info.action_space)):
        if mine != theirs:
            raise DatasetError(f"{source} has {what} space {mine}, but {env} has {theirs}; use the env the "
                               "data was recorded in")


def _one_column(episodes: list[Any], infos: list[str], source: str,
                end_of_data: bool = True) -> tuple[TransitionBatch, np.ndarray]:
    """All episodes one after another, ``[N, 1]``, and the step one past each episode's last.

    With ``end_of_data`` an episode ending with neither flag ends ``truncated``.
    """
    fields: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "action", "reward", "next_obs", "terminated",
                                                             "truncated")}
    extras: dict[str, list[np.ndarray]] = {k: [] for k in infos}
    lengths = []
    for ep in episodes:
        n = len(ep.rewards)
        lengths.append(n)
        observations = np.asarray(ep.observations)
        terminated, truncated = np.asarray(ep.terminations, bool), np.array(ep.truncations, bool)
        if end_of_data and n and not (terminated[-1] or truncated[-1]):
            truncated[-1] = True  # "end of data": bootstrap from the final observation
        for key, value in (("obs", observations[:n]), ("next_obs", observations[1 : n + 1]),
                           ("action", np.asarray(ep.actions)[:n]), ("reward", _rewards(ep.rewards)),
                           ("terminated", terminated), ("truncated", truncated)):
            fields[key].append(value)
        for key in infos:
            extras[key].append(_info_column(ep, key, n, source))
    batch = TransitionBatch(**{k: np.concatenate(v)[:, None] for k, v in fields.items()},
                            extras={k: np.concatenate(v)[:, None] for k, v in extras.items()})
    return batch, np.cumsum(lengths)


def _rewards(values: Any) -> np.ndarray:
    """An episode's rewards in the float dtype they were stored in (float32 stays float32); integers as float64."""
    rewards = np.asarray(values)
    return rewards if rewards.dtype.kind == "f" else rewards.astype(np.float64)


def _info_column(episode: Any, key: str, n: int, source: str) -> np.ndarray:
    """The per-step values of ``infos[key]``: the last ``n`` of ``n + 1`` (the first is the reset info)."""
    if key not in episode.infos:
        raise DatasetError(f"{source}: episode {episode.id} has no info {key!r} (it has {sorted(episode.infos)})")
    value = episode.infos[key]
    if isinstance(value, dict):
        raise DatasetError(f"{source}: info {key!r} is a dict ({sorted(value)}); ask for one of its arrays")
    value = np.asarray(value)
    if len(value) not in (n, n + 1):
        raise DatasetError(f"{source}: info {key!r} of episode {episode.id} has {len(value)} entries for {n} steps")
    return value[len(value) - n :]


def _layout(batch: TransitionBatch, layout: Any, ends: np.ndarray) -> TransitionBatch:
    """``batch`` back in the ``[T, B]`` layout porcini wrote it in, when the data still fits it.

    ``ends`` are the steps one past each episode's last, where a column may end.
    """
    if not (isinstance(layout, list) and len(layout) == 2):
        return batch
    rows, columns = int(layout[0]), int(layout[1])
    if columns <= 1 or rows * columns != batch.n_rows:
        return batch
    if not all(c * rows in ends for c in range(1, columns)):  # a column boundary inside an episode
        return batch

    def split(a: np.ndarray) -> np.ndarray:
        return np.swapaxes(a.reshape(columns, rows, *a.shape[2:]), 0, 1)

    return TransitionBatch(**{k: split(getattr(batch, k)) for k in ("obs", "action", "reward", "next_obs",
                                                                     "terminated", "truncated")},
                           extras={k: split(v) for k, v in batch.extras.items()})


def _dataset_metadata(name: str, data: Any, stored: dict[str, Any]) -> dict[str, Any]:
    """The Dataset metadata of a Minari dataset: the source, env id, spaces and Minari's own descriptive fields."""
    env_spec = getattr(data, "env_spec", None)
    minari_fields = {k: sorted(v) if isinstance(v, set) else v for k, v in stored.items()
                     if k in ("dataset_id", "algorithm_name", "author", "author_email", "code_permalink",
                              "description", "minari_version", "data_format")}
    own = stored.get(_PORCINI_KEY, {}).get("metadata", {})
    return {"env_id": getattr(env_spec, "id", None), **own, "source": f"minari:{name}", "minari": minari_fields,
            "observation_space": str(data.observation_space), "action_space": str(data.action_space)}
