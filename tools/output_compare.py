"""Whether two printed outputs of a gallery script say the same thing: the one comparer.

The snapshot tests, the downloaded-script tests, the page doctests' ``+TOLERANT`` examples and
``make gpu-check`` all decide agreement here. Lines are compared once device names (``cpu``,
``cuda``, ``cuda:0``, and the ``device='cuda:0'`` argument of a tensor's repr) are masked,
numbers followed by a unit of time (``ns``, ``us``, ``µs``, ``ms``, ``s``) are blanked as
timings, and runs of spaces are one. Then a line is one of two kinds:

- *stable*, the default: the text must be exactly the same. A number that is a property of
  the example prints the same on every machine and under rounding noise.
- *tolerant*: a snapshot line that starts with :data:`TOLERANT_MARK` (``"~ "``), for a value
  printed at its dtype's full precision, such as the article's ``tensor(1337.7185)``. The
  words must be the same and each number must equal its counterpart within the larger of one
  unit in its last printed digit (a value near a half-way point may round either way) and
  1e-5 of the larger magnitude (float32 kernels that sum in another order).
"""

from __future__ import annotations

import itertools
import re

RELATIVE_TOLERANCE = 1e-5
#: The start of a snapshot line whose numbers are compared within :func:`allowance`.
TOLERANT_MARK = "~ "

#: A tensor's repr names every device but the CPU: ``tensor(5., device='cuda:0')``.
DEVICE_IN_REPR = re.compile(r",\s*device='[^']*'")
#: A device named in the wording: ``on cpu`` / ``on cuda:0``.
DEVICE_NAME = re.compile(r"\b(?:cpu|cuda(?::\d+)?)\b")
_NUMBER = r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
#: A printed number: sign, digits, decimals, exponent; not part of a word such as ``x2``.
NUMBER = re.compile(_NUMBER + r"(?![\w.])")
#: A number followed by a unit of time is a timing.
TIMING = re.compile(_NUMBER + r"\s*(?:ns|us|µs|ms|s)\b")


def normalise(line: str) -> str:
    """The line as any device would print it, timings blanked and spaces single."""
    line = DEVICE_NAME.sub("<device>", DEVICE_IN_REPR.sub("", line))
    return " ".join(TIMING.sub("<time>", line).split())


def words(line: str) -> str:
    """A normalised line with each number replaced by ``#``: what must agree on any line."""
    return NUMBER.sub("#", line)


def lines(output: str) -> list[str]:
    """The non-empty lines of an output, normalised, with any tolerant mark removed."""
    return [normalise(text) for _, text in marked_lines(output)]


def marked_lines(output: str) -> list[tuple[bool, str]]:
    """The non-empty lines of an output, each as (marked tolerant, the line without its mark)."""
    return [(line.startswith(TOLERANT_MARK), line.removeprefix(TOLERANT_MARK))
            for line in output.splitlines() if line.strip()]


def tolerant_count(snapshot: str) -> int:
    """How many lines of a snapshot are marked tolerant."""
    return sum(tolerant for tolerant, _ in marked_lines(snapshot))


def carry_marks(snapshot: str, output: str) -> str:
    """``output`` as a new snapshot: a line keeps the tolerant mark of the old ``snapshot``'s line
    at the same place when their words agree (``make snapshots`` re-records without losing them)."""
    old, index, new = marked_lines(snapshot), 0, []
    for line in output.rstrip().splitlines():
        if line.strip():
            tolerant, before = old[index] if index < len(old) else (False, "")
            same_words = words(normalise(before)) == words(normalise(line))
            line = TOLERANT_MARK + line if tolerant and same_words else line
            index += 1
        new.append(line)
    return "\n".join(new) + "\n"


def last_digit_unit(token: str) -> float:
    """The value of one unit in the last printed digit: 0.01 for ``'3.14'``, 1e-7 for ``'1.0e-6'``."""
    mantissa, _, exponent = token.lower().partition("e")
    return 10.0 ** (int(exponent or 0) - len(mantissa.partition(".")[2]))


def allowance(expected: str, actual: str) -> float:
    """How far two printed numbers may be apart and still agree."""
    a, b = float(expected), float(actual)
    return max(RELATIVE_TOLERANCE * max(abs(a), abs(b)), last_digit_unit(expected), last_digit_unit(actual))


def agree(expected: str, actual: str) -> bool:
    """Whether two printed numbers agree: the same text, or within :func:`allowance`."""
    # The slack absorbs the binary error of the subtraction: 0.1235 - 0.1234 > 1e-4 in floats.
    return expected == actual or abs(float(expected) - float(actual)) <= allowance(expected, actual) * (1 + 1e-9)


def number_pairs(expected: str, actual: str) -> list[tuple[str, str]]:
    """The printed numbers of two outputs, paired line by line and in order."""
    return [pair for left, right in zip(lines(expected), lines(actual))
            for pair in zip(NUMBER.findall(left), NUMBER.findall(right))]


def largest_difference(expected: str, actual: str) -> float:
    """The largest absolute difference between corresponding numbers of two agreeing outputs."""
    return max((abs(float(a) - float(b)) for a, b in number_pairs(expected, actual) if a != b), default=0.0)


def differences(expected: str, actual: str, tolerant: bool = False) -> list[str]:
    """What differs between two outputs, one message per problem; empty when they agree.

    ``expected`` is a snapshot: its marked lines (all, with ``tolerant=True``) are compared
    within :func:`allowance`, the others exactly.
    """
    problems = []
    pairs = itertools.zip_longest(marked_lines(expected), lines(actual))
    for number, (marked, right) in enumerate(pairs, start=1):
        is_tolerant, left = (tolerant or marked[0], normalise(marked[1])) if marked else (False, None)
        if right is None:
            problems.append(f"line {number}: missing {left!r}")
        elif left is None:
            problems.append(f"line {number}: unexpected {right!r}")
        elif not is_tolerant and left != right:
            problems.append(f"line {number}: expected {left!r}, got {right!r}")
        elif words(left) != words(right):
            problems.append(f"line {number}: expected {left!r}, got {right!r}")
        else:
            problems += [f"line {number}: {a} became {b} (allowed difference {allowance(a, b):.3g})"
                         for a, b in number_pairs(left, right) if not agree(a, b)]
    return problems
