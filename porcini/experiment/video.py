"""Video of a trained policy: one deterministic episode rendered to MP4 (GIF without ffmpeg)."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any

from porcini.core import Core
from porcini.envs import make_env
from porcini.envs.make import evaluation_wrappers
from porcini.envs.wrappers import RecordVideo
from porcini.experiment.config import RunConfig
from porcini.experiment.envs import stateful_wrappers, wrapper_specs
from porcini.experiment.safe_files import reporting_os_errors
from porcini.experiment.seeding import eval_seed


def prepare_video_folder(folder: Path) -> None:
    """Create ``folder`` and check that a file can be written in it, before any episode is run.

    Raises:
        RunDirectoryError: the folder cannot be created or written (a read-only run directory, a full disk).
    """
    with reporting_os_errors(folder, "creating", fix="porcini eval --video writes to RUN_DIR/videos/: copy the run "
                             "to a folder you can write to, or evaluate without --video"):
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()


def record_episode(config: RunConfig, agent: Any, folder: Path, train_env: Any) -> Path:
    """Render one deterministic episode of ``agent`` in a fresh copy of the run's env; return the video's path.

    The env gets the run's wrappers as an evaluation env has them (no training-only ones), with ``RecordVideo``
    innermost so it films the env as it is, and the training env's wrapper statistics (observation
    normalization) loaded, frozen.
    """
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame-rendered envs need no display
    fmt = "mp4" if importlib.util.find_spec("imageio_ffmpeg") is not None else "gif"
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"eval-s{config.seed}"
    wrappers = [(RecordVideo, {"video_folder": str(folder), "name_prefix": prefix, "video_format": fmt}),
                *evaluation_wrappers(wrapper_specs(config))]
    env = make_env(config.env.id, n_envs=1, seed=eval_seed(config.seed), wrappers=wrappers, vectorization="sync",
                   max_episode_steps=config.env.max_episode_steps,
                   env_kwargs={**config.env.kwargs, "render_mode": "rgb_array"}, check=config.env.check)
    for mine, trained in zip(stateful_wrappers(env), stateful_wrappers(train_env)):
        share = getattr(mine, "share_statistics", None)
        if callable(share):
            share(trained)
    before = set(folder.glob(f"{prefix}-*.{fmt}"))
    Core(agent, make_env(config.env.id, seed=0, max_episode_steps=config.env.max_episode_steps,
                         wrappers=wrappers[1:], env_kwargs=config.env.kwargs), eval_env=env, progress=False).evaluate(1)
    env.close()
    written = sorted(set(folder.glob(f"{prefix}-*.{fmt}")) - before) or sorted(folder.glob(f"{prefix}-*.{fmt}"))
    if not written:
        raise RuntimeError(f"no video was written to {folder}; does {config.env.id} render rgb_array frames?")
    return written[-1]
