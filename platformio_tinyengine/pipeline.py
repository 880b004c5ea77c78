"""The whole generator in one place: read model -> IR -> passes -> lower -> memory plan -> emit C."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .codegen.emitter import render
from .errors import TinyEngineError, UnsupportedModelError, UnsupportedOperator
from .frontend.tflite_reader import parse_model, read_model
from .ir import Graph, Tensor
from .lowering import LOWERINGS, Alias, KernelCall, LoweringContext
from .memory.planner import MemoryPlan, plan_memory, plan_memory_fitting
from .patch.rewrite import PatchedSteps, PatchPlan
from .patch.search import DEFAULT_MAX_MAC_OVERHEAD, apply_patch_plan, parse_patch_option, search_patch_plan
from .passes.channel_requantisation import rewrite_channel_requantisation
from .passes.float_boundary import strip_float_boundary
from .passes.fold_constants import fold_constants
from .passes.fuse_pad import fuse_pad


@dataclass
class CompiledModel:
    graph: Graph
    steps: list[KernelCall | Alias]
    plan: MemoryPlan
    context: LoweringContext
    patch: PatchedSteps | None = None
    unpatched_arena: int = 0  # the layer-by-layer arena, for comparison
    unpatched_macs: int = 0

    @property
    def kernel_calls(self) -> list[KernelCall]:
        return [s for s in self.steps if isinstance(s, KernelCall)]

    @property
    def total_macs(self) -> int:
        return sum(s.macs for s in self.kernel_calls)


# No microcontroller has more; larger figures come from corrupt or non-MCU models.
MAX_ACTIVATION_BYTES = 32 << 20
MAX_CONSTANT_BYTES = 64 << 20


def _check_sizes(graph: Graph) -> None:
    constants = 0
    for op in graph.operators:
        for t in [*op.inputs, *op.outputs]:
            if t is None:
                continue
            if t.is_constant:
                constants += t.nbytes
            elif t.nbytes > MAX_ACTIVATION_BYTES:
                raise UnsupportedModelError(f"tensor '{t.name}' of shape {list(t.shape)} needs {t.nbytes:,} bytes, "
                                            f"more than any microcontroller's RAM ({MAX_ACTIVATION_BYTES:,} is our limit)")
    if constants > MAX_CONSTANT_BYTES:
        raise UnsupportedModelError(f"the model's constants take {constants:,} bytes, more than any "
                                    f"microcontroller's flash ({MAX_CONSTANT_BYTES:,} is our limit)")


def _check_io(graph: Graph) -> None:
    problems = []
    for kind, tensors in (("input", graph.inputs), ("output", graph.outputs)):
        for i, t in enumerate(tensors):
            if t.dtype == "float32":
                problems.append(f"model {kind} {i} '{t.name}' is float32: this is a float model; "
                                "quantise it to int8 (full-integer post-training quantisation) first")
            elif t.dtype != "int8":
                problems.append(f"model {kind} {i} '{t.name}' is {t.dtype}; only int8 inputs and outputs are supported")
            elif t.quant is None:
                problems.append(f"model {kind} {i} '{t.name}' carries no quantisation parameters")
            elif t.is_constant:
                problems.append(f"model {kind} {i} '{t.name}' is a constant, not computed by the model")
    if problems:
        raise UnsupportedModelError("; ".join(problems))


def lower_graph(graph: Graph) -> tuple[list[KernelCall | Alias], LoweringContext]:
    ctx = LoweringContext()
    steps, problems = [], []
    for n, op in enumerate(graph.operators):
        lowering = LOWERINGS.get(op.type)
        if lowering is None:
            problems.append(f"  {op.type} (operator #{op.index}, version {op.version}): no kernel for this operator")
            continue
        try:
            step = lowering(op, ctx, f"op{op.index}")
        except UnsupportedOperator as exc:
            problems.append(f"  {op.type} (operator #{op.index}): {exc}")
            continue
        except (ArithmeticError, IndexError, KeyError, ValueError, TypeError) as exc:
            # A malformed model breaks a lowering's assumptions (missing operands, zero scales).
            problems.append(f"  {op.type} (operator #{op.index}): its operands or options are inconsistent "
                            f"({type(exc).__name__}: {exc})")
            continue
        # Operators with several outputs (SPLIT, UNPACK) lower to one step per output.
        for s in step if isinstance(step, list) else [step]:
            if isinstance(s, KernelCall):
                s.op = op
            steps.append(s)
    if problems:
        raise UnsupportedModelError(
            f"the model uses {len(problems)} operator(s) TinyEngine cannot compile:\n" + "\n".join(problems))
    return steps, ctx


def compile_graph(graph: Graph, patch: str | PatchPlan = "off",
                  max_mac_overhead: float = DEFAULT_MAX_MAC_OVERHEAD) -> CompiledModel:
    """`patch`: 'off', 'auto' (the smallest arena within `max_mac_overhead` extra MACs), a
    PatchPlan, or its text form ROWSxCOLS@LAYER."""
    if isinstance(patch, str):
        patch = parse_patch_option(patch)
    strip_float_boundary(graph)
    _check_io(graph)
    fold_constants(graph)
    _check_sizes(graph)
    fuse_pad(graph)
    rewrite_channel_requantisation(graph)
    steps, ctx = lower_graph(graph)
    plan = plan_memory_fitting(steps, graph.inputs, graph.outputs)
    model = CompiledModel(graph=graph, steps=steps, plan=plan, context=ctx, unpatched_arena=plan.arena_bytes)
    model.unpatched_macs = model.total_macs
    if patch == "auto":
        patched = search_patch_plan(steps, graph.inputs, graph.outputs,
                                    plan_memory(steps, graph.inputs, graph.outputs, optional=()), max_mac_overhead)
    elif isinstance(patch, PatchPlan):
        patched = apply_patch_plan(steps, patch, graph.inputs, graph.outputs)
    else:
        patched = None
    if patched is not None:
        model.steps, model.patch = patched.steps, patched
        model.plan = plan_memory_fitting(patched.steps, graph.inputs, graph.outputs, patched.stage_overlaps)
    return model


def compile_model(source: str | Path | bytes, name: str | None = None, patch: str | PatchPlan = "off",
                  max_mac_overhead: float = DEFAULT_MAX_MAC_OVERHEAD) -> CompiledModel:
    graph = parse_model(source, name=name or "model") if isinstance(source, bytes) else read_model(source)
    return compile_graph(graph, patch, max_mac_overhead)


def emit_sources(model: CompiledModel) -> dict[str, str]:
    return render(model.steps, model.plan, list(model.context.constants.values()),
                  model.graph.inputs, model.graph.outputs, model.graph.name, model.graph.notes)


def write_sources(files: dict[str, str], out_dir: str | Path, own_dir: bool = False) -> list[Path]:
    """Write the generated files so that a run killed at any moment leaves no half-written one.

    Where out_dir holds nothing but files of this set (a gen/ directory), or belongs to the
    generator (own_dir: the build hook's), the set is replaced as a whole: written into a
    staging directory beside out_dir, which then takes out_dir's place by two renames, so
    out_dir is the previous complete set, absent for an instant, or the new set, never a mix.
    A directory that also holds other files (a user's sources, a firmware build's objects)
    is updated file by file, each written in full before the first is renamed into place."""
    out = Path(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(out, files)
        if own_dir or not out.exists() or (out.is_dir() and not out.is_symlink()
                                           and {p.name for p in out.iterdir()} <= set(files)):
            _replace_directory(files, out)
        else:
            out.mkdir(exist_ok=True)
            _replace_files(files, out)
    except OSError as exc:
        raise TinyEngineError(f"cannot write the generated sources into {out}: {exc.strerror or exc}") from None
    return [out / name for name in sorted(files)]


def remove_leftovers(out: Path, files=()) -> None:
    """What a killed run left behind: staging directories beside out, temporaries of `files` inside it."""
    for p in out.parent.glob(f".{glob.escape(out.name)}.*"):
        if p.suffix in (".new", ".old") and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    if out.is_dir():
        for name in files:
            for p in out.glob(f".{glob.escape(name)}.*.tmp"):
                p.unlink(missing_ok=True)


def _replace_directory(files: dict[str, str], out: Path) -> None:
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".new"))
    old = staging.with_suffix(".old")
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8", newline="\n")
        staging.chmod(0o755)
        if out.exists():
            out.rename(old)
        staging.rename(out)
    finally:
        if old.exists() and not out.exists():
            old.rename(out)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _replace_files(files: dict[str, str], out: Path) -> None:
    temporaries = {}
    try:
        for name, text in sorted(files.items()):
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
            temporaries[name] = Path(tmp)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
        for name, tmp in temporaries.items():
            os.replace(tmp, out / name)
    finally:
        for tmp in temporaries.values():
            tmp.unlink(missing_ok=True)


def generate(model_path: str | Path, out_dir: str | Path) -> CompiledModel:
    model = compile_model(model_path)
    write_sources(emit_sources(model), out_dir)
    return model
