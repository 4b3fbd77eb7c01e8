"""Importing optional packages with an error that names the porcini extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from porcini.errors import missing_extra


def require_extra(module: str, extra: str, what: str | None = None) -> ModuleType:
    """Import ``module``, or raise MissingExtraError (an ImportError) naming ``pip install "porcini[extra]"``.

    Args:
        module: the module to import (``"mujoco"``, ``"shimmy"``, ``"pettingzoo"``).
        extra: porcini's optional extra that installs it.
        what: the feature that needs it, for the message (defaults to the module name).

    Example:
        >>> require_extra("math", "none").sqrt(4.0)
        2.0
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise missing_extra(what or module, extra, err) from err
