"""Spatial regions of NHWC feature maps and how they propagate backwards through a kernel.

Everything here reads a lowered KernelCall's parameters (strides, padding, kernel size), so
a fused PAD and TFLite's SAME/VALID arithmetic are already accounted for.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..lowering.base import KernelCall

WINDOW_KERNELS = ("te_conv_s8", "te_depthwise_conv_s8", "te_avg_pool_s8", "te_max_pool_s8")
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

    def union(self, other: "Region | None") -> "Region":
        if other is None:
            return self
        return Region(min(self.y0, other.y0), max(self.y1, other.y1), min(self.x0, other.x0), max(self.x1, other.x1))

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


def grid(h: int, w: int, rows: int, cols: int) -> list[Region]:
    """The patches of an h x w map, row-major."""
    return [Region(y0, y1, x0, x1) for y0, y1 in split_evenly(h, rows) for x0, x1 in split_evenly(w, cols)]


def _window_range(o0: int, o1: int, stride: int, pad: int, kernel: int, dilation: int, size: int) -> tuple[int, int]:
    """Input coordinates outputs [o0, o1) read, clipped to the real map (outside it is padding)."""
    lo = o0 * stride - pad
    hi = (o1 - 1) * stride - pad + (kernel - 1) * dilation + 1
    lo = min(max(lo, 0), size)
    return lo, max(min(hi, size), lo)


def input_region(call: KernelCall, out: Region) -> Region:
    """The region of the (first) input a kernel reads to produce `out`."""
    p = call.params
    if call.kernel in WINDOW_KERNELS:
        y0, y1 = _window_range(out.y0, out.y1, p["stride_h"], p["pad_top"], p["k_h"], p.get("dil_h", 1), p["in_h"])
        x0, x1 = _window_range(out.x0, out.x1, p["stride_w"], p["pad_left"], p["k_w"], p.get("dil_w", 1), p["in_w"])
        return Region(y0, y1, x0, x1)
    return out
