"""An independent check of a memory plan.

Lifetimes are recomputed here from the step list, and every overlap the plan
declares is re-proved by simulating the kernel's own loop order byte by byte:
each input byte's last read and each output byte's write are given a time slot,
and an output byte may only land on an input byte that is never read after it
is written. Nothing here uses the planner's or overlap.py's arithmetic.
"""

from __future__ import annotations

import numpy as np

from platformio_tinyengine.lowering.base import Alias, KernelCall, View
from platformio_tinyengine.lowering.conv import CONV_COLUMN_MAX, gemm_blocks
from platformio_tinyengine.pipeline import CompiledModel


def _lifetimes(model: CompiledModel) -> dict[int, list]:
    """id(tensor) -> [first step, last step], following aliases as shared storage."""
    span: dict[int, list] = {}
    for t in model.graph.inputs:
        span[id(t)] = [0, 0]
    last = len(model.steps) - 1
    for i, s in enumerate(model.steps):
        if isinstance(s, Alias):
            span[id(s.source)][1] = max(span[id(s.source)][1], i)
            span[id(s.target)] = span[id(s.source)]  # same storage, same list object
            continue
        for t in s.inputs:
            span[id(t)][1] = max(span[id(t)][1], i)
        for t in s.outputs:
            span.setdefault(id(t), [i, i])
    for t in model.graph.outputs:
        span[id(t)][1] = last
    return span


def _window_last_pixel(p: dict) -> np.ndarray:
    """Per input pixel [batch, y, x], the last output pixel (row-major) whose window reads it, or -1."""
    n, ih, iw = p["batches"], p["in_h"], p["in_w"]
    oh, ow = p["out_h"], p["out_w"]
    kh, kw = p["k_h"], p["k_w"]
    sh, sw = p["stride_h"], p["stride_w"]
    dh, dw = p.get("dil_h", 1), p.get("dil_w", 1)
    last_pixel = np.full((n, ih, iw), -1, dtype=np.int64)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                pix = (b * oh + oy) * ow + ox
                for ky in range(kh):
                    iy = oy * sh - p["pad_top"] + ky * dh
                    if not 0 <= iy < ih:
                        continue
                    for kx in range(kw):
                        ix = ox * sw - p["pad_left"] + kx * dw
                        if 0 <= ix < iw:
                            last_pixel[b, iy, ix] = pix
    return last_pixel


def _window_last_reads(p: dict, depthwise: bool, pool: bool) -> tuple[np.ndarray, np.ndarray]:
    """Slots of a window kernel (pixel-major, channel inner; one slot reads then writes one output
    byte): the last slot reading each input byte and the slot writing each output byte."""
    n, ic = p["batches"], p.get("in_c", p.get("channels"))
    oh, ow = p["out_h"], p["out_w"]
    oc = p.get("out_c", p.get("channels"))
    last_pixel = _window_last_pixel(p)
    chan = np.arange(ic, dtype=np.int64)
    if pool:
        last_slot_in_pixel = chan  # channel c is read only while computing output channel c
    elif depthwise:
        mult = p.get("depth_multiplier", 1)
        last_slot_in_pixel = (chan + 1) * mult - 1
    else:
        last_slot_in_pixel = np.full(ic, oc - 1)  # every output channel reads every input channel
    last_read = np.where(last_pixel[..., None] >= 0, last_pixel[..., None] * oc + last_slot_in_pixel, -1)
    write = np.arange(n * oh * ow * oc, dtype=np.int64)
    return last_read.reshape(-1), write


def _pixel_blocks(p: dict, column_bytes: int) -> np.ndarray:
    """Per output pixel, the number of the GEMM block computing it (the kernels' blocks: gemm_blocks)."""
    sizes = gemm_blocks(p["batches"] * p["out_h"] * p["out_w"], column_bytes, bool(p.get("gemm_narrow", 0)))
    return np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)


def kernel_slots(call: KernelCall) -> tuple[np.ndarray, np.ndarray] | None:
    """(last read slot per byte of inputs[0], write slot per output byte), or None if unknown."""
    p = call.params
    if call.kernel == "te_conv_s8" and p["k_h"] * p["k_w"] * p["in_c"] <= CONV_COLUMN_MAX:
        # im2col: blocks of pixels in order, every window of a block copied (slot 2 * block)
        # before the block's outputs are written (slot 2 * block + 1).
        last_pixel = _window_last_pixel(p)
        block = _pixel_blocks(p, p["k_h"] * p["k_w"] * p["in_c"])
        last_read = np.repeat(np.where(last_pixel >= 0, 2 * block[np.maximum(last_pixel, 0)], -1).reshape(-1),
                              p["in_c"])
        return last_read, np.repeat(2 * block + 1, p["out_c"])
    if call.kernel in ("te_conv_s8", "te_depthwise_conv_s8"):
        return _window_last_reads(p, call.kernel == "te_depthwise_conv_s8", pool=False)
    if call.kernel == "te_depthwise_conv_s8_fast":
        # Its portable path reads and writes in te_depthwise_conv_s8's order (depth multiplier
        # 1); its DSP path reads each block of 4 channels before writing any of the block's
        # outputs, and with the band (band in params) every input row before writing any output
        # of the first row reading it, so only earlier: this order proves all three.
        return _window_last_reads(p, depthwise=True, pool=False)
    if call.kernel == "te_conv_1x1_s8":
        # Blocks of pixels in order: a block's input read whole (slot 2 * block), then its
        # outputs written (slot 2 * block + 1).
        block = _pixel_blocks(p, p["in_c"])
        return np.repeat(2 * block, p["in_c"]), np.repeat(2 * block + 1, p["out_c"])
    if call.kernel in ("te_avg_pool_s8", "te_max_pool_s8"):
        return _window_last_reads(p, depthwise=False, pool=True)
    if call.kernel == "te_fully_connected_s8":
        rows, fin, fout = p["batches"], p["in_features"], p["out_features"]
        last_read = np.repeat(np.arange(rows, dtype=np.int64) * fout + fout - 1, fin)
        return last_read, np.arange(rows * fout, dtype=np.int64)
    if call.kernel in ("te_add_s8", "te_mul_s8", "te_requantize_s8", "te_lut_s8"):
        n = call.outputs[0].size
        return np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64)
    return None


def overlap_is_safe(call: KernelCall, input_offset: int, output_offset: int) -> bool:
    slots = kernel_slots(call)
    if slots is None:
        return False
    last_read, write = slots
    addr = output_offset + np.arange(write.size) - input_offset  # output byte -> input byte index
    inside = (addr >= 0) & (addr < last_read.size)
    return bool(np.all(last_read[addr[inside]] <= write[inside]))


def _arg_offset(call: KernelCall, tensor) -> tuple[int, int] | None:
    """(argument position, byte offset) at which `call` passes `tensor`, or None."""
    for i, a in enumerate(call.args):
        if a is tensor:
            return i, 0
        if isinstance(a, View) and a.tensor is tensor:
            return i, a.offset
    return None


def _bytes_read(call: KernelCall, position: int, offset: int) -> np.ndarray:
    """Every byte (relative to the tensor's start) a patch-stage kernel reads from argument `position`."""
    p = call.params
    if call.kernel in ("te_conv_s8", "te_depthwise_conv_s8", "te_depthwise_conv_s8_fast", "te_avg_pool_s8",
                       "te_max_pool_s8"):
        c = p.get("in_c", p.get("channels"))
        ys = {oy * p["stride_h"] - p["pad_top"] + ky * p.get("dil_h", 1)
              for oy in range(p["out_h"]) for ky in range(p["k_h"])}
        xs = {ox * p["stride_w"] - p["pad_left"] + kx * p.get("dil_w", 1)
              for ox in range(p["out_w"]) for kx in range(p["k_w"])}
        pixels = [y * p["in_w"] + x for y in ys if 0 <= y < p["in_h"] for x in xs if 0 <= x < p["in_w"]]
        return offset + (np.array(pixels, dtype=np.int64)[:, None] * c + np.arange(c)).reshape(-1)
    if call.kernel == "te_conv_1x1_s8":
        return offset + np.arange(p["in_h"] * p["in_w"] * p["in_c"], dtype=np.int64)
    if call.kernel in ("te_add_s8", "te_mul_s8"):
        strides = p["stride1"] if position == 0 else p["stride2"]
        index = np.zeros(1, dtype=np.int64)
        for d in range(p["ndim"]):
            index = (index[:, None] + np.arange(p["shape"][d]) * strides[d]).reshape(-1)
        return offset + index
    raise AssertionError(f"{call.kernel} in a patch stage reads in no known order")


def _bytes_written(call: KernelCall, offset: int) -> np.ndarray:
    p = call.params
    if call.kernel == "te_copy_rows_s8":
        return offset + (np.arange(p["rows"])[:, None] * p["dst_stride"] + np.arange(p["row_bytes"])).reshape(-1)
    if call.kernel in ("te_add_s8", "te_mul_s8"):
        count = int(np.prod(p["shape"][:p["ndim"]]))
    else:
        count = p["out_h"] * p["out_w"] * p.get("out_c", p.get("channels"))
    return offset + np.arange(count, dtype=np.int64)


def stage_overlap_is_safe(model: CompiledModel, out_t, in_t, out_offset: int, in_offset: int) -> bool:
    """A patch stage writes its split map over its input: simulate every step of the stage and
    check no byte of the input is overwritten before its last read."""
    last_read = np.full(in_t.nbytes, -1, dtype=np.int64)
    writes = []
    for i, s in enumerate(model.steps[:model.patch.stage_steps]):
        for t in s.inputs:
            if t is in_t:
                position, off = _arg_offset(s, t)
                last_read[_bytes_read(s, position, off)] = i
        if s.outputs[0] is out_t:
            writes.append((i, _bytes_written(s, _arg_offset(s, out_t)[1])))
    for i, written in writes:
        target = out_offset + written - in_offset
        target = target[(target >= 0) & (target < in_t.nbytes)]
        if np.any(last_read[target] >= i):
            return False
    return True


def check_plan(model: CompiledModel) -> None:
    plan = model.plan
    span = _lifetimes(model)
    tensors = {id(t): t for s in model.steps for t in
               ([s.source, s.target] if isinstance(s, Alias) else [*s.inputs, *s.outputs])}
    tensors.update({id(t): t for t in [*model.graph.inputs, *model.graph.outputs]})
    storage = {}
    for tid, t in tensors.items():
        off = plan.offset(t)
        assert off >= 0 and off + t.nbytes <= plan.arena_bytes, f"{t.name} lies outside the arena"
        storage.setdefault((off, id(span[tid])), (t, span[tid]))
    items = list(storage.values())
    for i, s in enumerate(model.steps):
        if isinstance(s, Alias):
            continue
        live = [(t, sp) for t, sp in items if sp[0] <= i <= sp[1]]
        scratch = plan.scratch.get(i)
        for a in range(len(live)):
            ta, sa = live[a]
            oa = plan.offset(ta)
            if scratch is not None:
                assert oa + ta.nbytes <= scratch.offset or scratch.offset + scratch.size <= oa, \
                    f"step {i}: scratch overlaps {ta.name}"
            for b in range(a + 1, len(live)):
                tb, sb = live[b]
                ob = plan.offset(tb)
                if oa + ta.nbytes <= ob or ob + tb.nbytes <= oa:
                    continue
                pair = {id(ta), id(tb)}
                stage = [(o, x) for o, x, _, _ in (model.patch.stage_overlaps if model.patch else ())
                         if {id(o), id(x)} == pair]
                if stage:
                    o, x = stage[0]
                    assert stage_overlap_is_safe(model, o, x, plan.offset(o), plan.offset(x)), \
                        f"the patch stage writes {o.name} over bytes of {x.name} it still reads"
                    continue
                out = s.outputs[0]
                # A model output stays needed after the last step.
                ins = [t for t, _ in s.overlaps if span[id(t)][1] == i
                       and all(t is not o for o in model.graph.outputs)]
                declared = id(out) in pair and any(id(t) in pair for t in ins)
                assert declared, f"step {i}: {ta.name} and {tb.name} overlap without a declared overlap"
                src = ta if id(tb) == id(out) else tb
                # Element-wise kernels read every input in the same order; the others only
                # declare overlaps with their first input.
                assert src is s.inputs[0] or s.kernel in ("te_add_s8", "te_mul_s8"), \
                    f"step {i}: overlap with an input the kernel reads in no known order"
                assert overlap_is_safe(s, plan.offset(src), plan.offset(out)), \
                    f"step {i} ({s.kernel}): the output clobbers bytes of {src.name} that are read later"
