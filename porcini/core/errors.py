"""Exceptions that name the problem and the fix."""


class PorciniError(Exception):
    """Base class of porcini's own errors."""


class ConfigError(PorciniError, ValueError):
    """A configuration field has an unknown name, a wrong type or a value out of range."""


class EnvCheckError(PorciniError, ValueError):
    """An environment returned (or was given) something its spaces or the Gymnasium API do not allow."""


class CheckpointError(PorciniError):
    """A checkpoint is corrupt, truncated, of an unknown format version, or belongs to another run."""
