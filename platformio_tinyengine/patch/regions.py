"""Spatial regions of NHWC feature maps and how they propagate backwards through a kernel.

Everything here reads a lowered KernelCall's parameters (strides, padding, kernel size), so
a fused PAD and TFLite's SAME/VALID arithmetic are already accounted for.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..lowering.base import KernelCall

WINDOW_KERNELS = ("te_conv_s8", "te_depthwise_conv_s8", "te_depthwise_conv_s8_fast", "te_avg_pool_s8", "te_max_pool_s8")
POINTWISE_KERNELS = ("te_conv_1x1_s8",)
ELEMENTWISE_KERNELS = ("te_add_s8", "te_mul_s8")
PATCHABLE_KERNELS = WINDOW_KERNELS + POINTWISE_KERNELS + ELEMENTWISE_KERNELS


@dataclass(frozen=True)
class Region:
    """Rows [y0, y1) and columns [x0, x1) of a feature map."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def pixels(self) -> int:
        return self.h * self.w

    def contains(self, other: "Region") -> bool:
        return self.y0 <= other.y0 and other.y1 <= self.y1 and self.x0 <= other.x0 and other.x1 <= self.x1

    def offset_in(self, outer: "Region", channels: int) -> int:
        """Byte offset of this region's first pixel inside a buffer holding `outer`."""
        return ((self.y0 - outer.y0) * outer.w + (self.x0 - outer.x0)) * channels


def full(h: int, w: int) -> Region:
    return Region(0, h, 0, w)


def split_evenly(size: int, parts: int) -> list[tuple[int, int]]:
    """`parts` consecutive ranges covering [0, size), sizes differing by at most one."""
    bounds = [size * i // parts for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


Interval = tuple[int, int]
_AXIS_KEYS = (("stride_h", "pad_top", "k_h", "dil_h", "in_h"), ("stride_w", "pad_left", "k_w", "dil_w", "in_w"))


def input_interval(call: KernelCall, axis: int, out: Interval) -> Interval:
    """Input coordinates along `axis` (0: rows, 1: columns) a kernel reads for outputs
    [out[0], out[1]), clipped to the real map: beyond it is padding."""
    if call.kernel not in WINDOW_KERNELS:
        return out
    stride, pad, kernel, dilation, size = (call.params.get(k, 1) for k in _AXIS_KEYS[axis])
    lo = min(max(out[0] * stride - pad, 0), size)
    hi = (out[1] - 1) * stride - pad + (kernel - 1) * dilation + 1
    return lo, max(min(hi, size), lo)


def stage_intervals(stage: list[KernelCall], axis: int, split_out: Interval) -> dict[int, Interval]:
    """The interval along `axis` every tensor of a patch stage must hold (by id) so the last
    kernel can produce `split_out`. Rows and columns propagate independently, so a patch's
    regions are the products of its row and column intervals.

    Backwards, a tensor read by several kernels holds the union of what they read. Then,
    forwards, a pointwise kernel whose input holds more than its output needs computes that
    much output too: it walks its input contiguously."""
    last = stage[-1]
    span: dict[int, Interval] = {id(last.outputs[0]): split_out}
    for s in reversed(stage):
        out = span[id(s.outputs[0])]
        for t in s.inputs:
            lo, hi = input_interval(s, axis, out)
            if id(t) in span:
                lo, hi = min(lo, span[id(t)][0]), max(hi, span[id(t)][1])
            span[id(t)] = (lo, hi)
    produced = {id(s.outputs[0]) for s in stage}
    for s in stage[:-1]:
        if s.kernel in POINTWISE_KERNELS and id(s.inputs[0]) in produced:
            (a, b), (c, d) = span[id(s.inputs[0])], span[id(s.outputs[0])]
            span[id(s.outputs[0])] = (min(a, c), max(b, d))
    return span
