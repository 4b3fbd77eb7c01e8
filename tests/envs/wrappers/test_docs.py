"""docs/wrappers.md stays true: every exported wrapper has a row, and every one-line example runs."""

import re
from pathlib import Path

import numpy as np
import pytest

import porcini.envs.wrappers as wrappers
from porcini import make_env  # noqa: F401  (used by the examples)

DOC = Path(__file__).resolve().parents[3] / "docs" / "wrappers.md"
ROWS = re.findall(r"^\| `(\w+)` \| [^|]+ \| `(.+)` \|$", DOC.read_text(), re.M)


def test_every_exported_wrapper_has_a_row():
    documented = {name for name, _ in ROWS}
    classes = {name for name in wrappers.__all__ if isinstance(getattr(wrappers, name), type)}  # not the helpers
    assert classes - {"RunningMeanStd"} <= documented


@pytest.mark.parametrize(("name", "code"), ROWS, ids=[name for name, _ in ROWS])
def test_one_line_example_runs(name, code, tmp_path, monkeypatch):
    code = code.split("  #")[0]
    if code.startswith("Curriculum(env"):
        pytest.skip("a fragment of a call, not a whole example")
    if name == "RecordVideo":
        pytest.importorskip("pygame")
    if "ALE/" in code or name in ("GrayscaleResize", "NatureAtari"):
        pytest.importorskip("ale_py", reason='the atari extra is not installed: pip install "porcini[atari]"')
        pytest.importorskip("cv2", reason='the atari extra is not installed: pip install "porcini[atari]"')
    monkeypatch.chdir(tmp_path)
    env = eval(code, {"make_env": make_env, "np": np, **vars(wrappers)})
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.close()


def test_shared_statistics_snippet_runs():
    block = re.search(r"```python\n(train = make_env.*?)```", DOC.read_text(), re.S).group(1)
    namespace = {"make_env": make_env, **vars(wrappers)}
    exec(block, namespace)
    eval_env = namespace["train"].spawn(2, 100)
    eval_env.share_statistics(namespace["train"])
    assert eval_env.stats is namespace["train"].stats and namespace["eval_env"].frozen
