"""Exceptions that name the problem and the fix."""


class PorciniError(Exception):
    """Base class of porcini's own errors."""


class ConfigError(PorciniError, ValueError):
    """A configuration field has an unknown name, a wrong type or a value out of range."""


class EnvCheckError(PorciniError, ValueError):
    """An environment returned (or was given) something its spaces or the Gymnasium API do not allow."""


class CheckpointError(PorciniError):
    """A checkpoint is corrupt, truncated, of an unknown format version, or belongs to another run."""


class RunDirectoryError(ConfigError):
    """A run directory cannot be created, written or locked: the message names the path, the problem and the fix.

    A ConfigError for now, so that the CLI reports it as a one-line usage error (exit 2): the user can fix it
    (free space, choose another ``--out``, wait for the other writer).
    """
