"""Matplotlib pictures of objectives, descent paths and loss curves.

Each function draws on the ``ax`` it is given, or on a new figure when there is
none, and returns the Axes it drew on. New figures have a white background, so
they read the same on a light or a dark page; lines use the default colour
cycle over a light grey contour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .objectives import Objective
from .trajectory import Trajectory

__all__ = ["plot_contour", "plot_paths", "plot_loss", "compare"]

#: Light greys, dark enough to show the levels and light enough for coloured paths on top.
CONTOUR_COLORMAP = ListedColormap(plt.get_cmap("Greys")(np.linspace(0.0, 0.4, 256)))

_PANEL_SIZE = (5.5, 4.0)
#: compare(layout="column"): the text column's width, two panels high.
_COLUMN_SIZE = (6.4, 9.0)


def _new_axes() -> Axes:
    """Make a one-panel figure with a white background and return its Axes."""
    _, ax = plt.subplots(figsize=_PANEL_SIZE, layout="constrained", facecolor="white")
    return ax


def _axes_or_new(ax: Any) -> Axes:
    """Return ``ax`` when it is an Axes, a new one when it is ``None``, else raise."""
    if ax is None:
        return _new_axes()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}: {ax!r}")
    return ax


def _check_plane_objective(objective: Any) -> Objective:
    """Return ``objective`` if it is a two-variable :class:`~sgdlab.Objective`, else raise."""
    if not isinstance(objective, Objective):
        raise TypeError(
            f"objective must be an sgdlab Objective, got {type(objective).__name__}: {objective!r}"
        )
    if objective.dim != 2:
        raise ValueError(
            f"objective must have 2 variables to be drawn in the plane, got {objective!r}"
        )
    return objective


def _check_bounds(bounds: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """Return ``bounds`` as ``((xmin, xmax), (ymin, ymax))`` floats, raising if malformed."""
    try:
        (x_low, x_high), (y_low, y_high) = bounds
        values = [float(v) for v in (x_low, x_high, y_low, y_high)]
    except (TypeError, ValueError) as error:
        raise TypeError(f"bounds must be ((xmin, xmax), (ymin, ymax)), got {bounds!r}") from error
    x_low, x_high, y_low, y_high = values
    if not (np.isfinite(values).all() and x_low < x_high and y_low < y_high):
        raise ValueError(f"bounds must be finite with min < max on each axis, got {bounds!r}")
    return (x_low, x_high), (y_low, y_high)


def _grid_values(
    objective: Objective, bounds: tuple[tuple[float, float], ...], resolution: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate ``objective`` on a ``resolution`` x ``resolution`` grid over ``bounds``."""
    (x_low, x_high), (y_low, y_high) = bounds
    xs = torch.linspace(x_low, x_high, resolution, dtype=torch.float64)
    ys = torch.linspace(y_low, y_high, resolution, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
    with torch.no_grad():
        values = objective(grid).numpy()
    return xs.numpy(), ys.numpy(), np.ma.masked_invalid(values)


def _log_levels(values: np.ndarray, floor: float, count: int) -> np.ndarray:
    """Return ``count`` levels above ``floor``, evenly spaced in ``log(value - floor)``."""
    above = np.ma.compressed(values) - floor
    top = above.max()
    positive = above[above > 0]
    if top <= 0 or positive.size == 0:
        return np.linspace(floor, floor + 1.0, count)  # a flat picture: any levels will do
    # The finest level: the smallest value seen, but no more than six decades below the top.
    bottom = max(positive.min(), top * 1e-6)
    return floor + np.geomspace(bottom, top, count)


def _quantile_levels(values: np.ndarray, count: int) -> np.ndarray:
    """Return up to ``count`` levels that split the grid's values into equal shares."""
    levels = np.unique(np.quantile(np.ma.compressed(values), np.linspace(0.0, 1.0, count)))
    return levels if levels.size >= 2 else np.array([levels[0], levels[0] + 1.0])


_SPACINGS = ("auto", "log", "quantile", "linear")


def _given_levels(levels: Sequence[float]) -> np.ndarray:
    """Check given contour levels: at least two finite, increasing values."""
    try:
        chosen = np.asarray(levels, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"levels must be numbers, got {levels!r}") from error
    if (chosen.ndim != 1 or chosen.size < 2 or not np.isfinite(chosen).all()
            or np.any(np.diff(chosen) <= 0)):
        raise ValueError(f"levels must be increasing finite values, got {list(levels)!r}")
    return chosen


def _levels(
    objective: Objective, values: np.ndarray, levels: int | Sequence[float], spacing: str
) -> np.ndarray:
    """Choose the contour levels: given ones, or ``levels`` of them spaced as asked."""
    if not isinstance(levels, int):
        return _given_levels(levels)
    if spacing == "auto":
        spacing = "quantile" if objective.minimum_value is None else "log"
    if spacing == "log":
        floor = values.min() if objective.minimum_value is None else objective.minimum_value
        return _log_levels(values, floor, levels)
    if spacing == "quantile":
        return _quantile_levels(values, levels)
    return np.linspace(values.min(), values.max(), levels)


def plot_contour(
    objective: Objective,
    ax: Axes | None = None,
    *,
    levels: int | Sequence[float] = 20,
    spacing: str = "auto",
    filled: bool = True,
    bounds: Any = None,
    resolution: int = 200,
    mark_minimum: bool = True,
) -> Axes:
    """Draw the contour lines of a two-variable objective over its ``bounds``; return the Axes.

    Args:
        objective: A two-variable :class:`~sgdlab.Objective`.
        ax: The Axes to draw on; a new figure when ``None``.
        levels: How many levels, or the level values themselves.
        spacing: How to space ``levels`` levels: ``"log"``, evenly in
            ``log(f - f_min)``, which shows both the floor of a valley and its
            walls; ``"quantile"``, so that each band covers as much of the
            picture; ``"linear"``; or ``"auto"``: log when the objective has a
            known minimum, else quantile.
        filled: Fill between the levels in light greys, under the lines.
        bounds: ``((xmin, xmax), (ymin, ymax))``; default ``objective.bounds``.
        resolution: Grid points per axis.
        mark_minimum: Mark the minimum with a black star.

    >>> from sgdlab import rosenbrock
    >>> ax = plot_contour(rosenbrock())
    >>> ax.get_xlabel(), ax.get_ylabel(), ax.get_title()
    ('x', 'y', 'Rosenbrock')
    >>> [float(limit) for limit in ax.get_xlim()]
    [-2.0, 2.0]
    >>> plt.close(ax.figure)
    """
    objective = _check_plane_objective(objective)
    bounds = _check_bounds(objective.bounds if bounds is None else bounds)
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    if isinstance(levels, bool) or (isinstance(levels, int) and levels < 2):
        raise ValueError(f"levels must be an int >= 2 or a sequence of values, got {levels!r}")
    if not isinstance(levels, int) and np.ndim(levels) != 1:
        raise TypeError(
            f"levels must be an int >= 2 or a sequence of values, got "
            f"{type(levels).__name__}: {levels!r}"
        )
    if spacing not in _SPACINGS:
        raise ValueError(f"spacing must be one of {_SPACINGS}, got {spacing!r}")
    if not isinstance(levels, int):
        levels = _given_levels(levels)
    xs, ys, values = _grid_values(objective, bounds, resolution)
    levels = _levels(objective, values, levels, spacing)
    ax = _axes_or_new(ax)

    if filled:
        # Even colour steps between uneven levels; values outside them get the end colours.
        norm = BoundaryNorm(levels, CONTOUR_COLORMAP.N, extend="both")
        ax.contourf(xs, ys, values, levels=levels, cmap=CONTOUR_COLORMAP, norm=norm,
                    extend="both")
    ax.contour(xs, ys, values, levels=levels, colors="0.35", linewidths=0.6,
               linestyles="solid", alpha=0.7)
    if mark_minimum and objective.minimum is not None:
        # An open star above the paths' end markers: a run that converges ends
        # on the minimum, and both stay visible, the end marker inside the star.
        ax.plot(*objective.minimum, linestyle="none", marker="*", markersize=18,
                color="black", markerfacecolor="none", markeredgewidth=1.6,
                label="minimum", zorder=6)
        _legend_beside(ax)
    ax.set_xlim(bounds[0])
    ax.set_ylim(bounds[1])
    ax.set_xlabel(objective.variables[0])
    ax.set_ylabel(objective.variables[1])
    ax.set_title(objective.name)
    return ax


def _legend_beside(ax: Axes, handles: list | None = None) -> None:
    """Put the legend to the right of the plot, where it hides no part of it."""
    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _finite_prefix(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Cut ``values`` (rows or entries) before the first one holding inf or nan."""
    if len(values) == 0:
        return values, False
    rows = values.reshape(len(values), -1)
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if bad.size == 0:
        return values, False
    return values[: bad[0]], True


def _as_array(value: Any, name: str) -> np.ndarray:
    """Turn a tensor, array or sequence of numbers into a float64 numpy array."""
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.is_meta:
            kind = "complex" if value.is_complex() else "a meta tensor (it holds no values)"
            raise ValueError(f"{name} must hold real numbers, got {kind}")
        return value.detach().to("cpu", torch.float64).numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be a Trajectory, a tensor or numbers, got {type(value).__name__}"
        ) from error


def _divergence_note(value: Any, truncated: bool) -> str:
    """Say in a legend label that a run diverged, and where when known."""
    if isinstance(value, Trajectory) and value.diverged:
        return f" (diverged at step {value.diverged_at})"
    return " (diverged)" if truncated else ""


def _as_path(value: Any, label: str) -> tuple[np.ndarray, str]:
    """Return the finite part of a path as an ``(N, 2)`` array, and a legend note."""
    name = f"paths[{label!r}]"
    points = _as_array(value.path() if isinstance(value, Trajectory) else value, name)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{name} must be a path of 2-D points, shaped (N, 2); got {points.shape}")
    points, truncated = _finite_prefix(points)
    if len(points) == 0:
        raise ValueError(f"{name} has no finite point to draw")
    return points, _divergence_note(value, truncated)


def _check_mapping(value: Any, name: str) -> Mapping:
    """Return ``value`` if it is a non-empty mapping of labels, else raise."""
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be a dict from label to data, got {type(value).__name__}: {value!r}"
        )
    if not value:
        raise ValueError(f"{name} is empty: there is nothing to draw")
    return value


def plot_paths(
    objective: Objective,
    paths: Mapping[str, Trajectory | torch.Tensor | Sequence[Sequence[float]]],
    ax: Axes | None = None,
    *,
    bounds: Any = None,
    step_markers: bool = True,
    **contour_options: Any,
) -> Axes:
    """Draw descent paths over the objective's contour lines; return the Axes.

    Each path starts at a round marker and ends at a cross. Points after a
    step that produced inf or nan are left out, and the legend says the run
    diverged. The view stays on ``bounds`` even when a path leaves it.

    Args:
        objective: A two-variable :class:`~sgdlab.Objective`.
        paths: Label to path: a :class:`~sgdlab.Trajectory` (its
            :meth:`~sgdlab.Trajectory.path`) or ``(N, 2)`` points.
        ax: The Axes to draw on; a new figure when ``None``.
        bounds: ``((xmin, xmax), (ymin, ymax))``; default ``objective.bounds``.
        step_markers: Put a small dot at every point of a path.
        **contour_options: Passed to :func:`plot_contour` (``levels``, ``spacing``, ...).

    >>> from sgdlab import minimize, quadratic
    >>> bowl = quadratic(condition_number=10.0)
    >>> run = minimize(bowl, lambda params: torch.optim.SGD(params, lr=0.15), steps=20)
    >>> ax = plot_paths(bowl, {"lr = 0.15": run})
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['minimum', 'lr = 0.15', 'start', 'end']
    >>> plt.close(ax.figure)
    """
    paths = _check_mapping(paths, "paths")
    drawn = [(str(label), *_as_path(value, str(label))) for label, value in paths.items()]
    ax = plot_contour(objective, ax, bounds=bounds, **contour_options)
    for label, points, note in drawn:
        (line,) = ax.plot(points[:, 0], points[:, 1], linewidth=1.6, label=label + note,
                          marker="." if step_markers else None, markersize=4, zorder=3)
        ax.plot(*points[0], linestyle="none", marker="o", markersize=8,
                color=line.get_color(), markeredgecolor="black", zorder=5)
        ax.plot(*points[-1], linestyle="none", marker="X", markersize=9,
                color=line.get_color(), markeredgecolor="black", zorder=5)
    handles, _ = ax.get_legend_handles_labels()
    for marker, label in [("o", "start"), ("X", "end")]:
        handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=8,
                              color="white", markeredgecolor="black", label=label))
    _legend_beside(ax, handles)
    return ax


def _as_curve(value: Any, label: str) -> tuple[np.ndarray, str]:
    """Return the finite part of a loss curve as a 1-D array, and a legend note."""
    name = f"curves[{label!r}]"
    values = _as_array(value.losses() if isinstance(value, Trajectory) else value, name)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one value per step, shaped (N,); got {values.shape}")
    if values.size == 0:
        raise ValueError(f"{name} has no values to draw (a run of 0 steps?)")
    values, truncated = _finite_prefix(values)
    return values, _divergence_note(value, truncated)


def plot_loss(
    curves: Mapping[str, Trajectory | torch.Tensor | Sequence[float]],
    ax: Axes | None = None,
    *,
    log: bool = True,
    xlabel: str = "step",
    ylabel: str = "loss",
) -> Axes:
    """Draw loss curves against the step number, one per label; return the Axes.

    Args:
        curves: Label to losses: a :class:`~sgdlab.Trajectory` (its
            :meth:`~sgdlab.Trajectory.losses`) or one value per step. A curve
            stops before its first inf or nan.
        ax: The Axes to draw on; a new figure when ``None``.
        log: Use a logarithmic loss axis; every loss must then be positive.
        xlabel: The label of the step axis.
        ylabel: The label of the loss axis.

    >>> ax = plot_loss({"halving": [8.0, 4.0, 2.0, 1.0]})
    >>> ax.get_yscale(), ax.get_xlabel(), ax.get_ylabel()
    ('log', 'step', 'loss')
    >>> ax.lines[0].get_ydata()
    array([8., 4., 2., 1.])
    >>> plt.close(ax.figure)
    """
    curves = _check_mapping(curves, "curves")
    drawn = [(str(label), *_as_curve(value, str(label))) for label, value in curves.items()]
    if log:
        for label, values, _ in drawn:
            bad = np.flatnonzero(values <= 0)
            if bad.size:
                raise ValueError(
                    f"log=True needs positive losses, but curves[{label!r}] has "
                    f"{values[bad[0]]!r} at step {bad[0]}; pass log=False"
                )
    ax = _axes_or_new(ax)
    for label, values, note in drawn:
        ax.plot(np.arange(len(values)), values, linewidth=1.6, label=label + note)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(framealpha=0.9)
    return ax


def _side_by_side(
    n: int, *, panel_size: tuple[float, float] = _PANEL_SIZE, sharey: bool = False
) -> tuple[Figure, list[Axes]]:
    """Make a white figure with ``n`` panels in a row; return it and the list of Axes."""
    width, height = panel_size
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), layout="constrained",
                             facecolor="white", sharey=sharey, squeeze=False)
    return fig, list(axes[0])


def compare(
    objective: Objective,
    paths: Mapping[str, Trajectory | torch.Tensor | Sequence[Sequence[float]]],
    *,
    log: bool | None = None,
    layout: str = "row",
    **contour_options: Any,
) -> tuple[Figure, list[Axes]]:
    """Draw paths over the contour (left, or top) and the objective along each path (right, or below).

    The second panel evaluates the objective at every point of each path, so
    it also works for paths given as plain points.

    Args:
        objective: A two-variable :class:`~sgdlab.Objective`.
        paths: As in :func:`plot_paths`.
        log: A logarithmic value axis; ``None`` means: when every value is positive.
        layout: ``"row"``: side by side; ``"column"``: the contour above the values, one
            legend between them, for a narrow text column.
        **contour_options: Passed to :func:`plot_paths`.

    >>> from sgdlab import minimize, quadratic
    >>> bowl = quadratic(condition_number=10.0)
    >>> runs = {f"lr = {lr}": minimize(bowl, lambda p: torch.optim.SGD(p, lr=lr), steps=15)
    ...         for lr in (0.05, 0.15)}
    >>> fig, (left, right) = compare(bowl, runs)
    >>> right.get_ylabel(), right.get_yscale()
    ('f(x, y)', 'log')
    >>> plt.close(fig)
    >>> fig, (top, bottom) = compare(bowl, runs, layout="column")
    >>> bottom.get_legend() is None  # one legend, the top panel's
    True
    >>> [text.get_text() for text in top.get_legend().get_texts()]
    ['minimum', 'lr = 0.05', 'lr = 0.15', 'start', 'end']
    >>> plt.close(fig)
    """
    if layout not in ("row", "column"):
        raise ValueError(f"layout must be 'row' or 'column', got {layout!r}")
    objective = _check_plane_objective(objective)
    paths = _check_mapping(paths, "paths")
    values = {}
    for label, value in paths.items():
        points, _ = _as_path(value, str(label))
        with torch.no_grad():
            values[str(label)] = objective(torch.from_numpy(points)).numpy()
    if log is None:
        log = all(bool((curve > 0).all()) for curve in values.values())
    if layout == "row":
        fig, (left, right) = _side_by_side(2)
    else:
        fig, (left, right) = plt.subplots(2, 1, figsize=_COLUMN_SIZE,
                                          layout="constrained", facecolor="white",
                                          height_ratios=[3, 2])
    plot_paths(objective, paths, left, **contour_options)
    variables = ", ".join(objective.variables)
    plot_loss(values, right, log=log, ylabel=f"f({variables})")
    right.set_title("value along each path")
    if layout == "column":  # one legend, between the panels
        left.legend(handles=left.get_legend().legend_handles, loc="upper center",
                    bbox_to_anchor=(0.5, -0.12), ncols=2)
        if right.get_legend() is not None:
            right.get_legend().remove()
    return fig, [left, right]
