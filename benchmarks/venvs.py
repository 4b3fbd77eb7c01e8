"""Virtual environments for peer libraries whose pins conflict with porcini's environment.

A peer that pins another Gymnasium, NumPy or torch than this interpreter has runs in its own virtual environment
under ``benchmarks/.venvs/``, made once by :func:`ensure_venv`: ``python -m venv``, then this interpreter's torch
version *first* (``pip install torch==X``: a CPU build here; a bare torch requirement could pull a multi-GB CUDA
build), then the peer's ``pip install`` steps, through pip's own configuration. A marker file written at the end
says the venv is complete; an interrupted build is redone on the next call.

:func:`pip_changes` asks pip (``--dry-run --report``) which installed packages a requirement would replace in an
interpreter: an empty answer means the peer could share it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PIP_FLAGS = ("--quiet", "--disable-pip-version-check")


def torch_version() -> str:
    """This interpreter's torch version without its local tag (``2.13.0+cpu`` -> ``2.13.0``)."""
    import torch

    return str(torch.__version__).split("+")[0]


def ensure_venv(venv: Path, tag: str, steps: list[list[str]]) -> Path:
    """The python of the virtual environment ``venv``, made once: torch first, then each ``pip install`` step.

    Args:
        venv: where the environment lives (created if missing).
        tag: names the marker file ``.{tag}-ready`` that says the environment is complete, e.g. ``d3rlpy-2.8.1``.
        steps: the arguments of each ``pip install`` after torch, in order, e.g. ``[["d3rlpy==2.8.1"]]`` or
            ``[["--no-deps", "mbrl==0.2.0"], ["hydra-core==1.3.2"]]``.

    Returns:
        The path of the environment's ``bin/python``.
    """
    python = venv / "bin" / "python"
    ready = venv / f".{tag}-ready"
    if ready.exists():
        return python
    torch_pin = f"torch=={torch_version()}"
    listed = "; ".join(" ".join(step) for step in steps)
    print(f"creating {venv}: {torch_pin}, then {listed} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", *PIP_FLAGS]
    subprocess.run([*pip, torch_pin], check=True)  # first: a bare torch requirement could pull a CUDA build
    for step in steps:
        subprocess.run([*pip, *step], check=True)
    ready.write_text("\n".join([torch_pin, *(" ".join(step) for step in steps)]) + "\n")
    return python


def pip_changes(requirements: list[str]) -> dict[str, tuple[str, str]]:
    """Installed packages that ``pip install REQUIREMENTS`` would replace in this interpreter: name -> (now, then).

    Asks pip's resolver (``--dry-run --report``, nothing installed); packages new to ``python`` are not listed.
    """
    from importlib import metadata

    command = [sys.executable, "-m", "pip", "install", *PIP_FLAGS, "--dry-run", "--report", "-", *requirements]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    changes = {}
    for item in report.get("install", []):
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if installed != version:
            changes[name] = (installed, version)
    return changes
