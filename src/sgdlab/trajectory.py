"""Record what an optimizer does at every step, without changing the training loop.

:func:`record` hooks into an optimizer's ``step()`` (through
``register_step_pre_hook`` and ``register_step_post_hook``) and keeps, for each
step, CPU copies of the parameters before and after it, the gradients it used,
the learning rate of each group, the momentum buffers it left, and the loss when
one is known. :func:`minimize` runs a plain descent loop on an objective and
returns such a record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import torch

__all__ = ["Step", "Trajectory", "record", "minimize"]


@dataclass(frozen=True)
class Step:
    """What one call to ``optimizer.step()`` saw and did; tensors are CPU copies.

    Parameters are listed in the optimizer's order: group by group, then in
    each group's ``params`` order.

    Attributes:
        index: The step's number, from ``0``.
        params_before: Each parameter before the step.
        grads: Each parameter's gradient as the step used it (``None`` where it had none).
        lrs: The learning rate of each parameter group.
        params_after: Each parameter after the step.
        momentum_buffers: Each parameter's ``momentum_buffer`` after the step
            (``None`` where the optimizer keeps none, as SGD without momentum).
        loss: The loss at ``params_before`` when it was given, else ``None``.

    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> optimizer = torch.optim.SGD([x], lr=0.5)
    >>> with record(optimizer) as trajectory:
    ...     (x**2).sum().backward()
    ...     optimizer.step()
    >>> step = trajectory.steps[0]
    >>> step.params_before, step.grads, step.params_after
    ((tensor([1., 2.]),), (tensor([2., 4.]),), (tensor([0., 0.]),))
    >>> step.lrs, step.momentum_buffers, step.loss, step.finite
    ((0.5,), (None,), None, True)
    """

    index: int
    params_before: tuple[torch.Tensor, ...]
    grads: tuple[torch.Tensor | None, ...]
    lrs: tuple[float, ...]
    params_after: tuple[torch.Tensor, ...]
    momentum_buffers: tuple[torch.Tensor | None, ...]
    loss: torch.Tensor | None

    @property
    def finite(self) -> bool:
        """Whether the loss, the gradients and the new parameters are all finite (no inf/nan).

        >>> Step(0, (), (), (), (torch.tensor(float("inf")),), (), None).finite
        False
        """
        tensors = [*self.params_after, *self.grads, self.loss]
        return all(bool(t.isfinite().all()) for t in tensors if t is not None)


def _snapshot(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """Return a detached CPU copy of ``tensor`` (``None`` stays ``None``)."""
    if tensor is None:
        return None
    return tensor.detach().to("cpu", copy=True)


def _optimizer_params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """List the optimizer's parameters, group by group."""
    return [param for group in optimizer.param_groups for param in group["params"]]


def _as_loss(value: Any, name: str) -> torch.Tensor:
    """Turn a loss (a one-element tensor or a real number) into a 0-d CPU tensor."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must hold one value, got shape {tuple(value.shape)}")
        return value.detach().to("cpu", copy=True).reshape(())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value))
    raise TypeError(f"{name} must be a tensor or a number, got {type(value).__name__}: {value!r}")


class Trajectory:
    """The steps an optimizer took while it was recorded; make one with :func:`record`.

    ``len(trajectory)`` is the number of steps; the accessors stack one
    quantity over the steps into a tensor, indexing parameters in the
    optimizer's order (group by group). A step whose loss, gradients or new
    parameters hold inf or nan marks the trajectory as diverged.

    >>> x = torch.tensor([3.0, -1.0], requires_grad=True)
    >>> optimizer = torch.optim.SGD([x], lr=0.1, momentum=0.5)
    >>> with record(optimizer) as trajectory:
    ...     for _ in range(2):
    ...         optimizer.zero_grad()
    ...         loss = (x**2).sum()
    ...         loss.backward()
    ...         trajectory.log_loss(loss)
    ...         optimizer.step()
    >>> trajectory
    Trajectory(steps=2, params=1, diverged=False)
    >>> trajectory.params(0)
    tensor([[ 3.0000, -1.0000],
            [ 2.4000, -0.8000],
            [ 1.6200, -0.5400]])
    >>> trajectory.losses()
    tensor([10.0000,  6.4000])
    >>> trajectory.momentum_buffers(0)
    tensor([[ 6.0000, -2.0000],
            [ 7.8000, -2.6000]])
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}: "
                f"{optimizer!r}"
            )
        self._optimizer = optimizer
        self._initial = tuple(_snapshot(p) for p in _optimizer_params(optimizer))
        self._steps: list[Step] = []
        self._pending: dict[str, Any] | None = None
        self._next_loss: torch.Tensor | None = None
        self._diverged_at: int | None = None
        self._handles = [
            optimizer.register_step_pre_hook(self._before_step),
            optimizer.register_step_post_hook(self._after_step),
        ]

    # Recording -----------------------------------------------------------

    def _before_step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> Any:
        """Snapshot what the step is about to use; wrap the closure to catch its loss."""
        params = _optimizer_params(optimizer)
        self._pending = {
            "params_before": tuple(_snapshot(p) for p in params),
            "grads": tuple(_snapshot(p.grad) for p in params),
            "lrs": tuple(float(group["lr"]) for group in optimizer.param_groups),
            "loss": self._next_loss,
        }
        self._next_loss = None
        # step(closure) is called as step(self, closure) or step(self, closure=closure).
        if len(args) > 1 and args[1] is not None:
            return (args[0], self._recording_closure(args[1]), *args[2:]), kwargs
        if kwargs.get("closure") is not None:
            return args, {**kwargs, "closure": self._recording_closure(kwargs["closure"])}
        return None

    def _recording_closure(self, closure: Callable[[], Any]) -> Callable[[], Any]:
        """Wrap ``closure`` so that its first call's loss and gradients are recorded."""
        pending = self._pending
        called = False

        def recording_closure() -> Any:
            nonlocal called
            loss = closure()
            if not called:  # later calls (as LBFGS makes) evaluate other points
                called = True
                pending["loss"] = None if loss is None else _as_loss(loss, "closure()")
                pending["grads"] = tuple(
                    _snapshot(p.grad) for p in _optimizer_params(self._optimizer)
                )
            return loss

        return recording_closure

    def _after_step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        """Snapshot the step's results and append the finished :class:`Step`."""
        pending, self._pending = self._pending, None
        params = _optimizer_params(optimizer)
        step = Step(
            index=len(self._steps),
            params_before=pending["params_before"],
            grads=pending["grads"],
            lrs=pending["lrs"],
            params_after=tuple(_snapshot(p) for p in params),
            momentum_buffers=tuple(
                _snapshot(optimizer.state.get(p, {}).get("momentum_buffer")) for p in params
            ),
            loss=pending["loss"],
        )
        self._steps.append(step)
        if self._diverged_at is None and not step.finite:
            self._diverged_at = step.index

    def log_loss(self, loss: torch.Tensor | float) -> None:
        """Record ``loss`` as the loss of the next step; call it before ``optimizer.step()``.

        A loss returned by a closure passed to ``optimizer.step(closure)`` is
        recorded without this call. Calling it twice before a step keeps the
        second value.

        >>> x = torch.tensor(2.0, requires_grad=True)
        >>> optimizer = torch.optim.SGD([x], lr=0.1)
        >>> trajectory = record(optimizer)
        >>> loss = x**2
        >>> loss.backward()
        >>> trajectory.log_loss(loss)
        >>> optimizer.step()
        >>> trajectory.losses()
        tensor([4.])
        """
        self._next_loss = _as_loss(loss, "loss")

    def detach(self) -> None:
        """Stop recording (remove the hooks); the steps recorded so far stay.

        >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> trajectory = record(optimizer)
        >>> trajectory.detach()
        >>> optimizer.step()
        >>> len(trajectory)
        0
        """
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> Trajectory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.detach()

    # Reading ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        return (
            f"Trajectory(steps={len(self)}, params={len(self._initial)}, "
            f"diverged={self.diverged})"
        )

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The optimizer this trajectory records (or recorded).

        >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> record(optimizer).optimizer is optimizer
        True
        """
        return self._optimizer

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every recorded :class:`Step`, in order.

        >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> record(optimizer).steps
        ()
        """
        return tuple(self._steps)

    @property
    def diverged(self) -> bool:
        """Whether some step produced inf or nan (see :attr:`diverged_at`).

        >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> record(optimizer).diverged
        False
        """
        return self._diverged_at is not None

    @property
    def diverged_at(self) -> int | None:
        """The index of the first step with inf or nan in its loss, gradients or result.

        >>> x = torch.tensor(1.0, requires_grad=True)
        >>> optimizer = torch.optim.SGD([x], lr=1.0)
        >>> trajectory = record(optimizer)
        >>> x.grad = torch.tensor(float("inf"))
        >>> optimizer.step()
        >>> trajectory.diverged_at
        0
        """
        return self._diverged_at

    def _check_index(self, index: Any) -> int:
        """Return ``index`` if it names a recorded parameter, else raise."""
        count = len(self._initial)
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, got {type(index).__name__}: {index!r}")
        if not 0 <= index < count:
            raise ValueError(
                f"index must be in [0, {count}) for an optimizer with {count} parameter(s), "
                f"got {index!r}"
            )
        return index

    def _stack(self, tensors: Sequence[torch.Tensor | None], what: str, index: int) -> torch.Tensor:
        """Stack one parameter's per-step tensors, explaining gaps instead of failing deep."""
        missing = [step for step, tensor in enumerate(tensors) if tensor is None]
        if missing:
            raise ValueError(f"parameter {index} has no {what} at step(s) {missing[:10]}")
        if not tensors:
            like = self._initial[index]
            return like.new_empty((0, *like.shape))
        shapes = {tuple(tensor.shape) for tensor in tensors}
        if len(shapes) > 1:
            raise ValueError(f"parameter {index} changed shape between steps: {sorted(shapes)}")
        return torch.stack(list(tensors))

    def _per_step(self, attribute: str, index: int) -> list[torch.Tensor | None]:
        """Collect one parameter's entry of a :class:`Step` attribute over the steps."""
        values = []
        for step in self._steps:
            entries = getattr(step, attribute)
            if index >= len(entries):
                raise ValueError(
                    f"index {index} is out of range at step {step.index}, where the optimizer "
                    f"held {len(entries)} parameter(s)"
                )
            values.append(entries[index])
        return values

    def params(self, index: int = 0) -> torch.Tensor:
        """Return parameter ``index`` before the first step, then after each: ``(steps + 1, *shape)``.

        >>> x = torch.tensor(1.0, requires_grad=True)
        >>> optimizer = torch.optim.SGD([x], lr=0.5)
        >>> trajectory = record(optimizer)
        >>> trajectory.params()
        tensor([1.])
        """
        index = self._check_index(index)
        first = self._steps[0].params_before[index] if self._steps else self._initial[index]
        return self._stack([first, *self._per_step("params_after", index)], "value", index)

    def path(self) -> torch.Tensor:
        """Return every parameter, flattened and joined, at each point: ``(steps + 1, n)``.

        For the article's two scalars ``x`` and ``c`` this is the ``(x, c)``
        path, ready for :func:`sgdlab.plot_paths`.

        >>> x, c = torch.tensor(5.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
        >>> optimizer = torch.optim.SGD([x, c], lr=1.0)
        >>> trajectory = record(optimizer)
        >>> (c * 3 * torch.exp(x) + 2.0 * x + 4.0).backward()
        >>> optimizer.step()
        >>> trajectory.path()
        tensor([[    5.0000,     3.0000],
                [-1332.7185,  -442.2395]])
        """
        columns = [self.params(index).reshape(len(self) + 1, -1) for index in range(len(self._initial))]
        return torch.cat(columns, dim=1)

    def grads(self, index: int = 0) -> torch.Tensor:
        """Return the gradient of parameter ``index`` at each step: ``(steps, *shape)``.

        >>> x = torch.tensor(1.0, requires_grad=True)
        >>> optimizer = torch.optim.SGD([x], lr=0.5)
        >>> trajectory = record(optimizer)
        >>> (3 * x).backward()
        >>> optimizer.step()
        >>> trajectory.grads()
        tensor([3.])
        """
        index = self._check_index(index)
        return self._stack(self._per_step("grads", index), "gradient", index)

    def momentum_buffers(self, index: int = 0) -> torch.Tensor:
        """Return the momentum buffer of parameter ``index`` after each step: ``(steps, *shape)``.

        Raises ``ValueError`` when the optimizer kept none (SGD with ``momentum=0``).

        >>> x = torch.tensor(1.0, requires_grad=True)
        >>> optimizer = torch.optim.SGD([x], lr=0.5, momentum=0.9)
        >>> trajectory = record(optimizer)
        >>> for _ in range(2):
        ...     x.grad = torch.tensor(1.0)
        ...     optimizer.step()
        >>> trajectory.momentum_buffers()
        tensor([1.0000, 1.9000])
        """
        index = self._check_index(index)
        return self._stack(self._per_step("momentum_buffers", index), "momentum buffer", index)

    def lrs(self, group: int = 0) -> list[float]:
        """Return the learning rate of param group ``group`` at each step.

        >>> x = torch.tensor(1.0, requires_grad=True)
        >>> optimizer = torch.optim.SGD([x], lr=0.5)
        >>> trajectory = record(optimizer)
        >>> x.grad = torch.tensor(1.0)
        >>> optimizer.step()
        >>> optimizer.param_groups[0]["lr"] = 0.1
        >>> optimizer.step()
        >>> trajectory.lrs()
        [0.5, 0.1]
        """
        count = len(self._optimizer.param_groups)
        if isinstance(group, bool) or not isinstance(group, int):
            raise TypeError(f"group must be an int, got {type(group).__name__}: {group!r}")
        if not 0 <= group < count:
            raise ValueError(f"group must be in [0, {count}), got {group!r}")
        return [step.lrs[group] for step in self._steps]

    def losses(self) -> torch.Tensor:
        """Return the loss of each step (at the parameters before it): ``(steps,)``.

        Raises ``ValueError`` when some step's loss was never given.

        >>> x = torch.tensor(2.0, requires_grad=True)
        >>> optimizer = torch.optim.SGD([x], lr=0.25)
        >>> trajectory = record(optimizer)
        >>> def closure():
        ...     optimizer.zero_grad()
        ...     loss = x**2
        ...     loss.backward()
        ...     return loss
        >>> for _ in range(3):
        ...     _ = optimizer.step(closure)
        >>> trajectory.losses()
        tensor([4.0000, 1.0000, 0.2500])
        """
        missing = [step.index for step in self._steps if step.loss is None]
        if missing:
            raise ValueError(
                f"no loss was given for step(s) {missing[:10]}: call trajectory.log_loss(loss) "
                "before optimizer.step(), or pass a closure that returns the loss"
            )
        if not self._steps:
            return torch.empty(0)
        return torch.stack([step.loss for step in self._steps])


def record(optimizer: torch.optim.Optimizer) -> Trajectory:
    """Start recording ``optimizer``'s steps; use it in a ``with`` block to stop at the end.

    Outside a ``with`` block, call :meth:`Trajectory.detach` to stop. The
    training loop itself does not change.

    >>> x = torch.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = torch.optim.SGD([x], lr=0.1)
    >>> with record(optimizer) as trajectory:
    ...     for _ in range(3):
    ...         optimizer.zero_grad()
    ...         (x**2).sum().backward()
    ...         optimizer.step()
    >>> len(trajectory)
    3
    >>> trajectory.grads(0)[0]
    tensor([ 2., -4.])
    """
    return Trajectory(optimizer)


def _start_tensor(
    objective: Any, start: Any, device: torch.device | str | None, dtype: torch.dtype
) -> torch.Tensor:
    """Build the leaf tensor a descent starts from, checking ``start`` against the objective."""
    if start is None:
        start = getattr(objective, "start", None)
        if start is None:
            raise ValueError("start is None and the objective has no .start; pass start=")
    if isinstance(start, torch.Tensor):
        point = start.detach().to(device=device, dtype=dtype, copy=True)
    else:
        try:
            point = torch.tensor(start, dtype=dtype, device=device)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"start must be a sequence of numbers, got {start!r}") from error
    dim = getattr(objective, "dim", None)
    if dim is not None and tuple(point.shape) != (dim,):
        raise ValueError(
            f"start must have {dim} coordinates for this objective, got shape {tuple(point.shape)}"
        )
    if not bool(point.isfinite().all()):
        raise ValueError(f"start must be finite, got {start!r}")
    return point.requires_grad_(True)


def minimize(
    objective: Callable[[torch.Tensor], torch.Tensor],
    make_optimizer: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    steps: int,
    *,
    start: Sequence[float] | torch.Tensor | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Trajectory:
    """Run ``steps`` plain descent steps on ``objective`` and return their :class:`Trajectory`.

    The point is a new leaf tensor made from ``start`` (default: the
    objective's ``start``) on ``device`` (default: CPU) in ``dtype``. Because
    that tensor only exists inside this function, pass a function that builds
    the optimizer from a list of parameters, such as
    ``lambda params: torch.optim.SGD(params, lr=0.1)``. Each step is
    ``zero_grad()``, ``loss = objective(point)``, ``loss.backward()``,
    ``step()``, with no gradient clipping or other help. When a step produces
    inf or nan the run stops there and the trajectory says so
    (``trajectory.diverged_at``).

    Args:
        objective: An :class:`~sgdlab.Objective` or any function from a 1-D
            tensor to a one-element tensor.
        make_optimizer: Builds the optimizer from ``[point]``.
        steps: How many steps to take, ``>= 0``.
        start: The starting point; required when the objective has no ``start``.
        device: Where the point lives (the recorded copies are on the CPU).
        dtype: The point's floating-point dtype.

    >>> from sgdlab import quadratic
    >>> bowl = quadratic(condition_number=4.0)
    >>> trajectory = minimize(bowl, lambda params: torch.optim.SGD(params, lr=0.25), steps=3)
    >>> trajectory.path()
    tensor([[-2.5000,  2.0000],
            [-1.8750,  0.0000],
            [-1.4062,  0.0000],
            [-1.0547,  0.0000]])
    >>> trajectory.losses()
    tensor([11.1250,  1.7578,  0.9888])
    >>> minimize(bowl, lambda params: torch.optim.SGD(params, lr=1e20), steps=5).diverged_at
    1
    """
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}: {objective!r}")
    if isinstance(make_optimizer, torch.optim.Optimizer):
        raise TypeError(
            "make_optimizer must be a function that builds the optimizer from the parameters "
            "minimize creates, such as lambda params: torch.optim.SGD(params, lr=0.1); "
            f"got an optimizer: {type(make_optimizer).__name__}"
        )
    if not callable(make_optimizer):
        raise TypeError(
            f"make_optimizer must be callable, got {type(make_optimizer).__name__}: "
            f"{make_optimizer!r}"
        )
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be an int, got {type(steps).__name__}: {steps!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps!r}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")

    point = _start_tensor(objective, start, device, dtype)
    optimizer = make_optimizer([point])
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "make_optimizer must return a torch.optim.Optimizer, got "
            f"{type(optimizer).__name__}: {optimizer!r}"
        )
    with record(optimizer) as trajectory:
        for _ in range(steps):
            optimizer.zero_grad()
            loss = objective(point)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(
                    "objective must return a one-element tensor, got "
                    f"{type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}"
                )
            loss.reshape(()).backward()
            trajectory.log_loss(loss)
            optimizer.step()
            if trajectory.diverged:
                break
    return trajectory
