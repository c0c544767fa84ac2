"""Write the intersphinx inventories that let the site link to PyTorch, Python, NumPy and Matplotlib.

The build must not touch the network, so instead of downloading each project's
``objects.inv`` we write small ones ourselves: one line per object the site may name, with
the address of its entry in that project's documentation. ``make inventories`` rewrites
``docs/_inventories/*.inv`` from the tables below; a test checks the files match them.

To link a new name, add it to the right table (check the address in the real docs first),
run ``make inventories`` and commit the result.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import torch


class Entry(NamedTuple):
    """One object of an inventory: its dotted name, ``domain:role`` and address."""

    name: str
    role: str
    uri: str


class Inventory(NamedTuple):
    """An inventory's file stem, project name, version, base address and entries."""

    stem: str
    project: str
    version: str
    base_url: str
    entries: tuple[Entry, ...]


# -- PyTorch ------------------------------------------------------------------------------
# Most of PyTorch's API has one page per object: generated/<name>.html#<name>. Methods of
# the classes below are documented on their class's page; a few objects live elsewhere.

TORCH_URL = "https://docs.pytorch.org/docs/stable/"

TORCH_MODULES = {
    "torch": "torch.html#module-torch",
    "torch.optim": "optim.html#module-torch.optim",
    "torch.nn": "nn.html#module-torch.nn",
    "torch.autograd": "autograd.html#module-torch.autograd",
    "torch.cuda": "cuda.html#module-torch.cuda",
}

TORCH_CLASSES_ON_SHARED_PAGES = {
    "torch.Tensor": "tensors.html#torch.Tensor",
    "torch.device": "tensor_attributes.html#torch.device",
    "torch.dtype": "tensor_attributes.html#torch.dtype",
    "torch.layout": "tensor_attributes.html#torch.layout",
    "torch.memory_format": "tensor_attributes.html#torch.memory_format",
    "torch.optim.Optimizer": "optim.html#torch.optim.Optimizer",
}

TORCH_FUNCTIONS = """
    tensor as_tensor from_numpy zeros zeros_like ones ones_like full full_like empty arange
    linspace logspace rand randn randint rand_like randn_like manual_seed seed initial_seed
    exp log sin cos sqrt abs sign sum mean prod max min maximum minimum clamp where stack cat
    dot matmul outer norm equal allclose isclose isfinite isnan eq ne lt le gt ge
    get_default_dtype set_default_dtype set_printoptions is_grad_enabled is_tensor
    use_deterministic_algorithms meshgrid
    autograd.grad autograd.backward autograd.functional.hessian autograd.functional.jacobian
    cuda.is_available cuda.device_count cuda.get_device_name cuda.synchronize
    cuda.manual_seed cuda.manual_seed_all cuda.current_device
    nn.functional.mse_loss nn.functional.relu nn.utils.clip_grad_norm_
    nn.utils.clip_grad_value_
""".split()

TORCH_CLASSES = """
    Generator no_grad enable_grad set_grad_enabled inference_mode
    nn.Module nn.Linear nn.Sequential nn.MSELoss nn.ReLU nn.ParameterList nn.parameter.Parameter
""".split()

TORCH_TENSOR_MEMBERS = {
    "py:method": """
        backward detach detach_ clone item to cpu cuda numpy tolist requires_grad_ retain_grad
        register_hook zero_ fill_ copy_ add_ sub_ mul_ div_ addcmul_ lerp_ neg_ add sub mul div
        pow sqrt exp abs sum mean norm max min numel size dim view reshape flatten squeeze
        unsqueeze expand equal allclose data_ptr
    """.split(),
    "py:attribute": "grad requires_grad is_leaf retains_grad device shape is_cuda T".split(),
}

OPTIMIZER_METHODS = """
    step zero_grad add_param_group state_dict load_state_dict register_step_pre_hook
    register_step_post_hook register_state_dict_pre_hook register_state_dict_post_hook
    register_load_state_dict_pre_hook register_load_state_dict_post_hook
""".split()

SCHEDULER_METHODS = "step get_last_lr state_dict load_state_dict".split()

MODULE_METHODS = """
    parameters named_parameters buffers named_buffers children modules zero_grad to cpu cuda
    train eval forward state_dict load_state_dict requires_grad_ register_forward_hook apply
""".split()


def generated(name: str) -> str:
    """The address of an object that has a page of its own in PyTorch's docs."""
    return f"generated/{name}.html#{name}"


def on_page_of(owner: str, member: str) -> str:
    """The address of a member documented on its class's page."""
    return f"generated/{owner}.html#{owner}.{member}"


def optimizer_classes() -> list[str]:
    """Every optimizer ``torch.optim`` exports (each has a generated page)."""
    found = []
    for name in torch.optim.__all__:
        obj = getattr(torch.optim, name)
        if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer:
            found.append(f"torch.optim.{name}")
    return found


def scheduler_classes() -> list[str]:
    """Every learning-rate scheduler ``torch.optim.lr_scheduler`` exports."""
    return [f"torch.optim.lr_scheduler.{name}" for name in torch.optim.lr_scheduler.__all__]


def resolve(dotted: str) -> object:
    """Import the object a dotted name stands for (``torch.optim.SGD``, ``matplotlib.axes.Axes``)."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(dotted)


def members(owner: str, names: Iterable[str], role: str = "py:method") -> Iterator[Entry]:
    """Entries for the members of ``owner`` that the installed torch really has."""
    cls = resolve(owner)
    for member in names:
        if hasattr(cls, member):
            yield Entry(f"{owner}.{member}", role, on_page_of(owner, member))


def torch_entries() -> list[Entry]:
    """The PyTorch objects the site may link to, under their public names."""
    entries = [Entry(name, "py:module", uri) for name, uri in TORCH_MODULES.items()]
    entries += [Entry(name, "py:class", uri) for name, uri in TORCH_CLASSES_ON_SHARED_PAGES.items()]
    entries += [Entry(f"torch.{name}", "py:function", generated(f"torch.{name}")) for name in TORCH_FUNCTIONS]
    entries += [Entry(f"torch.{name}", "py:class", generated(f"torch.{name}")) for name in TORCH_CLASSES]
    for role, names in TORCH_TENSOR_MEMBERS.items():
        entries += [Entry(f"torch.Tensor.{name}", role, generated(f"torch.Tensor.{name}")) for name in names]
    entries += [
        Entry(f"torch.optim.Optimizer.{name}", "py:method", generated(f"torch.optim.Optimizer.{name}"))
        for name in OPTIMIZER_METHODS
    ]
    for optimizer in optimizer_classes():
        entries.append(Entry(optimizer, "py:class", generated(optimizer)))
        entries += members(optimizer, OPTIMIZER_METHODS)
    for scheduler in scheduler_classes():
        entries.append(Entry(scheduler, "py:class", generated(scheduler)))
        entries += members(scheduler, SCHEDULER_METHODS)
    entries += members("torch.nn.Module", MODULE_METHODS)
    return entries


def canonical_aliases(entries: Iterable[Entry]) -> Iterator[Entry]:
    """The same addresses under the names autodoc writes (``torch.optim.sgd.SGD`` and such).

    Sphinx names a class in a signature by its defining module, so ``torch.optim.SGD`` in a
    type hint becomes ``torch.optim.sgd.SGD``; both must lead to the same page.
    """
    for entry in entries:
        if entry.role != "py:class":
            continue
        obj = resolve(entry.name)
        canonical = f"{obj.__module__}.{obj.__qualname__}"
        if canonical != entry.name and "._C" not in canonical:
            yield entry._replace(name=canonical)


def torch_inventory() -> Inventory:
    entries = torch_entries()
    entries += list(canonical_aliases(entries))
    # nn.Parameter is documented under its defining module; the short name is the usual one.
    entries.append(Entry("torch.nn.Parameter", "py:class", generated("torch.nn.parameter.Parameter")))
    version = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    return Inventory("torch", "PyTorch", version, TORCH_URL, tuple(entries))


# -- Python ---------------------------------------------------------------------------------
# Addresses as in the Python documentation's own objects.inv.

PYTHON_URL = "https://docs.python.org/3/"

PYTHON_BY_PAGE = {
    ("library/functions.html", "py:class"): "int float bool complex object type slice",
    ("library/functions.html", "py:function"): """
        abs all any callable enumerate filter format getattr hasattr hash id isinstance
        issubclass iter len map max min next print repr round setattr sorted sum zip
    """,
    ("library/stdtypes.html", "py:class"): "str list dict tuple set frozenset bytes range",
    ("library/constants.html", "py:data"): "None True False NotImplemented Ellipsis",
    ("library/exceptions.html", "py:exception"): """
        Exception ValueError TypeError RuntimeError KeyError IndexError AttributeError
        OverflowError ZeroDivisionError NotImplementedError UserWarning DeprecationWarning
    """,
    ("library/collections.abc.html", "py:class"): """
        collections.abc.Callable collections.abc.Iterable collections.abc.Iterator
        collections.abc.Mapping collections.abc.MutableMapping collections.abc.Sequence
    """,
    ("library/typing.html", "py:data"): "typing.Any typing.Optional typing.Union typing.Literal typing.Callable",
    ("library/typing.html", "py:class"): "typing.NamedTuple typing.TypeVar typing.Iterable typing.Sequence typing.Mapping",
    ("library/collections.html", "py:class"): "collections.OrderedDict collections.defaultdict",
    ("library/os.html", "py:data"): "os.environ",
    ("library/random.html", "py:function"): "random.seed",
    ("library/math.html", "py:function"): "math.exp math.sqrt math.isclose math.isfinite",
    ("library/math.html", "py:data"): "math.inf math.nan",
    ("library/copy.html", "py:function"): "copy.deepcopy",
    ("library/functools.html", "py:function"): "functools.partial",
    ("library/contextlib.html", "py:function"): "contextlib.contextmanager",
    ("library/dataclasses.html", "py:function"): "dataclasses.dataclass",
    ("library/warnings.html", "py:function"): "warnings.warn",
    ("library/pathlib.html", "py:class"): "pathlib.Path",
    ("library/numbers.html", "py:class"): "numbers.Number numbers.Real numbers.Integral",
    ("library/time.html", "py:function"): "time.perf_counter",
}


def python_inventory() -> Inventory:
    entries = [
        Entry(name, role, f"{page}#{name}")
        for (page, role), names in PYTHON_BY_PAGE.items()
        for name in names.split()
    ]
    return Inventory("python", "Python", "3", PYTHON_URL, tuple(entries))


# -- NumPy and Matplotlib -----------------------------------------------------------------

NUMPY_URL = "https://numpy.org/doc/stable/"
NUMPY_NAMES = {
    "py:class": "numpy.ndarray",
    "py:function": "numpy.array numpy.asarray numpy.linspace numpy.meshgrid numpy.allclose",
}

MATPLOTLIB_URL = "https://matplotlib.org/stable/"
MATPLOTLIB_NAMES = {
    "py:class": "matplotlib.axes.Axes matplotlib.figure.Figure matplotlib.lines.Line2D matplotlib.colors.Normalize",
    "py:function": """
        matplotlib.pyplot.subplots matplotlib.pyplot.figure matplotlib.pyplot.show
        matplotlib.pyplot.plot matplotlib.pyplot.contour matplotlib.pyplot.legend
    """,
    "py:method": """
        matplotlib.axes.Axes.plot matplotlib.axes.Axes.contour matplotlib.axes.Axes.contourf
        matplotlib.axes.Axes.legend matplotlib.axes.Axes.set matplotlib.axes.Axes.set_xscale
        matplotlib.axes.Axes.set_yscale matplotlib.axes.Axes.annotate matplotlib.axes.Axes.scatter
        matplotlib.axes.Axes.semilogy
    """,
}


def generated_pages_inventory(name: str, project: str, url: str, folder: str, names: dict) -> Inventory:
    """An inventory for a project whose API pages are ``<folder>/<name>.html#<name>``."""
    entries = [
        Entry(object_name, role, f"{folder}/{object_name}.html#{object_name}")
        for role, object_names in names.items()
        for object_name in object_names.split()
    ]
    entries += list(canonical_aliases(entries))
    return Inventory(name, project, "stable", url, tuple(entries))


def numpy_inventory() -> Inventory:
    return generated_pages_inventory("numpy", "NumPy", NUMPY_URL, "reference/generated", NUMPY_NAMES)


def matplotlib_inventory() -> Inventory:
    return generated_pages_inventory(
        "matplotlib", "Matplotlib", MATPLOTLIB_URL, "api/_as_gen", MATPLOTLIB_NAMES
    )


INVENTORIES = (torch_inventory, python_inventory, numpy_inventory, matplotlib_inventory)


# -- The file format ------------------------------------------------------------------------


def inventory_bytes(inventory: Inventory) -> bytes:
    """An ``objects.inv`` (Sphinx inventory version 2): a text header, then zlib-packed lines."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {inventory.project}\n"
        f"# Version: {inventory.version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    ).encode()
    unique = sorted(set(inventory.entries))
    # name domain:role priority uri display-name; "-" means "the name itself".
    lines = "".join(f"{e.name} {e.role} 1 {e.uri} -\n" for e in unique)
    return header + zlib.compress(lines.encode(), 9)


def write_inventories(folder: Path) -> list[Path]:
    """Write every inventory into ``folder``; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for make in INVENTORIES:
        inventory = make()
        path = folder / f"{inventory.stem}.inv"
        path.write_bytes(inventory_bytes(inventory))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where to write the .inv files")
    args = parser.parse_args(argv)
    for path in write_inventories(args.folder):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
