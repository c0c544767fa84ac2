"""The one comparer of printed outputs catches what matters and lets rounding and devices pass."""

from __future__ import annotations

import pytest

from output_compare import TOLERANT_MARK, agree, carry_marks, differences, largest_difference, normalise, tolerant_count

SNAPSHOT = """Running on cpu
x.grad = 1337.7185
x = -1332.7185 after 1 step
largest gap: within 1 float32 unit
one step took 0.41 ms
"""


def test_an_identical_output_agrees():
    assert differences(SNAPSHOT, SNAPSHOT) == []


def test_device_names_timings_and_spacing_do_not_count():
    other = SNAPSHOT.replace("cpu", "cuda:0").replace("0.41 ms", "0.02 ms").replace("x = ", "x =   ")
    assert differences(SNAPSHOT, other) == []
    assert normalise("tensor([1.], device='cuda:0') on cuda") == "tensor([1.]) on <device>"


def test_a_changed_word_is_caught():
    problems = differences(SNAPSHOT, SNAPSHOT.replace("after 1 step", "before 1 step"))
    assert len(problems) == 1 and "line 3" in problems[0]


def test_a_stable_line_must_match_exactly():
    assert differences(SNAPSHOT, SNAPSHOT.replace("1337.7185", "1337.7186")) == [
        "line 2: expected 'x.grad = 1337.7185', got 'x.grad = 1337.7186'"
    ]


TOLERANT = SNAPSHOT.replace("x.grad", TOLERANT_MARK + "x.grad")


def test_a_tolerant_line_agrees_within_its_last_digit_and_no_further():
    assert tolerant_count(TOLERANT) == 1
    assert differences(TOLERANT, SNAPSHOT.replace("1337.7185", "1337.7186")) == []
    # A value moved by 1e-4 relative is caught: 1337.7185 * (1 + 1e-4) = 1337.8523.
    assert differences(TOLERANT, SNAPSHOT.replace("1337.7185", "1337.8523")) == [
        "line 2: 1337.7185 became 1337.8523 (allowed difference 0.0134)"
    ]
    assert differences(SNAPSHOT, SNAPSHOT.replace("1337.7185", "1337.7186"), tolerant=True) == []


def test_re_recording_keeps_a_mark_where_the_words_are_the_same():
    moved = SNAPSHOT.replace("1337.7185", "1337.7186")
    assert carry_marks(TOLERANT, moved) == TOLERANT.replace("1337.7185", "1337.7186")
    reworded = SNAPSHOT.replace("x.grad =", "the gradient is")
    assert tolerant_count(carry_marks(TOLERANT, reworded)) == 0


def test_a_missing_or_an_extra_line_is_caught():
    without_timing = SNAPSHOT.replace("one step took 0.41 ms\n", "")
    assert differences(SNAPSHOT, without_timing) == ["line 5: missing 'one step took <time>'"]
    assert differences(SNAPSHOT, SNAPSHOT + "done\n") == ["line 6: unexpected 'done'"]


@pytest.mark.parametrize(
    ("expected", "actual", "agrees"),
    [
        ("3081.9753", "3081.9753", True),
        ("3081.9753", "3099.0557", False),  # rounding noise amplified near divergence
        ("0.1235", "0.1234", True),  # one unit in the last printed digit
        ("0.1236", "0.1234", False),
        ("1.19e-07", "2.38e-07", False),  # one float32 unit printed as if it meant something
        ("1000000.0", "1000010.0", True),  # 1e-5 relative
        ("-0.0000", "0.0000", True),  # equal values; the scripts still never print a signed zero
    ],
)
def test_numbers_agree_within_the_larger_allowance(expected, actual, agrees):
    assert agree(expected, actual) is agrees


def test_the_largest_difference_is_reported():
    assert largest_difference("a 1.5 b 2.25", "a 1.5 b 2.5") == pytest.approx(0.25)
