"""Kept for imports: porcini's errors live in :mod:`porcini.errors`, re-exported here unchanged."""

from porcini.errors import (
    CheckpointError,
    ConfigError,
    EnvCheckError,
    MissingExtraError,
    PorciniError,
    RunDirectoryError,
    UnknownNameError,
    UnsupportedSpaceError,
    UserError,
    install_hint,
    missing_extra,
)

__all__ = [
    "CheckpointError",
    "ConfigError",
    "EnvCheckError",
    "MissingExtraError",
    "PorciniError",
    "RunDirectoryError",
    "UnknownNameError",
    "UnsupportedSpaceError",
    "UserError",
    "install_hint",
    "missing_extra",
]
