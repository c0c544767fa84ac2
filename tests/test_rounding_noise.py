"""tools/rounding_noise.py: one-ulp noise on every floating result, and the doctests' two kinds of output."""

from __future__ import annotations

import doctest
import os
import sys

import pytest
import torch

from helpers import ROOT, offline_env, run
from rounding_noise import ENVIRONMENT_VARIABLE, RoundingNoise, nudge, seed_from_environment, ulp_moves

FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def long_sum(dtype=torch.float32) -> torch.Tensor:
    return torch.linspace(0, 1, 10_001, dtype=dtype).mul(0.37).sum()


def test_a_long_float32_sum_moves_in_its_last_bits_and_no_further():
    exact = long_sum()
    noisy = []
    for seed in range(1, 6):
        with RoundingNoise(seed):
            noisy.append(long_sum())
    assert any(not torch.equal(value, exact) for value in noisy)
    spacing = torch.finfo(torch.float32).eps * exact.abs()
    assert all((value - exact).abs() < 50 * spacing for value in noisy)  # a few units of 10^4 terms


def test_integer_and_boolean_results_are_left_alone():
    numbers = torch.arange(100)
    with RoundingNoise(1):
        product, flags = numbers * 3 + 7, numbers > 50
    assert torch.equal(product, torch.arange(100) * 3 + 7) and product.dtype == torch.int64
    assert torch.equal(flags, torch.arange(100) > 50)


def test_whole_subnormal_and_non_finite_values_are_kept():
    values = torch.tensor([0.0, -0.0, 1.0, -3.0, 2.0**40, 1e-40, float("inf"), float("nan")])
    for seed in range(5):
        kept = nudge(values, seed)
        assert torch.equal(kept.view(torch.int32)[:-1], values.view(torch.int32)[:-1])
        assert kept[-1].isnan()


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_each_dtype_moves_by_at_most_one_unit_and_minus_x_mirrors_x(dtype):
    values = torch.linspace(0.01, 100, 4_001, dtype=torch.float64).to(dtype)
    moved = nudge(values, seed=3)
    bits = {2: torch.int16, 4: torch.int32, 8: torch.int64}[values.element_size()]
    steps = (moved.view(bits).to(torch.int64) - values.view(bits).to(torch.int64))
    assert set(steps.unique().tolist()) <= {-1, 0, 1} and (steps != 0).any()
    assert torch.equal(nudge(-values, seed=3), -moved)  # round-to-nearest is symmetric


def test_the_moves_depend_on_the_seed_and_the_value_only():
    values = torch.rand(1_000)
    assert torch.equal(ulp_moves(values, 4), ulp_moves(values.clone(), 4))
    assert not torch.equal(ulp_moves(values, 4), ulp_moves(values, 5))
    counts = torch.bincount(ulp_moves(values, 4) + 1, minlength=3)
    assert (counts > 250).all()  # -1, 0 and +1 about equally often


def test_two_identical_computations_stay_bit_identical():
    def steps(p):
        optimizer = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-3)
        for _ in range(20):
            optimizer.zero_grad()
            (p.sin() * p).sum().backward()
            optimizer.step()
        return p.detach()

    start = torch.linspace(-2, 2, 7)
    with RoundingNoise(2):
        first = steps(start.clone().requires_grad_())
        second = steps(start.clone().requires_grad_())
    assert torch.equal(first, second)
    assert not torch.equal(first, steps(start.clone().requires_grad_()))  # the noise did something


def logistic_map(steps: int = 60, r: float = 3.9) -> float:
    value = torch.tensor(0.3)
    for _ in range(steps):
        value = r * value * (1 - value)
    return value.item()


def test_a_chaotic_quantity_prints_differently_under_the_noise():
    printed = {f"{logistic_map():.4f}"}
    for seed in (1, 2, 3):
        with RoundingNoise(seed):
            printed.add(f"{logistic_map():.4f}")
    assert len(printed) > 1


def test_in_place_and_foreach_results_are_moved_too():
    tensors = [torch.full((50,), 0.1), torch.full((50,), 0.7)]
    expected = [t * 1.1 for t in tensors]
    with RoundingNoise(1):
        torch._foreach_mul_(tensors, 1.1)
    assert any(not torch.equal(a, b) for a, b in zip(tensors, expected))


def test_views_copies_and_random_numbers_are_left_alone():
    values = torch.rand(100)
    with RoundingNoise(1):
        torch.manual_seed(0)
        drawn = torch.randn(100)
        copied, viewed = values.clone(), values.view(10, 10).t()
    torch.manual_seed(0)
    assert torch.equal(drawn, torch.randn(100))
    assert torch.equal(copied, values) and torch.equal(viewed, values.view(10, 10).t())


def test_the_seed_comes_from_the_environment_and_a_bad_one_is_named(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "")
    assert seed_from_environment() is None
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "7")
    assert seed_from_environment() == 7
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "seven")
    with pytest.raises(ValueError, match="SGDLAB_ROUNDING_NOISE must be an integer seed, got 'seven'"):
        seed_from_environment()
    with pytest.raises(TypeError, match="seed must be an int"):
        RoundingNoise(1.5)


def test_the_example_runner_runs_a_script_under_the_noise(tmp_path):
    script = tmp_path / "plot_chaos.py"
    script.write_text("import torch\nv = torch.tensor(0.3)\nfor _ in range(60):\n"
                      "    v = 3.9 * v * (1 - v)\nprint(f'{v.item():.4f}')\n")
    printed = set()
    for seed in ("", "1", "2"):
        out = tmp_path / f"out{seed}.json"
        result = run([os.sys.executable, ROOT / "tools" / "run_examples.py", out, script],
                     cwd=tmp_path, env=offline_env(**{ENVIRONMENT_VARIABLE: seed}))
        assert result.returncode == 0, result.stderr
        printed.add(__import__("json").loads(out.read_text())[str(script)]["stdout"])
    assert len(printed) > 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
def test_on_cuda_the_moves_are_the_cpus():
    values = torch.rand(1_000, dtype=torch.float64).float()
    on_cpu = values.clone()
    from rounding_noise import _nudge_in_place

    _nudge_in_place(on_cpu, 6)
    assert torch.equal(nudge(values.cuda(), 6).cpu(), on_cpu)


# -- the page doctests' checker (docs/_ext/sgdlab_doctest.py) --------------------------------


def checker_agrees(want: str, got: str, tolerant: bool) -> bool:
    from sgdlab_doctest import TOLERANT, ToleranceChecker

    flags = doctest.NORMALIZE_WHITESPACE | (TOLERANT if tolerant else 0)
    return ToleranceChecker().check_output(want, got, flags)


def test_a_stable_doctest_output_must_match_exactly():
    assert checker_agrees("tensor(1337.7185)\n", "tensor(1337.7185)\n", tolerant=False)
    assert not checker_agrees("tensor(1337.7185)\n", "tensor(1337.7188)\n", tolerant=False)


def test_a_tolerant_doctest_output_agrees_within_the_comparer_and_no_further():
    assert checker_agrees("tensor(1337.7185)\n", "tensor(1337.7188)\n", tolerant=True)
    assert checker_agrees("[tensor(-1332.7185),\n tensor(2.5)]\n", "[tensor(-1332.7186), tensor(2.5)]\n",
                          tolerant=True)
    # 1e-4 relative: 1337.7185 * (1 + 1e-4) = 1337.8523
    assert not checker_agrees("tensor(1337.7185)\n", "tensor(1337.8523)\n", tolerant=True)
    assert not checker_agrees("tensor(1337.7185)\n", "tensor(1337.7185, dtype=torch.float64)\n", tolerant=True)


# -- the README's count of tolerant outputs ------------------------------------------------


def test_the_readme_counts_the_tolerant_outputs():
    from output_compare import tolerant_count

    from run_examples import SNAPSHOTS

    counts = [tolerant_count(path.read_text()) for path in SNAPSHOTS.rglob("*.txt")]
    lines, scripts = sum(counts), sum(1 for count in counts if count)
    flagged = {path: sum(line.startswith(">>> ") and line.endswith("# doctest: +TOLERANT")
                         for line in path.read_text().splitlines())
               for path in (ROOT / "docs").rglob("*.md") if "auto_examples" not in path.parts}
    pages = [path for path, count in flagged.items() if count]
    examples = sum(flagged.values())
    readme = (ROOT / "README.md").read_text()
    assert f"**{lines} lines** in {scripts} article scripts" in readme
    assert f"**{examples} examples** on {len(pages)} article pages" in readme


# --- Rounding edges: values read out to Python move by READOUT_ULPS ulps of their dtype ---

from rounding_noise import READOUT_ULPS, shift_readout  # noqa: E402


def test_a_value_on_a_rounding_edge_prints_differently_under_seeds_1_and_2():
    """The loss that printed 0.0280 on one CPU and 0.0279 on another is caught on any CPU."""
    printed = set()
    for seed in (1, 2):
        with RoundingNoise(seed, readout_ulps=READOUT_ULPS):
            on_the_edge = torch.tensor(0.5, dtype=torch.float64) * 0.0559  # 0.02795
            printed.add(f"{on_the_edge.item():.4f}")
    assert printed == {"0.0279", "0.0280"}
    for seed in (1, 2, 3):  # far from an edge: the same everywhere
        with RoundingNoise(seed, readout_ulps=READOUT_ULPS):
            away = torch.tensor(0.5) * 0.0562
            assert f"{away.item():.4f}" == "0.0281"


@pytest.mark.parametrize("dtype", FLOATS)
def test_computed_values_read_out_moved_by_the_given_ulps_in_every_dtype_and_mirrored(dtype):
    for seed in (1, 2, 3):
        with RoundingNoise(seed, readout_ulps=4):
            values = torch.tensor([0.1, -0.3, 1.7, 5.3], dtype=dtype) * 1.5
            read = values.tolist()
            one_by_one = [value.item() for value in values]
            negated = (-values).tolist()
        stored = torch.Tensor.tolist(values)  # outside the mode: the values as they are
        assert read == one_by_one and negated == [-value for value in read]
        for before, after in zip(stored, read):
            if seed == 1:
                assert abs(after) > abs(before)
            if seed == 2:
                assert abs(after) < abs(before)
            assert abs(after - before) <= 8 * torch.finfo(dtype).eps * abs(before)


def test_values_made_from_python_numbers_and_whole_values_read_out_as_they_are():
    """Every machine stores torch.tensor(0.1) and 3.0 alike: nothing to move."""
    with RoundingNoise(1, readout_ulps=READOUT_ULPS):
        made = torch.tensor([0.1, 1 / 3])
        read = made.tolist(), made[1].item()
        whole = (torch.tensor([1.5, 2.5]) * 2).tolist()
        special = (torch.tensor([1.0, 1.0]) * torch.tensor([float("inf"), float("nan")])).tolist()
        counts = (torch.arange(3) * 2).tolist()
        tiny = (torch.tensor(1e-40) * 1).item()
    assert read == (torch.Tensor.tolist(made), torch.Tensor.tolist(made)[1])
    assert whole == [3.0, 5.0] and special[0] == float("inf") and special[1] != special[1]
    assert counts == [0, 2, 4] and tiny == torch.tensor(1e-40).item()
    assert shift_readout(7, torch.float32, seed=1) == 7  # a Python int is not a readout
    assert torch.Tensor.tolist is torch.Tensor.tolist  # and tolist is torch's own again:
    assert torch.tensor([0.5]).tolist() == [0.5]


def test_the_process_wide_noise_reads_out_with_the_edge_shift():
    script = ("import torch, rounding_noise; rounding_noise.install_from_environment(); "
              "print(f'{(torch.tensor(0.5, dtype=torch.float64) * 0.0559).item():.4f}')")
    printed = [run([sys.executable, "-c", script], env=offline_env(**{ENVIRONMENT_VARIABLE: str(seed)}),
                   cwd=ROOT / "tools").stdout.strip() for seed in (1, 2)]
    assert printed == ["0.0280", "0.0279"]
