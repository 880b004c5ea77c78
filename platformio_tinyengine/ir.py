"""The graph the passes transform and the lowerings read: tensors and operators."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DTYPE_BYTES = {
    "int8": 1, "uint8": 1, "bool": 1, "int16": 2, "float16": 2,
    "int32": 4, "float32": 4, "int64": 8, "float64": 8,
}


@dataclass
class Quant:
    """Affine quantisation: real = scale * (q - zero_point), per tensor or per axis."""

    scale: np.ndarray  # float32, one value or one per channel along `axis`
    zero_point: np.ndarray  # int64, same length as scale
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def s(self) -> float:
        """The single scale of a per-tensor quantised tensor (as float32)."""
        return float(np.float32(self.scale[0]))

    @property
    def zp(self) -> int:
        return int(self.zero_point[0])


@dataclass(eq=False)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quant | None = None
    data: np.ndarray | None = None  # set for constants (weights, biases, shapes)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        # Types we never compute on (strings, complex, int4) count one byte per element.
        return self.size * DTYPE_BYTES.get(self.dtype, 1)

    def __repr__(self) -> str:
        return f"Tensor({self.name!r}, {self.shape}, {self.dtype})"


@dataclass(eq=False)
class Operator:
    type: str  # TFLite builtin name, e.g. "CONV_2D"
    inputs: list[Tensor | None]  # None for an omitted optional input
    outputs: list[Tensor]
    options: dict = field(default_factory=dict)
    version: int = 1
    index: int = 0  # position in the original model, for messages

    def describe(self) -> str:
        return f"{self.type} (operator #{self.index})"


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[Tensor]
    outputs: list[Tensor]
    name: str = "model"
    notes: list[str] = field(default_factory=list)  # what the generator changed that a user should know

    def producers(self) -> dict[int, Operator]:
        return {id(t): op for op in self.operators for t in op.outputs}

    def consumers(self) -> dict[int, list[Operator]]:
        users: dict[int, list[Operator]] = {}
        for op in self.operators:
            for t in op.inputs:
                if t is not None:
                    users.setdefault(id(t), []).append(op)
        return users
