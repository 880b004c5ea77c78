"""What `tinyengine analyze` reports, as plain data (the --json output is this, verbatim)."""

from __future__ import annotations

from .codegen.emitter import constant_bytes
from .errors import TinyEngineError
from .lowering.base import Alias, Const
from .pipeline import CompiledModel

REPORT_VERSION = 1


def _shape(t) -> list[int]:
    return [int(d) for d in t.shape]


def _layer_numbers(model: CompiledModel) -> list[int | None]:
    """Per step, the number of the layer it computes as the unpatched model numbers its kernel
    calls (the numbers --patch ...@LAYER uses); None for aliases and for the copies that
    assemble a patch stage's split map."""
    stage_steps = model.patch.stage_steps if model.patch else 0
    numbers: list[int | None] = []
    stage_ops: dict[int, int] = {}
    for step in model.steps[:stage_steps]:
        numbers.append(None if step.op is None else stage_ops.setdefault(id(step.op), len(stage_ops)))
    n = len(stage_ops)
    for step in model.steps[stage_steps:]:
        numbers.append(None if isinstance(step, Alias) else n)
        n += not isinstance(step, Alias)
    return numbers


def model_report(model: CompiledModel) -> dict:
    plan = model.plan
    layers = []
    numbers = _layer_numbers(model)
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
            "layer": numbers[i],
            "patch": step.patch,
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
        "patch": _patch_report(model),
        "notes": list(model.graph.notes),
    }


def _patch_report(model: CompiledModel) -> dict | None:
    """The patch plan, and what it buys: peak and MACs with and without it."""
    if model.patch is None:
        return None
    p = model.patch
    return {
        "split_layer": p.plan.split,
        "grid": [p.plan.rows, p.plan.cols],
        "order": "bottom-up" if p.plan.bottom_up else "top-down",
        "option": str(p.plan),
        "stage_steps": p.stage_steps,
        "peak_sram_bytes": model.plan.arena_bytes,
        "peak_sram_bytes_without_patches": model.unpatched_arena,
        "macs": model.total_macs,
        "macs_without_patches": model.unpatched_macs,
        "mac_overhead": round(model.total_macs / model.unpatched_macs - 1, 4) if model.unpatched_macs else 0.0,
    }


def check_ram_limit(model: CompiledModel, limit: int | None) -> None:
    if limit is None:
        return
    need = model.plan.arena_bytes
    if need > limit:
        hint = "" if model.patch is not None else "; patch-based inference (--patch auto) may bring it lower"
        raise TinyEngineError(
            f"the model needs {need:,} bytes of arena but the RAM limit is {limit:,} bytes "
            f"({need - limit:,} bytes over); this schedule cannot go below {model.plan.lower_bound:,} bytes{hint}")
