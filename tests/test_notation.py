"""One symbol, one meaning: pages and gallery scripts use the symbols of ``docs/notation.md``
as that page defines them.

What can be checked mechanically, sentence by sentence, in prose, math and code:

- **named symbols**: a symbol written right after the name of what it stands for ("the
  learning rate $\\gamma$", "weight decay :math:`\\lambda`") is the notation's symbol for
  that name;
- **lambda is a curvature**: a sentence that writes $\\lambda$ and speaks of weight decay, a
  penalty or L2 uses it for the decay's coefficient, which is $\\mathrm{wd}$;
- **v is PyTorch's buffer**: a momentum recursion ``X <- mu X + ...`` is written in $v$, the
  buffer of gradients (no learning rate inside), or in $u$, Sutskever's velocity (which
  holds the learning rate); no other letter, and no $v$ with the rate inside;
- **code**: ``weight_decay=``, ``lr=``, ``momentum=`` and ``dampening=`` given a bare name
  get a name that says what it holds, and a name like ``wd`` goes to ``weight_decay`` only.

Every symbol these rules rely on is in the notation table.
"""

from __future__ import annotations

import ast
import doctest
import re
from pathlib import Path

import pytest

from helpers import ROOT
import sgdlab_doctest  # noqa: F401  (registers the pages' +TOLERANT doctest flag)

NOTATION = ROOT / "docs" / "notation.md"
PAGES = sorted(p for p in (ROOT / "docs").rglob("*.md") if "auto_examples" not in p.parts)
SCRIPTS = sorted((ROOT / "examples").rglob("plot_*.py"))

#: A name, and the symbols (base letter, before any subscript) that may follow it.
NAMED = {
    r"learning[ -]rates?": {r"\eta", r"\text{lr}", "lr"},
    r"weight[ -]decay": {r"\mathrm{wd}", r"\text{wd}", "wd"},
    r"momentum": {r"\mu"},
    r"dampening": {r"\tau"},
    r"curvatures?": {r"\lambda"},
    r"condition number": {r"\kappa"},
    r"(?:momentum )?buffer": {"v"},
    r"velocity": {"u"},
}
#: The symbols of the rules, as notation.md's table writes them.
SYMBOLS = {r"\eta", r"\mu", r"\tau", r"\mathrm{wd}", "v", "u", r"\lambda", r"\kappa", "p", "g"}

MATH = r"(?:\$(?P<dollar>[^$]+)\$|:math:`(?P<rst>[^`]+)`)"
NAMED_SYMBOL = re.compile(
    r"\b(?P<name>" + "|".join(NAMED) + r")\s+(?:of\s+|coefficient\s+)?" + MATH, re.IGNORECASE
)
ONE_SYMBOL = re.compile(r"^\s*(?P<base>\\[a-z]+\{[a-z]+\}|\\[A-Za-z]+|[A-Za-z]{1,2})(?:_\S+)?\s*$")
LAMBDA = re.compile(r"\\lambda|λ")
DECAY_WORDS = re.compile(r"weight[ _-]decay|\bdecay\b|\bL2\b|penalt", re.IGNORECASE)
RECURSION = re.compile(
    r"(?P<lhs>\\?[A-Za-z]+)(?:_\{?t ?\+ ?1\}?|_\{?t\}?)?\s*(?:=|\\leftarrow)\s*\\mu\s*"
    r"(?:\\[,;:!]\s*)?(?P=lhs)(?![A-Za-z])(?P<rhs>(?:(?!,|;|\\qquad|\\quad|\\\\)[^$`])*)"
)
RATE = re.compile(r"\\eta|\\text\{lr\}|\blr\b")

#: Keyword arguments of the optimizers, and what a bare name given to each must look like.
KEYWORDS = {
    "weight_decay": re.compile(r"wd|decay", re.IGNORECASE),
    "lr": re.compile(r"lr|rate|eta", re.IGNORECASE),
    "momentum": re.compile(r"mu|momentum", re.IGNORECASE),
    "dampening": re.compile(r"tau|dampening|mu|momentum", re.IGNORECASE),
}
WD_NAME = re.compile(r"^(?:\w+_)?wd(?:_\w+)?$", re.IGNORECASE)


def prose(path: Path) -> str:
    """The text of a page, or a script's text with docstring escapes and comment marks undone."""
    text = path.read_text()
    if path.suffix == ".py":
        text = text.replace("\\\\", "\\")
        text = re.sub(r"^\s*# ?", "", text, flags=re.MULTILINE)
    return text


def sentences(text: str) -> list[str]:
    """Paragraphs joined into lines, then cut after each full stop, ! or ? before a space.

    Each row of a Markdown table is a paragraph of its own.
    """
    found = []
    text = re.sub(r"^(\s*\|.*)$", r"\n\1\n", text, flags=re.MULTILINE)
    for paragraph in re.split(r"\n\s*\n", text):
        joined = " ".join(line.strip() for line in paragraph.splitlines())
        found.extend(s for s in re.split(r"(?<=[.!?])\s+", joined) if s)
    return found


def math_of(match: re.Match) -> str:
    return match["dollar"] if match["dollar"] is not None else match["rst"]


def prose_findings(text: str) -> list[str]:
    """What breaks the notation in ``text``, one line per finding."""
    findings = []
    for sentence in sentences(text):
        for match in NAMED_SYMBOL.finditer(sentence):
            symbol = ONE_SYMBOL.match(math_of(match))
            if symbol is None:
                continue  # a value or a formula, not a symbol
            allowed = next(v for k, v in NAMED.items() if re.fullmatch(k, match["name"], re.I))
            if symbol["base"] not in allowed:
                findings.append(
                    f"{match['name']} written {symbol['base']}, not {' or '.join(sorted(allowed))}:"
                    f" {sentence[:120]}"
                )
        if LAMBDA.search(sentence) and DECAY_WORDS.search(sentence):
            findings.append(f"lambda is a curvature, weight decay is wd: {sentence[:120]}")
        for match in RECURSION.finditer(sentence):
            lhs, rhs = match["lhs"], match["rhs"]
            if lhs not in {"v", "u"}:
                findings.append(f"a momentum recursion in {lhs}, not v (or u): {sentence[:120]}")
            elif lhs == "v" and RATE.search(rhs):
                findings.append(
                    f"v is the buffer of gradients; a velocity holding the rate is u: {sentence[:120]}"
                )
    return findings


def code_of(path: Path) -> list[str]:
    """A script's source, or the source of each ``>>>`` example of a page."""
    if path.suffix == ".py":
        return [path.read_text()]
    parser = doctest.DocTestParser()
    return [example.source for example in parser.get_examples(path.read_text())]


def code_findings(sources: list[str]) -> list[str]:
    findings = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # a doctest line that only makes sense with the ones around it
        for node in ast.walk(tree):
            if not isinstance(node, ast.keyword) or not isinstance(node.value, ast.Name):
                continue
            name = node.value.id
            if node.arg in KEYWORDS and not KEYWORDS[node.arg].search(name):
                findings.append(f"{node.arg}={name}: the name does not say it is the {node.arg}")
            if WD_NAME.match(name) and node.arg != "weight_decay":
                findings.append(f"{node.arg}={name}: wd is the weight decay")
    return findings


def test_named_symbols_are_checked():
    bad = "One step with learning rate $\\gamma$ and momentum $\\mu$ goes through four stages."
    assert prose_findings(bad) == [
        "learning rate written \\gamma, not \\eta or \\text{lr} or lr: " + bad
    ]
    assert prose_findings("The learning rate $\\eta$ and momentum $0.9$ are set once.") == []


def test_lambda_for_weight_decay_is_found():
    assert prose_findings("Coupled decay adds :math:`\\lambda p` to the gradient.")
    assert prose_findings("Weight decay $\\mathrm{wd}$ pulls p to 0; curvature $\\lambda$.")
    assert not prose_findings("The bound is $2/\\lambda$. Weight decay $\\mathrm{wd}$ is coupled.")


def test_a_table_row_is_a_sentence():
    table = "| `lr` | bound $2/\\lambda$ |\n| `weight_decay` | pulls to 0 |\n"
    assert prose_findings(table) == []


def test_a_buffer_with_the_rate_inside_is_found():
    assert prose_findings("Sutskever: $v_{t+1} = \\mu v_t + \\eta\\, g_t$.")
    assert prose_findings("Adam keeps $m \\leftarrow \\mu m + g$.")
    assert prose_findings("From the second step on $$b \\leftarrow \\mu\\,b + (1 - \\tau)\\,g$$")
    assert not prose_findings("PyTorch: $v \\leftarrow \\mu v + g$; Sutskever: $u = \\mu u + \\eta g$.")
    assert not prose_findings("$$v_{t+1} = \\mu v_t + g_t, \\qquad p_{t+1} = p_t - \\eta\\, v_{t+1}$$")


def test_code_names_are_checked():
    assert code_findings(["torch.optim.SGD(ps, lr=wd, weight_decay=lam)"]) == [
        "lr=wd: the name does not say it is the lr",
        "lr=wd: wd is the weight decay",
        "weight_decay=lam: the name does not say it is the weight_decay",
    ]
    assert code_findings(["torch.optim.SGD(ps, lr=LR, momentum=MU, weight_decay=WD)"]) == []


def test_the_notation_page_defines_every_symbol_the_rules_use():
    first_column = re.findall(r"^\|\s*\$([^$]+)\$", NOTATION.read_text(), flags=re.MULTILINE)
    assert SYMBOLS <= set(first_column), SYMBOLS - set(first_column)


#: Files known to break the notation, and why they are not fixed yet: each is an expected
#: failure that must fail (strict), so fixing it means removing it from here.
KNOWN: dict[str, str] = {}


def _cases():
    for path in PAGES + SCRIPTS:
        name = str(path.relative_to(ROOT))
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN[name])] if name in KNOWN else []
        yield pytest.param(path, marks=marks, id=name)


@pytest.mark.parametrize("path", list(_cases()))
def test_symbols_keep_their_meaning(path):
    findings = [] if path == NOTATION else prose_findings(prose(path))
    findings += code_findings(code_of(path))
    assert not findings, f"{path.relative_to(ROOT)}:\n" + "\n".join(findings)
