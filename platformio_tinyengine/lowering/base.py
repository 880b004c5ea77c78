"""What a lowering produces (one kernel call) and the registry of lowerings.

A lowering turns one IR operator into a call of one C kernel of the TinyEngine
library: the kernel's name, its parameter struct (rendered as a `static const`
initialiser in genModel.c), the tensors it reads and writes, and the constant
arrays (weights, multipliers, tables) it needs. Everything that can be computed at
generation time is computed here, so the kernels only do the arithmetic that
depends on the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import UnsupportedOperator
from ..ir import Operator, Tensor

C_TYPES = {
    "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
    "int32": "int32_t", "uint32": "uint32_t",
}


@dataclass(frozen=True)
class Const:
    """A constant array the generator emits into flash; `symbol` is its C name."""

    symbol: str
    ctype: str
    values: tuple  # flattened integer values
    align: int = 0  # bytes, where a kernel needs more than the type's alignment (0: the type's)


@dataclass(frozen=True, eq=False)
class View:
    """A kernel argument `offset` bytes into a tensor's buffer (a patch of a larger map)."""

    tensor: Tensor
    offset: int


@dataclass
class KernelCall:
    """One call `kernel(&params, args...)`; args are tensors, constants, scratch or literals."""

    kernel: str
    params_type: str
    params: dict[str, object]  # struct field -> int, str (C expression) or Const
    args: list[object]  # Tensor or View (arena pointer), Const, or a C expression
    inputs: list[Tensor]  # activation tensors read (for lifetimes)
    outputs: list[Tensor]  # activation tensors written
    scratch_bytes: int = 0
    # The kernel also runs, slower, with NULL for its scratch: the planner drops the scratch
    # where it would raise the arena (memory/planner.py plan_memory_fitting).
    scratch_optional: bool = False
    scratch_declined: int = 0  # the optional scratch's bytes where the planner left it out
    # Where the optional scratch is left out: the smaller scratch the kernel takes instead (0:
    # NULL in its place) and the params that tell it so.
    scratch_fallback: int = 0
    params_declined: dict[str, object] = field(default_factory=dict)
    # Where the optional scratch is left out: a smaller optional one the kernel takes instead
    # with params_declined (the depthwise band's widened weights), where it fits beside the plan.
    scratch_alternative: int = 0
    macs: int = 0
    op: Operator | None = None
    # Inputs the output may overlap where they die here, with the gap (input offset minus
    # output offset) the kernel's access order needs; see memory/overlap.py.
    overlaps: list[tuple[Tensor, int]] = field(default_factory=list)
    patch: int | None = None  # the patch this call computes, in a patch-based stage


@dataclass
class Alias:
    """The output is the input's bytes reinterpreted (RESHAPE and friends): no code, no copy."""

    source: Tensor
    target: Tensor
    op: Operator | None = None


class LoweringContext:
    """Collects constants (deduplicated by content) while operators are lowered."""

    def __init__(self) -> None:
        self.constants: dict[tuple, Const] = {}
        self._names: set[str] = set()

    def const(self, values: np.ndarray, ctype: str, hint: str, align: int = 0) -> Const:
        flat = tuple(int(v) for v in np.asarray(values).reshape(-1))
        key = (ctype, flat, align)
        found = self.constants.get(key)
        if found is not None:
            return found
        base = "".join(ch if ch.isalnum() else "_" for ch in hint)
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        const = Const(symbol=name, ctype=ctype, values=flat, align=align)
        self.constants[key] = const
        return const

    def tensor_const(self, tensor: Tensor, hint: str) -> Const:
        if tensor.dtype not in C_TYPES:
            raise UnsupportedOperator(f"constant tensor '{tensor.name}' has type {tensor.dtype}")
        return self.const(tensor.data, C_TYPES[tensor.dtype], hint)


Lowering = Callable[[Operator, LoweringContext, str], "KernelCall | Alias"]
LOWERINGS: dict[str, Lowering] = {}


def lowers(*op_types: str):
    """Register a function as the lowering of the given TFLite operator types."""

    def register(fn: Lowering) -> Lowering:
        for t in op_types:
            LOWERINGS[t] = fn
        return fn

    return register


def require(condition: bool, reason: str) -> None:
    if not condition:
        raise UnsupportedOperator(reason)


def int8_activation(tensor: Tensor | None, role: str) -> Tensor:
    """Check a non-constant operand is int8 with a per-tensor quantisation."""
    require(tensor is not None, f"missing {role}")
    require(tensor.dtype == "int8", f"{role} '{tensor.name}' is {tensor.dtype}; only int8 is supported")
    require(tensor.quant is not None and not tensor.quant.per_channel,
            f"{role} '{tensor.name}' needs per-tensor quantisation")
    return tensor


def static_input(op: Operator, i: int, what: str) -> np.ndarray:
    """A constant operand (axes, paddings, shapes); dynamic ones cannot be compiled."""
    require(len(op.inputs) > i and op.inputs[i] is not None, f"missing {what}")
    t = op.inputs[i]
    require(t.is_constant, f"{what} '{t.name}' is computed at run time; it must be constant")
    return t.data
