"""sgdlab.trajectory: what minimize records at each step, and its checks."""

import math

import pytest
import torch

from sgdlab import beale, minimize, quadratic, rosenbrock

SGD = lambda params: torch.optim.SGD(params, lr=0.1)  # noqa: E731


def test_records_params_grads_momentum_and_loss_of_each_step():
    make = lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)  # noqa: E731
    trajectory = minimize(quadratic(), make, steps=3, start=[1.0, 0.0])
    assert len(trajectory) == 3
    params, grads, buffers = trajectory.params(), trajectory.grads(), trajectory.momentum_buffers()
    assert params.shape == (4, 2) and grads.shape == (3, 2) and buffers.shape == (3, 2)
    assert torch.equal(buffers[0], grads[0])  # the first buffer is the gradient itself
    assert torch.equal(buffers[1], 0.9 * buffers[0] + grads[1])
    for step in trajectory.steps:
        assert torch.equal(step.params_after[0], step.params_before[0] - 0.1 * step.momentum_buffers[0])


def test_recording_does_not_change_the_run():
    bowl = quadratic(condition_number=5.0)
    trajectory = minimize(bowl, SGD, steps=5)
    point = torch.tensor(bowl.start, requires_grad=True)
    optimizer = SGD([point])
    for _ in range(5):
        optimizer.zero_grad()
        bowl(point).backward()
        optimizer.step()
    assert torch.equal(trajectory.path()[-1], point.detach())


def test_hooks_are_removed_after_the_run():
    holder = []

    def make(params):
        holder.append(torch.optim.SGD(params, lr=0.1))
        return holder[-1]

    minimize(quadratic(), make, steps=1)
    assert not holder[0]._optimizer_step_pre_hooks and not holder[0]._optimizer_step_post_hooks


def test_no_momentum_buffer_is_reported():
    with pytest.raises(ValueError, match="parameter 0 has no momentum buffer at step"):
        minimize(quadratic(), SGD, steps=2).momentum_buffers()


def test_empty_trajectory_accessors():
    trajectory = minimize(quadratic(), SGD, steps=0)
    assert trajectory.grads().shape == (0, 2) and trajectory.losses().shape == (0,)
    assert trajectory.params().shape == (1, 2)


def test_divergence_is_flagged_at_the_first_bad_step():
    make = lambda params: torch.optim.SGD(params, lr=1e20)  # noqa: E731
    trajectory = minimize(quadratic(), make, steps=10)
    assert trajectory.diverged and trajectory.diverged_at == 1 and not trajectory.steps[1].finite


def test_works_with_other_optimizers():
    trajectory = minimize(quadratic(), lambda params: torch.optim.Adam(params, lr=0.1), 3)
    assert len(trajectory) == 3 and trajectory.steps[0].momentum_buffers == (None,)


def test_trajectory_repr():
    trajectory = minimize(quadratic(), lambda params: torch.optim.SGD(params, lr=0.1), steps=4)
    assert repr(trajectory) == "Trajectory(steps=4, params=1, diverged=False)"


# minimize -----------------------------------------------------------------


def test_minimize_matches_a_hand_written_loop():
    bowl = quadratic(condition_number=20.0)
    trajectory = minimize(
        bowl, lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9), steps=30
    )
    point = torch.tensor(bowl.start, requires_grad=True)
    optimizer = torch.optim.SGD([point], lr=0.05, momentum=0.9)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = bowl(point)
        loss.backward()
        losses.append(loss.detach())
        optimizer.step()
    assert torch.equal(trajectory.params()[-1], point.detach())
    assert torch.equal(trajectory.losses(), torch.stack(losses))
    assert len(trajectory) == 30 and not trajectory.diverged


def test_minimize_converges_on_the_quadratic():
    trajectory = minimize(quadratic(10.0), lambda params: torch.optim.SGD(params, lr=0.1), 200)
    assert trajectory.losses()[-1].item() < 1e-6


def test_minimize_start_device_and_dtype():
    trajectory = minimize(
        rosenbrock(),
        lambda params: torch.optim.SGD(params, lr=1e-3),
        steps=2,
        start=torch.tensor([0.5, 0.5]),
        device="cpu",
        dtype=torch.float64,
    )
    path = trajectory.path()
    assert path.dtype == torch.float64 and path[0].tolist() == [0.5, 0.5]


def test_minimize_with_a_plain_function_and_start():
    trajectory = minimize(
        lambda p: (p - 3.0).pow(2).sum(), lambda params: torch.optim.SGD(params, lr=0.5), 1,
        start=[0.0],
    )
    assert trajectory.path().tolist() == [[0.0], [3.0]]


def test_minimize_stops_cleanly_when_diverging():
    trajectory = minimize(quadratic(10.0), lambda params: torch.optim.SGD(params, lr=1e20), 50)
    assert trajectory.diverged
    assert len(trajectory) == trajectory.diverged_at + 1 < 50


def test_minimize_zero_steps():
    trajectory = minimize(beale(), lambda params: torch.optim.SGD(params, lr=0.1), 0)
    assert len(trajectory) == 0 and trajectory.path().tolist() == [list(beale().start)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
def test_minimize_on_cuda_records_cpu_copies():
    bowl = quadratic()
    make = lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9)  # noqa: E731
    on_cuda = minimize(bowl, make, 10, device="cuda")
    on_cpu = minimize(bowl, make, 10)
    assert on_cuda.path().device.type == "cpu"
    torch.testing.assert_close(on_cuda.path(), on_cpu.path())


# Bad input: one test per check, the message names the argument and the value.


def test_params_index_out_of_range():
    trajectory = minimize(quadratic(), SGD, steps=1)
    with pytest.raises(ValueError, match=r"index must be in \[0, 1\) .* got 1"):
        trajectory.params(1)


def test_params_index_type():
    trajectory = minimize(quadratic(), SGD, steps=1)
    with pytest.raises(TypeError, match=r"index must be an int, got str: 'x'"):
        trajectory.grads("x")


BAD_MINIMIZE = [
    # (arguments changed from a good call, exception, words the message must hold)
    (dict(device="gpu"), ValueError, "device must name a torch device"),
    (dict(device=3.5), ValueError, "device must name a torch device"),
    (dict(make_optimizer=lambda params: torch.optim.SGD([torch.zeros(2, requires_grad=True)])),
     ValueError, "make_optimizer must build the optimizer over the list it is given"),
    (dict(make_optimizer=lambda params: torch.optim.SGD(
        params + [torch.zeros(2, requires_grad=True)])), ValueError, "not just the point"),
    (dict(start=[math.inf, 0.0]), ValueError, "start must be finite"),
    (dict(start=[]), ValueError, "start must have 2 coordinates"),
    (dict(start=torch.zeros(2, dtype=torch.complex64)), ValueError, "start"),
    (dict(start=torch.empty(2, device="meta")), ValueError, "start"),
    (dict(steps=None), TypeError, "steps must be an int"),
    (dict(steps=True), TypeError, "steps must be an int"),
    (dict(dtype="float32"), TypeError, "dtype must be a floating-point torch.dtype"),
    (dict(dtype=torch.complex64), TypeError, "dtype must be a floating-point torch.dtype"),
    (dict(objective=lambda p: "low"), ValueError, "objective must return a one-element tensor"),
]


@pytest.mark.parametrize(("change", "error", "words"), BAD_MINIMIZE,
                         ids=[str(i) for i in range(len(BAD_MINIMIZE))])
def test_minimize_bad_input_is_a_clear_error(change, error, words):
    arguments = dict(objective=quadratic(), make_optimizer=SGD, steps=2, start=[1.0, 1.0])
    arguments.update(change)
    with pytest.raises(error, match=words):
        minimize(**arguments)


def test_minimize_rejects_an_optimizer_instance():
    optimizer = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(TypeError, match=r"make_optimizer must be a function .* got an optimizer: SGD"):
        minimize(quadratic(), optimizer, 3)


def test_minimize_rejects_non_callable_factory():
    with pytest.raises(TypeError, match=r"make_optimizer must be callable, got float: 0.1"):
        minimize(quadratic(), 0.1, 3)


def test_minimize_rejects_factory_returning_something_else():
    with pytest.raises(TypeError, match=r"make_optimizer must return a torch.optim.Optimizer, got list"):
        minimize(quadratic(), lambda params: params, 3)


def test_minimize_rejects_non_callable_objective():
    with pytest.raises(TypeError, match=r"objective must be callable, got int: 3"):
        minimize(3, lambda params: torch.optim.SGD(params, lr=0.1), 3)


def test_minimize_rejects_negative_steps():
    with pytest.raises(ValueError, match=r"steps must be >= 0, got -1"):
        minimize(quadratic(), lambda params: torch.optim.SGD(params, lr=0.1), -1)


def test_minimize_rejects_float_steps():
    with pytest.raises(TypeError, match=r"steps must be an int, got float: 10.0"):
        minimize(quadratic(), lambda params: torch.optim.SGD(params, lr=0.1), 10.0)


def test_minimize_rejects_start_of_wrong_length():
    with pytest.raises(ValueError, match=r"start must have 2 coordinates .* got shape \(3,\)"):
        minimize(quadratic(), lambda params: torch.optim.SGD(params, lr=0.1), 1, start=(1, 2, 3))


def test_minimize_rejects_non_finite_start():
    with pytest.raises(ValueError, match=r"start must be finite, got \(nan, 1.0\)"):
        minimize(quadratic(), lambda params: torch.optim.SGD(params, lr=0.1), 1,
                 start=(float("nan"), 1.0))


def test_minimize_rejects_text_start():
    with pytest.raises(TypeError, match=r"start must be a sequence of numbers, got 'origin'"):
        minimize(quadratic(), lambda params: torch.optim.SGD(params, lr=0.1), 1, start="origin")


def test_minimize_needs_a_start_for_plain_functions():
    with pytest.raises(ValueError, match=r"start is None and the objective has no .start"):
        minimize(lambda p: p.sum(), lambda params: torch.optim.SGD(params, lr=0.1), 1)


def test_minimize_rejects_integer_dtype():
    with pytest.raises(TypeError, match=r"dtype must be a floating-point torch.dtype, got torch.int64"):
        minimize(quadratic(), lambda params: torch.optim.SGD(params, lr=0.1), 1, dtype=torch.int64)


def test_minimize_rejects_objective_with_many_values():
    with pytest.raises(ValueError, match=r"objective must return a one-element tensor, got Tensor \(2,\)"):
        minimize(lambda p: p**2, lambda params: torch.optim.SGD(params, lr=0.1), 1, start=[1.0, 2.0])
