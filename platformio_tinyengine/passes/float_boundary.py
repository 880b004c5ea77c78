"""Strip the float wrappers around an int8 model.

Where a model input is float followed by QUANTIZE, the generated code's input is
that QUANTIZE's int8 output; where an output is produced by DEQUANTIZE, the
generated output is its int8 input. Some converters put float operators after
the final DEQUANTIZE (LeNet's float LOG_SOFTMAX); those stay outside the int8
core too, and are reported in `graph.notes` and in the generated header rather
than dropped silently.
"""

from __future__ import annotations

from ..ir import Graph, Operator

# Float operators that may follow the last DEQUANTIZE: one input, one output, monotonic
# or shape-only, so the int8 tensor before them still carries the model's answer.
FLOAT_TAIL_OPS = ("LOG_SOFTMAX", "SOFTMAX", "LOGISTIC", "RESHAPE", "SQUEEZE")


def _float_tail(t, producers) -> tuple[Operator | None, list[Operator]]:
    """Walk back from a float output through tail ops to a DEQUANTIZE of an int8 tensor."""
    tail = []
    op = producers.get(id(t))
    while op is not None and op.type in FLOAT_TAIL_OPS and op.inputs and op.inputs[0] is not None \
            and op.inputs[0].dtype == "float32":
        tail.append(op)
        op = producers.get(id(op.inputs[0]))
    if op is not None and op.type == "DEQUANTIZE" and op.inputs and op.inputs[0] is not None \
            and op.inputs[0].dtype == "int8":
        return op, tail
    return None, []


def strip_float_boundary(graph: Graph) -> None:
    consumers = graph.consumers()
    producers = graph.producers()
    removed = set()
    new_inputs = []
    for t in graph.inputs:
        users = consumers.get(id(t), [])
        if t.dtype == "float32" and len(users) == 1 and users[0].type == "QUANTIZE" \
                and users[0].outputs and users[0].outputs[0].dtype == "int8":
            removed.add(id(users[0]))
            new_inputs.append(users[0].outputs[0])
        else:
            new_inputs.append(t)
    new_outputs = []
    for i, t in enumerate(graph.outputs):
        dequantize, tail = _float_tail(t, producers) if t.dtype == "float32" else (None, [])
        if dequantize is None:
            new_outputs.append(t)
            continue
        removed.update(id(op) for op in [dequantize, *tail])
        new_outputs.append(dequantize.inputs[0])
        if tail:
            names = " -> ".join(op.type for op in reversed(tail))
            graph.notes.append(f"output {i}: the model applies {names} in float after its last DEQUANTIZE; "
                               f"te_output({i}) is the int8 tensor before it (same ranking, apply "
                               f"{names} on the host if you need its values)")
    graph.operators = [op for op in graph.operators if id(op) not in removed]
    graph.inputs, graph.outputs = new_inputs, new_outputs
