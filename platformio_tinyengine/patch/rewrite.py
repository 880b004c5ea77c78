"""Rewrite a lowered step list so its first stage runs patch by patch.

The stage is steps[0..split]: convolutions, pooling, pointwise and element-wise kernels
whose only result used later is the split step's output. For each patch of that output,
the regions every stage tensor must hold are computed backwards (a tensor read by several
kernels holds the union of what they need), then the stage's kernels are emitted again
for that patch on small per-patch buffers. Inner patch borders read real neighbours: a
window kernel's padding is re-expressed relative to the region its input buffer holds, so
only the real borders of a map are padded. The stage's inputs (the model's input) stay
whole; the split output is assembled in its full buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import Tensor
from ..lowering import depthwise
from ..lowering.base import Alias, KernelCall, View
from ..lowering.elementwise import MAX_DIMS, binary_call
from ..memory.overlap import elementwise_gap, gap, pixel_block_gap, window_kernel_gap
from .regions import (ELEMENTWISE_KERNELS, PATCHABLE_KERNELS, POINTWISE_KERNELS, WINDOW_KERNELS, Region, full,
                      split_evenly, stage_intervals)


class NotPatchable(Exception):
    """This split point or grid cannot be run patch by patch (the message says why)."""


@dataclass(frozen=True)
class PatchPlan:
    split: int  # index of the stage's last step in the unpatched step list
    rows: int
    cols: int
    # Patches run bottom-up: the split map is then assembled from its end, over the end of
    # the input, which suits a planner that wants the map high in the arena. None: whichever
    # order gives the smaller arena (see patch/search.py).
    bottom_up: bool | None = False

    def __str__(self) -> str:
        return f"{self.rows}x{self.cols}@{self.split}"


@dataclass
class PatchedSteps:
    steps: list[KernelCall | Alias]
    plan: PatchPlan
    stage_steps: int  # the first stage_steps entries of `steps` are the patch stage
    split_tensor: Tensor
    # (split map, stage input, gap, map above input): the map may be assembled over the input
    # rows the patches have finished with; see _assembly_gap.
    stage_overlaps: list[tuple[Tensor, Tensor, int, bool]] = field(default_factory=list)


def _hw(t: Tensor) -> tuple[int, int]:
    return t.shape[1], t.shape[2]


def stage_problem(steps: list[KernelCall | Alias], split: int, graph_outputs: list[Tensor]) -> str | None:
    """Why steps[0..split] cannot be a patch stage, or None if it can."""
    if not 0 <= split < len(steps):
        return f"layer {split} does not exist (the model has {len(steps)} steps)"
    stage = steps[:split + 1]
    produced: set[int] = set()
    for i, s in enumerate(stage):
        if isinstance(s, Alias) or s.kernel not in PATCHABLE_KERNELS:
            kind = "a reshape" if isinstance(s, Alias) else s.kernel
            return f"layer {i} ({kind}) needs its whole input and cannot run patch by patch"
        tensors = [*s.inputs, *s.outputs]
        if any(len(t.shape) != 4 or t.shape[0] != 1 for t in tensors):
            return f"layer {i} works on tensors that are not 1xHxWxC feature maps"
        if s.kernel in ELEMENTWISE_KERNELS and (len(s.inputs) != 2 or any(t.shape != s.outputs[0].shape
                                                                            for t in s.inputs)):
            return f"layer {i} ({s.kernel}) broadcasts or reads a constant"
        if len(s.outputs) != 1:
            return f"layer {i} has several outputs"
        produced.add(id(s.outputs[0]))
    split_out = stage[-1].outputs[0]
    outputs = {id(t) for t in graph_outputs}
    for s in steps[split + 1:]:
        used = [s.source] if isinstance(s, Alias) else s.inputs
        if any(id(t) in produced and t is not split_out for t in used):
            return f"a later layer reads a tensor of the stage other than layer {split}'s output"
    if any(id(s.outputs[0]) in outputs for s in stage[:-1]):
        return "a model output is computed inside the stage"
    return None


class _Patch:
    """One patch of the stage: the region of every stage tensor and the buffers holding them."""

    def __init__(self, stage: list[KernelCall], rows: dict[int, tuple[int, int]],
                 cols: dict[int, tuple[int, int]], number: int) -> None:
        self.number = number
        self.region = {tid: Region(*rows[tid], *cols[tid]) for tid in rows}
        self.buffer: dict[int, Tensor] = {}
        for s in stage[:-1]:
            t = s.outputs[0]
            r = self.region[id(t)]
            self.buffer[id(t)] = Tensor(name=f"{t.name} [patch {number}]", shape=(1, r.h, r.w, t.shape[3]),
                                        dtype=t.dtype, quant=t.quant)

    def storage(self, t: Tensor) -> tuple[Tensor, Region]:
        """The tensor object holding `t` during this patch and the region of the map it holds."""
        tile = self.buffer.get(id(t))
        return (tile, self.region[id(t)]) if tile is not None else (t, full(*_hw(t)))


def patched_macs(steps: list[KernelCall | Alias], plan: PatchPlan) -> int:
    """MACs of the whole model under `plan`, from the stage's row and column spans alone
    (the same count patch_steps' calls add up to, without building them)."""
    stage = steps[:plan.split + 1]
    h, w = _hw(stage[-1].outputs[0])
    row_spans = [stage_intervals(stage, 0, r) for r in split_evenly(h, plan.rows)]
    col_spans = [stage_intervals(stage, 1, c) for c in split_evenly(w, plan.cols)]
    total = sum(s.macs for s in steps[plan.split + 1:] if isinstance(s, KernelCall))
    for s in stage:
        t = id(s.outputs[0])
        rows = sum(hi - lo for span in row_spans for lo, hi in [span[t]])
        cols = sum(hi - lo for span in col_spans for lo, hi in [span[t]])
        oh, ow = _hw(s.outputs[0])
        total += s.macs * rows * cols // (oh * ow)
    return total


def _scaled_macs(call: KernelCall, out: Region) -> int:
    h, w = _hw(call.outputs[0])
    return call.macs * out.pixels // (h * w)


def _window_call(call: KernelCall, patch: _Patch, out_t: Tensor, out: Region, out_arg) -> KernelCall:
    x = call.inputs[0]
    store, held = patch.storage(x)
    p = dict(call.params)
    p.update(in_h=held.h, in_w=held.w, out_h=out.h, out_w=out.w,
             pad_top=p["pad_top"] - out.y0 * p["stride_h"] + held.y0,
             pad_left=p["pad_left"] - out.x0 * p["stride_w"] + held.x0)
    overlaps = []
    if store is not x and isinstance(out_arg, Tensor):
        channels_in = p.get("in_c", p.get("channels"))
        channels_out = p.get("out_c", p.get("channels"))
        overlaps = [(store, window_kernel_gap(1, held.h, held.w, channels_in, out.h, out.w, channels_out,
                                              p["stride_h"], p["stride_w"], p["pad_top"], p["pad_left"],
                                              p.get("dil_h", 1), p.get("dil_w", 1)))]
    scratch, optional, extra = call.scratch_bytes, call.scratch_optional, call.args[2:]
    declined, alternative = call.params_declined, call.scratch_alternative
    if call.kernel == depthwise.KERNEL and (call.scratch_optional or call.scratch_declined):
        # The tile's own shape decides whether the band or widening the weights pays.
        scratch = depthwise.optional_scratch(p)
        optional, extra = bool(scratch), [] if scratch else ["NULL"]
        declined = {"band": 0} if p["band"] else {}
        alternative = depthwise.wide_scratch(p) if p["band"] else 0
    return KernelCall(kernel=call.kernel, params_type=call.params_type, params=p, args=[store, out_arg, *extra],
                      inputs=[store], outputs=[out_t], scratch_bytes=scratch, scratch_optional=optional,
                      scratch_fallback=call.scratch_fallback, params_declined=declined,
                      scratch_alternative=alternative, macs=_scaled_macs(call, out), op=call.op, overlaps=overlaps)


def _pointwise_call(call: KernelCall, patch: _Patch, out_t: Tensor, out: Region, out_arg) -> KernelCall:
    x = call.inputs[0]
    store, held = patch.storage(x)
    contiguous = out == held or (out.x0 == held.x0 and out.x1 == held.x1 and held.contains(out))
    if not contiguous:
        raise NotPatchable(f"the pointwise layer reading '{x.name}' would read a strided window of it")
    p = dict(call.params)
    p.update(in_h=out.h, in_w=out.w, out_h=out.h, out_w=out.w)
    x_arg = store if out == held else View(store, out.offset_in(held, x.shape[3]))
    overlaps = []
    if store is not x and out == held and isinstance(out_arg, Tensor):
        overlaps = [(store, pixel_block_gap(out.pixels, p["in_c"], p["out_c"]))]
    return KernelCall(kernel=call.kernel, params_type=call.params_type, params=p, args=[x_arg, out_arg],
                      inputs=[store], outputs=[out_t], scratch_bytes=call.scratch_bytes,
                      scratch_optional=call.scratch_optional, scratch_fallback=call.scratch_fallback,
                      params_declined=call.params_declined, macs=_scaled_macs(call, out), op=call.op,
                      overlaps=overlaps)


def _elementwise_call(call: KernelCall, patch: _Patch, out_t: Tensor, out: Region, out_arg) -> KernelCall:
    c = call.outputs[0].shape[3]
    p = dict(call.params)
    args, stores, overlaps = [], [], []
    strides = []
    for x in call.inputs:
        store, held = patch.storage(x)
        strides.append([held.w * c, c, 1] + [0] * (MAX_DIMS - 3))
        exact = out == held
        args.append(store if exact else View(store, out.offset_in(held, c)))
        stores.append(store)
        if exact and store is not x and isinstance(out_arg, Tensor):
            overlaps.append((store, elementwise_gap()))
    p.update(ndim=3, shape=[out.h, out.w, c] + [1] * (MAX_DIMS - 3), stride1=strides[0], stride2=strides[1])
    return binary_call(call.kernel, p, [*args, out_arg], inputs=stores, outputs=[out_t], macs=_scaled_macs(call, out),
                       op=call.op, overlaps=overlaps)


def _copy_into(tile: Tensor, target: Tensor, region: Region) -> KernelCall:
    """Copy a finished patch of the split output into its place in the full map."""
    w, c = target.shape[2], target.shape[3]
    params = dict(rows=region.h, row_bytes=region.w * c, src_stride=region.w * c, dst_stride=w * c)
    return KernelCall(kernel="te_copy_rows_s8", params_type="te_copy_rows_params", params=params,
                      args=[tile, View(target, region.offset_in(full(*_hw(target)), c))],
                      inputs=[tile], outputs=[target])


def _byte_range(r: Region, t: Tensor) -> tuple[int, int]:
    """First and one-past-last byte of region `r` inside the full map `t`."""
    w, c = t.shape[2], t.shape[3]
    return (r.y0 * w + r.x0) * c, ((r.y1 - 1) * w + r.x1) * c


def _assembly_gap(patches: list[_Patch], x: Tensor, split_out: Tensor, bottom_up: bool) -> int:
    """How far below the stage input `x` the split map may start (top-down), or how far above
    x's start it must start (bottom-up). Patch n writes its part of the map after reading its
    part of x; with every read of patch n and later counted (its own too), a write never lands
    on an input byte that is still to be read. Patches run in `patches` order."""
    written = np.array([_byte_range(p.region[id(split_out)], split_out) for p in patches], dtype=np.int64)
    read = np.array([_byte_range(p.region[id(x)], x) for p in patches], dtype=np.int64)
    if bottom_up:
        # Mirror image: writes grow downwards from the map's end, reads shrink from x's end.
        return gap(-np.minimum.accumulate(written[:, 0]), -read[:, 1])
    return gap(np.maximum.accumulate(written[:, 1]), read[:, 0])


_BUILDERS = {**{k: _window_call for k in WINDOW_KERNELS}, **{k: _pointwise_call for k in POINTWISE_KERNELS},
             **{k: _elementwise_call for k in ELEMENTWISE_KERNELS}}


def patch_steps(steps: list[KernelCall | Alias], plan: PatchPlan, graph_outputs: list[Tensor]) -> PatchedSteps:
    """The step list with steps[0..plan.split] run patch by patch on plan.rows x plan.cols patches."""
    problem = stage_problem(steps, plan.split, graph_outputs)
    if problem:
        raise NotPatchable(problem)
    stage: list[KernelCall] = steps[:plan.split + 1]
    split_out = stage[-1].outputs[0]
    h, w = _hw(split_out)
    if plan.rows > h or plan.cols > w or plan.rows < 1 or plan.cols < 1:
        raise NotPatchable(f"a {plan.rows}x{plan.cols} grid does not fit layer {plan.split}'s {h}x{w} output")
    new_steps: list[KernelCall | Alias] = []
    patches = []
    row_spans = [stage_intervals(stage, 0, r) for r in split_evenly(h, plan.rows)]
    col_spans = [stage_intervals(stage, 1, c) for c in split_evenly(w, plan.cols)]
    order = [(r, c) for r in range(plan.rows) for c in range(plan.cols)]
    for n, (r, c) in enumerate(reversed(order) if plan.bottom_up else order):
        patch = _Patch(stage, row_spans[r], col_spans[c], n)
        patches.append(patch)
        first = len(new_steps)
        for s in stage:
            out_t = s.outputs[0]
            out = patch.region[id(out_t)]
            if s is stage[-1]:
                full_rows = out.x0 == 0 and out.x1 == w
                if full_rows:
                    # Whole rows of the split output are contiguous in it: write them in place.
                    new_steps.append(_BUILDERS[s.kernel](s, patch, split_out, out,
                                                         View(split_out, out.offset_in(full(h, w), out_t.shape[3]))))
                else:
                    tile = Tensor(name=f"{out_t.name} [patch {n}]", shape=(1, out.h, out.w, out_t.shape[3]),
                                  dtype=out_t.dtype, quant=out_t.quant)
                    new_steps.append(_BUILDERS[s.kernel](s, patch, tile, out, tile))
                    new_steps.append(_copy_into(tile, split_out, out))
            else:
                tile = patch.buffer[id(out_t)]
                new_steps.append(_BUILDERS[s.kernel](s, patch, tile, out, tile))
        for call in new_steps[first:]:
            call.patch = n
    rest = list(steps[plan.split + 1:])
    read_later = {id(t) for s in rest for t in ([s.source] if isinstance(s, Alias) else s.inputs)}
    read_later |= {id(t) for t in graph_outputs}
    produced = {id(s.outputs[0]) for s in stage}
    stage_inputs = {id(t): t for s in stage for t in s.inputs if id(t) not in produced}
    overlaps = [(split_out, x, _assembly_gap(patches, x, split_out, plan.bottom_up), plan.bottom_up)
                for x in stage_inputs.values() if id(x) not in read_later]
    return PatchedSteps(steps=new_steps + rest, plan=plan, stage_steps=len(new_steps), split_tensor=split_out,
                        stage_overlaps=overlaps)
