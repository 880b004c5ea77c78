"""What `tinyengine analyze` reports, as plain data (the --json output is this, verbatim)."""

from __future__ import annotations

from .codegen.emitter import constant_bytes
from .errors import TinyEngineError
from .lowering.base import Alias, Const
from .pipeline import CompiledModel

REPORT_VERSION = 1


def _shape(t) -> list[int]:
    return [int(d) for d in t.shape]


def model_report(model: CompiledModel) -> dict:
    plan = model.plan
    layers = []
    for i, step in enumerate(model.steps):
        if isinstance(step, Alias):
            continue
        consts = [v for v in step.params.values() if isinstance(v, Const)]
        consts += [a for a in step.args if isinstance(a, Const)]
        layers.append({
            "index": len(layers),
            "step": i,
            "op": step.op.type if step.op is not None else step.kernel,
            "operator_index": step.op.index if step.op is not None else None,
            "kernel": step.kernel,
            "inputs": [_shape(t) for t in step.inputs],
            "outputs": [_shape(t) for t in step.outputs],
            "macs": int(step.macs),
            "weight_bytes": constant_bytes(list({c.symbol: c for c in consts}.values())),
            "live_bytes": int(plan.live_bytes[i]) if i < len(plan.live_bytes) else 0,
            "scratch_bytes": int(step.scratch_bytes),
        })
    peak_step = max(range(len(plan.live_bytes)), key=plan.live_bytes.__getitem__) if plan.live_bytes else 0
    return {
        "report_version": REPORT_VERSION,
        "model": model.graph.name,
        "layers": layers,
        "buffers": [{"name": b.name, "bytes": b.size, "offset": b.offset, "first_step": b.first,
                     "last_step": b.last} for b in sorted(plan.buffers, key=lambda b: (b.first, b.offset))],
        "totals": {
            "peak_sram_bytes": plan.arena_bytes,
            "lower_bound_bytes": plan.lower_bound,
            "peak_step": peak_step,
            "flash_constant_bytes": constant_bytes(list(model.context.constants.values())),
            "macs": model.total_macs,
            "kernel_calls": len(layers),
        },
        "notes": list(model.graph.notes),
    }


def check_ram_limit(model: CompiledModel, limit: int | None) -> None:
    if limit is None:
        return
    need = model.plan.arena_bytes
    if need > limit:
        raise TinyEngineError(
            f"the model needs {need:,} bytes of arena but the RAM limit is {limit:,} bytes "
            f"({need - limit:,} bytes over); this schedule cannot go below {model.plan.lower_bound:,} bytes")
