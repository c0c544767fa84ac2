"""sgdlab: ``torch.optim.SGD``, worked.

The update rule written out and proven equal to PyTorch's, tools that explain
each step.
"""

from importlib.metadata import PackageNotFoundError, version

from .binding import BindingReport, Finding, assign_, check_binding, replace_param, set_lr
from .devices import devices
from .explain import ParamUpdate, StepExplanation, describe, explain_step, format_number
from .fused import FusedCompileWarning, FusedFallbackWarning, compiler_problem, fused_step
from .objectives import Objective, beale, quadratic, rastrigin, rosenbrock
from .optim import SGD
from .plot import compare, plot_contour, plot_loss, plot_paths
from .trajectory import Step, Trajectory, minimize
from .update import sgd

try:
    __version__ = version("sgdlab")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

#: The public names, one list (each module's ``__all__`` holds its own; a test keeps them equal).
__all__ = [
    # the rule and the optimizer
    "sgd", "SGD",
    # the compiled fused step
    "fused_step", "compiler_problem", "FusedCompileWarning", "FusedFallbackWarning",
    # explaining a step
    "explain_step", "StepExplanation", "ParamUpdate", "describe", "format_number",
    # which tensor the optimizer updates, and safe changes to it
    "check_binding", "BindingReport", "Finding", "assign_", "replace_param", "set_lr",
    # objectives, recording, plotting
    "Objective", "quadratic", "rosenbrock", "rastrigin", "beale",
    "Step", "Trajectory", "minimize",
    "plot_contour", "plot_paths", "plot_loss", "compare",
    # devices
    "devices",
]
