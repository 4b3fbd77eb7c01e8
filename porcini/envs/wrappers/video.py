"""RecordVideo: every k-th episode of an env to an MP4 or GIF file (imageio, the ``video`` extra)."""

from __future__ import annotations

import importlib.util
import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from porcini.envs.wrappers._common import require_env
from porcini.errors import missing_extra

VIDEO_FORMATS = ("mp4", "gif")


def _release(claims: set[tuple[str, str]], key: tuple[str, str]) -> None:
    claims.discard(key)


class RecordVideo(gym.Wrapper):
    """Records every ``every_episodes``-th episode (0, k, 2k, ...) to ``video_folder/<name_prefix>-episode-<i>.<fmt>``.

    A video holds the frame after the reset and one frame after every step, so an episode of ``L`` steps gives
    ``L + 1`` frames; frames are streamed to the file, not kept in memory. An episode cut by a reset or by
    ``close`` is written as far as it got; a reset that follows a reset with no step between does not count as
    an episode (``make_env(seed=...)`` resets once and ``Core`` resets again on its first ``learn``).

    The env must render RGB arrays: ``make_env(id, env_kwargs={"render_mode": "rgb_array"}, ...)``. ``make_env``
    builds one wrapper per env; only the first one created for a given folder and prefix records (the others
    pass through), so a vector env writes one stream of videos. Give each recording env its own ``video_folder``
    or ``name_prefix``. With ``n_envs > 1`` pass ``vectorization="sync"``: in subprocesses every env would record
    (and rendering can make ``"auto"`` choose subprocesses).
    MP4 needs even frame sizes: odd ones are padded by one edge pixel. GIF (Pillow) merges identical
    consecutive frames into one longer frame, so its frame count can be lower while playback timing is exact.

    Args:
        env: a single env with ``render_mode="rgb_array"``.
        video_folder: directory of the videos (created if missing).
        every_episodes: record episodes whose index (from 0) is a multiple of this.
        episode_trigger: instead of ``every_episodes``, a function of the episode index that says whether to
            record it.
        name_prefix: file name prefix.
        video_format: ``"mp4"`` (needs imageio-ffmpeg) or ``"gif"``.
        fps: frames per second; default the env's ``metadata["render_fps"]`` or 30.

    Example:
        >>> from porcini import make_env
        >>> env = make_env("CartPole-v1", env_kwargs={"render_mode": "rgb_array"},
        ...                wrappers=[(RecordVideo, {"video_folder": "videos", "every_episodes": 10})])  # doctest: +SKIP
    """

    _claims: ClassVar[set[tuple[str, str]]] = set()

    def __init__(
        self,
        env: gym.Env,
        video_folder: str | os.PathLike[str],
        *,
        every_episodes: int = 1,
        episode_trigger: Callable[[int], bool] | None = None,
        name_prefix: str = "rl-video",
        video_format: str = "mp4",
        fps: int | None = None,
    ) -> None:
        require_env("RecordVideo", env, vector=False)
        if env.render_mode != "rgb_array":
            raise ValueError(
                f"RecordVideo needs an env with render_mode='rgb_array', {env} has render_mode={env.render_mode!r}; "
                "build it with make_env(id, env_kwargs={'render_mode': 'rgb_array'}, wrappers=[RecordVideo...]) "
                "or gym.make(id, render_mode='rgb_array')"
            )
        if video_format not in VIDEO_FORMATS:
            raise ValueError(f"RecordVideo: video_format = {video_format!r} is invalid: choose one of {VIDEO_FORMATS}")
        if isinstance(every_episodes, bool) or not isinstance(every_episodes, (int, np.integer)) or every_episodes < 1:
            raise ValueError(f"RecordVideo: every_episodes = {every_episodes!r} is invalid: must be an int >= 1")
        if episode_trigger is not None and every_episodes != 1:
            raise ValueError("RecordVideo: give every_episodes or episode_trigger, not both")
        needed = ["imageio"] + (["imageio_ffmpeg"] if video_format == "mp4" else [])
        missing = [m for m in needed if importlib.util.find_spec(m) is None]
        if missing:
            raise missing_extra(f"RecordVideo to {video_format}", "video", ImportError(f"no {', '.join(missing)}"))
        super().__init__(env)
        self.video_folder = Path(video_folder)
        self.every_episodes = int(every_episodes)
        self.episode_trigger = episode_trigger
        self.name_prefix = name_prefix
        self.video_format = video_format
        self.fps = int(fps if fps is not None else env.metadata.get("render_fps") or 30)
        self.episode_id = -1
        self.video_paths: list[Path] = []
        key = (str(self.video_folder.resolve()), name_prefix)
        # one recorder per folder and prefix: make_env builds a copy of this wrapper for every env
        self.is_recorder = key not in RecordVideo._claims
        if self.is_recorder:
            RecordVideo._claims.add(key)
            self._release = weakref.finalize(self, _release, RecordVideo._claims, key)
            self.video_folder.mkdir(parents=True, exist_ok=True)
        self._steps = 0
        self._recording = False
        self._pending: np.ndarray | None = None
        self._writer: Any = None

    def _wanted(self, episode: int) -> bool:
        if not self.is_recorder:
            return False
        if self.episode_trigger is not None:
            return bool(self.episode_trigger(episode))
        return episode % self.every_episodes == 0

    def _frame(self) -> np.ndarray:
        frame = self.env.render()
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[-1] not in (3, 4):
            got = getattr(frame, "shape", type(frame).__name__)
            raise ValueError(f"RecordVideo: {self.env}.render() returned {got}, expected an [H, W, 3] RGB array")
        frame = frame[..., :3].astype(np.uint8, copy=False)
        if self.video_format == "mp4" and (frame.shape[0] % 2 or frame.shape[1] % 2):
            frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), mode="edge")
        return frame

    def _path(self, episode: int) -> Path:
        return self.video_folder / f"{self.name_prefix}-episode-{episode}.{self.video_format}"

    def _open_writer(self) -> Any:
        import imageio.v2 as imageio

        path = self._path(self.episode_id)
        self.video_paths.append(path)
        if self.video_format == "mp4":
            return imageio.get_writer(path, fps=self.fps, macro_block_size=1)
        return imageio.get_writer(path, mode="I", duration=1000.0 / self.fps, loop=0)

    def _finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            if self.video_paths[-1] != self._path(self.episode_id):  # a replayed episode's: see load_state_dict
                self.video_paths[-1] = self.video_paths[-1].replace(self._path(self.episode_id))
        self._writer = None
        self._recording = False
        self._pending = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset; start recording if this episode is due."""
        obs, info = self.env.reset(seed=seed, options=options)
        if self._steps > 0 or self.episode_id < 0:
            self._finish()
            self.episode_id += 1
        # else: the episode before had no step, so this one replaces it under the same index
        self._steps = 0
        self._recording = self._wanted(self.episode_id)
        self._pending = self._frame() if self._recording else None
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step; append a frame when recording, and close the file when the episode ends."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        if self._recording:
            if self._writer is None:
                # the file opens at the first step, so that an episode without steps leaves no file behind
                self._writer = self._open_writer()
                self._writer.append_data(self._pending)
            self._writer.append_data(self._frame())
            if terminated or truncated:
                self._finish()
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Write the video in progress, release the folder and close the env."""
        self._finish()
        if self.is_recorder:
            self._release()
        super().close()

    def state_dict(self) -> dict[str, Any]:
        """The index of the current episode and its steps so far (which episodes are recorded depends on them)."""
        return {"episode_id": int(self.episode_id), "episode_steps": int(self._steps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the episode index and step count; a recording in progress of another episode is closed.

        A resume loads the state, replays the episode in progress through this wrapper (whose reset takes it for
        the next episode) and loads the state again: a recording the replay started holds the saved episode from
        its first frame, so it goes on, and its file gets the saved episode's index (or is dropped if that
        episode is not to be recorded).
        """
        episode_id, steps = int(state["episode_id"]), int(state["episode_steps"])
        same = self.episode_id == episode_id and self._steps == steps  # e.g. replayed with no step: same index
        replayed = self._steps == steps and self.episode_id == episode_id + 1 and steps > 0
        if self._recording and not same and not (replayed and self._wanted(episode_id)):
            drop = replayed and self._writer is not None
            self._finish()
            if drop:
                self.video_paths.pop().unlink(missing_ok=True)
        self.episode_id, self._steps = episode_id, steps
