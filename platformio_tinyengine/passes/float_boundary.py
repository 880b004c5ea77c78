"""Strip the float wrappers around an int8 model.

Where a model input is float followed by QUANTIZE, the generated code's input is
that QUANTIZE's int8 output; where an output is produced by DEQUANTIZE, the
generated output is its int8 input.
"""

from __future__ import annotations

from ..ir import Graph


def strip_float_boundary(graph: Graph) -> None:
    consumers = graph.consumers()
    producers = graph.producers()
    removed = set()
    new_inputs = []
    for t in graph.inputs:
        users = consumers.get(id(t), [])
        if t.dtype == "float32" and len(users) == 1 and users[0].type == "QUANTIZE" \
                and users[0].outputs[0].dtype == "int8":
            removed.add(id(users[0]))
            new_inputs.append(users[0].outputs[0])
        else:
            new_inputs.append(t)
    new_outputs = []
    for t in graph.outputs:
        op = producers.get(id(t))
        if t.dtype == "float32" and op is not None and op.type == "DEQUANTIZE" \
                and op.inputs[0] is not None and op.inputs[0].dtype == "int8":
            removed.add(id(op))
            new_outputs.append(op.inputs[0])
        else:
            new_outputs.append(t)
    graph.operators = [op for op in graph.operators if id(op) not in removed]
    graph.inputs, graph.outputs = new_inputs, new_outputs
