"""Functions to minimize: classic test functions with known minima.

Each factory returns an :class:`Objective`: a callable that maps a tensor of
points of shape ``(..., dim)`` to their values of shape ``(...)``, together
with what a plot or a check needs to know (the minimum, its value, a plotting
window and a usual starting point). Every function is written with plain torch
operations on its input, so it runs on the input's device and in its dtype,
and autograd differentiates it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from types import MappingProxyType
from typing import Any

import torch

__all__ = [
    "Objective",
    "quadratic",
    "rosenbrock",
    "rastrigin",
    "beale",
]

Point = tuple[float, ...]
Bounds = tuple[tuple[float, float], ...]


@dataclass(frozen=True, eq=False, repr=False)
class Objective:
    """A function of a point, with its known minimum and a window to plot it in.

    Build one with the factories of this module (:func:`quadratic`,
    :func:`rosenbrock`, ...) rather than by hand.

    Attributes:
        name: A short human-readable name, used as a plot title.
        function: ``function(point)`` maps a tensor of shape ``(..., dim)`` to
            values of shape ``(...)``; call the objective itself instead, which
            checks the point first.
        dim: The number of coordinates of a point.
        minimum: The global minimizer as a tuple of floats, or ``None`` when
            the function has no minimum.
        minimum_value: The value at ``minimum``, or ``None``.
        bounds: One ``(low, high)`` range per coordinate: a window that shows
            the interesting part of the function (a contour plot uses it).
        start: A usual starting point for a descent.
        variables: The names of the coordinates, used as axis labels.
        constants: The constants the function was built with (read-only).

    >>> objective = rosenbrock()
    >>> objective
    Objective('Rosenbrock', dim=2, minimum=(1.0, 1.0))
    >>> objective(torch.tensor([1.0, 1.0]))
    tensor(0.)
    >>> objective(torch.zeros(4, 3, 2)).shape
    torch.Size([4, 3])
    """

    name: str
    function: Callable[[torch.Tensor], torch.Tensor]
    dim: int
    minimum: Point | None
    minimum_value: float | None
    bounds: Bounds
    start: Point
    variables: tuple[str, ...]
    constants: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_fields(self)
        # A read-only view, so that a frozen objective cannot drift from its function.
        object.__setattr__(self, "constants", MappingProxyType(dict(self.constants)))

    def __repr__(self) -> str:
        return f"Objective({self.name!r}, dim={self.dim}, minimum={self.minimum})"

    def __call__(self, point: torch.Tensor) -> torch.Tensor:
        """Return the value at ``point`` (shape ``(..., dim)``), shaped ``(...)``.

        >>> quadratic(condition_number=4.0)(torch.tensor([1.0, 1.0]))
        tensor(2.5000)
        """
        _check_point(point, self.dim)
        return self.function(point)

    def gradient(self, point: torch.Tensor) -> torch.Tensor:
        """Return the gradient at ``point`` (by autograd), with the point's shape.

        Works on a batch of points too: each point gets its own gradient.

        >>> quadratic(condition_number=4.0).gradient(torch.tensor([1.0, 1.0]))
        tensor([1., 4.])
        """
        _check_point(point, self.dim)
        with torch.enable_grad():
            leaf = point.detach().requires_grad_(True)
            # The points do not interact, so the gradient of the sum holds each one's gradient.
            (gradient,) = torch.autograd.grad(self.function(leaf).sum(), leaf)
        return gradient


def _check_fields(objective: Objective) -> None:
    """Raise a TypeError/ValueError naming the first field an :class:`Objective` cannot use."""
    if not isinstance(objective.name, str):
        raise TypeError(f"name must be a str, got {type(objective.name).__name__}")
    if not callable(objective.function):
        raise TypeError(f"function must be callable, got {type(objective.function).__name__}")
    dim = objective.dim
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}: {dim!r}")
    if not 1 <= dim <= _MAX_DIM:
        raise ValueError(f"dim must be between 1 and {_MAX_DIM}, got {dim!r}")

    def point(value: Any, name: str) -> None:
        if not isinstance(value, tuple) or len(value) != dim:
            raise TypeError(f"{name} must be a tuple of {dim} numbers, got {value!r}")
        for entry in value:
            _check_finite(entry, name)

    if objective.minimum is not None:
        point(objective.minimum, "minimum")
    if objective.minimum_value is not None:
        _check_finite(objective.minimum_value, "minimum_value")
    point(objective.start, "start")
    bounds = objective.bounds
    if not isinstance(bounds, tuple) or len(bounds) != dim:
        raise TypeError(f"bounds must be a tuple of {dim} (low, high) pairs, got {bounds!r}")
    for pair in bounds:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"bounds must hold (low, high) pairs, got {pair!r}")
        low, high = _check_finite(pair[0], "bounds"), _check_finite(pair[1], "bounds")
        if not low < high:
            raise ValueError(f"bounds must have low < high, got {pair!r}")
    variables = objective.variables
    if not (isinstance(variables, tuple) and len(variables) == dim
            and all(isinstance(v, str) for v in variables)):
        raise TypeError(f"variables must be a tuple of {dim} strings, got {variables!r}")
    if not isinstance(objective.constants, Mapping):
        raise TypeError(f"constants must be a mapping, got {type(objective.constants).__name__}")


def _check_point(point: Any, dim: int) -> None:
    """Raise unless ``point`` is a floating tensor whose last dimension is ``dim``."""
    if not isinstance(point, torch.Tensor):
        raise TypeError(f"point must be a torch.Tensor, got {type(point).__name__}: {point!r}")
    if not point.is_floating_point():
        raise TypeError(f"point must be a floating-point tensor, got dtype {point.dtype}")
    if point.is_meta:
        raise ValueError("point is a meta tensor, which holds no values")
    if point.layout is not torch.strided:
        raise ValueError(f"point must be a dense tensor, got layout {point.layout}")
    if point.dim() == 0 or point.shape[-1] != dim:
        raise ValueError(
            f"point must have shape (..., {dim}), got shape {tuple(point.shape)}"
        )


#: The largest ``dim`` :func:`rastrigin` builds (its tuples hold ``dim`` entries each).
_MAX_DIM = 10_000


def _is_number(value: Any) -> bool:
    """An int or float (numpy's included), not a bool, not a Fraction or Decimal."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return type(value).__module__ == "numpy" and isinstance(value, Real) and type(
        value
    ).__name__ != "bool_"


def _as_float(value: Any, name: str) -> float:
    """``value`` as a float, or a TypeError/ValueError naming ``name``."""
    if not _is_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}: {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    except Exception as error:  # noqa: BLE001 (a number whose __float__ fails)
        raise TypeError(f"{name} must be a number, got {type(value).__name__} whose float() "
                        f"fails: {error}") from None


def _check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float, raising unless it is a finite number above zero."""
    number = _as_float(value, name)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def _check_finite(value: Any, name: str) -> float:
    """Return ``value`` as a float, raising unless it is a finite number."""
    number = _as_float(value, name)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def quadratic(condition_number: float = 10.0, smallest_eigenvalue: float = 1.0) -> Objective:
    """Return the quadratic bowl ``0.5 (l1 x**2 + l2 y**2)`` with ``l2 / l1 = condition_number``.

    The eigenvalues of the Hessian are ``l1 = smallest_eigenvalue`` (along
    ``x``) and ``l2 = smallest_eigenvalue * condition_number`` (along ``y``);
    they are in ``constants["eigenvalues"]``. Plain gradient descent converges
    on it exactly when ``lr < 2 / l2``, and slowly along ``x`` when the
    condition number is large.

    Args:
        condition_number: The ratio of the largest eigenvalue to the smallest, ``> 0``.
        smallest_eigenvalue: The curvature along ``x``, ``> 0``.

    >>> bowl = quadratic(condition_number=10.0)
    >>> bowl.constants["eigenvalues"]
    (1.0, 10.0)
    >>> bowl.minimum, bowl.minimum_value
    ((0.0, 0.0), 0.0)
    >>> bowl.gradient(torch.tensor([1.0, 1.0]))
    tensor([ 1., 10.])
    """
    condition_number = _check_positive(condition_number, "condition_number")
    smallest_eigenvalue = _check_positive(smallest_eigenvalue, "smallest_eigenvalue")
    eigenvalues = (smallest_eigenvalue, smallest_eigenvalue * condition_number)
    if not math.isfinite(eigenvalues[1]):
        raise ValueError(
            f"smallest_eigenvalue * condition_number = {smallest_eigenvalue!r} * "
            f"{condition_number!r} overflows a float; make one of them smaller"
        )

    def function(point: torch.Tensor) -> torch.Tensor:
        x, y = point[..., 0], point[..., 1]
        return 0.5 * (eigenvalues[0] * x**2 + eigenvalues[1] * y**2)

    return Objective(
        name=f"quadratic, condition number {condition_number:g}",
        function=function,
        dim=2,
        minimum=(0.0, 0.0),
        minimum_value=0.0,
        bounds=((-3.0, 3.0), (-3.0, 3.0)),
        start=(-2.5, 2.0),
        variables=("x", "y"),
        constants={"condition_number": condition_number, "eigenvalues": eigenvalues},
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Objective:
    """Return Rosenbrock's banana valley ``(a - x)**2 + b (y - x**2)**2``.

    Its minimum is ``0`` at ``(a, a**2)``, at the end of a long, flat, curved
    valley; the usual start is ``(-1.2, 1)``.

    Args:
        a: Where the minimum lies along ``x``.
        b: How steep the valley walls are, ``> 0``.

    >>> banana = rosenbrock()
    >>> banana(torch.tensor(banana.start))
    tensor(24.2000)
    >>> banana.gradient(torch.tensor(banana.minimum))
    tensor([0., 0.])
    """
    a = _check_finite(a, "a")
    b = _check_positive(b, "b")
    if not math.isfinite(a * a + 1.0):
        raise ValueError(f"a={a!r} puts the minimum at (a, a**2), which overflows a float")

    def function(point: torch.Tensor) -> torch.Tensor:
        x, y = point[..., 0], point[..., 1]
        return (a - x) ** 2 + b * (y - x**2) ** 2

    return Objective(
        name="Rosenbrock",
        function=function,
        dim=2,
        minimum=(a, a * a),
        minimum_value=0.0,
        # The classic window, widened when a moves the minimum out of it.
        bounds=((min(-2.0, a - 1.0), max(2.0, a + 1.0)), (-1.0, max(3.0, a * a + 1.0))),
        start=(-1.2, 1.0),
        variables=("x", "y"),
        constants={"a": a, "b": b},
    )


def rastrigin(A: float = 10.0, dim: int = 2) -> Objective:  # noqa: N803 (the usual name)
    """Return Rastrigin's function ``A dim + sum(x_i**2 - A cos(2 pi x_i))``.

    A bowl covered in regularly spaced local minima; the global minimum is
    ``0`` at the origin. Plots need ``dim=2``.

    Args:
        A: The height of the ripples, ``> 0``.
        dim: The number of coordinates, ``>= 1``.

    >>> ripples = rastrigin()
    >>> ripples(torch.tensor([0.0, 0.0]))
    tensor(0.)
    >>> rastrigin(dim=3).start
    (2.5, 2.5, 2.5)
    """
    A = _check_positive(A, "A")  # noqa: N806
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}: {dim!r}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim!r}")
    if dim > _MAX_DIM:
        raise ValueError(f"dim must be <= {_MAX_DIM} (its minimum, start and window are tuples), "
                         f"got {dim!r}")
    if not math.isfinite(A * dim):
        raise ValueError(f"A * dim = {A!r} * {dim!r} overflows a float; make A smaller")

    def function(point: torch.Tensor) -> torch.Tensor:
        return A * dim + (point**2 - A * torch.cos(2 * math.pi * point)).sum(dim=-1)

    return Objective(
        name="Rastrigin",
        function=function,
        dim=dim,
        minimum=(0.0,) * dim,
        minimum_value=0.0,
        bounds=((-5.12, 5.12),) * dim,
        start=(2.5,) * dim,
        variables=("x", "y") if dim == 2 else tuple(f"x{i}" for i in range(dim)),
        constants={"A": A},
    )


def beale() -> Objective:
    """Return Beale's function, a sum of three squares with sharp ridges near the corners.

    ``(1.5 - x + x y)**2 + (2.25 - x + x y**2)**2 + (2.625 - x + x y**3)**2``
    has its minimum ``0`` at ``(3, 0.5)``.

    >>> valley = beale()
    >>> valley(torch.tensor(valley.minimum))
    tensor(0.)
    >>> valley.bounds
    ((-4.5, 4.5), (-4.5, 4.5))
    """

    def function(point: torch.Tensor) -> torch.Tensor:
        x, y = point[..., 0], point[..., 1]
        return (
            (1.5 - x + x * y) ** 2
            + (2.25 - x + x * y**2) ** 2
            + (2.625 - x + x * y**3) ** 2
        )

    return Objective(
        name="Beale",
        function=function,
        dim=2,
        minimum=(3.0, 0.5),
        minimum_value=0.0,
        bounds=((-4.5, 4.5), (-4.5, 4.5)),
        start=(1.0, 1.0),
        variables=("x", "y"),
        constants={},
    )
