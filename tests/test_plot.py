"""The plot helpers: what they draw, where, with which labels, and what they refuse."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes

from sgdlab import (
    Objective,
    compare,
    minimize,
    plot_contour,
    plot_loss,
    plot_paths,
    quadratic,
    rastrigin,
    rosenbrock,
)
from sgdlab.plot import _side_by_side as side_by_side


def article_function():
    """The article's y = 3 c exp(x) + 2 x + 4: no minimum, negative values."""
    return Objective(
        name="the article's 3 c exp(x) + 2 x + 4",
        function=lambda p: p[..., 1] * 3 * torch.exp(p[..., 0]) + 2.0 * p[..., 0] + 4.0,
        dim=2, minimum=None, minimum_value=None, bounds=((-3.0, 6.0), (-4.0, 4.0)),
        start=(5.0, 3.0), variables=("x", "c"),
    )


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def sgd(lr, momentum=0.0):
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum)


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def labelled_line(ax, label):
    (line,) = [line for line in ax.lines if line.get_label() == label]
    return line


# plot_contour ---------------------------------------------------------------


@pytest.mark.parametrize("objective", [article_function(), quadratic(), rosenbrock(), rastrigin()])
def test_contour_labels_limits_and_white_figure(objective):
    ax = plot_contour(objective, resolution=40)
    assert isinstance(ax, Axes)
    assert (ax.get_xlabel(), ax.get_ylabel()) == objective.variables
    assert ax.get_title() == objective.name
    assert ax.get_xlim() == objective.bounds[0] and ax.get_ylim() == objective.bounds[1]
    assert ax.figure.get_facecolor() == (1.0, 1.0, 1.0, 1.0)


def test_contour_marks_the_minimum():
    ax = plot_contour(rosenbrock(a=0.5), resolution=40)
    star = labelled_line(ax, "minimum")
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (0.5, 0.25)
    assert legend_texts(ax) == ["minimum"]


def test_contour_without_minimum_has_no_star():
    ax = plot_contour(article_function(), resolution=40)
    assert len(ax.lines) == 0 and ax.get_legend() is None


def test_contour_draws_on_the_given_axes():
    fig, axes = side_by_side(2)
    assert plot_contour(quadratic(), axes[1], resolution=30) is axes[1]
    assert len(axes[0].collections) == 0 and len(axes[1].collections) > 0
    assert plt.get_fignums() == [fig.number]


@pytest.mark.parametrize("spacing", ["log", "quantile", "linear"])
def test_contour_spacings_give_increasing_levels(spacing):
    ax = plot_contour(rosenbrock(), resolution=40, levels=12, spacing=spacing)
    lines = ax.collections[-1]
    assert len(lines.levels) >= 10 and np.all(np.diff(lines.levels) > 0)


def test_contour_log_levels_crowd_near_the_minimum():
    ax = plot_contour(quadratic(), resolution=40, levels=10, spacing="log")
    levels = ax.collections[-1].levels
    assert levels[1] - levels[0] < (levels[-1] - levels[-2]) / 100


def test_contour_explicit_levels_and_bounds():
    ax = plot_contour(quadratic(), levels=[0.5, 1.0, 4.0], bounds=((0, 1), (-1, 2)),
                      filled=False, resolution=30)
    assert list(ax.collections[-1].levels) == [0.5, 1.0, 4.0]
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (-1.0, 2.0)


# plot_paths -----------------------------------------------------------------


def test_paths_draw_each_path_with_start_and_end():
    bowl = quadratic()
    run = minimize(bowl, sgd(0.1), steps=5)
    points = torch.tensor([[1.0, 1.0], [0.5, 0.2], [0.0, 0.1]])
    ax = plot_paths(bowl, {"SGD": run, "by hand": points}, resolution=30)
    line = labelled_line(ax, "SGD")
    np.testing.assert_allclose(np.column_stack(line.get_data()), run.path().numpy())
    line = labelled_line(ax, "by hand")
    np.testing.assert_allclose(np.column_stack(line.get_data()), points.numpy())
    # a start marker and an end marker in the path's colour
    markers = [other for other in ax.lines if other.get_color() == line.get_color()]
    assert [m.get_marker() for m in markers] == [".", "o", "X"]
    assert (markers[2].get_xdata()[0], markers[2].get_ydata()[0]) == pytest.approx((0.0, 0.1))
    assert legend_texts(ax) == ["minimum", "SGD", "by hand", "start", "end"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")


def test_paths_of_a_diverged_run_stop_at_the_last_finite_point():
    bowl = quadratic()
    run = minimize(bowl, sgd(1e20), steps=10)
    ax = plot_paths(bowl, {"too fast": run}, resolution=30)
    line = labelled_line(ax, f"too fast (diverged at step {run.diverged_at})")
    assert np.isfinite(np.column_stack(line.get_data())).all()
    assert ax.get_xlim() == bowl.bounds[0]  # the view stays on the contour


def test_paths_cut_non_finite_points_of_plain_arrays():
    ax = plot_paths(quadratic(), {"p": [[1.0, 1.0], [2.0, 2.0], [np.inf, 0.0], [1.0, 0.0]]},
                    resolution=30)
    assert labelled_line(ax, "p (diverged)").get_xdata().tolist() == [1.0, 2.0]


def test_paths_of_the_article_use_both_scalar_parameters():
    f = article_function()
    trajectory = minimize(f, sgd(1e-4), steps=3)
    ax = plot_paths(f, {"article": trajectory}, resolution=30)
    assert labelled_line(ax, "article").get_xdata()[-1] == pytest.approx(trajectory.path()[-1, 0])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "c")


def test_paths_draw_on_the_given_axes():
    fig, (ax,) = side_by_side(1)
    assert plot_paths(quadratic(), {"p": [[1.0, 1.0]]}, ax, resolution=30) is ax


# plot_loss --------------------------------------------------------------------


def test_loss_curves_from_trajectories_and_sequences():
    run = minimize(quadratic(), sgd(0.05), steps=8)
    ax = plot_loss({"SGD": run, "list": [3.0, 2.0, 1.0]})
    np.testing.assert_allclose(labelled_line(ax, "SGD").get_ydata(), run.losses().numpy())
    assert labelled_line(ax, "list").get_xdata().tolist() == [0, 1, 2]
    assert ax.get_yscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("step", "loss")
    assert legend_texts(ax) == ["SGD", "list"]


def test_loss_linear_scale_allows_negative_values():
    ax = plot_loss({"article": minimize(article_function(), sgd(1.0), steps=3)}, log=False,
                   ylabel="y")
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "y"
    assert labelled_line(ax, "article").get_ydata()[1] < 0


def test_loss_of_a_diverged_run():
    run = minimize(quadratic(), sgd(1e20), steps=10)
    ax = plot_loss({"fast": run})
    line = labelled_line(ax, f"fast (diverged at step {run.diverged_at})")
    assert np.isfinite(line.get_ydata()).all()


def test_loss_draws_on_the_given_axes():
    fig, axes = side_by_side(2)
    assert plot_loss({"a": [1.0, 0.5]}, axes[0]) is axes[0]
    assert len(axes[1].lines) == 0


# side_by_side and compare -------------------------------------------------------


def test_compare_draws_paths_and_values_along_them():
    bowl = quadratic()
    runs = {"slow": minimize(bowl, sgd(0.01), steps=5), "fast": minimize(bowl, sgd(0.1), steps=5)}
    fig, (left, right) = compare(bowl, runs, resolution=30)
    np.testing.assert_allclose(
        np.column_stack(labelled_line(left, "fast").get_data()), runs["fast"].path().numpy()
    )
    values = bowl(runs["fast"].path().double()).numpy()
    np.testing.assert_allclose(labelled_line(right, "fast").get_ydata(), values)
    assert right.get_yscale() == "log" and right.get_ylabel() == "f(x, y)"


def test_compare_uses_linear_scale_for_negative_values():
    fig, (_, right) = compare(article_function(), {"a": minimize(article_function(), sgd(1.0), 2)},
                              resolution=30)
    assert right.get_yscale() == "linear" and right.get_ylabel() == "f(x, c)"


# Bad input: one test per check, the message names the argument and the value.


def test_contour_rejects_non_objective():
    with pytest.raises(TypeError, match=r"objective must be an sgdlab Objective, got function"):
        plot_contour(lambda p: p.sum())


def test_contour_rejects_three_variables():
    with pytest.raises(ValueError, match=r"objective must have 2 variables .* dim=3"):
        plot_contour(rastrigin(dim=3))


def test_contour_rejects_bad_ax():
    with pytest.raises(TypeError, match=r"ax must be a matplotlib Axes or None, got str: 'left'"):
        plot_contour(quadratic(), "left")


def test_contour_rejects_bad_spacing():
    with pytest.raises(ValueError, match=r"spacing must be one of .* got 'logarithmic'"):
        plot_contour(quadratic(), spacing="logarithmic")


def test_contour_rejects_too_few_levels():
    with pytest.raises(ValueError, match=r"levels must be an int >= 2 .* got 1"):
        plot_contour(quadratic(), levels=1)


def test_contour_rejects_decreasing_levels():
    with pytest.raises(ValueError, match=r"levels must be increasing finite values, got \[3.0, 1.0\]"):
        plot_contour(quadratic(), levels=[3.0, 1.0], resolution=10)


def test_contour_rejects_bad_resolution():
    with pytest.raises(ValueError, match=r"resolution must be an int >= 2, got 1"):
        plot_contour(quadratic(), resolution=1)


def test_contour_rejects_malformed_bounds():
    with pytest.raises(TypeError, match=r"bounds must be \(\(xmin, xmax\), \(ymin, ymax\)\), got"):
        plot_contour(quadratic(), bounds=(0, 1))


def test_contour_rejects_empty_bounds():
    with pytest.raises(ValueError, match=r"bounds must be finite with min < max .* \(\(1, 0\)"):
        plot_contour(quadratic(), bounds=((1, 0), (0, 1)))


def test_paths_rejects_non_mapping():
    with pytest.raises(TypeError, match=r"paths must be a dict from label to data, got list"):
        plot_paths(quadratic(), [[0.0, 0.0]])


def test_paths_rejects_empty_mapping():
    with pytest.raises(ValueError, match=r"paths is empty"):
        plot_paths(quadratic(), {})


def test_paths_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"paths\['p'\] must be a path of 2-D points, .* \(4,\)"):
        plot_paths(quadratic(), {"p": torch.zeros(4)})


def test_paths_rejects_text():
    with pytest.raises(TypeError, match=r"paths\['p'\] must be a Trajectory, a tensor or numbers"):
        plot_paths(quadratic(), {"p": "abc"})


def test_paths_rejects_all_non_finite():
    with pytest.raises(ValueError, match=r"paths\['p'\] has no finite point to draw"):
        plot_paths(quadratic(), {"p": [[np.nan, 0.0]]})


def test_loss_rejects_non_positive_on_log_scale():
    with pytest.raises(ValueError, match=r"log=True needs positive losses, but curves\['a'\] has "
                                         r"np.float64\(0.0\) at step 1; pass log=False"):
        plot_loss({"a": [1.0, 0.0]})


def test_loss_rejects_two_dimensional_curve():
    with pytest.raises(ValueError, match=r"curves\['a'\] must be one value per step, .* \(2, 2\)"):
        plot_loss({"a": [[1.0, 2.0], [3.0, 4.0]]})


def test_loss_rejects_non_mapping():
    with pytest.raises(TypeError, match=r"curves must be a dict from label to data, got list"):
        plot_loss([1.0, 2.0])


def test_compare_rejects_non_objective():
    with pytest.raises(TypeError, match=r"objective must be an sgdlab Objective, got str"):
        compare("rosenbrock", {"p": [[0.0, 0.0]]})


# Bad input, table-driven: a clear TypeError/ValueError naming the argument, no figure left.

EMPTY_RUN = minimize(quadratic(), sgd(0.1), steps=0)

BAD_PLOTS = [
    (lambda: plot_loss({"empty": EMPTY_RUN}), ValueError, r"curves\['empty'\] has no values"),
    (lambda: plot_loss({"empty": []}), ValueError, r"curves\['empty'\] has no values"),
    (lambda: plot_loss({}), ValueError, "curves is empty"),
    (lambda: plot_loss({"c": torch.zeros(3, dtype=torch.complex64)}), ValueError,
     r"curves\['c'\] must hold real numbers, got complex"),
    (lambda: plot_loss({"m": torch.zeros(3, device="meta")}), ValueError, "meta tensor"),
    (lambda: plot_loss({"c": [1j, 2j]}), TypeError, r"curves\['c'\] must be a Trajectory"),
    (lambda: plot_loss({"2d": torch.zeros(2, 2)}), ValueError, r"shaped \(N,\)"),
    (lambda: plot_contour(quadratic(), levels=20.0), TypeError, "levels must be an int >= 2"),
    (lambda: plot_contour(quadratic(), levels="many"), TypeError, "levels must be an int >= 2"),
    (lambda: plot_contour(quadratic(), levels=True), ValueError, "levels must be an int >= 2"),
    (lambda: plot_contour(quadratic(), levels=[]), ValueError, "levels must be increasing"),
    (lambda: plot_contour(quadratic(), levels=[np.nan, 1.0]), ValueError, "levels must be"),
    (lambda: plot_contour(quadratic(), resolution=1), ValueError, "resolution must be an int"),
    (lambda: plot_paths(quadratic(), {"p": []}), ValueError, r"paths\['p'\] must be a path"),
    (lambda: plot_paths(quadratic(), {"p": torch.zeros(3, 2, dtype=torch.complex64)}),
     ValueError, r"paths\['p'\] must hold real numbers"),
    (lambda: plot_paths(quadratic(), {"p": [[np.nan, 0.0]]}), ValueError, "no finite point"),
    (lambda: compare(quadratic(), {}), ValueError, "paths is empty"),
    (lambda: compare(quadratic(), [[0.0, 0.0]]), TypeError, "paths must be a dict"),
    (lambda: compare(quadratic(), {"p": [[0.0, 0.0]]}, layout="grid"), ValueError,
     "layout must be 'row' or 'column', got 'grid'"),
]


@pytest.mark.parametrize(("call", "error", "words"), BAD_PLOTS,
                         ids=[str(i) for i in range(len(BAD_PLOTS))])
def test_bad_plot_input_is_a_clear_error(call, error, words):
    before = plt.get_fignums()
    with pytest.raises(error, match=words):
        call()
    assert plt.get_fignums() == before
