"""Exceptions that name the problem and the fix.

Two kinds. A :class:`UserError` is a mistake in what was asked for (a config key, an env id, an algorithm that
cannot act in the env, a wrapper argument, a missing optional extra): the command line prints its message on one
line and exits with code 2. Any other :class:`PorciniError` is a failure porcini diagnosed while running (a
corrupt checkpoint, an env that broke its own spaces): one line, exit code 1. Every other exception is a bug
somewhere and keeps its traceback.
"""


class PorciniError(Exception):
    """Base class of porcini's own errors."""


class UserError(PorciniError):
    """A usage or configuration mistake; the message names the problem and the fix (CLI: one line, exit 2)."""


class ConfigError(UserError, ValueError):
    """A configuration field has an unknown name, a wrong type or a value out of range."""


class UnknownNameError(UserError, KeyError):
    """A name (an algorithm, an env id) that nothing is registered under; the message names the closest ones."""

    def __str__(self) -> str:
        # KeyError would print the repr of the message, quotes included
        return str(self.args[0]) if self.args else ""


class UnsupportedSpaceError(UserError, ValueError):
    """An agent cannot act in (or observe) an env's spaces; the message names what it needs."""


class NoModelError(UnsupportedSpaceError):
    """A planning agent was given an env without a transition model (no toy-text ``P``, no ``transition_model()``)."""


class MissingExtraError(UserError, ImportError):
    """An optional dependency is not installed; the message names the porcini extra that installs it."""


class EnvCheckError(PorciniError, ValueError):
    """An environment returned (or was given) something its spaces or the Gymnasium API do not allow."""


class CheckpointError(PorciniError):
    """A checkpoint is corrupt, truncated, of an unknown format version, or belongs to another run."""


class MissingCheckpointError(CheckpointError, UserError):
    """A run directory has no checkpoint yet (it stopped before the end of its first epoch): a user error."""


class RunDirectoryError(UserError):
    """A run directory cannot be created, written or locked: the message names the path, the problem and the fix.

    A user error (one line, exit 2): the user can fix it (free space, choose another ``--out``, wait for the other
    writer).
    """


def install_hint(extra: str) -> str:
    """The commands that install porcini's optional ``extra``, for a package install and for a clone.

    Example:
        >>> install_hint("plot")
        'pip install "porcini[plot]" (in a clone of the repository: pip install -e ".[plot]")'
    """
    return f'pip install "porcini[{extra}]" (in a clone of the repository: pip install -e ".[{extra}]")'


def missing_extra(what: str, extra: str, cause: BaseException | None = None) -> MissingExtraError:
    """The error for a feature ``what`` whose optional dependencies (porcini's ``extra``) failed to import.

    Args:
        what: the feature, e.g. ``"plots"`` or ``"the tensorboard logger"``.
        extra: the porcini extra that installs it.
        cause: the ImportError, whose message is kept.
    """
    reason = f" ({cause})" if cause is not None else ""
    return MissingExtraError(f"{what}: porcini's optional extra {extra!r} is not installed{reason}; install it with "
                             f"{install_hint(extra)}")
