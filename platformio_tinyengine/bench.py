"""`tinyengine bench`: a model's firmware run on a simulated board, per layer and in total:
instructions, MACs, MACs per instruction, and the firmware's RAM and flash.

QEMU (-icount shift=0) counts instructions exactly and reproducibly, not cycles: it
models no pipeline, caches or wait states, so a SIMD path's gain shows as fewer
instructions, not as its real speed-up. With compare_portable the same model is also
built with TE_PORTABLE (every kernel's portable C path) on the same core.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from . import firmware, qemu
from .boards import resolve_board
from .errors import FirmwareError
from .pipeline import compile_model
from .report import model_report

BENCH_VERSION = 1
COUNTER_NOTE = ("QEMU counts instructions (-icount shift=0), not cycles: no pipeline, cache or "
                "wait-state timing is modelled")


def _ratio(macs: int, instructions: int) -> float:
    return round(macs / instructions, 4) if instructions > 0 else 0.0


def _memory(image: firmware.Firmware, run: qemu.RunResult) -> dict:
    s = image.section
    flash = image.flash()
    ram = {"arena": s(firmware.ARENA_SECTION), "data": s(".data"), "bss": s(".bss"), "stack": run.stack_bytes}
    return {"flash": {**flash, "total": sum(flash.values())}, "ram": {**ram, "peak": sum(ram.values())}}


def run_variant(model, board, out_dir: Path, portable: bool) -> dict:
    image = firmware.build(model, board, out_dir, portable=portable, profile=True)
    run = qemu.run(image.elf, board)
    if len(run.layer_instructions) != len(model.kernel_calls):
        raise FirmwareError(f"the firmware reported {len(run.layer_instructions)} layers, the model has "
                            f"{len(model.kernel_calls)}")
    return {"portable": portable, "instructions": run.instructions,
            "macs_per_instruction": _ratio(model.total_macs, run.instructions),
            "layer_instructions": run.layer_instructions, **_memory(image, run)}


def bench(model_path: str | Path, board_id: str, compare_portable: bool = False, patch: str = "off",
          max_mac_overhead: float = 0.2) -> dict:
    """Build and run the model's firmware (patch-based if `patch` says so, as compile_model
    takes it); the report as plain data (the --json output)."""
    board = resolve_board(board_id)
    qemu.machine_for(board)
    model = compile_model(model_path, patch=patch, max_mac_overhead=max_mac_overhead)
    variants = {"simd": False} | ({"portable": True} if compare_portable else {})
    with tempfile.TemporaryDirectory(prefix="te_bench_") as tmp:
        results = {name: run_variant(model, board, Path(tmp) / name, portable) for name, portable in variants.items()}
    report = model_report(model)
    layers = []
    for layer in report["layers"]:
        n = layer["index"]
        counts = {name: r["layer_instructions"][n] for name, r in results.items()}
        layers.append({"index": n, "op": layer["op"], "kernel": layer["kernel"], "outputs": layer["outputs"],
                       "macs": layer["macs"], "instructions": counts,
                       "macs_per_instruction": {k: _ratio(layer["macs"], v) for k, v in counts.items()}})
    return {
        "bench_version": BENCH_VERSION,
        "model": model.graph.name,
        "board": board.id,
        "machine": board.qemu["machine"],
        "cpu": board.qemu["cpu"],
        "counter": COUNTER_NOTE,
        "macs": model.total_macs,
        "patch": report["patch"],
        "layers": layers,
        "kernels": kernel_summary(layers, list(results)),
        "variants": {name: {k: v for k, v in r.items() if k != "layer_instructions"} for name, r in results.items()},
    }


def kernel_summary(layers: list[dict], variants: list[str]) -> list[dict]:
    """Per kernel: calls, MACs, instructions and share of all instructions, most expensive first."""
    totals = {v: sum(layer["instructions"][v] for layer in layers) for v in variants}
    kernels: dict[str, dict] = {}
    for layer in layers:
        k = kernels.setdefault(layer["kernel"], {"kernel": layer["kernel"], "calls": 0, "macs": 0,
                                                 "instructions": dict.fromkeys(variants, 0)})
        k["calls"] += 1
        k["macs"] += layer["macs"]
        for v in variants:
            k["instructions"][v] += layer["instructions"][v]
    for k in kernels.values():
        k["macs_per_instruction"] = {v: _ratio(k["macs"], n) for v, n in k["instructions"].items()}
        k["share"] = {v: round(n / totals[v], 4) if totals[v] else 0.0 for v, n in k["instructions"].items()}
    return sorted(kernels.values(), key=lambda k: -k["instructions"][variants[0]])
