"""Env strings that name a module: Gymnasium's ``module:EnvId`` and an env class path ``module:ClassName``.

``porcini train ppo mypackage.envs:MyEnv-v0`` imports ``mypackage.envs`` (whose import registers ``MyEnv-v0``
with ``gymnasium.register``) and makes ``MyEnv-v0``, as ``gymnasium.make`` does with the same string.
``mypackage.envs:MyEnv`` names the ``gymnasium.Env`` subclass (or a factory function) ``MyEnv`` of that module,
for an env that was never registered. The name after the colon is looked up as a registered id first, then as
an attribute of the module. A module that is not on ``sys.path`` is looked for in the current folder, as
``python -m`` does, so the command works from the folder that holds ``myenv.py``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import gymnasium as gym

from porcini.errors import ConfigError, missing_extra

# Gymnasium namespaces whose ids a package registers when imported: namespace -> (module, porcini extra)
OPTIONAL_NAMESPACES = {"ALE": ("ale_py", "atari")}


def split_env_path(env: str) -> tuple[str, str] | None:
    """``"pkg.mod:Name"`` -> ``("pkg.mod", "Name")``; None for a plain Gymnasium id (no colon)."""
    module, sep, name = env.partition(":")
    if not sep:
        return None
    if not module or not name:
        raise ConfigError(f"env {env!r} is not of the form module:EnvId or module:ClassName, e.g. myenvs:MyEnv-v0")
    return module, name


def import_env_module(module: str) -> ModuleType:
    """Import ``module``, looking in the current folder too when it is not on ``sys.path``.

    Raises:
        ConfigError: no module of that name exists. Errors raised while the module itself runs propagate with
            their traceback: they are bugs in that module, not a wrong name.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if not _is_the_module(err, module):
            raise
        cwd = os.getcwd()
        if cwd in sys.path or "" in sys.path:
            raise ConfigError(_not_found(module)) from err
    sys.path.insert(0, cwd)  # as `python -m` does: the user's env file sits in the folder they run from
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        sys.path.remove(cwd)
        if not _is_the_module(err, module):
            raise
        raise ConfigError(_not_found(module)) from err


def resolve_env(env: str) -> str | Callable[..., Any]:
    """What to build for an env string: a registered Gymnasium id, or an env class / factory from a module.

    A plain id (``"CartPole-v1"``) is returned as it is. ``"module:EnvId"`` imports the module and returns
    ``"EnvId"`` once the import has registered it; ``"module:ClassName"`` returns the module's attribute.

    Raises:
        ConfigError: the module does not exist, or has neither a registered id nor an attribute of that name.
    """
    parts = split_env_path(env)
    if parts is None:
        register_namespace(env)
        return env
    module_name, name = parts
    module = import_env_module(module_name)
    if name in gym.registry:
        return name
    target = getattr(module, name, None)
    is_env_class = isinstance(target, type) and issubclass(target, gym.Env)
    if target is not None and (is_env_class or (callable(target) and not isinstance(target, type))):
        return target  # an Env class or a factory
    registered = sorted(k for k, spec in gym.registry.items() if _entry_module(spec.entry_point) == module_name)
    hint = f"; ids registered by it: {', '.join(registered)}" if registered else ""
    raise ConfigError(
        f"env {env!r}: importing {module_name} registered no env id {name!r} and it has no gymnasium.Env class or "
        f"factory named {name!r}{hint}. Register the env in {module_name} with gymnasium.register(id={name!r}, "
        f"entry_point=...) or name its Env class"
    )


def register_namespace(env_id: str) -> None:
    """Import the package that registers ``env_id``'s namespace (``ALE/Pong-v5``: ale_py), if it is not yet.

    Raises:
        MissingExtraError: the package is not installed (names the porcini extra that installs it).
    """
    namespace, sep, _ = env_id.partition("/")
    if not sep or namespace not in OPTIONAL_NAMESPACES or env_id in gym.registry:
        return
    module, extra = OPTIONAL_NAMESPACES[namespace]
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise missing_extra(f"the {namespace} env {env_id}", extra, err) from err


def _is_the_module(err: ModuleNotFoundError, module: str) -> bool:
    """Whether the module missing is ``module`` (or a parent package), not something it imports."""
    return err.name is not None and (module == err.name or module.startswith(err.name + "."))


def _not_found(module: str) -> str:
    return (f"no module named {module!r} (looked on sys.path and in the current folder {os.getcwd()}); "
            "run from the folder that holds it or add its folder to PYTHONPATH")


def _entry_module(entry_point: Any) -> str | None:
    if isinstance(entry_point, str):
        return entry_point.partition(":")[0]
    return getattr(entry_point, "__module__", None)
