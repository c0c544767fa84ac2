"""Recording optimizer steps through hooks, and minimize()."""

import pytest
import torch

from sgdlab import Trajectory, article_function, beale, minimize, quadratic, record, rosenbrock


def sgd_steps(x, optimizer, steps, loss_fn, trajectory=None):
    """A plain training loop, the way a reader writes it."""
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        if trajectory is not None:
            trajectory.log_loss(loss)
        optimizer.step()


def test_records_params_grads_and_momentum_of_each_step():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1, momentum=0.9, dampening=0.1)
    with record(optimizer) as trajectory:
        sgd_steps(x, optimizer, 3, lambda p: (p**3).sum(), trajectory)

    # The same steps, by hand, from PyTorch's documented update rule.
    value, buffer = torch.tensor([1.0, -2.0]), None
    for index, step in enumerate(trajectory.steps):
        grad = 3 * value**2
        buffer = grad.clone() if buffer is None else 0.9 * buffer + 0.9 * grad
        assert step.index == index
        torch.testing.assert_close(step.params_before[0], value)
        torch.testing.assert_close(step.grads[0], grad)
        torch.testing.assert_close(step.loss, (value**3).sum())
        value = value - 0.1 * buffer
        torch.testing.assert_close(step.params_after[0], value)
        torch.testing.assert_close(step.momentum_buffers[0], buffer)
    assert len(trajectory) == 3
    assert trajectory.params(0).shape == (4, 2)
    assert trajectory.grads(0).shape == (3, 2)
    assert trajectory.momentum_buffers(0).shape == (3, 2)
    assert trajectory.lrs() == [0.1, 0.1, 0.1]
    torch.testing.assert_close(trajectory.params(0)[-1], x.detach())


def test_recording_does_not_change_the_run():
    def run(recorded):
        x = torch.tensor([0.3, 0.7], requires_grad=True)
        optimizer = torch.optim.SGD([x], lr=1e-3, momentum=0.5, nesterov=True)
        trajectory = record(optimizer) if recorded else None
        sgd_steps(x, optimizer, 20, rosenbrock(), trajectory)
        return x.detach()

    assert torch.equal(run(True), run(False))


def test_records_copies_not_views():
    x = torch.tensor([1.0], requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.5, momentum=0.5)
    trajectory = record(optimizer)
    x.grad = torch.tensor([2.0])
    optimizer.step()
    with torch.no_grad():
        x.fill_(100.0)
        x.grad.fill_(100.0)
        optimizer.state[x]["momentum_buffer"].fill_(100.0)
    step = trajectory.steps[0]
    assert step.params_before[0].item() == 1.0
    assert step.params_after[0].item() == 0.0
    assert step.grads[0].item() == 2.0
    assert step.momentum_buffers[0].item() == 2.0


def test_detach_stops_recording():
    x = torch.tensor(1.0, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.5)
    trajectory = record(optimizer)
    x.grad = torch.tensor(1.0)
    optimizer.step()
    trajectory.detach()
    optimizer.step()
    assert len(trajectory) == 1
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks


def test_with_block_detaches_even_on_error():
    x = torch.tensor(1.0, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.5)
    with pytest.raises(RuntimeError, match="boom"), record(optimizer):
        raise RuntimeError("boom")
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks


@pytest.mark.parametrize("as_keyword", [False, True])
def test_closure_loss_and_fresh_gradients_are_recorded(as_keyword):
    x = torch.tensor(2.0, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.25)
    x.grad = torch.tensor(999.0)  # stale: the closure replaces it before the step uses it

    def closure():
        optimizer.zero_grad()
        loss = x**2
        loss.backward()
        return loss

    with record(optimizer) as trajectory:
        for _ in range(2):
            returned = optimizer.step(closure=closure) if as_keyword else optimizer.step(closure)
            assert isinstance(returned, torch.Tensor)  # the wrapper passes the loss through
    assert trajectory.losses().tolist() == [4.0, 1.0]
    assert trajectory.grads().tolist() == [4.0, 2.0]
    assert trajectory.params().tolist() == [2.0, 1.0, 0.5]


def test_closure_called_several_times_records_the_first_call():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    optimizer = torch.optim.LBFGS([x], lr=0.5, max_iter=4)

    def closure():
        optimizer.zero_grad()
        loss = (x**2).sum()
        loss.backward()
        return loss

    with record(optimizer) as trajectory:
        optimizer.step(closure)
    assert trajectory.losses().tolist() == [5.0]
    assert trajectory.grads(0)[0].tolist() == [2.0, 4.0]


def test_log_loss_belongs_to_the_next_step_only():
    x = torch.tensor(1.0, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1)
    trajectory = record(optimizer)
    x.grad = torch.tensor(1.0)
    trajectory.log_loss(3.0)
    optimizer.step()
    optimizer.step()
    assert trajectory.steps[0].loss.item() == 3.0
    assert trajectory.steps[1].loss is None
    with pytest.raises(ValueError, match=r"no loss was given for step\(s\) \[1\]"):
        trajectory.losses()


def test_lr_of_every_group_and_parameter_order():
    a = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor([1.0, 1.0], requires_grad=True)
    optimizer = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    with record(optimizer) as trajectory:
        a.grad, b.grad = torch.tensor(1.0), torch.tensor([1.0, 2.0])
        optimizer.step()
        optimizer.param_groups[1]["lr"] = 0.25
        optimizer.step()
    assert trajectory.lrs(0) == [0.1, 0.1]
    assert trajectory.lrs(1) == [0.5, 0.25]
    torch.testing.assert_close(trajectory.params(1)[-1], torch.tensor([0.25, -0.5]))
    torch.testing.assert_close(
        trajectory.path(), torch.tensor([[1.0, 1.0, 1.0], [0.9, 0.5, 0.0], [0.8, 0.25, -0.5]])
    )


def test_path_of_the_article_example():
    f = article_function()
    x, c = torch.tensor(5.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    optimizer = torch.optim.SGD([x, c], lr=1.0)
    with record(optimizer) as trajectory:
        f(torch.stack([x, c])).backward()
        optimizer.step()
    assert trajectory.path().shape == (2, 2)
    assert torch.equal(trajectory.path()[1], torch.stack([x, c]).detach())


def test_replaced_parameter_is_recorded_by_position():
    # The article's mistake: a new tensor put in param_groups has no gradient.
    x, c = torch.tensor(5.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    optimizer = torch.optim.SGD([x, c], lr=0.1)
    with record(optimizer) as trajectory:
        optimizer.param_groups[0]["params"][0] = torch.tensor(10.0, requires_grad=True)
        (c * 3 * torch.exp(x) + 2.0 * x + 4.0).backward()
        optimizer.step()
    assert trajectory.steps[0].grads[0] is None
    assert trajectory.params(0).tolist() == [10.0, 10.0]
    with pytest.raises(ValueError, match=r"parameter 0 has no gradient at step\(s\) \[0\]"):
        trajectory.grads(0)


def test_no_momentum_buffer_is_reported():
    x = torch.tensor(1.0, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1)
    with record(optimizer) as trajectory:
        x.grad = torch.tensor(1.0)
        optimizer.step()
    with pytest.raises(ValueError, match=r"parameter 0 has no momentum buffer at step\(s\) \[0\]"):
        trajectory.momentum_buffers(0)


def test_empty_trajectory_accessors():
    x = torch.zeros(2, 3, requires_grad=True)
    trajectory = record(torch.optim.SGD([x], lr=0.1))
    assert len(trajectory) == 0 and trajectory.steps == ()
    assert trajectory.params(0).shape == (1, 2, 3)
    assert trajectory.grads(0).shape == (0, 2, 3)
    assert trajectory.losses().shape == (0,)
    assert trajectory.path().shape == (1, 6)
    assert trajectory.lrs() == []


def test_divergence_is_flagged_at_the_first_bad_step():
    x = torch.tensor(1.0, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=1.0)
    with record(optimizer) as trajectory:
        for grad in [1.0, float("nan"), 1.0]:
            x.grad = torch.tensor(grad)
            optimizer.step()
    assert trajectory.diverged and trajectory.diverged_at == 1
    assert [step.finite for step in trajectory.steps] == [True, False, False]


def test_works_with_other_optimizers():
    x = torch.tensor([1.0, 1.0], requires_grad=True)
    optimizer = torch.optim.Adam([x], lr=0.1)
    with record(optimizer) as trajectory:
        sgd_steps(x, optimizer, 2, lambda p: (p**2).sum(), trajectory)
    assert trajectory.params(0).shape == (3, 2)
    assert trajectory.steps[0].momentum_buffers == (None,)


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
    assert trajectory.optimizer.param_groups[0]["params"][0].dtype == torch.float64


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
    assert on_cuda.optimizer.param_groups[0]["params"][0].device.type == "cuda"
    assert on_cuda.path().device.type == "cpu"
    torch.testing.assert_close(on_cuda.path(), on_cpu.path())


# Bad input: one test per check, the message names the argument and the value.


def test_record_rejects_non_optimizer():
    with pytest.raises(TypeError, match=r"optimizer must be a torch.optim.Optimizer, got list"):
        record([torch.zeros(1)])


def test_trajectory_rejects_non_optimizer():
    with pytest.raises(TypeError, match=r"optimizer must be a torch.optim.Optimizer, got str"):
        Trajectory("sgd")


def test_log_loss_rejects_text():
    trajectory = record(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
    with pytest.raises(TypeError, match=r"loss must be a tensor or a number, got str: 'low'"):
        trajectory.log_loss("low")


def test_log_loss_rejects_many_values():
    trajectory = record(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
    with pytest.raises(ValueError, match=r"loss must hold one value, got shape \(3,\)"):
        trajectory.log_loss(torch.ones(3))


def test_params_index_out_of_range():
    trajectory = record(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
    with pytest.raises(ValueError, match=r"index must be in \[0, 1\) .* got 1"):
        trajectory.params(1)


def test_params_index_type():
    trajectory = record(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
    with pytest.raises(TypeError, match=r"index must be an int, got str: 'x'"):
        trajectory.grads("x")


def test_lrs_group_out_of_range():
    trajectory = record(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
    with pytest.raises(ValueError, match=r"group must be in \[0, 1\), got 2"):
        trajectory.lrs(2)


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
