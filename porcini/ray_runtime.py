"""Connecting to Ray (extra ``porcini[ray]``): one place that imports it and starts or joins a cluster.

Everything in porcini that runs on Ray (``porcini tune --backend ray``, ``porcini train --seeds --backend ray``,
``env.vectorization: ray``) calls :func:`ensure_ray` first. A Ray the caller already started is used as it is;
otherwise porcini joins the cluster at ``address`` (or Ray's own ``RAY_ADDRESS`` variable), or starts a local Ray
bound to 127.0.0.1 without the dashboard.

``ray.init`` installs a SIGTERM handler of Ray's in this process that exits at once; porcini puts the previous
handlers back, so a run in this process still stops on SIGTERM with a checkpoint
(:mod:`porcini.experiment.interrupt`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import ModuleType

from porcini.errors import missing_extra


def import_ray(what: str = "Ray") -> ModuleType:
    """Import ray, or raise MissingExtraError naming ``pip install "porcini[ray]"``.

    Args:
        what: the feature that needs Ray, for the message.
    """
    try:
        import ray
    except ImportError as err:
        raise missing_extra(what, "ray", err) from err
    return ray


def ensure_ray(address: str | None = None, what: str = "Ray") -> ModuleType:
    """Ray, initialized: the running instance, the cluster at ``address``, or a new local one.

    Args:
        address: a Ray cluster (``ray://host:10001`` or ``host:6379``); default ``RAY_ADDRESS`` if set, else a
            local Ray on this machine's cores, on 127.0.0.1, without dashboard.
        what: the feature that needs Ray, for the error when it is not installed.

    Returns:
        The ``ray`` module.
    """
    ray = import_ray(what)
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    with keeping_signal_handlers():
        if address is None:
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", configure_logging=False)
        else:
            ray.init(address=address, configure_logging=False)
    return ray


@contextlib.contextmanager
def keeping_signal_handlers() -> Iterator[None]:
    """Put this process's SIGINT and SIGTERM handlers back as they were after the block (around ``ray.init``)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread sets handlers, and Ray's init does not set them from another one
        return
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
