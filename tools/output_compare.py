"""Whether two printed outputs of a gallery script say the same thing: the one comparer.

The snapshot tests, the downloaded-script tests and ``make gpu-check`` all decide agreement
here. Two outputs agree when, line by line,

- the words are the same, once device names (``cpu``, ``cuda``, ``cuda:0``, and the
  ``device='cuda:0'`` argument of a tensor's repr) are masked and runs of spaces are one;
- each number equals its counterpart within the larger of one unit in its last printed digit
  (a value near a half-way point may round either way) and 1e-5 of the larger magnitude
  (float32 kernels that sum in another order);
- numbers followed by a unit of time (``ns``, ``us``, ``µs``, ``ms``, ``s``) are timings,
  which differ from run to run: they are skipped.
"""

from __future__ import annotations

import itertools
import re

RELATIVE_TOLERANCE = 1e-5

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


def lines(output: str) -> list[str]:
    """The non-empty lines of an output, normalised."""
    return [normalise(line) for line in output.splitlines() if line.strip()]


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


def differences(expected: str, actual: str) -> list[str]:
    """What differs between two outputs, one message per problem; empty when they agree."""
    problems = []
    for number, (left, right) in enumerate(itertools.zip_longest(lines(expected), lines(actual)), start=1):
        if right is None:
            problems.append(f"line {number}: missing {left!r}")
        elif left is None:
            problems.append(f"line {number}: unexpected {right!r}")
        elif NUMBER.sub("#", left) != NUMBER.sub("#", right):  # the wording differs
            problems.append(f"line {number}: expected {left!r}, got {right!r}")
        else:
            problems += [f"line {number}: {a} became {b} (allowed difference {allowance(a, b):.3g})"
                         for a, b in number_pairs(left, right) if not agree(a, b)]
    return problems
