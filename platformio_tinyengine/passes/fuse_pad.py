"""Fuse an explicit PAD into the convolution that consumes it.

TFLite's int8 convolutions skip taps outside the input, which contributes exactly
what padding with the input zero point contributes ((zp - zp) * w = 0). So a PAD
whose value is the zero point, on the spatial dims only, feeding one VALID
convolution, becomes padding inside that convolution, and the padded tensor is
never materialised.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph

_CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D")
VALID = 1


def fuse_pad(graph: Graph) -> None:
    consumers = graph.consumers()
    outputs = {id(t) for t in graph.outputs}
    fused = set()
    for pad in graph.operators:
        if pad.type not in ("PAD", "PADV2") or len(pad.inputs) < 2 or None in pad.inputs[:2] or not pad.outputs:
            continue
        x, y = pad.inputs[0], pad.outputs[0]
        users = consumers.get(id(y), [])
        if len(users) != 1 or id(y) in outputs or users[0].type not in _CONVS:
            continue
        conv = users[0]
        if not conv.inputs or conv.inputs[0] is not y or conv.options.get("padding") != VALID \
                or not pad.inputs[1].is_constant:
            continue
        if x.quant is None or y.quant is None or x.quant.zp != y.quant.zp or x.quant.s != y.quant.s:
            continue
        pads = np.asarray(pad.inputs[1].data).reshape(-1, 2)
        if pads.shape != (4, 2) or pads[0].any() or pads[3].any() or (pads < 0).any():
            continue
        if pad.type == "PADV2" and len(pad.inputs) > 2 and pad.inputs[2] is not None:
            if not pad.inputs[2].is_constant or int(pad.inputs[2].data.reshape(-1)[0]) != y.quant.zp:
                continue
        (top, bottom), (left, right) = pads[1], pads[2]
        conv.options = dict(conv.options, fused_pad=(int(top), int(left), int(top + bottom), int(left + right)))
        conv.inputs[0] = x
        fused.add(id(pad))
    graph.operators = [op for op in graph.operators if id(op) not in fused]
