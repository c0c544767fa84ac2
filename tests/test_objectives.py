"""The objectives: values, gradients against hand-derived formulas, minima, argument checks."""

import math

import pytest
import torch

import sgdlab
from sgdlab import beale, quadratic, rastrigin, rosenbrock

# Points away from any minimum, where every gradient component is non-zero.
POINTS = torch.tensor([[0.3, -0.7], [1.1, 0.4], [-1.3, 1.6]], dtype=torch.float64)


def rosenbrock_gradient(p, a=1.0, b=100.0):
    x, y = p[..., 0], p[..., 1]
    return torch.stack([-2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2)], dim=-1)


def beale_gradient(p):
    x, y = p[..., 0], p[..., 1]
    t1, t2, t3 = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    dx = 2 * t1 * (y - 1) + 2 * t2 * (y**2 - 1) + 2 * t3 * (y**3 - 1)
    dy = 2 * t1 * x + 2 * t2 * 2 * x * y + 2 * t3 * 3 * x * y**2
    return torch.stack([dx, dy], dim=-1)


def rastrigin_gradient(p, A=10.0):
    return 2 * p + 2 * math.pi * A * torch.sin(2 * math.pi * p)


def quadratic_gradient(p, eigenvalues):
    return p * torch.tensor(eigenvalues, dtype=p.dtype)


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (rosenbrock(), rosenbrock_gradient),
        (rosenbrock(a=2.0, b=5.0), lambda p: rosenbrock_gradient(p, 2.0, 5.0)),
        (beale(), beale_gradient),
        (rastrigin(), rastrigin_gradient),
        (rastrigin(A=3.0), lambda p: rastrigin_gradient(p, 3.0)),
        (quadratic(), lambda p: quadratic_gradient(p, (1.0, 10.0))),
        (quadratic(4.0, 0.5), lambda p: quadratic_gradient(p, (0.5, 2.0))),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_gradient_matches_hand_derived_formula(objective, expected):
    torch.testing.assert_close(objective.gradient(POINTS), expected(POINTS))


@pytest.mark.parametrize(
    "objective", [rosenbrock(), beale(), rastrigin(), quadratic()]
)
def test_gradcheck_float64(objective):
    point = POINTS[1].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(objective, (point,))


@pytest.mark.parametrize(
    "objective",
    [rosenbrock(), rosenbrock(a=-0.5, b=3.0), beale(), rastrigin(), rastrigin(dim=5),
     quadratic(100.0)],
)
def test_minimum_has_its_value_and_zero_gradient(objective):
    minimum = torch.tensor(objective.minimum, dtype=torch.float64)
    assert objective(minimum).item() == pytest.approx(objective.minimum_value, abs=1e-12)
    torch.testing.assert_close(objective.gradient(minimum), torch.zeros_like(minimum))


@pytest.mark.parametrize(
    "objective", [rosenbrock(a=2.5), beale(), rastrigin(), quadratic()]
)
def test_minimum_and_start_lie_inside_bounds(objective):
    for coordinate, (low, high) in enumerate(objective.bounds):
        assert low < objective.start[coordinate] < high
        if objective.minimum is not None:
            assert low < objective.minimum[coordinate] < high


def test_minimum_is_lowest_on_a_grid():
    for objective in [rosenbrock(), beale(), rastrigin(), quadratic(30.0)]:
        (x_low, x_high), (y_low, y_high) = objective.bounds
        xs = torch.linspace(x_low, x_high, 101, dtype=torch.float64)
        ys = torch.linspace(y_low, y_high, 101, dtype=torch.float64)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
        assert objective(grid).min().item() >= objective.minimum_value


def test_quadratic_exposes_eigenvalues():
    bowl = quadratic(condition_number=25.0, smallest_eigenvalue=0.2)
    assert bowl.constants["eigenvalues"] == (0.2, pytest.approx(5.0))
    assert bowl.constants["condition_number"] == 25.0
    hessian = torch.autograd.functional.hessian(bowl, torch.tensor([0.3, 0.1], dtype=torch.float64))
    torch.testing.assert_close(
        torch.linalg.eigvalsh(hessian), torch.tensor([0.2, 5.0], dtype=torch.float64)
    )


def test_rastrigin_in_three_dimensions():
    ripples = rastrigin(dim=3)
    assert ripples.dim == 3 and len(ripples.bounds) == 3
    assert ripples(torch.ones(3)).item() == pytest.approx(3.0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_result_keeps_dtype_and_batch_shape(dtype):
    for objective in [rosenbrock(), beale(), rastrigin(), quadratic()]:
        points = torch.zeros(5, 4, 2, dtype=dtype)
        values = objective(points)
        assert values.shape == (5, 4) and values.dtype == dtype


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
def test_runs_on_cuda():
    for objective in [rosenbrock(), beale(), rastrigin(), quadratic()]:
        point = POINTS.to("cuda")
        assert objective(point).device.type == "cuda"
        torch.testing.assert_close(objective.gradient(point).cpu(), objective.gradient(POINTS))


def test_objective_is_frozen():
    banana = rosenbrock()
    with pytest.raises(AttributeError):
        banana.minimum = (0.0, 0.0)
    with pytest.raises(TypeError):
        banana.constants["a"] = 3.0


def test_exported_from_package():
    for name in ["Objective", "quadratic", "rosenbrock", "rastrigin", "beale"]:
        assert name in sgdlab.__all__ and hasattr(sgdlab, name)


# One test per bad argument: the message names the argument and the value it got.


def test_bad_point_shape():
    with pytest.raises(ValueError, match=r"point must have shape \(\.\.\., 2\), got shape \(3,\)"):
        rosenbrock()(torch.zeros(3))


def test_bad_point_scalar():
    with pytest.raises(ValueError, match=r"point .* got shape \(\)"):
        beale()(torch.tensor(1.0))


def test_bad_point_type():
    with pytest.raises(TypeError, match=r"point must be a torch.Tensor, got list"):
        quadratic()([1.0, 2.0])


def test_bad_point_dtype():
    with pytest.raises(TypeError, match=r"point must be a floating-point tensor, got dtype torch.int64"):
        rastrigin()(torch.tensor([1, 2]))


def test_bad_point_shape_in_gradient():
    with pytest.raises(ValueError, match=r"point must have shape \(\.\.\., 3\)"):
        rastrigin(dim=3).gradient(torch.zeros(2))


@pytest.mark.parametrize("value", [0.0, -2.0, float("inf"), float("nan")])
def test_bad_condition_number(value):
    with pytest.raises(ValueError, match=rf"condition_number must be a finite number > 0, got {value}"):
        quadratic(condition_number=value)


def test_bad_condition_number_type():
    with pytest.raises(TypeError, match=r"condition_number must be a number, got str: '10'"):
        quadratic(condition_number="10")


def test_bad_smallest_eigenvalue():
    with pytest.raises(ValueError, match=r"smallest_eigenvalue must be a finite number > 0, got 0"):
        quadratic(smallest_eigenvalue=0)


def test_bad_rosenbrock_b():
    with pytest.raises(ValueError, match=r"b must be a finite number > 0, got -1"):
        rosenbrock(b=-1)


def test_bad_rosenbrock_a():
    with pytest.raises(ValueError, match=r"a must be a finite number, got nan"):
        rosenbrock(a=float("nan"))


def test_bad_rastrigin_amplitude():
    with pytest.raises(ValueError, match=r"A must be a finite number > 0, got 0"):
        rastrigin(A=0)


def test_bad_rastrigin_dim():
    with pytest.raises(ValueError, match=r"dim must be >= 1, got 0"):
        rastrigin(dim=0)


def test_bad_rastrigin_dim_type():
    with pytest.raises(TypeError, match=r"dim must be an int, got float: 2.0"):
        rastrigin(dim=2.0)
