"""Every ``>>>`` line in the pages sits in a ``{doctest}`` block, where Sphinx runs it.

Sphinx's doctest builder ignores a ``>>>`` in a plain ``python`` fence, so such a line would
look tested on the page while nothing checks it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import ROOT

FENCE = re.compile(r"^(?P<marks>`{3,}|~{3,}|:{3,})\s*(?P<info>\{[^}]*\}|\S*)")


def untested_prompts(text: str) -> list[int]:
    """Line numbers of ``>>>`` lines outside a ``{doctest}`` fence."""
    found, stack = [], []
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line.strip())
        if match:
            marks, info = match["marks"], match["info"]
            if stack and not info and marks[0] == stack[-1][0][0] and len(marks) >= len(stack[-1][0]):
                stack.pop()
            elif info or not stack:
                stack.append((marks, info))
            continue
        if line.lstrip().startswith(">>>") and not any(info == "{doctest}" for _, info in stack):
            found.append(number)
    return found


PAGES = [p for p in (ROOT / "docs").rglob("*.md") if "auto_examples" not in p.parts]


def test_guard_finds_a_prompt_in_a_python_fence():
    page = "```python\n>>> 1 + 1\n2\n```\n\n```{doctest}\n>>> 1 + 1\n2\n```\n"
    assert untested_prompts(page) == [2]


def test_guard_accepts_a_doctest_inside_a_note():
    page = ":::{note}\n```{doctest}\n>>> 1 + 1\n2\n```\n:::\n"
    assert untested_prompts(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_every_prompt_on_a_page_is_doctested(page):
    lines = untested_prompts(page.read_text())
    assert not lines, f"{page}: '>>>' outside a {{doctest}} block on line(s) {lines}"
