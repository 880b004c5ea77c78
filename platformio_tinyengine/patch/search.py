"""Choosing where to split and how many patches: the smallest arena within a MAC budget."""

from __future__ import annotations

import re
from dataclasses import replace

from ..errors import TinyEngineError
from ..ir import Tensor
from ..lowering.base import Alias, KernelCall
from ..memory.planner import MemoryPlan, build_buffers, live_bytes, plan_memory
from .rewrite import NotPatchable, PatchedSteps, PatchPlan, patch_steps, patched_macs, stage_problem

DEFAULT_MAX_MAC_OVERHEAD = 0.20
MAX_GRID = 8
# Candidates whose lower bound is best are placed for real; placement decides among them.
PLACED_CANDIDATES = 6

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
    return PatchPlan(split=split, rows=rows, cols=cols, bottom_up=None)


def _macs(steps) -> int:
    return sum(s.macs for s in steps if isinstance(s, KernelCall))


def _lower_bound(patched: PatchedSteps, inputs, outputs) -> int:
    buffers, _, _, overlaps = build_buffers(patched.steps, inputs, outputs, patched.stage_overlaps, optional=())
    return max(live_bytes(buffers, overlaps), default=0)


def apply_patch_plan(steps: list[KernelCall | Alias], plan: PatchPlan, inputs: list[Tensor],
                     outputs: list[Tensor]) -> PatchedSteps:
    """`plan` as given; with no patch order given, the order whose arena is smaller."""
    orders = [plan] if plan.bottom_up is not None else [replace(plan, bottom_up=b) for b in (True, False)]
    try:
        candidates = [patch_steps(steps, p, outputs) for p in orders]
    except NotPatchable as exc:
        raise TinyEngineError(f"--patch {plan}: {exc}") from None
    if len(candidates) == 1:
        return candidates[0]
    return min(candidates,
               key=lambda c: plan_memory(c.steps, inputs, outputs, c.stage_overlaps, optional=()).arena_bytes)


def search_patch_plan(steps: list[KernelCall | Alias], inputs: list[Tensor], outputs: list[Tensor],
                      unpatched: MemoryPlan, max_mac_overhead: float = DEFAULT_MAX_MAC_OVERHEAD
                      ) -> PatchedSteps | None:
    """The patch plan with the smallest arena whose extra MACs stay within the budget, or None
    when no plan beats the layer-by-layer arena. Arenas here leave out optional scratch
    (planned afterwards where it fits: planner.plan_memory_fitting); so must `unpatched`."""
    budget = _macs(steps) * (1 + max_mac_overhead)
    # Steps after the stage are unchanged, so their busiest step bounds any plan splitting
    # before them: splits whose remainder is already too big are skipped.
    live = unpatched.live_bytes
    rest_peak = [max(live[split + 1:], default=0) for split in range(len(steps))]
    scored = []
    for split in sorted(range(len(steps)), key=rest_peak.__getitem__):
        if rest_peak[split] > min([unpatched.arena_bytes] + [c[0] for c in scored]):
            break
        if stage_problem(steps, split, outputs):
            continue
        h, w = steps[split].outputs[0].shape[1:3]
        for rows in range(1, min(h, MAX_GRID) + 1):
            for cols in range(1, min(w, MAX_GRID) + 1):
                top_down = PatchPlan(split, rows, cols)
                if rows * cols == 1 or patched_macs(steps, top_down) > budget:
                    continue
                for plan in (top_down, replace(top_down, bottom_up=True)):
                    try:
                        patched = patch_steps(steps, plan, outputs)
                    except NotPatchable:
                        break
                    scored.append((_lower_bound(patched, inputs, outputs), _macs(patched.steps), plan))
    # Among equals, bottom-up first: it leaves the split map high in the arena, where the
    # expanding layer that usually follows the split wants it.
    scored.sort(key=lambda c: (c[0], c[1], not c[2].bottom_up))
    best, best_arena = None, unpatched.arena_bytes
    for bound, _, plan in scored[:PLACED_CANDIDATES]:
        if bound >= best_arena:
            break
        patched = patch_steps(steps, plan, outputs)
        arena = plan_memory(patched.steps, inputs, outputs, patched.stage_overlaps, optional=()).arena_bytes
        if arena < best_arena:
            best, best_arena = patched, arena
    return best
