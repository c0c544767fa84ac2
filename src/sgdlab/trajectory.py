"""Record what an optimizer does at every step, without changing the training loop.

:func:`~sgdlab.minimize` runs a plain descent loop on an objective and returns a
:class:`Trajectory`: it hooks into the optimizer's ``step()`` (through
``register_step_pre_hook`` and ``register_step_post_hook``) and keeps, for each
step, CPU copies of the parameters before and after it, the gradients it used,
the momentum buffers it left, and the loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Step", "Trajectory", "minimize"]


@dataclass(frozen=True)
class Step:
    """What one call to ``optimizer.step()`` saw and did; tensors are CPU copies.

    Parameters are listed in the optimizer's order: group by group, then in
    each group's ``params`` order.

    Attributes:
        index: The step's number, from ``0``.
        params_before: Each parameter before the step.
        grads: Each parameter's gradient as the step used it (``None`` where it had none).
        params_after: Each parameter after the step.
        momentum_buffers: Each parameter's ``momentum_buffer`` after the step
            (``None`` where the optimizer keeps none, as SGD without momentum).
        loss: The loss at ``params_before``.

    >>> from sgdlab import quadratic
    >>> trajectory = minimize(quadratic(), lambda params: torch.optim.SGD(params, lr=0.5),
    ...                       steps=1, start=[1.0, 2.0])
    >>> step = trajectory.steps[0]
    >>> step.params_before, step.grads, step.params_after
    ((tensor([1., 2.]),), (tensor([ 1., 20.]),), (tensor([ 0.5000, -8.0000]),))
    >>> step.momentum_buffers, step.loss, step.finite
    ((None,), tensor(20.5000), True)
    """

    index: int
    params_before: tuple[torch.Tensor, ...]
    grads: tuple[torch.Tensor | None, ...]
    params_after: tuple[torch.Tensor, ...]
    momentum_buffers: tuple[torch.Tensor | None, ...]
    loss: torch.Tensor | None

    @property
    def finite(self) -> bool:
        """Whether the loss, the gradients and the new parameters are all finite (no inf/nan).

        >>> Step(0, (), (), (torch.tensor(float("inf")),), (), None).finite
        False
        """
        tensors = [*self.params_after, *self.grads, self.loss]
        return all(bool(_dense(t).isfinite().all()) for t in tensors if t is not None)


def _dense(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor``, or its dense form when it is sparse (which has no ``isfinite``)."""
    return tensor if tensor.layout is torch.strided else tensor.to_dense()


def _snapshot(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """Return a detached CPU copy of ``tensor`` (``None`` stays ``None``)."""
    if tensor is None:
        return None
    return _dense(tensor).detach().to("cpu", copy=True)  # a sparse gradient: recorded densely


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
    """The steps an optimizer took in :func:`minimize`, which makes and returns one.

    ``len(trajectory)`` is the number of steps; the accessors stack one
    quantity over the steps into a tensor, indexing parameters in the
    optimizer's order (group by group). A step whose loss, gradients or new
    parameters hold inf or nan marks the trajectory as diverged.

    >>> from sgdlab import quadratic
    >>> make = lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.5)
    >>> trajectory = minimize(quadratic(), make, steps=2, start=[3.0, 0.0])
    >>> trajectory
    Trajectory(steps=2, params=1, diverged=False)
    >>> trajectory.params(0)
    tensor([[3.0000, 0.0000],
            [2.7000, 0.0000],
            [2.2800, 0.0000]])
    >>> trajectory.losses()
    tensor([4.5000, 3.6450])
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}: "
                f"{optimizer!r}"
            )
        params = _optimizer_params(optimizer)
        meta = [index for index, p in enumerate(params) if p.is_meta]
        if meta:
            raise ValueError(f"optimizer holds meta tensors (parameters {meta}), which hold "
                             "no values to record")
        self._params = params  # the tensors recorded, by position, for the whole history
        self._initial = tuple(_snapshot(p) for p in params)
        self._steps: list[Step] = []
        self._pending: dict[str, Any] | None = None
        self._next_loss: torch.Tensor | None = None
        self._diverged_at: int | None = None
        self._handles = [
            optimizer.register_step_pre_hook(self._before_step),
            optimizer.register_step_post_hook(self._after_step),
        ]

    # Recording (minimize drives it) -------------------------------------------

    def _before_step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        """Snapshot what the step is about to use; refuse (before it runs) if the tensors changed."""
        params = _optimizer_params(optimizer)
        if len(params) != len(self._params) or any(
            p is not q for p, q in zip(params, self._params)
        ):
            raise ValueError(
                f"the optimizer's parameters changed while a Trajectory records it (it held "
                f"{len(self._params)} tensor(s), now {len(params)}: a group was added or a "
                "tensor replaced); index i would mix two tensors, so the step is refused. "
                "Start a new Trajectory (or use minimize) after changing param_groups"
            )
        self._pending = {
            "params_before": tuple(_snapshot(p) for p in params),
            "grads": tuple(_snapshot(p.grad) for p in params),
            "loss": self._next_loss,
        }

    def _after_step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        """Snapshot the step's results and append the finished :class:`Step`."""
        pending, self._pending = self._pending, None
        params = self._params
        step = Step(
            index=len(self._steps),
            params_before=pending["params_before"],
            grads=pending["grads"],
            params_after=tuple(_snapshot(p) for p in params),
            momentum_buffers=tuple(
                _snapshot(optimizer.state.get(p, {}).get("momentum_buffer")) for p in params
            ),
            loss=pending["loss"],
        )
        self._steps.append(step)
        if self._diverged_at is None and not step.finite:
            self._diverged_at = step.index

    def _detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # Reading ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        return (
            f"Trajectory(steps={len(self)}, params={len(self._initial)}, "
            f"diverged={self.diverged})"
        )

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every recorded :class:`Step`, in order.

        >>> from sgdlab import quadratic
        >>> len(minimize(quadratic(), lambda params: torch.optim.SGD(params), steps=2).steps)
        2
        """
        return tuple(self._steps)

    @property
    def diverged(self) -> bool:
        """Whether some step produced inf or nan (see :attr:`diverged_at`).

        >>> from sgdlab import quadratic
        >>> minimize(quadratic(), lambda params: torch.optim.SGD(params), steps=1).diverged
        False
        """
        return self._diverged_at is not None

    @property
    def diverged_at(self) -> int | None:
        """The index of the first step with inf or nan in its loss, gradients or result.

        >>> from sgdlab import quadratic
        >>> make = lambda params: torch.optim.SGD(params, lr=1e20)
        >>> minimize(quadratic(), make, steps=5).diverged_at
        1
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
        return torch.stack(list(tensors))

    def _per_step(self, attribute: str, index: int) -> list[torch.Tensor | None]:
        """Collect one parameter's entry of a :class:`Step` attribute over the steps."""
        return [getattr(step, attribute)[index] for step in self._steps]

    def params(self, index: int = 0) -> torch.Tensor:
        """Return parameter ``index`` before the first step, then after each: ``(steps + 1, *shape)``.

        >>> from sgdlab import quadratic
        >>> make = lambda params: torch.optim.SGD(params, lr=0.5)
        >>> minimize(quadratic(), make, steps=1, start=[1.0, 0.0]).params()
        tensor([[1.0000, 0.0000],
                [0.5000, 0.0000]])
        """
        index = self._check_index(index)
        first = self._steps[0].params_before[index] if self._steps else self._initial[index]
        return self._stack([first, *self._per_step("params_after", index)], "value", index)

    def path(self) -> torch.Tensor:
        """Return every parameter, flattened and joined, at each point: ``(steps + 1, n)``.

        >>> from sgdlab import quadratic
        >>> make = lambda params: torch.optim.SGD(params, lr=0.5)
        >>> minimize(quadratic(), make, steps=1, start=[1.0, 0.0]).path()
        tensor([[1.0000, 0.0000],
                [0.5000, 0.0000]])
        """
        count = len(self) + 1
        columns = [self.params(index).reshape(count, -1) for index in range(len(self._initial))]
        return torch.cat(columns, dim=1)

    def grads(self, index: int = 0) -> torch.Tensor:
        """Return the gradient of parameter ``index`` at each step: ``(steps, *shape)``.

        >>> from sgdlab import quadratic
        >>> make = lambda params: torch.optim.SGD(params, lr=0.5)
        >>> minimize(quadratic(), make, steps=1, start=[1.0, 1.0]).grads()
        tensor([[ 1., 10.]])
        """
        index = self._check_index(index)
        return self._stack(self._per_step("grads", index), "gradient", index)

    def momentum_buffers(self, index: int = 0) -> torch.Tensor:
        """Return the momentum buffer of parameter ``index`` after each step: ``(steps, *shape)``.

        Raises ``ValueError`` when the optimizer kept none (SGD with ``momentum=0``).

        >>> from sgdlab import quadratic
        >>> make = lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)
        >>> minimize(quadratic(), make, steps=2, start=[1.0, 0.0]).momentum_buffers()
        tensor([[1.0000, 0.0000],
                [1.8000, 0.0000]])
        """
        index = self._check_index(index)
        return self._stack(self._per_step("momentum_buffers", index), "momentum buffer", index)

    def losses(self) -> torch.Tensor:
        """Return the loss of each step (at the parameters before it): ``(steps,)``.

        >>> from sgdlab import quadratic
        >>> make = lambda params: torch.optim.SGD(params, lr=0.25)
        >>> minimize(quadratic(), make, steps=3, start=[2.0, 0.0]).losses()
        tensor([2.0000, 1.1250, 0.6328])
        """
        if not self._steps:
            return torch.empty(0)
        return torch.stack([step.loss for step in self._steps])


def _start_tensor(
    objective: Any, start: Any, device: torch.device | str | None, dtype: torch.dtype
) -> torch.Tensor:
    """Build the leaf tensor a descent starts from, checking ``start`` against the objective."""
    if start is None:
        start = getattr(objective, "start", None)
        if start is None:
            raise ValueError("start is None and the objective has no .start; pass start=")
    if isinstance(start, torch.Tensor):
        if start.is_complex() or start.is_meta:
            kind = "complex" if start.is_complex() else "a meta tensor, which holds no values"
            raise ValueError(f"start must be real numbers, got {kind}: {start!r}")
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

    if device is not None:
        try:
            device = torch.device(device)
        except (TypeError, RuntimeError) as error:
            raise ValueError(f"device must name a torch device, such as 'cpu' or 'cuda', "
                             f"got {device!r}") from error
    point = _start_tensor(objective, start, device, dtype)
    optimizer = make_optimizer([point])
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "make_optimizer must return a torch.optim.Optimizer, got "
            f"{type(optimizer).__name__}: {optimizer!r}"
        )
    held = _optimizer_params(optimizer)
    if len(held) != 1 or held[0] is not point:
        raise ValueError(
            "make_optimizer must build the optimizer over the list it is given (the point "
            f"minimize moves); the optimizer returned holds {len(held)} tensor(s), not just the point"
        )
    trajectory = Trajectory(optimizer)
    try:
        for _ in range(steps):
            optimizer.zero_grad()
            loss = objective(point)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(
                    "objective must return a one-element tensor, got "
                    f"{type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}"
                )
            loss.reshape(()).backward()
            trajectory._next_loss = _as_loss(loss, "objective(point)")
            optimizer.step()
            if trajectory.diverged:
                break
    finally:
        trajectory._detach()
    return trajectory
