"""tools/bench.py, the step: the implementations it compares and its timing in turns, on torch.utils.benchmark."""

from __future__ import annotations

import pytest
import torch

from bench import interleaved_samples, step_implementations, timer  # noqa: E402

NO_CUDA = "CUDA is not available on this machine"


def parameters(*sizes: int, device: str = "cpu") -> list[torch.Tensor]:
    """Seeded random leaf tensors of these sizes, each with a random gradient."""
    generator = torch.Generator(device=device).manual_seed(0)
    params = [torch.randn(size, generator=generator, device=device).requires_grad_() for size in sizes]
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator, device=device)
    return params


def test_every_implementation_takes_the_same_step(device):
    """Timing compares like with like: all implementations land on the same parameters."""
    results = {}
    builders = step_implementations(device, fused=False, lr=0.1, momentum=0.9, weight_decay=0.01)
    assert "sgdlab fused" not in builders  # compiled and compared in test_fused.py
    for name, build in builders.items():
        params = parameters(13, 13, 12, 12, device=device)
        optimizer = build(params)
        for _ in range(3):
            optimizer.step()
        results[name] = torch.cat([p.detach() for p in params]).cpu()
    reference = results["torch for-loop"]
    for name, values in results.items():
        torch.testing.assert_close(values, reference, msg=name)


def test_the_docstring_examples_of_the_benchmark_pass():
    import doctest

    import bench

    results = doctest.testmod(bench, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.attempted > 0 and results.failed == 0


def test_the_timers_take_turns_every_round_and_the_steps_move():
    params = parameters(1000)
    before = params[0].detach().clone()
    timers = {"add_": timer("a.add_(b)", a=torch.ones(1000), b=torch.ones(1000)),
              "step": timer("o.step()", o=torch.optim.SGD(params, lr=0.1))}
    samples = interleaved_samples(timers, repeats=3, min_run_seconds=1e-4)
    assert list(samples) == ["add_", "step"]
    assert all(len(times) == 3 and min(times) > 0 for times in samples.values())
    assert not torch.equal(before, params[0].detach())


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_cuda_timing_uses_the_gpu():
    optimizer = torch.optim.SGD(parameters(1000, device="cuda"), lr=0.1)
    a = torch.ones(1 << 20, device="cuda")
    timers = {"add_": timer("a.add_(a)", a=a), "step": timer("o.step()", o=optimizer)}
    samples = interleaved_samples(timers, repeats=2, min_run_seconds=1e-4)
    assert min(samples["add_"]) > 0 and min(samples["step"]) > 0
    assert "torch fused" in step_implementations("cuda", fused=False)
