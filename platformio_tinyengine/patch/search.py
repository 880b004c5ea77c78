"""Choosing where to split and how many patches: the smallest arena within a MAC budget."""

from __future__ import annotations

import re

from ..errors import TinyEngineError
from ..ir import Tensor
from ..lowering.base import Alias, KernelCall
from ..memory.planner import build_buffers, live_bytes, plan_memory
from .rewrite import NotPatchable, PatchedSteps, PatchPlan, patch_steps, stage_problem

DEFAULT_MAX_MAC_OVERHEAD = 0.20
MAX_GRID = 8
# Candidates whose lower bound is best are placed for real; placement decides among them.
PLACED_CANDIDATES = 4

_SPEC = re.compile(r"^(\d+)x(\d+)@(\d+)$")


def parse_patch_option(text: str) -> str | PatchPlan:
    """'off', 'auto' or '<rows>x<cols>@<layer>' (layer = the split layer's index in `analyze`)."""
    text = text.strip().lower()
    if text in ("off", "auto"):
        return text
    m = _SPEC.match(text)
    if not m:
        raise TinyEngineError(f"--patch {text!r}: expected 'auto', 'off' or ROWSxCOLS@LAYER, e.g. '3x3@5'")
    rows, cols, split = (int(g) for g in m.groups())
    return PatchPlan(split=split, rows=rows, cols=cols)


def _macs(steps) -> int:
    return sum(s.macs for s in steps if isinstance(s, KernelCall))


def _lower_bound(patched: PatchedSteps, inputs, outputs) -> int:
    buffers, _, _, overlaps = build_buffers(patched.steps, inputs, outputs, patched.stage_overlaps)
    return max(live_bytes(buffers, overlaps), default=0)


def apply_patch_plan(steps: list[KernelCall | Alias], plan: PatchPlan, inputs: list[Tensor],
                     outputs: list[Tensor]) -> PatchedSteps:
    try:
        return patch_steps(steps, plan, outputs)
    except NotPatchable as exc:
        raise TinyEngineError(f"--patch {plan}: {exc}") from None


def search_patch_plan(steps: list[KernelCall | Alias], inputs: list[Tensor], outputs: list[Tensor],
                      unpatched_arena: int, max_mac_overhead: float = DEFAULT_MAX_MAC_OVERHEAD
                      ) -> PatchedSteps | None:
    """The patch plan with the smallest arena whose extra MACs stay within the budget, or None
    when no plan beats the layer-by-layer arena."""
    base_macs = _macs(steps)
    budget = base_macs * (1 + max_mac_overhead)
    scored = []
    for split in range(len(steps)):
        if stage_problem(steps, split, outputs):
            continue
        h, w = steps[split].outputs[0].shape[1:3]
        for rows in range(1, min(h, MAX_GRID) + 1):
            for cols in range(1, min(w, MAX_GRID) + 1):
                if rows * cols == 1:
                    continue
                try:
                    patched = patch_steps(steps, PatchPlan(split, rows, cols), outputs)
                except NotPatchable:
                    continue
                macs = _macs(patched.steps)
                if macs > budget:
                    continue
                scored.append((_lower_bound(patched, inputs, outputs), macs, patched))
    scored.sort(key=lambda c: (c[0], c[1]))
    best, best_arena = None, unpatched_arena
    for bound, macs, patched in scored[:PLACED_CANDIDATES]:
        if bound >= best_arena:
            break
        arena = plan_memory(patched.steps, inputs, outputs, patched.stage_overlaps).arena_bytes
        if arena < best_arena:
            best, best_arena = patched, arena
    return best
