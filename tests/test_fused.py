"""sgdlab.fused: sgdlab's own rule compiled into one pass, behind ``sgdlab.SGD(fused=True)``.

A compilation takes 15 s or more on two cores, so every test here shares one: the module
fixture steps one optimizer through it, and the tests read what happened.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import random
import subprocess
import warnings

import pytest
import torch
import torch._dynamo.utils

import sgdlab
import sgdlab.fused
from helpers import ROOT

SETTINGS = {"lr": 0.01, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}


def float32_units(result: torch.Tensor, reference: torch.Tensor, before: torch.Tensor) -> float:
    """The largest difference in float32 spacings of the larger of the value before and after
    (the measure tools/bench.py records)."""
    scale = torch.maximum(reference.abs(), before.abs())
    spacing = torch.nextafter(scale, torch.full_like(scale, math.inf)) - scale
    return ((result - reference).abs() / spacing).max().item()


def make_params(seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(size, generator=generator).requires_grad_() for size in (1000, 37)]


@pytest.fixture(scope="module")
def stepped():
    """Three steps of fused and for-loop optimizers from the same start; what each step did.

    Starts as a process where nothing has compiled yet: another test file in this worker
    may have compiled the same kinds (the table of compiled kinds is process-wide).
    """
    compiled_before = dict(sgdlab.fused._kinds)
    sgdlab.fused._kinds.clear()
    try:
        yield _three_steps()
    finally:
        sgdlab.fused._kinds.update(compiled_before)


def _three_steps() -> dict:
    fused_params, loop_params = make_params(), make_params()
    fused = sgdlab.SGD(fused_params, fused=True, **SETTINGS)
    loop = sgdlab.SGD(loop_params, foreach=False, **SETTINGS)
    generator = torch.Generator().manual_seed(1)
    found = {"warnings": [], "graphs": [], "before": [], "after": []}
    for step in range(3):
        if step == 2:  # a new learning rate, as a scheduler would set it
            for optimizer in (fused, loop):
                optimizer.param_groups[0]["lr"] = 0.005
        for fp, lp in zip(fused_params, loop_params):
            fp.grad = torch.randn(fp.shape, generator=generator)
            lp.grad = fp.grad.clone()
        found["before"].append([p.detach().clone() for p in loop_params])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fused.step()
        loop.step()
        found["warnings"].append([w for w in caught if issubclass(w.category, sgdlab.fused.FusedCompileWarning)])
        found["graphs"].append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
        found["after"].append(([p.detach().clone() for p in fused_params],
                               [p.detach().clone() for p in loop_params],
                               [fused.state[p]["momentum_buffer"].clone() for p in fused_params],
                               [loop.state[p]["momentum_buffer"].clone() for p in loop_params]))
    return found


def test_the_first_step_creates_the_buffers_as_the_for_loop_does(stepped):
    fused_params, loop_params, fused_buffers, loop_buffers = stepped["after"][0]
    assert all(map(torch.equal, fused_params, loop_params))
    assert all(map(torch.equal, fused_buffers, loop_buffers))
    assert stepped["warnings"][0] == []  # nothing compiled yet


def test_the_compiling_step_says_so(stepped):
    assert len(stepped["warnings"][1]) == 1
    message = str(stepped["warnings"][1][0].message)
    assert "compiling" in message and "torch.compile" in message


def test_the_compiled_step_stays_within_the_recorded_difference(stepped):
    """One compiled step from the for-loop's own state lands within what the page states."""
    record = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    bound = record["step"]["fused_difference"]["cpu"]["max_units"]
    fused_params, loop_params, fused_buffers, loop_buffers = stepped["after"][1]
    before = stepped["before"][1]
    for result, reference, old in zip(fused_params, loop_params, before):
        assert float32_units(result, reference, old) <= bound
        assert float32_units(result, reference, old) <= 8  # a handful of roundings, no more
    for result, reference in zip(fused_buffers, loop_buffers):
        torch.testing.assert_close(result, reference, rtol=1e-6, atol=1e-6)


def test_a_new_learning_rate_does_not_recompile(stepped):
    assert stepped["warnings"][2] == []
    assert stepped["graphs"][2] == stepped["graphs"][1]
    fused_params, loop_params, _, _ = stepped["after"][2]
    for result, reference in zip(fused_params, loop_params):
        torch.testing.assert_close(result, reference, rtol=1e-5, atol=1e-6)


def test_a_machine_without_a_compiler_gets_an_error_naming_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(sgdlab.fused, "_kinds", {})  # as if nothing had compiled in this process
    monkeypatch.setattr(sgdlab.fused.shutil, "which", lambda name: None)
    monkeypatch.setattr(sgdlab.fused.sysconfig, "get_paths", lambda: {"include": str(tmp_path)})
    sgdlab.fused._check_compiler.cache_clear()
    try:
        problem = sgdlab.fused.compiler_problem("cpu")
        assert "C++ compiler" in problem and "Python.h" in problem
        w = torch.ones(3, requires_grad=True)
        w.grad = torch.ones(3)
        optimizer = sgdlab.SGD([w], lr=0.1, fused=True)
        with pytest.raises(RuntimeError, match=r"torch\.compile, which on cpu needs a C\+\+ compiler"):
            optimizer.step()
        assert torch.equal(w.detach(), torch.ones(3))  # nothing changed
    finally:
        sgdlab.fused._check_compiler.cache_clear()


def test_fused_is_checked_like_torch_checks_it():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="fused must be True, False or None, got str"):
        sgdlab.SGD([w], fused="yes")
    for optimizer in (torch.optim.SGD, sgdlab.SGD):
        with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
            optimizer([w], fused=True, foreach=True)


def test_importing_sgdlab_leaves_the_compiler_unloaded(python):
    """torch.compile brings in dynamo (about a second): sgdlab loads it at the first fused step."""
    probe = "import sys, sgdlab; print('torch._dynamo' in sys.modules)"
    loaded = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def random_case(rng: random.Random) -> tuple[list[torch.Tensor], dict]:
    """A random small parameter list (0-d, one-value, strided and empty tensors among them)
    and random settings."""
    params = []
    for _ in range(rng.randint(1, 6)):
        shape = tuple(rng.randint(0 if rng.random() < 0.05 else 1, 5) for _ in range(rng.randint(0, 3)))
        tensor = torch.randn(shape)
        if tensor.dim() == 2 and rng.random() < 0.3:
            tensor = tensor.t()  # dense, not contiguous
        if tensor.dim() >= 1 and tensor.shape[0] > 2 and rng.random() < 0.2:
            tensor = tensor[::2]  # with gaps: the for-loop steps it
        params.append(tensor)
    momentum = rng.choice([0.0, 0.5, 0.9])
    settings = {"lr": rng.choice([0.1, 0.01, torch.tensor(0.05)]), "momentum": momentum,
                "weight_decay": rng.choice([0.0, 0.01]), "maximize": rng.random() < 0.5}
    if momentum and rng.random() < 0.5:
        settings["nesterov"] = True
    elif momentum:
        settings["dampening"] = rng.choice([0.0, 0.1])
    return params, settings


def test_200_parameter_lists_and_settings_compile_a_bounded_number_of_graphs():
    """Dynamo keeps one graph per kind of tensor, not per list or setting: no recompile limit."""
    rng = random.Random(0)
    before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
        warnings.simplefilter("error", sgdlab.fused.FusedFallbackWarning)
        for _ in range(200):
            values, settings = random_case(rng)
            fused_params = [v.clone().requires_grad_() for v in values]
            loop_params = [v.clone().requires_grad_() for v in values]
            fused = sgdlab.SGD(fused_params, fused=True, **settings)
            loop = sgdlab.SGD(loop_params, foreach=False, **settings)
            for _ in range(2):
                for fp, lp in zip(fused_params, loop_params):
                    fp.grad = torch.randn(fp.shape)
                    lp.grad = fp.grad.clone()
                fused.step()
                loop.step()
            for fp, lp in zip(fused_params, loop_params):
                assert torch.equal(fp, lp)
    # float32: with or without a buffer, one value or more, alone or a list of up to 6 (4 at a time)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] - before <= 2 * 2 * 2


def stepped_pair():
    w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    w.grad = torch.tensor([0.5, 0.25, -1.0])
    return w


def test_a_step_that_fails_on_a_later_group_changes_nothing():
    """torch checks the first parameter only: it steps group 0, then fails in its kernel."""
    good, bad = stepped_pair(), torch.zeros(3, dtype=torch.int64)
    bad.grad = torch.zeros(3, dtype=torch.int64)
    reference = torch.optim.SGD([{"params": [good]}, {"params": [bad]}], lr=0.1, fused=True)
    with pytest.raises(NotImplementedError):
        reference.step()
    assert not torch.equal(good.detach(), torch.tensor([1.0, -2.0, 3.0]))  # half done
    good = stepped_pair()
    optimizer = sgdlab.SGD([{"params": [good]}, {"params": [bad]}], lr=0.1, momentum=0.9, fused=True)
    with pytest.raises(RuntimeError, match=r"param_groups\[1\]: `fused=True` requires all the params "
                       "to be floating point Tensors of supported devices: .* but torch.int64 and cpu"):
        optimizer.step()
    assert torch.equal(good.detach(), torch.tensor([1.0, -2.0, 3.0])) and not optimizer.state


def test_a_compile_warning_raised_as_an_error_leaves_every_group_as_it_was(monkeypatch):
    """A compilation (here: a kind forgotten, so prepared again) warns before any write."""
    first, second = stepped_pair(), stepped_pair()
    optimizer = sgdlab.SGD([{"params": [first]}, {"params": [second], "lr": 0.5}], lr=0.1, fused=True)
    monkeypatch.setattr(sgdlab.fused, "_kinds", {})
    with warnings.catch_warnings():
        warnings.simplefilter("error", sgdlab.fused.FusedCompileWarning)
        with pytest.raises(sgdlab.fused.FusedCompileWarning):
            optimizer.step()
    assert torch.equal(first.detach(), torch.tensor([1.0, -2.0, 3.0]))
    assert torch.equal(second.detach(), torch.tensor([1.0, -2.0, 3.0]))


def test_when_the_compiler_fails_the_for_loop_steps_after_one_warning(monkeypatch):
    def broken(*args):
        raise torch._dynamo.exc.FailOnRecompileLimitHit("recompile_limit reached")

    monkeypatch.setattr(sgdlab.fused, "_compiled", lambda kind: broken)
    monkeypatch.setattr(sgdlab.fused, "_kinds", {})
    fused_w, loop_w = stepped_pair(), stepped_pair()
    fused = sgdlab.SGD([fused_w], lr=0.1, momentum=0.9, fused=True)
    loop = sgdlab.SGD([loop_w], lr=0.1, momentum=0.9, foreach=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            fused.step()
            loop.step()
    fallbacks = [w for w in caught if issubclass(w.category, sgdlab.fused.FusedFallbackWarning)]
    assert len(fallbacks) == 1 and "FailOnRecompileLimitHit" in str(fallbacks[0].message)
    assert torch.equal(fused_w, loop_w)


@pytest.mark.parametrize("found_inf", [0.0, 1.0])
def test_grad_scale_and_found_inf_as_torch_s_fused_step(found_inf):
    """GradScaler sets both on an optimizer whose step supports AMP scaling, then steps it."""
    results = []
    for kind in (torch.optim.SGD, sgdlab.SGD):
        w = stepped_pair()
        w.grad = torch.tensor([1.0, 0.5, -2.0])  # scaled by 2
        optimizer = kind([w], lr=0.1, momentum=0.9, fused=True)
        assert optimizer._step_supports_amp_scaling
        for step in range(2):
            optimizer.grad_scale, optimizer.found_inf = torch.tensor(2.0), torch.tensor(found_inf if step else 0.0)
            optimizer.step()
            del optimizer.grad_scale, optimizer.found_inf
            w.grad = torch.tensor([1.0, 0.5, -2.0])
        results.append((w.detach().clone(), optimizer.state[w]["momentum_buffer"].clone()))
    (torch_w, torch_b), (our_w, our_b) = results
    assert torch.equal(torch_w, our_w) and torch.equal(torch_b, our_b)


@pytest.mark.parametrize("make", [
    lambda: torch.randn(3, device="meta"),
    lambda: torch.randn(3, dtype=torch.complex64),
    lambda: torch.zeros(3, dtype=torch.int64),
], ids=["meta", "complex", "int64"])
def test_refused_tensors_get_torch_s_error(make):
    errors = []
    for kind in (torch.optim.SGD, sgdlab.SGD):
        w = make().requires_grad_(make().is_floating_point() or make().is_complex())
        w.grad = make()
        with pytest.raises(Exception) as caught:
            kind([w], lr=0.1, fused=True).step()
        errors.append((type(caught.value), str(caught.value)))
    assert errors[0] == errors[1]


def test_a_sparse_gradient_gets_torch_s_error():
    errors = []
    for kind in (torch.optim.SGD, sgdlab.SGD):
        w = torch.zeros(3, requires_grad=True)
        w.grad = torch.zeros(3).to_sparse()
        with pytest.raises(RuntimeError) as caught:
            kind([w], lr=0.1, fused=True).step()
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and torch.equal(w.detach(), torch.zeros(3))


def test_every_combination_of_settings_matches_the_for_loop_bit_for_bit():
    """The compiled rule rounds each a + c*b as this machine's kernels round add(alpha=)."""
    generator = torch.Generator().manual_seed(2)
    for maximize, weight_decay, (momentum, dampening, nesterov) in itertools.product(
            (False, True), (0.0, 1e-2), [(0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.1, False), (0.9, 0.0, True)]):
        start = [torch.randn(3000, generator=generator) for _ in range(3)]
        fused, loop = [[t.clone() for t in start] for _ in range(2)]
        settings = dict(lr=0.01, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
            sgdlab.fused.fused_step([fused[0]], [fused[2]], [fused[1]], **settings)
        sgdlab.sgd([loop[0]], [loop[2]], [loop[1]], foreach=False, **settings)
        for result, reference in zip(fused[:2], loop[:2]):
            assert torch.equal(result, reference), settings


def test_compiler_problem_on_cuda_names_the_missing_build_or_gpu_before_triton(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    assert "a CUDA build of torch" in sgdlab.fused.compiler_problem("cuda")
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "a CUDA GPU" in sgdlab.fused.compiler_problem("cuda")


def fused_and_loop_steps(make, steps: int, schedule=lambda step: 0.1, **settings):
    """Step the tensors ``make()`` returns (made twice, from one seed) fused and with the
    for-loop; both parameter lists, and after each step the dynamo graphs and the compile
    warnings so far."""
    fused_params, loop_params = ([t.requires_grad_() for t in (torch.manual_seed(4), make())[1]]
                                 for _ in range(2))
    fused = sgdlab.SGD(fused_params, fused=True, lr=schedule(0), **settings)
    loop = sgdlab.SGD(loop_params, foreach=False, lr=schedule(0), **settings)
    generator = torch.Generator().manual_seed(3)
    graphs_before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    graphs, compiling = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(steps):
            for optimizer in (fused, loop):
                optimizer.param_groups[0]["lr"] = schedule(step)
            for fp, lp in zip(fused_params, loop_params):
                fp.grad = torch.randn(fp.shape, generator=generator)
                lp.grad = fp.grad.clone()
            fused.step()
            loop.step()
            graphs.append(torch._dynamo.utils.counters["stats"]["unique_graphs"] - graphs_before)
            compiling.append(sum(issubclass(w.category, sgdlab.fused.FusedCompileWarning) for w in caught))
    assert not any(issubclass(w.category, sgdlab.fused.FusedFallbackWarning) for w in caught)
    return fused_params, loop_params, graphs, compiling


def test_a_learning_rate_schedule_compiles_nothing_after_the_first_steps():
    """A scheduler sets a new learning rate every step: the settings are arguments of the
    compiled code, not constants in it."""
    fused, loop, graphs, compiling = fused_and_loop_steps(
        lambda: [torch.randn(300), torch.randn(7, 5)], 50, schedule=lambda step: 0.1 * 0.93**step, momentum=0.9, weight_decay=1e-3)
    assert graphs[-1] == graphs[1] and compiling[-1] == compiling[1]
    assert all(map(torch.equal, fused, loop))


def test_the_step_counts_a_write_to_each_parameter_and_none_to_its_gradient():
    """Autograd's version counters see what the step wrote, as after the for-loop's ``add_``."""
    w = torch.randn(40, 3, requires_grad=True)
    w.grad = torch.randn(40, 3)
    optimizer = sgdlab.SGD([w], lr=0.1, momentum=0.9, fused=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
        optimizer.step()  # creates the buffer: the for-loop's step
        for _ in range(2):  # the first compiled step, then one that finds everything made
            params_version, grads_version = w._version, w.grad._version
            buffer_version = optimizer.state[w]["momentum_buffer"]._version
            optimizer.step()
            assert w._version > params_version and w.grad._version == grads_version
            assert optimizer.state[w]["momentum_buffer"]._version > buffer_version


@pytest.mark.parametrize("make", [
    lambda: [t.detach() for t in torch.randn(60).split(12)],  # views of one memory block
    lambda: [torch.randn(50)[7:] for _ in range(3)],  # storage offsets
    lambda: [torch.randn(()) for _ in range(3)] + [torch.randn(1, 1), torch.randn(3, 4).t()],
    lambda: [torch.randn(size) for size in range(2, 39)],  # 37 sizes: two full chunks and a short one
], ids=["shared-memory", "offsets", "one-value-and-transposed", "37-sizes"])
def test_lists_of_every_layout_match_the_for_loop_with_few_graphs(make):
    """Chunks of one length serve any list; tensors sharing memory are called apart."""
    fused, loop, graphs, _ = fused_and_loop_steps(make, 3, momentum=0.9, weight_decay=1e-2)
    assert all(map(torch.equal, fused, loop))
    # per kind (one value or more) and chunk length, one graph at most
    assert graphs[-1] <= 2 * len(sgdlab.fused.CHUNKS)


def test_views_of_one_flat_buffer_are_stepped_together():
    """Parameters that share a block of memory without overlapping (gradient bucket views,
    flat parameters) share compiled calls; an overlapping one is called alone."""
    flat = torch.randn(48)
    params, grads, buffers = (list(t.split(12)) for t in (flat, torch.randn(48), torch.randn(48)))
    settings = sgdlab.fused.Settings(lr=0.1, momentum=0.9)
    assert [indices for _, indices in sgdlab.fused._plan(params, grads, buffers, settings)] == [[0, 1, 2, 3]]
    params[3] = flat[30:42]  # overlaps params[2]
    calls = [indices for _, indices in sgdlab.fused._plan(params, grads, buffers, settings)]
    assert calls == [[0, 1], [2], [3]]


def test_overlapping_parameters_are_stepped_apart_and_compile_no_new_graph():
    """Dynamo compiles anew for each pattern of overlapping inputs: sgdlab calls them apart."""
    counts = []
    for count in range(2, 8):
        fused, loop, _, _ = fused_and_loop_steps(
            lambda: [row.detach() for row in torch.randn(12 * count).unfold(0, 12, 6)], 3, momentum=0.9)
        assert all(map(torch.equal, fused, loop))
        counts.append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
    assert counts[-1] == counts[0]


def test_a_global_setting_changed_between_steps_compiles_once_more_with_symbolic_sizes():
    """Dynamo's graphs depend on global settings such as deterministic algorithms: the step
    that meets a new one compiles again, for any size, and never falls back."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    sizes = [(5,), (7, 3), (300,)]
    try:
        fused_and_loop_steps(lambda: [torch.randn(size) for size in sizes], 2, momentum=0.9)
        torch.use_deterministic_algorithms(True)
        counts = []
        for shift in range(4):
            fused, loop, _, _ = fused_and_loop_steps(
                lambda: [torch.randn(size[0] + shift, *size[1:]) for size in sizes], 3, momentum=0.9)
            assert all(map(torch.equal, fused, loop))
            counts.append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
        assert counts[-1] == counts[0]
    finally:
        torch.use_deterministic_algorithms(deterministic)


def test_a_parameter_given_new_memory_between_steps_is_stepped_in_its_new_memory():
    """The flat tensors kept from step to step follow a parameter whose ``.data`` changes."""
    results = []
    for fused in (True, False):
        torch.manual_seed(5)
        w = torch.randn(6, 4, requires_grad=True)
        optimizer = sgdlab.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1, fused=fused,
                               foreach=False if not fused else None)
        steps = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
            for data in [None, None, torch.randn(6, 4), None, torch.randn(4, 6).t(), None]:
                if data is not None:
                    w.data = data
                w.grad = torch.randn(w.shape)
                optimizer.step()
                steps.append((w.detach().clone(), optimizer.state[w]["momentum_buffer"].clone()))
        results.append(steps)
    for (fused_w, fused_b), (loop_w, loop_b) in zip(*results):
        assert torch.equal(fused_w, loop_w) and torch.equal(fused_b, loop_b)


def test_a_step_calls_the_compiled_code_without_dynamo_and_matches_the_for_loop(monkeypatch):
    """The step calls what inductor generated directly, not through dynamo's frame and guards."""
    def through_dynamo(*args):
        raise AssertionError("the step went through dynamo")

    fused_and_loop_steps(lambda: [torch.randn(30), torch.randn(4, 5)], 2, momentum=0.9)  # compiled
    monkeypatch.setattr(sgdlab.fused, "_call", through_dynamo)
    fused, loop, graphs, _ = fused_and_loop_steps(
        lambda: [torch.randn(30), torch.randn(4, 5)], 3, momentum=0.9, weight_decay=1e-2, nesterov=True)
    assert all(map(torch.equal, fused, loop)) and graphs[-1] == 0


def test_the_compiled_graph_in_its_wrappers_steps_alike(monkeypatch):
    """Where the generated code is not called directly (off the CPU), the compiled graph in
    AOT autograd's wrappers is: the same results, the writes counted all the same."""
    fused_and_loop_steps(lambda: [torch.randn(30), torch.randn(4, 5)], 2, momentum=0.9)  # compiled
    monkeypatch.setattr(sgdlab.fused, "_directs", {kind: direct._replace(generated=None)
                                                   for kind, direct in sgdlab.fused._directs.items()})
    monkeypatch.setattr(sgdlab.fused, "_call", lambda *args: pytest.fail("the step went through dynamo"))
    fused, loop, graphs, _ = fused_and_loop_steps(
        lambda: [torch.randn(30), torch.randn(4, 5)], 3, momentum=0.9, weight_decay=1e-2)
    assert all(map(torch.equal, fused, loop)) and graphs[-1] == 0
    params = [torch.randn(30, requires_grad=True), torch.randn(4, 5, requires_grad=True)]
    for param in params:
        param.grad = torch.randn(param.shape)
    optimizer = sgdlab.SGD(params, lr=0.1, momentum=0.9, fused=True)
    for step in range(3):  # the buffers made, the flat tensors made, then neither
        versions = [(param._version, param.grad._version) for param in params]
        optimizer.step()
        assert all(param._version > version and param.grad._version == grad_version
                   for param, (version, grad_version) in zip(params, versions)), step


def test_without_the_direct_call_dynamo_steps_alike(monkeypatch):
    """Where the direct call is not possible (here: as if the compiler had kept nothing),
    the step goes through dynamo, with the same results and no new graph."""
    fused_and_loop_steps(lambda: [torch.randn(30), torch.randn(4, 5)], 2, momentum=0.9)  # compiled
    monkeypatch.setattr(sgdlab.fused, "_directs", {})
    calls = []
    through_dynamo = sgdlab.fused._call
    monkeypatch.setattr(sgdlab.fused, "_call", lambda *args: calls.append(1) or through_dynamo(*args))
    fused, loop, graphs, _ = fused_and_loop_steps(
        lambda: [torch.randn(30), torch.randn(4, 5)], 3, momentum=0.9, weight_decay=1e-2)
    assert all(map(torch.equal, fused, loop)) and graphs[-1] == 0 and len(calls) == 2


def test_under_a_dispatch_mode_the_for_loop_steps_and_the_mode_sees_it(monkeypatch):
    """Under a dispatch mode dynamo runs no compiled code (it would run the rule's Python
    code, writing, then fail): the for-loop steps, once, with no fallback for later steps."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Seeing(TorchDispatchMode):
        seen: list = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.seen.append(func.__name__)
            return func(*args, **(kwargs or {}))

    fused_and_loop_steps(lambda: [torch.randn(30)], 2, momentum=0.9)  # compiled
    monkeypatch.setattr(sgdlab.fused, "_kinds", dict(sgdlab.fused._kinds))  # whatever happens stays here
    fused_w, loop_w = torch.randn(30, requires_grad=True), torch.randn(30, requires_grad=True)
    with torch.no_grad():
        loop_w.copy_(fused_w)
    fused = sgdlab.SGD([fused_w], lr=0.1, momentum=0.9, fused=True)
    loop = sgdlab.SGD([loop_w], lr=0.1, momentum=0.9, foreach=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(3):
            fused_w.grad, loop_w.grad = torch.ones(30), torch.ones(30)
            with Seeing() if step == 1 else contextlib.nullcontext():
                fused.step()
            loop.step()
            assert torch.equal(fused_w, loop_w), step
    assert "add_.Tensor" in Seeing.seen  # the for-loop's operations
    assert not any(issubclass(w.category, sgdlab.fused.FusedCompileWarning) for w in caught)
    assert all(sgdlab.fused._kinds.values())


def test_a_graph_compiled_under_a_function_mode_is_not_called_directly(monkeypatch):
    """Dynamo traces through a function mode, so its graph may hold what the mode did: the
    direct call takes only a graph compiled with no function mode active."""
    # as in a new process: nothing compiled (new code objects, so dynamo has no graph either)
    monkeypatch.setattr(sgdlab.fused, "_compiled", functools.cache(sgdlab.fused._compiled.__wrapped__))
    monkeypatch.setattr(sgdlab.fused, "_kinds", {})
    monkeypatch.setattr(sgdlab.fused, "_directs", {})
    kind = (torch.device("cpu"), torch.float32, True, False, 4)
    with torch.device("cpu"):  # a function mode
        fused, loop, _, _ = fused_and_loop_steps(lambda: [torch.randn(30), torch.randn(4, 5)], 3, momentum=0.9)
    assert all(map(torch.equal, fused, loop)) and kind in sgdlab.fused._kinds
    assert kind not in sgdlab.fused._directs
    fused, loop, _, _ = fused_and_loop_steps(lambda: [torch.randn(30), torch.randn(4, 5)], 3, momentum=0.9)
    assert all(map(torch.equal, fused, loop)) and kind in sgdlab.fused._directs


@pytest.mark.parametrize("negative", ["param", "grad"])
def test_a_negative_view_is_stepped_as_the_for_loop_steps_it(negative):
    """A negative view's memory holds the negation of its values: the for-loop steps it."""
    results = []
    for fused in (True, False):
        w = torch._neg_view(torch.arange(6.0)) if negative == "param" else torch.arange(6.0)
        grad = torch._neg_view(torch.ones(6)) if negative == "grad" else torch.ones(6)
        assert (w if negative == "param" else grad).is_neg()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
            if fused:
                sgdlab.fused.fused_step([w], [grad], [None], lr=0.5, weight_decay=0.1)
            else:
                sgdlab.sgd([w], [grad], [None], lr=0.5, weight_decay=0.1, foreach=False)
        results.append(w.clone())
    assert torch.equal(*results)
