"""Every ```python and ```bash block of docs/ runs, and every script of examples/ runs, with small budgets.

One test per page (its id is the page's path under docs/), one per script of examples/. A failing block reports the
page and the line of its fence. The rules a page follows:

* The blocks of a page run in order, in one namespace per page, in a fresh temporary working directory (``runs/``
  and every file a block writes land there). Fences other than ```python and ```bash do not run.
* ``<!-- skip-run: REASON -->`` on the line just before a fence: the block does not run. The reason is required.
* A ```python block whose first line is ``# NAME.py`` is a file the reader saves: it is written to the working
  directory (importable from there), not run. So is a ```yaml block whose first line is ``# NAME.yaml`` (a search
  space, a config file); other ```yaml blocks do not run.
* A ```bash block runs line by line (``\\`` continues a line, ``&&`` chains commands, ``#`` starts a comment):
  ``porcini ...`` and ``python -m porcini ...`` go through the CLI in this process (click's ``CliRunner``) and
  must exit 0; ``python SCRIPT ...`` runs in a subprocess (``examples/...`` from the repository, with
  ``--smoke``); ``export NAME=value`` and ``NAME=value command`` set the environment; install, server and shell
  navigation commands (``pip``, ``tensorboard``, ``mlflow``, ``git``, ``cd``, ...) are skipped; any other
  command fails the page (mark its block ``skip-run``). Globs expand against the working directory, sorted, as
  bash does, and ``<stamp>`` stands for a run directory's time stamp (``*``).
* A block that needs an optional extra that is not installed skips the rest of its page, naming the extra.

Budgets. Pages write the budgets that read naturally; python blocks are written small (a few thousand steps).
Commands keep their real budgets and are cut here, so every ``porcini`` line runs in seconds:

* ``train``: ``--steps`` becomes ``min(N, 400)`` (added when absent; ``--set steps=N`` likewise), as does
  ``--offline-steps`` (when present),
  ``steps_per_epoch`` at most 200, ``eval_episodes`` at most 2 (both added as ``--set`` when absent), and
  ``--seeds A-B`` trains its first 2 seeds, one after the other in this process (a spawned process per seed costs
  seconds of imports); ``resume``: ``--steps N`` becomes ``min(N, S + 200)``, ``S`` the ``steps`` in the run's
  ``config.yaml`` (so a resume still extends the cut run, and one to fewer steps than it has still fails);
  ``eval``: ``--episodes`` at most 2; ``tune``: ``--steps``, ``steps_per_epoch`` and ``eval_episodes`` as
  ``train``, ``--trials`` at most 2, ``--seeds``, ``--report-seeds`` (added when absent) and ``--jobs`` at most 1,
  ``--pbt-interval`` at most 200 (two rounds of the cut steps).
* ``python examples/X.py`` gets ``--smoke`` (every example takes it: a few hundred steps, learning nothing).
"""

from __future__ import annotations

import glob
import importlib
import os
import re
import runpy
import shlex
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import yaml
from click.testing import CliRunner

from porcini.errors import MissingExtraError
from porcini.experiment.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
PAGES = sorted(DOCS.rglob("*.md"))
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

TRAIN_STEPS, RESUME_STEPS, STEPS_PER_EPOCH, EVAL_EPISODES, SEEDS = 400, 200, 200, 2, 2
TUNE_TRIALS = 2
SKIPPED_PROGRAMS = {"pip", "pip3", "uv", "conda", "tensorboard", "mlflow", "git", "cd", "nvidia-smi", "open",
                    "xdg-open"}
# third-party modules of porcini's optional extras: a page that needs a missing one is skipped, not failed
OPTIONAL_MODULES = {"ale_py", "cv2", "minigrid", "mlflow", "tensorboard", "matplotlib", "imageio", "imageio_ffmpeg",
                    "sklearn", "mujoco", "dm_control", "shimmy", "pettingzoo", "stable_baselines3", "sb3_contrib",
                    "pygame", "scipy", "optuna"}
SKIP_MARK = re.compile(r"^<!--\s*skip-run:(.*?)-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    """One fenced block of a page: its language, the line of its opening fence, its text and skip reason."""

    language: str
    line: int
    text: str
    skip: str | None


def page_blocks(page: Path) -> list[Block]:
    """The ```python and ```bash blocks of ``page`` in order, with the skip-run reason on the line before each."""
    lines = page.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = next((j for j in range(index + 1, len(lines)) if lines[j].startswith("```")), len(lines))
        skip = None
        mark = SKIP_MARK.match(lines[index - 1].strip()) if index else None
        if mark:
            skip = mark.group(1).strip()
            assert skip, f"{page.relative_to(ROOT)}:{index + 1}: skip-run needs a reason: <!-- skip-run: why -->"
        saved_yaml = opening.group(1) == "yaml" and re.match(r"# [\w/.-]+\.ya?ml$", lines[index + 1] if
                                                              index + 1 < len(lines) else "")
        if opening.group(1) in ("python", "bash") or saved_yaml:
            blocks.append(Block(opening.group(1), index + 1, "\n".join(lines[index + 1:end]) + "\n", skip))
        index = end + 1
    return blocks


def optional_module_missing(error: BaseException) -> str | None:
    """The extra or module a block lacked, if ``error`` says an optional one is not installed."""
    if isinstance(error, MissingExtraError):
        return str(error)
    if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] in OPTIONAL_MODULES:
        return f"module {error.name} is not installed"
    return None


def capped(value: str, limit: int) -> str:
    return str(min(int(value), limit)) if value.isdigit() else value


def set_value(args: list[str], key: str, limit: int) -> list[str]:
    """``args`` with every ``--set key=N`` cut to ``limit``, and one added when there is none."""
    out, found = [], False
    for i, word in enumerate(args):
        if i and args[i - 1] == "--set" and word.startswith(f"{key}="):
            found, word = True, f"{key}={capped(word.split('=', 1)[1], limit)}"
        out.append(word)
    return out if found else [*out, "--set", f"{key}={limit}"]


def option_value(args: list[str], option: str, limit: int, add: bool) -> list[str]:
    """``args`` with ``option N`` (or ``option=N``) cut to ``limit``; added when absent and ``add``."""
    out, found = [], False
    for i, word in enumerate(args):
        if i and args[i - 1] == option:
            found, word = True, capped(word, limit)
        elif word.startswith(f"{option}="):
            found, word = True, f"{option}={capped(word.split('=', 1)[1], limit)}"
        out.append(word)
    return out if found or not add else [*out, option, str(limit)]


def small_budget(args: list[str]) -> list[list[str]]:
    """The CLI calls that stand for ``porcini ARGS`` under the budget rule of this module (several for --seeds)."""
    command = args[0] if args else ""
    if command == "train":
        args = option_value(args, "--steps", TRAIN_STEPS, add=True)
        args = option_value(args, "--offline-steps", TRAIN_STEPS, add=False)
        args = set_value(args, "steps", TRAIN_STEPS) if any(w.startswith("steps=") for w in args) else args
        args = set_value(set_value(args, "steps_per_epoch", STEPS_PER_EPOCH), "eval_episodes", EVAL_EPISODES)
        if "--seeds" in args:
            at = args.index("--seeds")
            from porcini.experiment.cli import parse_seeds

            seeds = parse_seeds(args[at + 1])[:SEEDS]
            rest = args[:at] + args[at + 2:]
            return [[*rest, "--seed", str(seed)] for seed in seeds]
    elif command == "resume":
        args = option_value(args, "--steps", run_steps(args) + RESUME_STEPS, add=False)
    elif command == "eval":
        args = option_value(args, "--episodes", EVAL_EPISODES, add=False)
    elif command == "tune":
        args = option_value(args, "--steps", TRAIN_STEPS, add=True)
        args = set_value(set_value(args, "steps_per_epoch", STEPS_PER_EPOCH), "eval_episodes", EVAL_EPISODES)
        args = option_value(option_value(args, "--trials", TUNE_TRIALS, add=True), "--seeds", 1, add=False)
        args = option_value(option_value(args, "--report-seeds", 1, add=True), "--jobs", 1, add=False)
        args = option_value(args, "--pbt-interval", TRAIN_STEPS // 2, add=False)
    return [args]


def run_steps(args: list[str]) -> int:
    """The ``steps`` of the run a ``resume`` names (the latest of its directories, as porcini picks it)."""
    folders = sorted(Path(word) for word in args[1:] if (Path(word) / "config.yaml").is_file())
    if not folders:
        return 0
    return int(yaml.safe_load((folders[-1] / "config.yaml").read_text())["steps"])


def expanded(words: list[str]) -> list[str]:
    """``words`` with ``<stamp>`` as ``*`` and globs expanded against the working directory, as bash does."""
    out = []
    for word in (w.replace("<stamp>", "*") for w in words):
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else []
        out.extend(matches or [word])
    return out


def command_lines(text: str) -> list[str]:
    """The commands of a bash block: continuations joined, ``&&`` split, comments and blank lines dropped."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        for part in line.split("&&"):
            if shlex.split(part, comments=True):
                commands.append(part.strip())
    return commands


class PageRun:
    """Runs the blocks of one page in its working directory, keeping its namespace and environment."""

    def __init__(self, page: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.page, self.folder, self.monkeypatch = page, folder, monkeypatch
        self.name = str(page.relative_to(ROOT))
        self.namespace: dict[str, Any] = {"__name__": "__main__"}
        self.modules: list[str] = []  # files the page had the reader save, importable as modules
        self.skipped: list[str] = []

    def fail(self, block: Block, what: str) -> None:
        pytest.fail(f"{self.name}:{block.line}: {what}", pytrace=False)

    def run(self, block: Block) -> None:
        if block.skip is not None:
            self.skipped.append(f"{self.name}:{block.line} ({block.skip})")
        elif block.language == "python":
            self.run_python(block)
        elif block.language == "yaml":  # a file the reader saves (page_blocks keeps only those)
            (self.folder / block.text.split("\n", 1)[0][2:].strip()).write_text(block.text)
        else:
            for command in command_lines(block.text):
                self.run_command(block, command)

    def run_python(self, block: Block) -> None:
        saved = re.match(r"# ([\w/]+)\.py\n", block.text)
        if saved:
            (self.folder / f"{saved.group(1)}.py").write_text(block.text)
            self.modules.append(saved.group(1).replace("/", "."))
            return
        # padded so that tracebacks name the page's own line numbers
        code = compile("\n" * block.line + block.text, str(self.page), "exec")
        try:
            exec(code, self.namespace)
            return
        except Exception as error:
            failure = error
        self.skip_if_optional(block, failure)
        frames = traceback.format_tb(failure.__traceback__)[1:]  # from the page on, without this harness's exec
        self.fail(block, "python block failed:\n" + "".join(frames + traceback.format_exception_only(failure)))

    def skip_if_optional(self, block: Block, error: BaseException) -> None:
        missing = optional_module_missing(error)
        if missing:
            pytest.skip(f"{self.name}:{block.line}: {missing}")

    def run_command(self, block: Block, command: str) -> None:
        words = shlex.split(command, comments=True)
        env = {}
        while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
            key, value = words.pop(0).split("=", 1)
            env[key] = value
        if not words or words[0] == "export":
            for key, value in [*env.items(), *(word.split("=", 1) for word in words[1:])]:
                self.monkeypatch.setenv(key, value)
            return
        if words[:3] == ["python", "-m", "porcini"]:
            words = ["porcini", *words[3:]]
        if words[:1] == ["porcini"]:
            for args in small_budget(expanded(words[1:])):
                self.run_cli(block, command, args, env)
        elif words[:1] in (["python"], ["python3"]):
            self.run_python_process(block, command, expanded(words[1:]), env)
        elif words[0] in SKIPPED_PROGRAMS:
            self.skipped.append(f"{self.name}:{block.line} `{command}` (not run here)")
        else:
            self.fail(block, f"`{command}`: the harness runs porcini and python commands only; mark the block "
                             "<!-- skip-run: reason --> or extend tests/test_docs_executed.py")

    def run_cli(self, block: Block, command: str, args: list[str], env: dict[str, str]) -> None:
        self.forget_modules()  # each command is a new process: the CLI must import the page's modules itself
        result = CliRunner().invoke(main, args, env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            self.skip_if_optional(block, result.exception)
        if result.exit_code == 2 and "optional extra" in result.output and "is not installed" in result.output:
            pytest.skip(f"{self.name}:{block.line}: {result.output.strip()}")  # porcini's MissingExtraError line
        if result.exit_code != 0:
            error = "".join(traceback.format_exception(result.exception)) if result.exception else ""
            self.fail(block, f"`{command}` (run as `porcini {shlex.join(args)}`) exited {result.exit_code}:\n"
                             f"{result.output}{error}")

    def run_python_process(self, block: Block, command: str, args: list[str], env: dict[str, str]) -> None:
        if args and args[0].startswith("examples/"):
            args = [str(ROOT / args[0]), *args[1:], "--smoke"]
        python_path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        result = subprocess.run([sys.executable, *args], cwd=self.folder, capture_output=True, text=True,
                                timeout=300, env={**os.environ, "PYTHONPATH": python_path, **env})
        if result.returncode != 0:
            self.fail(block, f"`{command}` exited {result.returncode}:\n{result.stdout}{result.stderr}")

    def forget_modules(self) -> None:
        """Undo the imports of the page's saved modules (and the env ids they registered)."""
        for name in self.modules:
            sys.modules.pop(name, None)
            for env_id in [k for k, spec in gym.registry.items() if str(spec.entry_point).startswith(f"{name}:")]:
                del gym.registry[env_id]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_every_block_of_the_page_runs(page, tmp_path, monkeypatch, record_property):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run = PageRun(page, tmp_path, monkeypatch)
    try:
        for block in page_blocks(page):
            run.run(block)
    finally:
        run.forget_modules()
        importlib.invalidate_caches()
    record_property("skipped_blocks", run.skipped)


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_the_example_runs_with_smoke(script, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(sys, "argv", [str(script), "--smoke"])
    runpy.run_path(str(script), run_name="__main__")


def test_the_budget_rule_cuts_commands():
    assert small_budget(["train", "sac", "Pendulum-v1", "--seeds", "0-4", "--set", "eval_episodes=10"]) == [
        ["train", "sac", "Pendulum-v1", "--set", "eval_episodes=2", "--steps", "400", "--set", "steps_per_epoch=200",
         "--seed", str(seed)] for seed in (0, 1)]
    assert small_budget(["train", "ppo", "CartPole-v1", "--steps", "300", "--set", "steps_per_epoch=100"]) == [
        ["train", "ppo", "CartPole-v1", "--steps", "300", "--set", "steps_per_epoch=100", "--set", "eval_episodes=2"]]
    assert small_budget(["eval", "runs/x", "--episodes", "20"]) == [["eval", "runs/x", "--episodes", "2"]]


def test_the_budget_rule_cuts_tunes():
    assert small_budget(["tune", "ppo", "CartPole-v1", "--space", "s.yaml", "--trials", "50", "--seeds", "3",
                         "--jobs", "2"]) == [
        ["tune", "ppo", "CartPole-v1", "--space", "s.yaml", "--trials", "2", "--seeds", "1", "--jobs", "1", "--steps",
         "400", "--set", "steps_per_epoch=200", "--set", "eval_episodes=2", "--report-seeds", "1"]]


def test_a_yaml_block_named_as_a_file_is_saved(tmp_path, monkeypatch):
    text = "```yaml\n# space.yaml\nlr: {choice: [1]}\n```\n\n```yaml\nnot: saved\n```\n"
    monkeypatch.setattr(Path, "read_text", lambda self, *args, **kwargs: text)
    blocks = page_blocks(DOCS / "any.md")
    monkeypatch.undo()
    assert [(b.language, b.line) for b in blocks] == [("yaml", 1)]
    PageRun(DOCS / "any.md", tmp_path, monkeypatch).run(blocks[0])
    assert (tmp_path / "space.yaml").read_text() == "# space.yaml\nlr: {choice: [1]}\n"


def test_resume_extends_the_run_it_names(tmp_path):
    (tmp_path / "config.yaml").write_text("steps: 400\n")
    assert small_budget(["resume", str(tmp_path), "--steps", "200000"]) == [["resume", str(tmp_path), "--steps", "600"]]
    assert small_budget(["resume", str(tmp_path), "--steps", "300"]) == [["resume", str(tmp_path), "--steps", "300"]]


def test_a_failing_block_names_its_page_and_line(tmp_path, monkeypatch):
    page = DOCS / "a-page-for-this-test.md"  # a path under docs/, never written: only its text is read
    text = ("# A page\n\n<!-- skip-run: shows a skip -->\n```python\nraise RuntimeError\n```\n\n```python\n"
            "x = 1\n```\n\n```bash\nporcini train ppo CartPole-v1 --set learning_rat=1\n```\n")
    monkeypatch.setattr(Path, "read_text", lambda self, *args, **kwargs: text)
    blocks = page_blocks(page)
    assert [(b.language, b.line, b.skip) for b in blocks] == [("python", 4, "shows a skip"), ("python", 8, None),
                                                              ("bash", 12, None)]
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    run = PageRun(page, tmp_path, monkeypatch)
    run.run(blocks[0])
    run.run(blocks[1])
    assert run.namespace["x"] == 1 and run.skipped == ["docs/a-page-for-this-test.md:4 (shows a skip)"]
    with pytest.raises(pytest.fail.Exception, match=r"docs/a-page-for-this-test.md:12: `porcini train .*exited 2"):
        run.run(blocks[2])


def test_skip_run_needs_a_reason(monkeypatch):
    monkeypatch.setattr(Path, "read_text", lambda self, *args, **kwargs: "<!-- skip-run: -->\n```bash\nls\n```\n")
    with pytest.raises(AssertionError, match="skip-run needs a reason"):
        page_blocks(DOCS / "any.md")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_links_between_pages_stay_inside_docs(page):
    for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
        linked = (page.parent / target).resolve()
        assert linked.is_file(), f"{page.relative_to(ROOT)} links {target}, which does not exist"
        assert DOCS in linked.parents, f"{page.relative_to(ROOT)} links {target}, outside docs/"
