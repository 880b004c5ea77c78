"""Static placement of every activation buffer in one arena.

A buffer is a set of tensors sharing storage (a tensor and its reshape aliases)
plus per-step scratch. Its lifetime runs from the step that writes it to the
last step that reads it; model inputs are live from the start and outputs to
the end. Buffers live at the same step never overlap in the arena, with one
exception: a kernel's output may overlap an input that dies at that step when
the kernel's access order makes it safe (an `Overlap`, proved in overlap.py):
the input must then start at least `gap` bytes above the output. A patch-based
stage declares the same kind of overlap over its whole span between the model
input it consumes patch by patch and the map it assembles (proved in
patch/rewrite.py). Several placement orders are tried and the smallest arena kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Tensor
from ..lowering.base import Alias, KernelCall

ALIGNMENT = 8


@dataclass(eq=False)
class Buffer:
    name: str
    size: int
    first: int  # first step the buffer is live
    last: int  # last step the buffer is live
    tensors: list[Tensor] = field(default_factory=list)
    offset: int = -1
    index: int = 0  # creation order: a step's output comes after the inputs it reads

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last

    def overlaps_in_space(self, other: "Buffer") -> bool:
        return self.offset < other.offset + other.size and other.offset < self.offset + self.size


@dataclass(frozen=True, eq=False)
class Overlap:
    """`output` may overlap `input` if input.offset - output.offset >= gap (or, for an output
    written from its end, output.offset - input.offset >= gap): from the output's first write
    to the input's last read (one step for a kernel, a whole stage for patches)."""

    output: Buffer
    input: Buffer
    gap: int
    output_above: bool = False

    @property
    def steps(self) -> range:
        return range(self.output.first, self.input.last + 1)

    def allows(self, output_offset: int, input_offset: int) -> bool:
        if self.output_above:
            return output_offset - input_offset >= self.gap
        return input_offset - output_offset >= self.gap

    def tightest(self, for_output: bool, partner_offset: int) -> int:
        """The aligned offset closest to the partner at which this buffer may sit."""
        below = for_output != self.output_above  # this buffer goes below its partner
        if below:
            return (partner_offset - self.gap) // ALIGNMENT * ALIGNMENT
        return _align(partner_offset + self.gap)

    @property
    def footprint(self) -> int:
        """Bytes the pair needs when packed as tightly as allowed."""
        low, high = (self.input, self.output) if self.output_above else (self.output, self.input)
        return max(low.size, high.size + max(self.gap, 0))


@dataclass
class MemoryPlan:
    buffers: list[Buffer]
    arena_bytes: int
    tensor_buffer: dict[int, Buffer]  # id(tensor) -> buffer
    scratch: dict[int, Buffer]  # step -> scratch buffer
    overlaps: list[Overlap]
    live_bytes: list[int]  # per step: bytes live, each overlapping pair counted packed

    @property
    def lower_bound(self) -> int:
        """No placement of this schedule can use less than its busiest step."""
        return max(self.live_bytes, default=0)

    def offset(self, tensor: Tensor) -> int:
        return self.tensor_buffer[id(tensor)].offset


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def build_buffers(steps: list[KernelCall | Alias], inputs: list[Tensor], outputs: list[Tensor],
                  stage_overlaps: list[tuple[Tensor, Tensor, int, bool]] = (), optional=None):
    """Group aliased tensors into buffers and compute their lifetimes. `stage_overlaps` are
    (output, input, gap, output_above) overlaps proved over several steps; `optional`: the
    steps whose optional scratch (KernelCall.scratch_optional) is planned, None for all."""
    buffer_of: dict[int, Buffer] = {}
    buffers: list[Buffer] = []

    def new_buffer(t: Tensor, step: int) -> Buffer:
        b = Buffer(name=t.name, size=t.nbytes, first=step, last=step, tensors=[t], index=len(buffers))
        buffers.append(b)
        buffer_of[id(t)] = b
        return b

    for t in inputs:
        if id(t) not in buffer_of:
            new_buffer(t, 0)
    scratch: dict[int, Buffer] = {}
    for i, step in enumerate(steps):
        if isinstance(step, Alias):
            b = buffer_of[id(step.source)]
            b.tensors.append(step.target)
            buffer_of[id(step.target)] = b
            b.last = max(b.last, i)
            continue
        for t in step.inputs:
            buffer_of[id(t)].last = max(buffer_of[id(t)].last, i)
        for t in step.outputs:
            if id(t) not in buffer_of:
                new_buffer(t, i)
        size = step.scratch_bytes if optional is None or not step.scratch_optional or i in optional \
            else step.scratch_fallback
        if size:
            s = Buffer(name=f"scratch_{i}", size=size, first=i, last=i, index=len(buffers))
            buffers.append(s)
            scratch[i] = s
    end = max(len(steps) - 1, 0)
    for t in outputs:
        buffer_of[id(t)].last = end
    # A model output read by the last step does not die there: te_output() returns it after.
    kept = {id(buffer_of[id(t)]) for t in outputs}
    overlaps = []
    for i, step in enumerate(steps):
        if isinstance(step, Alias) or not step.outputs:
            continue
        out = buffer_of[id(step.outputs[0])]
        for t, gap in step.overlaps:
            inp = buffer_of[id(t)]
            if inp is not out and inp.last == i and out.first == i and id(inp) not in kept:
                overlaps.append(Overlap(output=out, input=inp, gap=gap))
    for out_t, in_t, gap, output_above in stage_overlaps:
        out, inp = buffer_of[id(out_t)], buffer_of[id(in_t)]
        if inp is not out and out.first <= inp.last <= out.last:
            overlaps.append(Overlap(output=out, input=inp, gap=gap, output_above=output_above))
    return buffers, buffer_of, scratch, overlaps


class _Placer:
    """First fit where overlapping a partner is allowed when its Overlap permits."""

    def __init__(self, buffers: list[Buffer], overlaps: list[Overlap]) -> None:
        self.pairs: dict[tuple[int, int], Overlap] = {(id(o.output), id(o.input)): o for o in overlaps}
        # Buffers live at the same time as each buffer, found once: patch-based stages make
        # hundreds of short-lived buffers, and placement asks this for every candidate.
        self.neighbours: dict[int, list[Buffer]] = {id(b): [] for b in buffers}
        by_first = sorted(buffers, key=lambda b: b.first)
        for i, b in enumerate(by_first):
            for p in by_first[i + 1:]:
                if p.first > b.last:
                    break
                self.neighbours[id(b)].append(p)
                self.neighbours[id(p)].append(b)

    def _live(self, b: Buffer, placed: set[int]) -> list[Buffer]:
        return [p for p in self.neighbours[id(b)] if id(p) in placed]

    def _allowed(self, b: Buffer, offset: int, p: Buffer) -> bool:
        o = self.pairs.get((id(b), id(p)))
        if o is not None:
            return o.allows(offset, p.offset)
        o = self.pairs.get((id(p), id(b)))
        return o is not None and o.allows(p.offset, offset)

    def _fits(self, b: Buffer, offset: int, live: list[Buffer]) -> bool:
        return all(offset >= p.offset + p.size or p.offset >= offset + b.size or self._allowed(b, offset, p)
                   for p in live)

    def lowest_offset(self, b: Buffer, placed: set[int]) -> int:
        live = self._live(b, placed)
        candidates = {0} | {_align(p.offset + p.size) for p in live}
        for p in live:
            if (id(b), id(p)) in self.pairs:
                candidates.add(max(0, self.pairs[(id(b), id(p))].tightest(True, p.offset)))
            if (id(p), id(b)) in self.pairs:
                candidates.add(max(0, self.pairs[(id(p), id(b))].tightest(False, p.offset)))
        return next(c for c in sorted(candidates) if self._fits(b, c, live))

    def place(self, order: list[Buffer]) -> int:
        placed: set[int] = set()
        for b in order:
            b.offset = self.lowest_offset(b, placed)
            placed.add(id(b))
        self.compact(order)
        return max((b.offset + b.size for b in order), default=0)

    def place_anchored(self, order: list[Buffer]) -> int:
        """Place outward from the busiest step, in unbounded coordinates: each buffer where it
        keeps the total extent smallest (next to its overlap partners where it can), then
        shift everything so the arena starts at 0. Lets a chain of overlapping buffers grow
        both ways from the peak instead of being pinned at offset 0."""
        placed: list[Buffer] = []
        placed_ids: set[int] = set()
        for b in order:
            live = self._live(b, placed_ids)
            candidates = {0} | {_align(p.offset + p.size) for p in live}
            candidates |= {(p.offset - b.size) // ALIGNMENT * ALIGNMENT for p in live}
            for p in live:
                if (id(b), id(p)) in self.pairs:
                    candidates.add(self.pairs[(id(b), id(p))].tightest(True, p.offset))
                if (id(p), id(b)) in self.pairs:
                    candidates.add(self.pairs[(id(p), id(b))].tightest(False, p.offset))
            lo = min((p.offset for p in placed), default=0)
            hi = max((p.offset + p.size for p in placed), default=0)
            valid = [c for c in candidates if self._fits(b, c, live)]
            b.offset = min(valid, key=lambda c: (max(hi, c + b.size) - min(lo, c), abs(c)))
            placed.append(b)
            placed_ids.add(id(b))
        base = min((b.offset for b in placed), default=0)
        base -= base % ALIGNMENT
        for b in placed:
            b.offset -= base
        self.compact(placed)
        return max((b.offset + b.size for b in placed), default=0)

    def compact(self, buffers: list[Buffer]) -> None:
        """Slide buffers down while any can move: a chain of overlapping partners placed
        from its far end drifts upward, and moving one link frees the next."""
        everyone = {id(b) for b in buffers}
        for _ in range(len(buffers)):
            moved = False
            for b in sorted(buffers, key=lambda x: x.offset):
                lower = self.lowest_offset(b, everyone)
                if lower < b.offset:
                    b.offset = lower
                    moved = True
            if not moved:
                return


def live_bytes(buffers: list[Buffer], overlaps: list[Overlap]) -> list[int]:
    """Bytes live at each step, each overlapping pair counted at its footprint."""
    if not buffers:
        return []
    steps = max(b.last for b in buffers) + 1
    saving = [0] * steps
    best_per_output: dict[int, Overlap] = {}
    for o in overlaps:
        cur = best_per_output.get(id(o.output))
        if cur is None or o.footprint < cur.footprint:
            best_per_output[id(o.output)] = o
    for o in best_per_output.values():
        for step in o.steps:
            saving[step] += o.output.size + o.input.size - o.footprint
    change = [0] * (steps + 1)
    for b in buffers:
        change[b.first] += b.size
        change[b.last + 1] -= b.size
    live, total = [], 0
    for s in range(steps):
        total += change[s]
        live.append(total - saving[s])
    return live


def plan_memory(steps: list[KernelCall | Alias], inputs: list[Tensor], outputs: list[Tensor],
                stage_overlaps: list[tuple[Tensor, Tensor, int, bool]] = (), optional=None) -> MemoryPlan:
    buffers, buffer_of, scratch, overlaps = build_buffers(steps, inputs, outputs, stage_overlaps, optional)
    orders = [
        sorted(buffers, key=lambda b: (-b.size, b.first)),
        sorted(buffers, key=lambda b: (b.first, -b.size)),
        sorted(buffers, key=lambda b: (-(b.last - b.first), -b.size)),
        sorted(buffers, key=lambda b: (-b.size * (b.last - b.first + 1), b.first)),
        # Reverse time: each output is placed before the input it overlaps, which can then
        # sit the required gap above it.
        sorted(buffers, key=lambda b: (-b.last, -b.index)),
        sorted(buffers, key=lambda b: (-b.first, -b.index)),
    ]
    placer = _Placer(buffers, overlaps)
    best_size, best_offsets = None, None
    live = live_bytes(buffers, overlaps)
    peak = max(range(len(live)), key=live.__getitem__) if live else 0
    anchored = sorted(buffers, key=lambda b: (0 if b.first <= peak <= b.last else
                                              min(abs(b.first - peak), abs(b.last - peak)), -b.size))
    for order, place in [(o, placer.place) for o in orders] + [(anchored, placer.place_anchored)]:
        size = place(order)
        if best_size is None or size < best_size:
            best_size, best_offsets = size, [b.offset for b in buffers]
    for b, off in zip(buffers, best_offsets):
        b.offset = off
    return MemoryPlan(buffers=buffers, arena_bytes=_align(best_size or 0), tensor_buffer=buffer_of,
                      scratch=scratch, overlaps=overlaps, live_bytes=live)


def drop_scratch(step: KernelCall) -> None:
    """Run `step` without its optional scratch: its fallback scratch, or NULL in its place."""
    step.scratch_declined, step.scratch_bytes, step.scratch_optional = step.scratch_bytes, step.scratch_fallback, False
    step.params.update(step.params_declined)
    if not step.scratch_bytes:
        step.args.append("NULL")


def plan_memory_fitting(steps: list[KernelCall | Alias], inputs: list[Tensor], outputs: list[Tensor],
                        stage_overlaps: list[tuple[Tensor, Tensor, int, bool]] = ()) -> MemoryPlan:
    """plan_memory, after dropping the optional scratch buffers (they only save time) that
    would raise the arena above its size without any: all kept if they fit, else the largest
    layers' first while the arena holds; a dropped one's smaller alternative
    (KernelCall.scratch_alternative) where it fits a free range.

    Candidates are tried in groups, halved where a group does not fit: a patched graph has
    hundreds of them and only a few that do not fit, so this takes a few dozen plans where
    trying them one at a time took one plan each."""
    plan = plan_memory(steps, inputs, outputs, stage_overlaps)
    optional = [i for i, s in enumerate(steps) if isinstance(s, KernelCall) and s.scratch_optional]
    if not optional:
        return plan
    bound = plan_memory(steps, inputs, outputs, stage_overlaps, optional=())
    if plan.arena_bytes <= bound.arena_bytes:
        return plan
    # The step's live bytes (with its fallback scratch) bound any placement from below: skip
    # what cannot fit.
    candidates = [i for i in sorted(optional, key=lambda i: -steps[i].outputs[0].size)
                  if bound.live_bytes[i] - steps[i].scratch_fallback + steps[i].scratch_bytes <= bound.arena_bytes]
    plan, kept = bound, set()
    pending = [candidates] if candidates else []
    while pending:
        group = pending.pop()
        trial = plan_memory(steps, inputs, outputs, stage_overlaps, optional=kept | set(group))
        if trial.arena_bytes <= bound.arena_bytes:
            plan, kept = trial, kept | set(group)
        elif len(group) > 1:
            pending += [group[len(group) // 2:], group[:len(group) // 2]]
    # The placement heuristics can lose more than a scratch's bytes when it joins the plan (a
    # large one at a step below the peak moved others); a free range at its step in the plan
    # as it stands takes it without moving anything.
    for i in candidates:
        if i not in kept and _fit_scratch(plan, i, steps[i].scratch_bytes):
            kept.add(i)
    for i in optional:
        if i in kept:
            continue
        alternative = steps[i].scratch_alternative
        drop_scratch(steps[i])
        if alternative and _fit_scratch(plan, i, alternative):
            steps[i].scratch_bytes, steps[i].scratch_optional = alternative, True
            steps[i].args = [a for a in steps[i].args if a != "NULL"]
    return plan


def _fit_scratch(plan: MemoryPlan, step: int, size: int) -> bool:
    """Give step `step` a scratch of `size` bytes (instead of its fallback scratch, if any) at
    the lowest offset free of every other buffer live at that step, if it ends inside the
    arena."""
    old = plan.scratch.get(step)
    live = [b for b in plan.buffers if b.first <= step <= b.last and b is not old]
    for offset in sorted({0} | {_align(b.offset + b.size) for b in live}):
        if offset + size > plan.arena_bytes:
            return False
        if all(offset >= b.offset + b.size or b.offset >= offset + size for b in live):
            break
    plan.live_bytes[step] += size - (old.size if old else 0)
    if old is None:
        old = plan.scratch[step] = Buffer(name=f"scratch_{step}", size=size, first=step, last=step,
                                          index=len(plan.buffers))
        plan.buffers.append(old)
    old.size, old.offset = size, offset
    return True
