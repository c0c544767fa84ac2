"""sgdlab: ``torch.optim.SGD``, worked.

The update rule written out and proven equal to PyTorch's, tools that explain
each step.
"""

from importlib.metadata import PackageNotFoundError, version

from . import binding as _binding_module
from . import devices as _devices_module
from . import explain as _explain_module
from . import fused as _fused_module
from . import objectives as _objectives_module
from . import optim as _optim_module
from . import plot as _plot_module
from . import trajectory as _trajectory_module
from . import update as _update_module
from .binding import *  # noqa: F403
from .devices import *  # noqa: F403
from .explain import *  # noqa: F403
from .fused import *  # noqa: F403
from .objectives import *  # noqa: F403
from .optim import *  # noqa: F403
from .plot import *  # noqa: F403
from .trajectory import *  # noqa: F403
from .update import *  # noqa: F403

try:
    __version__ = version("sgdlab")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    *_devices_module.__all__,
    *_update_module.__all__,
    *_optim_module.__all__,
    *_fused_module.__all__,
    *_explain_module.__all__,
    *_binding_module.__all__,
    *_objectives_module.__all__,
    *_trajectory_module.__all__,
    *_plot_module.__all__,
]
