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

>>> differences("x = 1.2345 after 3 steps", "x = 1.2346 after 3 steps")
[]
>>> differences("x = 1.2345", "x = 1.2350")
['line 1: 1.2345 became 1.2350 (allowed difference 0.0001)']
>>> differences("Running on cpu, 12.5 ms", "Running on cuda:0, 3.1 ms")
[]
"""

from __future__ import annotations

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
    line = TIMING.sub("<time>", line)
    return " ".join(line.split())


def template(line: str) -> str:
    """The wording of a normalised line: its numbers replaced by ``#``."""
    return NUMBER.sub("#", line)


def last_digit_unit(token: str) -> float:
    """The value of one unit in the last printed digit: 0.01 for ``'3.14'``, 1e-7 for ``'1.0e-6'``."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def allowance(expected: str, actual: str) -> float:
    """How far two printed numbers may be apart and still agree."""
    a, b = float(expected), float(actual)
    return max(RELATIVE_TOLERANCE * max(abs(a), abs(b)), last_digit_unit(expected), last_digit_unit(actual))


def agree(expected: str, actual: str) -> bool:
    """Whether two printed numbers agree: the same text, or within :func:`allowance`.

    >>> agree("0.1", "0.2"), agree("0.1", "0.3"), agree("1.19e-07", "2.38e-07"), agree("nan", "nan")
    (True, False, False, True)
    """
    if expected == actual:
        return True
    # The slack absorbs the binary error of the subtraction: 0.1235 - 0.1234 > 1e-4 in floats.
    return abs(float(expected) - float(actual)) <= allowance(expected, actual) * (1 + 1e-9)


def number_differences(expected: str, actual: str) -> list[tuple[str, str, float]]:
    """The pairs of numbers of two lines of the same wording that do not agree."""
    return [
        (a, b, allowance(a, b))
        for a, b in zip(NUMBER.findall(expected), NUMBER.findall(actual))
        if not agree(a, b)
    ]


def largest_difference(expected: str, actual: str) -> float:
    """The largest absolute difference between corresponding numbers of two agreeing outputs."""
    pairs = [
        (float(a), float(b))
        for left, right in zip(lines(expected), lines(actual))
        for a, b in zip(NUMBER.findall(left), NUMBER.findall(right))
    ]
    return max((abs(a - b) for a, b in pairs if a != b), default=0.0)


def lines(output: str) -> list[str]:
    """The non-empty lines of an output, normalised."""
    return [normalise(line) for line in output.splitlines() if line.strip()]


def differences(expected: str, actual: str) -> list[str]:
    """What differs between two outputs, one message per problem; empty when they agree."""
    want, got = lines(expected), lines(actual)
    problems = []
    for number, (left, right) in enumerate(zip(want, got), start=1):
        if template(left) != template(right):
            problems.append(f"line {number}: expected {left!r}, got {right!r}")
            continue
        problems += [
            f"line {number}: {a} became {b} (allowed difference {allowed:.3g})"
            for a, b, allowed in number_differences(left, right)
        ]
    if len(want) > len(got):
        problems += [f"line {n}: missing {line!r}" for n, line in enumerate(want[len(got):], len(got) + 1)]
    if len(got) > len(want):
        problems += [f"line {n}: unexpected {line!r}" for n, line in enumerate(got[len(want):], len(want) + 1)]
    return problems
