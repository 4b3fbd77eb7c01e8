"""Timings belong in benchmarks/README.md with the script that reproduces them, not in porcini's source text."""

import re
from pathlib import Path

import porcini

PACKAGE = Path(porcini.__file__).parent
TIMING = re.compile(
    r"\d\s*(µs|us|ms)\b"  # a duration
    r"|\d\s*[x×]\s+(faster|slower|cheaper)"  # a speed ratio
    r"|\(measured|[Mm]easured on|measured:"  # a quoted measurement
)


def test_no_timings_in_docstrings_or_comments():
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if TIMING.search(line)
    ]
    assert found == []


def test_the_pattern_catches_the_figures_it_is_for():
    for text in ("(1.8x faster than one forward", "≈ 13 µs this way", "took 2.5 ms with", "(measured: ~7%",
                 "≈ 3× faster than", "costs ~0.1 us", "Measured on a 2-core machine"):
        assert TIMING.search(text), text
    for text in ("regret is measured exactly", "the baseline every task is measured against", "120 s per request"):
        assert not TIMING.search(text), text
