"""The core pieces: TransitionBatch, the Agent protocol, LoopSchedule and Core (the one loop)."""

from porcini.core.agent import Agent, BaseAgent
from porcini.core.batch import TransitionBatch
from porcini.core.callbacks import Callback
from porcini.core.loop import Core, EpisodeRecord, LearnResult
from porcini.core.schedule import LoopSchedule
from porcini.errors import CheckpointError, ConfigError, EnvCheckError, PorciniError

__all__ = [
    "Agent",
    "BaseAgent",
    "Callback",
    "CheckpointError",
    "ConfigError",
    "Core",
    "EnvCheckError",
    "EpisodeRecord",
    "LearnResult",
    "LoopSchedule",
    "PorciniError",
    "TransitionBatch",
]
