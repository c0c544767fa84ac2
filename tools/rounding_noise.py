"""Rounding noise: every floating-point result of every torch operation moved by up to one ulp.

Another machine's kernels (another BLAS, another vector width, a GPU) round some results one
unit in the last place (ulp) away from ours. A printed number that is a property of the
example survives that; one that is an accident of our machine's rounding does not. This
module makes the accident happen on purpose, in the manner of Monte Carlo arithmetic
(Verificarlo, CADNA): a ``TorchDispatchMode`` that, after each aten operation, moves each
element of each floating-point result by -1, 0 or +1 ulp.

- The move is a hash of the seed and the bits of the element's magnitude, so a value gets the
  same move wherever it is computed (two bit-identical computations stay bit-identical), and
  ``-x`` gets the mirror of ``x``'s move, as round-to-nearest is symmetric about zero
  (minimising ``-f`` still retraces maximising ``f`` exactly).
- Whole numbers (zero included), subnormal numbers, infinities and NaN are left alone: every
  IEEE machine gets whole numbers exactly, a zero nudged to a subnormal would flip signs no
  machine flips, and a subnormal nudged to zero would turn a division into NaN. A move that
  would overflow to infinity is not made.
- Views, copies, data movement (indexing, concatenation, padding), exact functions (``abs``,
  ``max``, ``relu``, ...), random factories and communication (``c10d``) are left alone.
- float32, float64, float16 and bfloat16, on any device; other dtypes pass through.

``SGDLAB_ROUNDING_NOISE=SEED`` in the environment turns it on for a whole process through
:func:`install_from_environment` (the example runner and ``conf.py`` call it), so the tests
run every gallery script and page doctest under several seeds.

>>> import torch
>>> x = torch.full((10_000,), 0.1)
>>> sums = set()
>>> for seed in range(5):
...     with RoundingNoise(seed):
...         sums.add(x.sum().item())
>>> len(sums) > 1, x.sum().item() in sums or len(sums) > 1
(True, True)
"""

from __future__ import annotations

import math
import os

import numpy
import torch
from torch.utils._python_dispatch import TorchDispatchMode

#: The environment variable holding the seed; unset or empty means no noise.
ENVIRONMENT_VARIABLE = "SGDLAB_ROUNDING_NOISE"

#: Each floating dtype and the integer dtype of the same width its bits are read as.
BITS_DTYPE = {torch.float64: torch.int64, torch.float32: torch.int32,
              torch.float16: torch.int16, torch.bfloat16: torch.int16}

aten = torch.ops.aten

#: Operations whose result every machine computes exactly (they move, select or compare values,
#: or change a sign): noise there would be noise no machine makes.
EXACT = {
    aten.clone, aten.copy_, aten._to_copy, aten.detach, aten.alias, aten.lift_fresh,
    aten.lift_fresh_copy, aten.contiguous, aten._copy_from, aten._copy_from_and_resize,
    aten.empty, aten.empty_like, aten.empty_strided, aten.zeros, aten.zeros_like, aten.ones,
    aten.ones_like, aten.full, aten.full_like, aten.new_empty, aten.new_empty_strided,
    aten.new_zeros, aten.new_ones, aten.new_full, aten.scalar_tensor, aten.fill_, aten.zero_,
    aten.fill, aten.index, aten.index_select, aten.gather, aten.take, aten.masked_select,
    aten.index_put, aten.index_put_, aten.masked_fill, aten.masked_fill_, aten.where,
    aten.cat, aten.stack, aten.flip, aten.roll, aten.repeat, aten.constant_pad_nd, aten.tril,
    aten.triu, aten.slice_scatter, aten.select_scatter, aten.diagonal_scatter, aten.embedding,
    aten.neg, aten.neg_, aten.abs, aten.abs_, aten.sign, aten.sgn, aten.relu, aten.relu_,
    aten.threshold_backward, aten.clamp, aten.clamp_, aten.clamp_min, aten.clamp_min_,
    aten.clamp_max, aten.clamp_max_, aten.maximum, aten.minimum, aten.max, aten.min, aten.amax,
    aten.amin, aten.sort, aten.topk, aten.median, aten.kthvalue, aten.floor, aten.ceil,
    aten.round, aten.trunc, aten.set_, aten.resize_, aten.unfold, aten._foreach_copy_,
    aten._foreach_zero_, aten._foreach_neg, aten._foreach_neg_, aten._foreach_abs,
    aten._foreach_abs_, aten._foreach_maximum, aten._foreach_minimum, aten.nonzero,
    aten.unique_dim, aten._unique2, aten.hardtanh, aten.hardtanh_, aten.nextafter, aten.nextafter_,
    aten.copysign, aten.copysign_, aten.fmod, aten.fmod_, aten.frexp, aten.signbit,
}


def _mix32(x):
    """Wang's 32-bit integer hash of each element (< 2**32) of an int64 tensor or uint64 array."""
    x = (((x >> 16) ^ x) * 0x45D9F3B) & 0xFFFFFFFF
    x = (((x >> 16) ^ x) * 0x45D9F3B) & 0xFFFFFFFF
    return (x >> 16) ^ x


def _seed_word(seed: int) -> int:
    return (seed * 0x9E3779B1) & 0xFFFFFFFF


def ulp_moves(values: torch.Tensor, seed: int) -> torch.Tensor:
    """The move, -1, 0 or +1, each element of floating ``values`` gets under ``seed`` (int64).

    A hash of the seed and the element's bits: the same on every device.
    """
    width = values.element_size() * 8
    bits = values.abs().view(BITS_DTYPE[values.dtype]).to(torch.int64)
    low = bits & 0xFFFFFFFF if width > 16 else bits & 0xFFFF
    high = (bits >> 32) & 0xFFFFFFFF if width == 64 else torch.zeros_like(bits)
    return _mix32(low ^ _mix32(high ^ _seed_word(seed))) % 3 - 1


def nudge(values: torch.Tensor, seed: int) -> torch.Tensor:
    """``values`` with each element moved by its :func:`ulp_moves` ulp; whole and non-finite ones kept.

    >>> nudge(torch.tensor([0.1, 1 / 3, 0.7]), seed=2).tolist() != torch.tensor([0.1, 1 / 3, 0.7]).tolist()
    True
    >>> nudge(torch.tensor([0.0, -0.0, 3.0, -7.0, float("inf")]), seed=2).tolist()
    [0.0, -0.0, 3.0, -7.0, inf]
    """
    bits_dtype = BITS_DTYPE[values.dtype]
    moved = (values.view(bits_dtype) + ulp_moves(values, seed).to(bits_dtype)).view(values.dtype)
    tiny = torch.finfo(values.dtype).tiny
    keep = ~values.isfinite() | (values == values.trunc()) | (values.abs() < tiny) | ~moved.isfinite()
    return torch.where(keep, values, moved)


def _bits_of(value: float, dtype: torch.dtype) -> int:
    """The bits of ``value`` stored as ``dtype``, as an integer."""
    return torch.tensor(value, dtype=dtype).view(BITS_DTYPE[dtype]).item()


#: Per dtype, the bits of infinity and of the smallest normal number: a magnitude's bits are
#: finite below the first, subnormal below the second.
_INFINITY_BITS = {dtype: _bits_of(math.inf, dtype) for dtype in BITS_DTYPE}
_TINY_BITS = {dtype: _bits_of(torch.finfo(dtype).tiny, dtype) for dtype in BITS_DTYPE}

#: On the CPU the same moves are made in place through NumPy, much faster on small tensors:
#: the hash in uint32 arithmetic (which wraps as the int64 version masks), the checks on the
#: bits' exponent field.
_UNSIGNED = {8: numpy.uint64, 4: numpy.uint32, 2: numpy.uint16}
_FLOAT_VIEW = {torch.float64: numpy.float64, torch.float32: numpy.float32, torch.float16: numpy.float16}


def _mix32_array(x: numpy.ndarray) -> numpy.ndarray:
    """:func:`_mix32` of a uint32 array, wrapping instead of masking."""
    x = ((x >> 16) ^ x) * numpy.uint32(0x45D9F3B)
    x = ((x >> 16) ^ x) * numpy.uint32(0x45D9F3B)
    return (x >> 16) ^ x


def _nudge_in_place_on_cpu(values: torch.Tensor, seed: int) -> None:
    """Make :func:`nudge`'s moves in ``values`` itself, a CPU tensor, without touching its version."""
    size, dtype = values.element_size(), values.dtype
    bits = values.detach().view(BITS_DTYPE[dtype]).numpy()
    flat = bits.reshape(-1)  # a copy when ``values`` is not contiguous: the result goes to ``bits``
    unsigned = flat.view(_UNSIGNED[size])
    magnitude = unsigned & _UNSIGNED[size]((1 << (8 * size - 1)) - 1)
    if size == 8:
        high = _mix32_array((magnitude >> 32).astype(numpy.uint32) ^ numpy.uint32(_seed_word(seed)))
        hashed = _mix32_array((magnitude & 0xFFFFFFFF).astype(numpy.uint32) ^ high)
    else:
        hashed = _mix32_array(magnitude.astype(numpy.uint32) ^ numpy.uint32(_mix32(_seed_word(seed))))
    moves = (hashed % 3).astype(numpy.int8) - 1
    if dtype == torch.bfloat16:  # NumPy has no bfloat16: its bits are a float32's top half
        as_float = (unsigned.astype(numpy.uint32) << 16).view(numpy.float32)
    else:
        as_float = flat.view(_FLOAT_VIEW[dtype])
    infinity, tiny = _INFINITY_BITS[dtype], _TINY_BITS[dtype]
    change = ((moves != 0) & (magnitude >= tiny) & (magnitude < infinity)
              & ((magnitude < infinity - 1) | (moves < 0))
              & (as_float != numpy.trunc(as_float)))
    numpy.copyto(bits, (flat + moves).reshape(bits.shape), where=change.reshape(bits.shape),
                 casting="unsafe")




def _nudge_one_on_cpu(values: torch.Tensor, seed: int) -> None:
    """:func:`_nudge_in_place_on_cpu` for a one-element tensor, in Python integers (faster)."""
    value = values.item()
    if not math.isfinite(value) or value == math.trunc(value):
        return
    width = values.element_size() * 8
    bits = values.detach().view(BITS_DTYPE[values.dtype]).numpy().reshape(-1)
    raw = int(bits[0]) & ((1 << width) - 1)
    magnitude = raw & ~(1 << (width - 1))
    if magnitude < _TINY_BITS[values.dtype]:  # subnormal
        return
    low, high = (magnitude & 0xFFFFFFFF, magnitude >> 32) if width == 64 else (magnitude, 0)
    move = _mix32(low ^ _mix32(high ^ _seed_word(seed))) % 3 - 1
    if move and magnitude + move < _INFINITY_BITS[values.dtype]:
        moved = raw + move
        bits[0] = moved - (1 << width) if moved >> (width - 1) else moved


def _nudge_in_place(values: torch.Tensor, seed: int) -> None:
    if values.device.type == "cpu":
        if values.numel() == 1:
            _nudge_one_on_cpu(values, seed)
        else:
            _nudge_in_place_on_cpu(values, seed)
    else:
        with torch.no_grad():
            values.copy_(nudge(values, seed))


def _noisy_kind(value) -> bool:
    """Whether ``value`` is a plain dense tensor of a floating dtype the noise moves."""
    return (isinstance(value, torch.Tensor) and value.dtype in BITS_DTYPE
            and value.layout == torch.strided and value.device.type != "meta" and value.numel() > 0)


def _tensors(value) -> list[torch.Tensor]:
    """The tensors in a result or an argument, in lists and tuples at any depth."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [tensor for item in value for tensor in _tensors(item)]
    return []


class RoundingNoise(TorchDispatchMode):
    """Move each floating result of each torch operation run inside by -1, 0 or +1 ulp.

    Args:
        seed: which moves; the same seed gives the same moves, another seed others.

    >>> with RoundingNoise(seed=0):
    ...     same = torch.tensor(0.1) * 3 == torch.tensor(0.1) * 3
    >>> bool(same)
    True
    """

    @classmethod
    def ignore_compile_internals(cls) -> bool:
        """Let ``torch.compile`` compile while the noise is on, as it does without it.

        Dynamo skips every frame while a dispatch mode that does not say this is active,
        so a script's compiled function would run eagerly under the noise only, and its
        count of graphs would differ. The mode steps aside while dynamo traces; the ops
        of the captured graphs, run by ``backend="eager"``, are nudged as usual, and code
        a compiler generates is another machine's kernel: it is left alone.
        """
        return True

    def __init__(self, seed: int):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        super().__init__()
        self.seed = seed

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        written_arguments = _written_arguments(func)
        if written_arguments is None:
            return result
        # An operation writes into the arguments its schema marks as written (in-place and
        # out= forms); any other tensor it returns is new. Each is nudged where it is, once.
        written = [args[index] if index < len(args) else kwargs.get(name)
                   for index, name in written_arguments]
        done = set()
        for tensor in _tensors(written) + _tensors(result):
            if _noisy_kind(tensor) and id(tensor) not in done:
                done.add(id(tensor))
                _nudge_in_place(tensor, self.seed)
        return result


_WRITTEN: dict = {}


def _written_arguments(func) -> tuple[tuple[int, str], ...] | None:
    """The (position, name) of each argument ``func`` writes into; None for an op left alone."""
    if func not in _WRITTEN:
        leaves_alone = (func.overloadpacket in EXACT or func.is_view or func.namespace != "aten"
                        or torch.Tag.nondeterministic_seeded in func.tags)
        _WRITTEN[func] = None if leaves_alone else tuple(
            (index, argument.name) for index, argument in enumerate(func._schema.arguments)
            if argument.alias_info is not None and argument.alias_info.is_write)
    return _WRITTEN[func]


def seed_from_environment() -> int | None:
    """The seed in ``SGDLAB_ROUNDING_NOISE``, or None when it is unset or empty."""
    text = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{ENVIRONMENT_VARIABLE} must be an integer seed, got {text!r}") from None


def install_from_environment() -> RoundingNoise | None:
    """Turn the noise on for the rest of this process when ``SGDLAB_ROUNDING_NOISE`` names a seed."""
    seed = seed_from_environment()
    if seed is None:
        return None
    mode = RoundingNoise(seed)
    mode.__enter__()  # never left: the process ends under it
    return mode
