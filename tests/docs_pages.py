"""The README and the pages under docs/, read by the tests that run their code blocks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def page(name: str) -> str:
    """The Markdown source of ``docs/<name>``, or of the README for ``"README.md"``."""
    return (README if name == "README.md" else DOCS / name).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The part of ``text`` under the Markdown heading ``heading`` (of any level), up to
    the next heading of the same or a higher level; lines in code blocks are no headings."""
    lines = text.splitlines(keepends=True)
    level, start, fenced = 0, -1, False
    for number, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"(#+) (.*)\n", line)
        if match is None:
            continue
        if start < 0 and match.group(2) == heading:
            level, start = len(match.group(1)), number
        elif start >= 0 and len(match.group(1)) <= level:
            return "".join(lines[start:number])
    assert start >= 0, f"no heading {heading!r}"
    return "".join(lines[start:])


def code_block(text: str, language: str = "python", containing: str = "") -> str:
    """The first ``language`` code block of ``text`` that contains ``containing``."""
    for block in re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL):
        if containing in block:
            return str(block)
    raise AssertionError(f"no {language} code block with {containing!r}")
