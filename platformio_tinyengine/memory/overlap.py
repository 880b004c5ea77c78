"""How far a kernel's output may overlap its input, proved from its access order.

A kernel that walks its output in order, unit by unit (a pixel, an element, a
batch row), writes bytes [0, write_end[u]) of its output by the end of unit u,
and from unit u on still reads input bytes at or above read_min[u]. Placing the
output G bytes below the input (output offset = input offset - G) is safe when
every write lands below every later read:

    output_offset + write_end[u] <= input_offset + read_min[u]   for every u
    <=> input_offset - output_offset >= max_u(write_end[u] - read_min[u]) =: G

G is the *gap* the planner must keep. With G <= 0 the output may even start at
the input's own offset (fully in place). Units whose writes interleave with their
own reads (a convolution writes output channel 0 of a pixel before it reads the
window again for channel 1) count their own reads in read_min.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def gap(write_end: np.ndarray, read_min: np.ndarray) -> int:
    """max_u(write_end[u] - min(read_min[u:])): the smallest safe input - output distance."""
    later_min = np.minimum.accumulate(read_min[::-1])[::-1]
    return int(np.max(write_end - later_min))


def _first_valid(start: np.ndarray, dilation: int, size: int) -> np.ndarray:
    """First input coordinate >= 0 a window starting at `start` reads (clipped into the input)."""
    first = np.where(start < 0, start + (-start + dilation - 1) // dilation * dilation, start)
    return np.clip(first, 0, size - 1)


@lru_cache(maxsize=4096)  # patch-based stages ask for the same tile geometry many times
def window_kernel_gap(batches: int, in_h: int, in_w: int, in_c: int, out_h: int, out_w: int, out_c: int,
                      stride_h: int, stride_w: int, pad_top: int, pad_left: int,
                      dil_h: int = 1, dil_w: int = 1) -> int:
    """Convolutions and pooling: output pixels in row-major order, each pixel's channels written
    while its window (rows from its first valid row, all channels) is still being read.
    Walked in blocks of output rows, last block first, keeping the minimum of later reads
    (vectorised per block: millions of rows take seconds, not minutes)."""
    col = _first_valid(np.arange(out_w, dtype=np.int64) * stride_w - pad_left, dil_w, in_w)
    rows = _first_valid(np.arange(out_h, dtype=np.int64) * stride_h - pad_top, dil_h, in_h)
    worst = -(1 << 62)
    later_min = 1 << 62
    block = max(1, (1 << 16) // max(out_w, 1))
    for stop in range(batches * out_h, 0, -block):
        g = np.arange(max(stop - block, 0), stop, dtype=np.int64)  # rows over all batches
        read_min = ((((g // out_h) * in_h + rows[g % out_h]) * in_w)[:, None] + col) * in_c
        write_end = (g[:, None] * out_w + np.arange(1, out_w + 1, dtype=np.int64)) * out_c
        later = np.minimum(np.minimum.accumulate(read_min.reshape(-1)[::-1])[::-1], later_min)
        worst = max(worst, int(np.max(write_end.reshape(-1) - later)))
        later_min = int(later[0])
    return worst


def pixel_block_gap(pixels: int, in_c: int, out_c: int) -> int:
    """Pointwise kernels that walk the pixels in order in blocks of consecutive pixels (of any
    sizes), each block's input read whole before any of its outputs is written (te_conv_1x1_s8).
    A block ending at pixel e has written e * out_c bytes when the later reads start at
    e * in_c; every block but the last ends at e <= pixels - 1, and nothing is read after the
    last: G = max(0, (pixels - 1) * (out_c - in_c))."""
    return max(0, (pixels - 1) * (out_c - in_c))


def rows_kernel_gap(rows: int, in_row: int, out_row: int) -> int:
    """Kernels that read a whole input row to produce an output row (FULLY_CONNECTED)."""
    r = np.arange(rows, dtype=np.int64)
    return gap((r + 1) * out_row, r * in_row)


def elementwise_gap() -> int:
    """Element n is read before it is written and later elements lie above it: fully in place."""
    return 0
