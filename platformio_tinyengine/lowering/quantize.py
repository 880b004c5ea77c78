"""QUANTIZE int8 -> int8 inside a graph (requantisation) -> te_requantize_s8."""

from __future__ import annotations

from ..ir import Operator
from ..memory.overlap import elementwise_gap
from ..quantization import quantize_multiplier
from .base import KernelCall, LoweringContext, int8_activation, lowers, require


@lowers("QUANTIZE")
def lower_quantize(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x, y = op.inputs[0], op.outputs[0]
    require(x is not None and x.dtype == "int8",
            f"QUANTIZE from {x.dtype if x else '?'} inside the graph; only int8 -> int8 requantisation "
            "(float inputs are supported only as the model's own input wrapper)")
    int8_activation(x, "input")
    int8_activation(y, "output")
    require(x.shape == y.shape, f"output shape {list(y.shape)} differs from the input shape {list(x.shape)}")
    mult, shift = quantize_multiplier(float(x.quant.s) / float(y.quant.s))
    params = dict(size=x.size, input_offset=-x.quant.zp, output_offset=y.quant.zp, multiplier=mult, shift=shift)
    return KernelCall(kernel="te_requantize_s8", params_type="te_requantize_params", params=params,
                      args=[x, y], inputs=[x], outputs=[y], overlaps=[(x, elementwise_gap())])
