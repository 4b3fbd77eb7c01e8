"""The README's commands, run in order as a new user runs them: the quick start's train, then the workflow block.

Step counts are cut down (training, evaluation episodes); everything else, including the shell globs, is the
README's own text, so a README command that stops working fails here.
"""

import glob
import json
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from porcini.experiment.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
# what each command gets instead of the README's long runs
SHORT = {"train": ["--steps", "2000", "--set", "steps_per_epoch=1000", "--set", "eval_episodes=2", "--no-progress"],
         "eval": ["--episodes", "2"], "resume": ["--steps", "3000", "--no-progress"]}


def bash_block(section: str) -> str:
    """The first ```bash block after the heading that starts with ``section``."""
    text = README.read_text()
    start = text.index(f"\n{section}")
    match = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    assert match, f"no bash block under {section!r} in README.md"
    return match.group(1)


def porcini_commands(block: str) -> list[list[str]]:
    """The arguments of each ``porcini ...`` command of a block (after the last ``&&`` of a line)."""
    commands = []
    for line in block.splitlines():
        words = shlex.split(line.split("&&")[-1], comments=True)
        if words:
            assert words[0] == "porcini", f"README command {line!r} is not a porcini command"
            commands.append(words[1:])
    return commands


def expanded(args: list[str]) -> list[str]:
    """``args`` with shell globs expanded as bash does (sorted; a glob that matches nothing stays as written)."""
    out = []
    for word in args:
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else []
        out.extend(matches or [word])
    return out


def shortened(args: list[str]) -> list[str]:
    """``args`` with ``--steps``/``--episodes`` dropped and the short settings of its command appended."""
    out, skip = [], False
    for word in args:
        if skip:
            skip = False
        elif word in ("--steps", "--episodes"):
            skip = True
        else:
            out.append(word)
    return out + SHORT.get(args[0], [])


def test_the_readme_quick_start_and_workflow_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    quick_start = porcini_commands(bash_block("## Quick start"))
    assert quick_start == [["train", "ppo", "CartPole-v1"]]
    workflow = porcini_commands(bash_block("## The workflow"))
    assert [c[0] for c in workflow] == ["train", "plot", "eval", "inspect", "resume"]
    runner = CliRunner()
    for args in quick_start + workflow:
        # globs match what the commands before made, so each is expanded only when its turn comes
        result = runner.invoke(main, shortened(expanded(args)), catch_exceptions=False)
        assert result.exit_code == 0, f"porcini {' '.join(args)} failed:\n{result.output}"
    assert len(list(Path("runs").glob("ppo-CartPole-v1-s*"))) >= 3  # the quick start's seed and the workflow's
    latest = sorted(Path("runs").glob("ppo-CartPole-v1-s0-*"))[-1]
    assert list((latest / "videos").iterdir()) and (latest / "inspect.png").exists()
    assert json.loads((latest / "summary.json").read_text())["env_steps"] == 3000
    assert Path("ppo.png").exists()


def test_readme_and_docs_link_only_files_of_the_repository():
    root = README.parent
    for page in [README, *sorted((root / "docs").glob("*.md"))]:
        text = page.read_text()
        assert "../shared" not in text and "DESIGN.md" not in text, f"{page.name} points outside the repository"
        for target in re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", text):
            assert (page.parent / target).is_file(), f"{page.name} links {target}, which does not exist"
    assert "(docs/architecture.md)" in README.read_text()
