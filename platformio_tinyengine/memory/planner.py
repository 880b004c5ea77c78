"""Static placement of every activation buffer in one arena.

A buffer is a set of tensors sharing storage (a tensor and its reshape aliases)
plus per-step scratch. Its lifetime runs from the step that writes it to the
last step that reads it; model inputs are live from the start and outputs to
the end. Buffers whose lifetimes overlap never overlap in the arena. Several
placement orders are tried and the smallest arena kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Tensor
from ..lowering.base import Alias, KernelCall

ALIGNMENT = 8


@dataclass(eq=False)
class Buffer:
    name: str
    size: int
    first: int  # first step the buffer is live
    last: int  # last step the buffer is live
    tensors: list[Tensor] = field(default_factory=list)
    offset: int = -1

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last

    def overlaps_in_space(self, other: "Buffer") -> bool:
        return self.offset < other.offset + other.size and other.offset < self.offset + self.size


@dataclass
class MemoryPlan:
    buffers: list[Buffer]
    arena_bytes: int
    tensor_buffer: dict[int, Buffer]  # id(tensor) -> buffer
    scratch: dict[int, Buffer]  # step -> scratch buffer
    lower_bound: int  # largest sum of live bytes at any step

    def offset(self, tensor: Tensor) -> int:
        return self.tensor_buffer[id(tensor)].offset


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def build_buffers(steps: list[KernelCall | Alias], inputs: list[Tensor], outputs: list[Tensor]):
    """Group aliased tensors into buffers and compute their lifetimes."""
    buffer_of: dict[int, Buffer] = {}
    buffers: list[Buffer] = []

    def new_buffer(t: Tensor, step: int) -> Buffer:
        b = Buffer(name=t.name, size=t.nbytes, first=step, last=step, tensors=[t])
        buffers.append(b)
        buffer_of[id(t)] = b
        return b

    for t in inputs:
        if id(t) not in buffer_of:
            new_buffer(t, 0)
    scratch: dict[int, Buffer] = {}
    for i, step in enumerate(steps):
        if isinstance(step, Alias):
            b = buffer_of[id(step.source)]
            b.tensors.append(step.target)
            buffer_of[id(step.target)] = b
            b.last = max(b.last, i)
            continue
        for t in step.inputs:
            buffer_of[id(t)].last = max(buffer_of[id(t)].last, i)
        for t in step.outputs:
            if id(t) not in buffer_of:
                new_buffer(t, i)
        if step.scratch_bytes:
            s = Buffer(name=f"scratch_{i}", size=step.scratch_bytes, first=i, last=i)
            buffers.append(s)
            scratch[i] = s
    end = max(len(steps) - 1, 0)
    for t in outputs:
        buffer_of[id(t)].last = end
    return buffers, buffer_of, scratch


def _place(buffers: list[Buffer], order: list[Buffer]) -> int:
    """First fit: each buffer at the lowest offset clear of placed, time-overlapping ones."""
    placed: list[Buffer] = []
    top = 0
    for b in order:
        conflicts = sorted((p for p in placed if p.overlaps_in_time(b)), key=lambda p: p.offset)
        offset = 0
        for p in conflicts:
            if offset + b.size <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.size))
        b.offset = offset
        placed.append(b)
        top = max(top, offset + b.size)
    return top


def lower_bound(buffers: list[Buffer]) -> int:
    if not buffers:
        return 0
    steps = max(b.last for b in buffers) + 1
    return max(sum(b.size for b in buffers if b.first <= s <= b.last) for s in range(steps))


def plan_memory(steps: list[KernelCall | Alias], inputs: list[Tensor], outputs: list[Tensor]) -> MemoryPlan:
    buffers, buffer_of, scratch = build_buffers(steps, inputs, outputs)
    orders = [
        sorted(buffers, key=lambda b: (-b.size, b.first)),
        sorted(buffers, key=lambda b: (b.first, -b.size)),
        sorted(buffers, key=lambda b: (-(b.last - b.first), -b.size)),
        sorted(buffers, key=lambda b: (-b.size * (b.last - b.first + 1), b.first)),
    ]
    best_size, best_offsets = None, None
    for order in orders:
        size = _place(buffers, order)
        if best_size is None or size < best_size:
            best_size, best_offsets = size, [b.offset for b in buffers]
    for b, off in zip(buffers, best_offsets):
        b.offset = off
    return MemoryPlan(buffers=buffers, arena_bytes=_align(best_size or 0), tensor_buffer=buffer_of,
                      scratch=scratch, lower_bound=lower_bound(buffers))
