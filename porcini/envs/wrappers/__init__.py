"""porcini's environment wrappers: NumPy in, NumPy out, with state that checkpoints save.

A wrapper carries a Gymnasium name only when it behaves like Gymnasium's wrapper of that name. Where porcini's
differs it has another name (``ClippedRescaleAction``, ``NumpyResizeObservation``), and the Gymnasium name in a run
config (``RescaleAction``, ``ResizeObservation``) is Gymnasium's wrapper.

Single-env wrappers (``gymnasium.Wrapper``) wrap each env when passed to ``make_env(..., wrappers=[...])``;
vector wrappers (``gymnasium.vector.VectorWrapper``: ``NormalizeObservation``, ``NormalizeReward``,
``VectorRecordEpisodeStatistics``) wrap the vector env, because their statistics span all envs. Stateful
wrappers have ``state_dict()`` / ``load_state_dict()`` (NumPy arrays and scalars only). See docs/wrappers.md.
"""

from porcini.envs.wrappers._common import vector_wrappers
from porcini.envs.wrappers.action import ClipAction, ClippedRescaleAction, RepeatAction, StickyAction
from porcini.envs.wrappers.action_mask import ActionMaskInObservation
from porcini.envs.wrappers.atari import (
    EpisodicLife,
    FireReset,
    GrayscaleResize,
    MaxAndSkip,
    NatureAtari,
    NoopReset,
    SignReward,
)
from porcini.envs.wrappers.curriculum import Curriculum, CurriculumSchedule
from porcini.envs.wrappers.episode import RecordEpisodeStatistics, TimeLimit, VectorRecordEpisodeStatistics
from porcini.envs.wrappers.frames import FrameStackObservation, GrayscaleObservation, NumpyResizeObservation
from porcini.envs.wrappers.learned_reward import LearnedReward
from porcini.envs.wrappers.multitask import MultiTask, TaskSwitchEnv
from porcini.envs.wrappers.normalize import ClipReward, NormalizeObservation, NormalizeReward, share_normalization
from porcini.envs.wrappers.observation import (
    ClipObservation,
    FilterObservation,
    FlattenObservation,
    OneHotObservation,
)
from porcini.envs.wrappers.randomization import DomainRandomization
from porcini.envs.wrappers.running_stats import RunningMeanStd
from porcini.envs.wrappers.video import RecordVideo

__all__ = [
    "ActionMaskInObservation",
    "ClipAction",
    "ClipObservation",
    "ClipReward",
    "Curriculum",
    "CurriculumSchedule",
    "DomainRandomization",
    "EpisodicLife",
    "FilterObservation",
    "FireReset",
    "FlattenObservation",
    "FrameStackObservation",
    "LearnedReward",
    "GrayscaleObservation",
    "GrayscaleResize",
    "MaxAndSkip",
    "MultiTask",
    "NatureAtari",
    "NoopReset",
    "NormalizeObservation",
    "NormalizeReward",
    "NumpyResizeObservation",
    "OneHotObservation",
    "RecordEpisodeStatistics",
    "RecordVideo",
    "RepeatAction",
    "ClippedRescaleAction",
    "RunningMeanStd",
    "SignReward",
    "StickyAction",
    "TaskSwitchEnv",
    "TimeLimit",
    "VectorRecordEpisodeStatistics",
    "share_normalization",
    "vector_wrappers",
]
