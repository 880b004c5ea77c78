"""Operators that only rearrange bytes: TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V, UNPACK,
PACK, TILE, GATHER, DEPTH_TO_SPACE, SPACE_TO_DEPTH, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND.

Most are affine views of their input: each output element reads input element
`offset + sum(index[d] * stride[d])` over the output's index. The view is computed
here and run by one kernel, te_strided_copy_s8. Operators with several outputs
lower to one copy per output. Like RESHAPE, these copy bytes unchanged where TFLite
does, even where the output declares another quantisation.
"""

from __future__ import annotations

import numpy as np

from ..ir import Operator, Tensor
from .base import Const, KernelCall, LoweringContext, int8_activation, lowers, require, static_input
from .shape_ops import _same_quant

COPY_MAX_DIMS = 8  # TE_COPY_MAX_DIMS


def row_major_strides(shape) -> list[int]:
    strides, acc = [], 1
    for n in reversed(list(shape)):
        strides.append(acc)
        acc *= int(n)
    return strides[::-1]


def _source(ctx: LoweringContext, x: Tensor, name: str) -> Tensor | Const:
    """Constant inputs are read from flash; activations from the arena."""
    return ctx.tensor_const(x, f"{name}_in") if x.is_constant else x


def _merge_view(shape, strides) -> tuple[list[int], list[int]]:
    """Drop unit dimensions and merge neighbours the view walks contiguously."""
    dims = [(int(n), int(s)) for n, s in zip(shape, strides) if n != 1]
    merged: list[tuple[int, int]] = []
    for n, s in dims:
        if merged and merged[-1][1] == s * n:
            merged[-1] = (merged[-1][0] * n, s)
        else:
            merged.append((n, s))
    merged = merged or [(1, 0)]
    return [n for n, _ in merged], [s for _, s in merged]


def strided_copy(ctx: LoweringContext, name: str, x: Tensor, y: Tensor, shape, strides, offset: int) -> KernelCall:
    """y = the view of x with output `shape`, element strides `strides` (any sign) and start `offset`."""
    shape, strides, offset = [int(n) for n in shape], [int(s) for s in strides], int(offset)
    require(int(np.prod(shape, dtype=np.int64)) == y.size,
            f"output shape {list(y.shape)} does not match the {shape} elements the operator selects")
    if y.size:
        lo = offset + sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
        hi = offset + sum((n - 1) * s for n, s in zip(shape, strides) if s > 0)
        require(0 <= lo and hi < x.size, "the operator reads outside its input")
    merged_shape, merged_strides = _merge_view(shape, strides)
    require(len(merged_shape) <= COPY_MAX_DIMS,
            f"a view of {len(merged_shape)} dimensions is beyond the copy kernel's {COPY_MAX_DIMS}")
    pad = COPY_MAX_DIMS - len(merged_shape)
    params = dict(ndim=len(merged_shape), shape=merged_shape + [1] * pad, in_stride=merged_strides + [0] * pad,
                  in_offset=offset)
    return KernelCall(kernel="te_strided_copy_s8", params_type="te_strided_copy_params", params=params,
                      args=[_source(ctx, x, name), y], inputs=[] if x.is_constant else [x], outputs=[y])


@lowers("TRANSPOSE")
def lower_transpose(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    perm = [int(p) % max(len(x.shape), 1) for p in np.asarray(static_input(op, 1, "permutation")).reshape(-1)]
    require(sorted(perm) == list(range(len(x.shape))), "invalid permutation")
    require(tuple(x.shape[p] for p in perm) == tuple(y.shape), "output shape does not match the permutation")
    strides = row_major_strides(x.shape)
    return strided_copy(ctx, name, x, y, y.shape, [strides[p] for p in perm], 0)


def _int_list(values) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    require(-rank <= axis < rank, f"{what} {axis} is out of range for rank {rank}")
    return axis % rank


def _slice_along(ctx, name, x, y, axis: int, start: int, count: int) -> KernelCall:
    """y = x[..., start:start + count, ...] along `axis` (y may drop that axis when count is 1)."""
    shape = list(x.shape)
    shape[axis] = count
    strides = row_major_strides(x.shape)
    return strided_copy(ctx, name, x, y, shape, strides, start * strides[axis])


@lowers("SLICE")
def lower_slice(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    begin = _int_list(static_input(op, 1, "begin"))
    size = _int_list(static_input(op, 2, "size"))
    require(len(begin) == len(size) == len(x.shape), "begin and size must have one entry per input dimension")
    size = [dim - b if s == -1 else s for b, s, dim in zip(begin, size, x.shape)]
    require(all(b >= 0 and s >= 0 and b + s <= dim for b, s, dim in zip(begin, size, x.shape)),
            f"slice begin {begin} size {size} does not fit in the input {list(x.shape)}")
    strides = row_major_strides(x.shape)
    return strided_copy(ctx, name, x, y, size, strides, sum(b * s for b, s in zip(begin, strides)))


def _bit(mask: int, i: int) -> bool:
    return bool(mask >> i & 1)


def strided_slice_view(in_shape, begin, end, strides, options) -> tuple[list[int], list[int], list[int], int]:
    """TFLite's StridedSlice (strided_slice.cc BuildStridedSliceParams and the reference
    StartForAxis/EndForAxis): the copied view (shape, element strides, offset) over the
    input and the output shape, the shrunk axes dropped."""
    ellipsis, new_axis = options.get("ellipsis_mask", 0), options.get("new_axis_mask", 0)
    begin_mask, end_mask = options.get("begin_mask", 0), options.get("end_mask", 0)
    shrink, offset_mode = options.get("shrink_axis_mask", 0), bool(options.get("offset", False))
    rank, count = len(in_shape), len(begin)
    # TFLite sizes an offset slice's output from the raw `end` at the expanded index.
    require(not (offset_mode and (ellipsis or new_axis)), "the offset option with ellipsis_mask or new_axis_mask")
    # Spec entries with new_axis (and not ellipsis) add a unit dimension to the input.
    added = sum(1 for i in range(count) if not _bit(ellipsis, i) and _bit(new_axis, i))
    dims = rank + added
    # The ellipsis expands to the input dimensions the spec does not name.
    eff_ellipsis, eff_new, ellipsis_start, expanded, i = 0, 0, dims, 0, 0
    while i < dims:
        if _bit(ellipsis, i):
            ellipsis_start = i
            stop = max(i + 1, min(i + 1 + added + rank - count, dims))
            expanded = stop - ellipsis_start - 1
            for k in range(i, stop):
                eff_ellipsis |= 1 << k
            i = stop
            continue
        if _bit(new_axis, i - expanded):
            eff_new |= 1 << i
        i += 1
    start_idx, stop_idx, step = [0] * dims, [0] * dims, [1] * dims
    bm = em = sm = 0
    shape = []
    added_ellipsis = added_axes = 0
    for i in range(dims):
        if _bit(eff_ellipsis, i):
            added_ellipsis = max(0, i - ellipsis_start)
            bm, em = bm | 1 << i, em | 1 << i
            shape.append(in_shape[i - added_axes])
        elif _bit(eff_new, i):
            stop_idx[i] = 1
            shape.append(1)
            added_axes += 1
        elif i >= count + expanded:
            bm, em = bm | 1 << i, em | 1 << i
            shape.append(in_shape[i - added_axes])
        else:
            k = i - added_ellipsis
            start_idx[i], stop_idx[i], step[i] = begin[k], end[k], strides[k]
            bm |= _bit(begin_mask, k) << i
            em |= _bit(end_mask, k) << i
            sm |= _bit(shrink, k) << i
            shape.append(in_shape[i - added_axes])
    elem = row_major_strides(shape)
    view_shape, view_strides, out_shape, offset = [], [], [], 0
    for i, size in enumerate(shape):
        s = step[i]
        require(s != 0, "stride value has to be non-zero")
        start = start_idx[i] + (size if start_idx[i] < 0 else 0)
        start = min(max(start, 0), size) if s > 0 else min(max(start, -1), size - 1)
        if _bit(bm, i):
            start = 0 if s > 0 else size - 1
        if _bit(sm, i):
            stop = start if start >= size else start + 1
        else:
            stop = stop_idx[i] + (start if offset_mode else 0)
            stop += size if stop < 0 else 0
            stop = min(max(stop, 0), size) if s > 0 else min(max(stop, -1), size - 1)
            if _bit(em, i):
                stop = size if s > 0 else -1
        n = max(0, -(-(stop - start) // s)) if s > 0 else max(0, -(-(start - stop) // -s))
        if offset_mode and not _bit(sm, i):
            # Prepare sizes the output from the unclamped length; Eval copies the clamped one.
            length = stop_idx[i]
            declared = 0 if (length < 0) != (s < 0) or length == 0 else (abs(length) - 1) // abs(s) + 1
            require(declared == n, f"the offset slice on axis {i} runs past the input "
                                   f"(TFLite would declare {declared} elements and copy {n})")
        view_shape.append(n)
        view_strides.append(s * elem[i])
        offset += start * elem[i] if n else 0
        if not _bit(sm, i):
            out_shape.append(n)
    return view_shape, view_strides, out_shape, offset


@lowers("STRIDED_SLICE")
def lower_strided_slice(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    begin = _int_list(static_input(op, 1, "begin"))
    end = _int_list(static_input(op, 2, "end"))
    strides = _int_list(static_input(op, 3, "strides"))
    require(len(begin) == len(end) == len(strides), "begin, end and strides differ in length")
    shape, view_strides, out_shape, offset = strided_slice_view(x.shape, begin, end, strides, op.options)
    require(out_shape == list(y.shape),
            f"the slice selects shape {out_shape} but the output is declared {list(y.shape)}")
    return strided_copy(ctx, name, x, y, shape, view_strides, offset)


def _split(ctx, name, x: Tensor, outputs: list[Tensor], axis: int, sizes: list[int]) -> list[KernelCall]:
    require(len(sizes) == len(outputs), f"{len(sizes)} split sizes for {len(outputs)} outputs")
    require(all(s >= 0 for s in sizes) and sum(sizes) == x.shape[axis],
            f"split sizes {sizes} do not add up to dimension {axis} of {list(x.shape)}")
    calls, start = [], 0
    for i, (y, size) in enumerate(zip(outputs, sizes)):
        int8_activation(y, f"output {i}")
        calls.append(_slice_along(ctx, f"{name}_{i}", x, y, axis, start, size))
        start += size
    return calls


@lowers("SPLIT")
def lower_split(op: Operator, ctx: LoweringContext, name: str) -> list[KernelCall]:
    x = int8_activation(op.inputs[1] if len(op.inputs) > 1 else None, "input")
    axis = _axis(_int_list(static_input(op, 0, "axis"))[0], len(x.shape))
    n = op.options.get("num_splits", len(op.outputs)) or len(op.outputs)
    require(n == len(op.outputs) and x.shape[axis] % n == 0,
            f"dimension {axis} of {list(x.shape)} does not split into {n} equal parts")
    return _split(ctx, name, x, op.outputs, axis, [x.shape[axis] // n] * n)


@lowers("SPLIT_V")
def lower_split_v(op: Operator, ctx: LoweringContext, name: str) -> list[KernelCall]:
    x = int8_activation(op.inputs[0], "input")
    sizes = _int_list(static_input(op, 1, "size_splits"))
    axis = _axis(_int_list(static_input(op, 2, "axis"))[0], len(x.shape))
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    return _split(ctx, name, x, op.outputs, axis, sizes)


@lowers("UNPACK")
def lower_unpack(op: Operator, ctx: LoweringContext, name: str) -> list[KernelCall]:
    x = int8_activation(op.inputs[0], "input")
    axis = _axis(op.options.get("axis", 0), len(x.shape))
    require(len(op.outputs) == x.shape[axis], f"{len(op.outputs)} outputs for dimension {axis} of {list(x.shape)}")
    for i, y in enumerate(op.outputs):
        int8_activation(y, f"output {i}")
        # unpack.cc refuses outputs quantised unlike the input.
        require(_same_quant(x, y), "int8 UNPACK needs the input's quantisation on every output")
    return _split(ctx, name, x, op.outputs, axis, [1] * len(op.outputs))


@lowers("PACK")
def lower_pack(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    """A concatenation of the inputs along a new axis: te_concatenation_s8."""
    y = int8_activation(op.outputs[0], "output")
    axis = _axis(op.options.get("axis", 0), len(y.shape))
    shape = op.inputs[0].shape if op.inputs and op.inputs[0] is not None else None
    operands = []
    for i, t in enumerate(op.inputs):
        int8_activation(t, f"input {i}")
        # pack.cc refuses inputs quantised unlike the output.
        require(_same_quant(t, y), "int8 PACK needs the output's quantisation on every input")
        require(t.shape == shape, "PACK inputs must all have the same shape")
        operands.append(_source(ctx, t, f"{name}_{i}"))
    require(tuple(y.shape) == tuple(shape[:axis]) + (len(operands),) + tuple(shape[axis:]),
            f"output shape {list(y.shape)} is not {len(operands)} inputs of shape {list(shape)} stacked on axis {axis}")
    inner = int(np.prod(shape[axis:], dtype=np.int64))
    params = dict(num_inputs=len(operands), outer=int(np.prod(shape[:axis], dtype=np.int64)),
                  inner_size=ctx.const(np.full(len(operands), inner), "int32_t", f"{name}_sizes"))
    return KernelCall(kernel="te_concatenation_s8", params_type="te_concat_params", params=params,
                      args=[operands, y], inputs=[t for t in op.inputs if not t.is_constant], outputs=[y])


@lowers("TILE")
def lower_tile(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    """Each dimension d of size n repeated m times is viewed as (m, n) with stride 0 on m."""
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    multiples = _int_list(static_input(op, 1, "multiples"))
    require(len(multiples) == len(x.shape) and all(m >= 0 for m in multiples),
            f"multiples {multiples} do not match the input rank {len(x.shape)}")
    require(list(y.shape) == [n * m for n, m in zip(x.shape, multiples)],
            f"output shape {list(y.shape)} is not {list(x.shape)} tiled {multiples} times")
    shape, strides = [], []
    for n, m, s in zip(x.shape, multiples, row_major_strides(x.shape)):
        shape += [m, n]
        strides += [0, s]
    return strided_copy(ctx, name, x, y, shape, strides, 0)


@lowers("GATHER")
def lower_gather(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    require(len(op.inputs) > 1 and op.inputs[1] is not None, "missing indices")
    idx_t = op.inputs[1]
    require(idx_t.is_constant, f"GATHER with indices computed at run time ('{idx_t.name}') is not supported; "
                               "only constant indices are")
    indices = np.asarray(idx_t.data, dtype=np.int64).reshape(idx_t.shape)
    axis = _axis(op.options.get("axis", 0), len(x.shape))
    batch_dims = op.options.get("batch_dims", 0)
    batch_dims += indices.ndim if batch_dims < 0 else 0
    require(0 <= batch_dims <= min(axis, indices.ndim) and indices.shape[:batch_dims] == x.shape[:batch_dims],
            f"batch_dims {batch_dims} does not match the input {list(x.shape)} and indices {list(indices.shape)}")
    require(np.all((indices >= 0) & (indices < x.shape[axis])),
            f"GATHER indices outside [0, {x.shape[axis]}) along axis {axis}")
    out_shape = tuple(x.shape[:axis]) + tuple(indices.shape[batch_dims:]) + tuple(x.shape[axis + 1:])
    require(out_shape == tuple(y.shape), f"output shape {list(y.shape)} should be {list(out_shape)}")
    batches = int(np.prod(x.shape[:batch_dims], dtype=np.int64))
    params = dict(batches=batches, outer=int(np.prod(x.shape[batch_dims:axis], dtype=np.int64)),
                  axis_size=x.shape[axis], coords=int(np.prod(indices.shape[batch_dims:], dtype=np.int64)),
                  inner=int(np.prod(x.shape[axis + 1:], dtype=np.int64)),
                  indices=ctx.const(indices, "int32_t", f"{name}_indices"))
    return KernelCall(kernel="te_gather_s8", params_type="te_gather_params", params=params,
                      args=[_source(ctx, x, name), y], inputs=[] if x.is_constant else [x], outputs=[y])


def _nhwc(op: Operator) -> tuple[Tensor, Tensor, int]:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    require(len(x.shape) == 4 and len(y.shape) == 4, "only 4-D NHWC tensors are supported")
    block = op.options.get("block_size", 0)
    require(block >= 1, f"block size {block} is not positive")
    return x, y, block


@lowers("DEPTH_TO_SPACE")
def lower_depth_to_space(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    """Output (n, h * b + i, w * b + j, c) is input (n, h, w, (i * b + j) * C + c): the output
    viewed as (N, H, b, W, b, C)."""
    x, y, b = _nhwc(op)
    n, h, w, c = x.shape
    require(c % (b * b) == 0 and tuple(y.shape) == (n, h * b, w * b, c // (b * b)),
            f"output shape {list(y.shape)} is not depth-to-space of {list(x.shape)} with block {b}")
    oc = c // (b * b)
    shape = [n, h, b, w, b, oc]
    strides = [h * w * c, w * c, b * oc, c, oc, 1]
    return strided_copy(ctx, name, x, y, shape, strides, 0)


@lowers("SPACE_TO_DEPTH")
def lower_space_to_depth(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    """Output (n, h, w, (i * b + j) * C + c) is input (n, h * b + i, w * b + j, c): the output
    viewed as (N, H/b, W/b, b, b, C)."""
    x, y, b = _nhwc(op)
    n, h, w, c = x.shape
    require(h % b == 0 and w % b == 0 and tuple(y.shape) == (n, h // b, w // b, c * b * b),
            f"output shape {list(y.shape)} is not space-to-depth of {list(x.shape)} with block {b}")
    shape = [n, h // b, w // b, b, b, c]
    strides = [h * w * c, b * w * c, b * c, w * c, c, 1]
    return strided_copy(ctx, name, x, y, shape, strides, 0)


def _space_batch(op: Operator, space: Tensor, batch: Tensor) -> dict:
    """The space-side and batch-side geometry shared by SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND."""
    require(len(space.shape) in (3, 4) and len(batch.shape) == len(space.shape),
            "only 3-D NHC and 4-D NHWC tensors are supported")
    # TFLite requires the same quantisation on both sides.
    require(_same_quant(space, batch), f"int8 {op.type} needs the same quantisation on input and output")
    block = _int_list(static_input(op, 1, "block shape"))
    pads = np.asarray(static_input(op, 2, "paddings" if op.type == "SPACE_TO_BATCH_ND" else "crops"),
                      dtype=np.int64).reshape(-1, 2)
    spatial = len(space.shape) - 2
    require(len(block) == spatial and pads.shape[0] == spatial and all(s >= 1 for s in block) and np.all(pads >= 0),
            f"block shape {block} and paddings/crops {pads.tolist()} do not fit a {len(space.shape)}-D tensor")
    sn, *s_hw, c = space.shape
    bn, *b_hw, bc = batch.shape
    if spatial == 1:
        s_hw, b_hw, block, pads = s_hw + [1], b_hw + [1], block + [1], np.vstack([pads, [[0, 0]]])
    require(bc == c and bn == sn * block[0] * block[1] and
            all(bd * bs == sd + int(p0) + int(p1) for bd, bs, sd, (p0, p1) in zip(b_hw, block, s_hw, pads)),
            f"shapes {list(space.shape)} and {list(batch.shape)} do not match block {block[:spatial]} "
            f"and paddings/crops {pads[:spatial].tolist()}")
    return dict(batches=sn, space_h=s_hw[0], space_w=s_hw[1], channels=c, block_h=block[0], block_w=block[1],
                batch_h=b_hw[0], batch_w=b_hw[1], pad_top=int(pads[0, 0]), pad_left=int(pads[1, 0]))


@lowers("SPACE_TO_BATCH_ND")
def lower_space_to_batch(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    params = _space_batch(op, x, y)
    params["pad_value"] = y.quant.zp
    return KernelCall(kernel="te_space_to_batch_nd_s8", params_type="te_space_batch_params", params=params,
                      args=[_source(ctx, x, name), y], inputs=[] if x.is_constant else [x], outputs=[y])


@lowers("BATCH_TO_SPACE_ND")
def lower_batch_to_space(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    params = _space_batch(op, y, x)
    params["pad_value"] = 0
    return KernelCall(kernel="te_batch_to_space_nd_s8", params_type="te_space_batch_params", params=params,
                      args=[_source(ctx, x, name), y], inputs=[] if x.is_constant else [x], outputs=[y])
