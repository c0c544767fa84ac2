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

One ulp per operation does not reach what another machine does to a long computation: a
reordered sum, a BLAS kernel with another blocking, a hundred training steps carry the
difference to many ulps of the final value. A printed number that sits right on a rounding
edge (a loss of 0.02795000 printed with four decimals) then prints 0.0279 on one machine and
0.0280 on another, whatever this machine's kernels do. So the process-wide mode also moves
every value *read out* of a tensor to Python (``item()``, ``float()``, an f-string of a
one-element tensor, ``tolist()``, and so ``print(tensor)``) by :data:`READOUT_ULPS` ulps of its
dtype: seed 1 reads every such value that far away from zero, seed 2 that far towards zero,
any other seed one or the other by a hash of the value (``-x`` still reads as the mirror of
``x``). A digit within that distance of a rounding edge flips under seed 1 or seed 2, on any
machine: the edge is found by the check, not by luck. Only values that an operation computed
move so: a tensor made from Python numbers (``torch.tensor(0.1)``) holds the same float on
every machine, and reads out as it is.

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
import struct
import weakref

import numpy
import torch
from torch.utils._python_dispatch import TorchDispatchMode

#: The environment variable holding the seed; unset or empty means no noise.
ENVIRONMENT_VARIABLE = "SGDLAB_ROUNDING_NOISE"

#: How many ulps of its dtype a value read out of a tensor moves under the process-wide noise
#: (about 2e-6 relative in float32): seed 1 away from zero, seed 2 towards it, others by a hash.
READOUT_ULPS = 16

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


#: Per dtype, the struct format of its bits read as an unsigned integer and as a float.
_STRUCT = {torch.float64: ("<Q", "<d"), torch.float32: ("<I", "<f"), torch.float16: ("<H", "<e")}


def _readout_direction(bits: int, seed: int) -> int:
    """+1 (a larger magnitude) or -1: seed 1 always +1, seed 2 always -1, others by a hash."""
    if seed in (1, 2):
        return 1 if seed == 1 else -1
    return 1 if _mix32((bits & 0xFFFFFFFF) ^ _mix32((bits >> 32) ^ _seed_word(seed))) % 2 else -1


def shift_readout(value, dtype: torch.dtype, seed: int, ulps: int = READOUT_ULPS):
    """``value``, read out of a tensor of ``dtype``, moved by ``ulps`` ulps of that dtype.

    Whole numbers, subnormal numbers, infinities and NaN are kept, as :func:`nudge` keeps
    them, and so is a move that would overflow.

    >>> shift_readout(0.02795000, torch.float64, seed=1) > 0.02795000
    True
    >>> shift_readout(-0.5, torch.float32, seed=1) < -0.5 < shift_readout(-0.5, torch.float32, seed=2)
    True
    >>> shift_readout(-0.3, torch.float32, seed=3) == -shift_readout(0.3, torch.float32, seed=3)
    True
    >>> [shift_readout(v, torch.float32, seed=1) for v in (3.0, float("inf"), 1e-40, 7)]
    [3.0, inf, 1e-40, 7]
    """
    if not isinstance(value, float) or not ulps or dtype not in BITS_DTYPE:
        return value
    if not math.isfinite(value) or value == math.trunc(value) or abs(value) < torch.finfo(dtype).tiny:
        return value
    # A bfloat16 value is a float32 whose low 16 bits are zero: its bits are the top half.
    unsigned, floating = _STRUCT[torch.float32 if dtype == torch.bfloat16 else dtype]
    bits = struct.unpack(unsigned, struct.pack(floating, value))[0]
    low_half = 16 if dtype == torch.bfloat16 else 0
    bits >>= low_half
    width = 16 if dtype == torch.bfloat16 else struct.calcsize(unsigned) * 8
    magnitude = bits & ~(1 << (width - 1))
    moved_magnitude = magnitude + _readout_direction(magnitude, seed) * ulps
    if moved_magnitude < _TINY_BITS[dtype] or moved_magnitude >= _INFINITY_BITS[dtype]:
        return value
    moved_bits = (moved_magnitude | (bits - magnitude)) << low_half
    return struct.unpack(floating, struct.pack(unsigned, moved_bits))[0]


def _shift_all(values, dtype: torch.dtype, seed: int, ulps: int):
    """:func:`shift_readout` over the nested lists ``tolist()`` returns."""
    if isinstance(values, list):
        return [_shift_all(item, dtype, seed, ulps) for item in values]
    return shift_readout(values, dtype, seed, ulps)


#: The RoundingNoise modes whose readout shift is on, innermost last (``tolist`` is not an
#: aten operation, so it is wrapped while one is).
_READING_MODES: list = []
_TOLIST = torch.Tensor.tolist

#: The tensors an operation computed (and the noise moved), by the address of their storage:
#: a view or an alias of one reads out shifted too. A weak reference, so that an address
#: freed and reused by a tensor made from Python numbers is not taken for a computed one.
_COMPUTED: "weakref.WeakValueDictionary[int, torch.Tensor]" = weakref.WeakValueDictionary()


def _storage_address(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


def _was_computed(tensor: torch.Tensor) -> bool:
    """Whether an operation under the noise wrote ``tensor``'s storage (and it is still that one)."""
    if not _noisy_kind(tensor):
        return False
    address = _storage_address(tensor)
    computed = _COMPUTED.get(address)
    return computed is not None and _storage_address(computed) == address


def _shifted_tolist(self):
    values = _TOLIST(self)
    if _READING_MODES and _was_computed(self):
        mode = _READING_MODES[-1]
        return _shift_all(values, self.dtype, mode.seed, mode.readout_ulps)
    return values


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
        readout_ulps: how many ulps a value read out to Python moves (:func:`shift_readout`);
            0, the default, reads values as they are.

    >>> with RoundingNoise(seed=0):
    ...     same = torch.tensor(0.1) * 3 == torch.tensor(0.1) * 3
    >>> bool(same)
    True
    >>> with RoundingNoise(seed=1, readout_ulps=4):
    ...     third = torch.tensor([1.0]) / 3
    ...     read = third.item(), third.tolist()[0], torch.tensor(1 / 3).item()
    >>> read[0] > third.item() and read[0] == read[1], read[2] == torch.tensor(1 / 3).item()
    (True, True)
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

    def __init__(self, seed: int, readout_ulps: int = 0):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        if isinstance(readout_ulps, bool) or not isinstance(readout_ulps, int) or readout_ulps < 0:
            raise ValueError(f"readout_ulps must be an int >= 0, got {readout_ulps!r}")
        super().__init__()
        self.seed = seed
        self.readout_ulps = readout_ulps

    def __enter__(self):
        if self.readout_ulps:
            _READING_MODES.append(self)
            torch.Tensor.tolist = _shifted_tolist
        return super().__enter__()

    def __exit__(self, *exc):
        if self.readout_ulps:
            _READING_MODES.remove(self)
            if not _READING_MODES:
                torch.Tensor.tolist = _TOLIST
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if func is aten._local_scalar_dense.default:  # item(), float(), formatting
            if self.readout_ulps and _was_computed(args[0]):
                return shift_readout(result, args[0].dtype, self.seed, self.readout_ulps)
            return result
        written_arguments = _written_arguments(func)
        if written_arguments is None:
            if self.readout_ulps and not func.is_view:
                self._carry_computed(args, kwargs, result)
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
                if self.readout_ulps:
                    _COMPUTED[_storage_address(tensor)] = tensor
        return result


    @staticmethod
    def _carry_computed(args, kwargs, result) -> None:
        """An exact operation (a copy, ``-x``, a concatenation) of a computed tensor computes too."""
        inputs = _tensors(list(args)) + _tensors(list(kwargs.values()))
        if any(_was_computed(tensor) for tensor in inputs):
            for tensor in _tensors(result):  # an in-place one returns the tensor it wrote
                if _noisy_kind(tensor):
                    _COMPUTED[_storage_address(tensor)] = tensor


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
    mode = RoundingNoise(seed, readout_ulps=READOUT_ULPS)
    mode.__enter__()  # never left: the process ends under it
    return mode
