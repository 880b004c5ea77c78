"""Render the lowered, planned model into C through the templates in src_templates/."""

from __future__ import annotations

import re
from dataclasses import dataclass

import jinja2
import numpy as np

from .. import __version__
from ..errors import TinyEngineError
from ..ir import Tensor
from ..lowering.base import Alias, Const, KernelCall, View
from ..memory.planner import MemoryPlan
from ..resources import C_INCLUDE_DIR, TEMPLATES_DIR

_PROTOTYPE = re.compile(r"^te_status\s+(te_\w+)\s*\(", re.MULTILINE)


def library_kernels() -> set[str]:
    """Names of the kernels the C library declares; nothing else may be called."""
    names = set()
    for header in C_INCLUDE_DIR.glob("*.h"):
        names.update(_PROTOTYPE.findall(header.read_text()))
    return names


def c_int(v: int) -> str:
    v = int(v)
    return "(-2147483647 - 1)" if v == -(1 << 31) else str(v)


def c_value(v) -> str:
    if isinstance(v, Const):
        return v.symbol
    if isinstance(v, (list, tuple)):
        return "{ " + ", ".join(c_value(x) for x in v) + " }"
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    return c_int(v)


def comment_text(text: str) -> str:
    """Text from the model (names), safe inside a C block comment: printable ASCII without
    `*` (no `*/` to end it, no `/*` for -Wcomment), `\\` (no line splice) or `?` (no trigraph)."""
    return re.sub(r"[^ -~]|[*?\\]", "_", text)


def float_literal(x: float) -> str:
    f = np.float32(x)
    return f"{float(f).hex()}f /* {float(f):.9g} */"


def _body(values: tuple, per_line: int = 24) -> str:
    text = [str(v) for v in values]
    return "\n".join("    " + ", ".join(text[i:i + per_line]) + "," for i in range(0, len(text), per_line))


@dataclass
class RenderedStep:
    kernel: str
    params_type: str
    params_name: str
    fields: list[tuple[str, str]]
    args: list[str]
    comment: str
    defines_params: bool


def _shape(t: Tensor) -> str:
    return "x".join(str(d) for d in t.shape) or "scalar"


def render(all_steps: list[KernelCall | Alias], plan: MemoryPlan, constants: list[Const], inputs: list[Tensor],
           outputs: list[Tensor], model_name: str, notes: list[str] = (), arena_attributes: str = "__attribute__((aligned(16)))") -> dict[str, str]:
    steps = [s for s in all_steps if isinstance(s, KernelCall)]
    known = library_kernels()
    missing = sorted({s.kernel for s in steps} - known)
    if missing:
        raise TinyEngineError(f"internal error: the generator would call kernels the library lacks: {', '.join(missing)}")
    buffer_index = {id(b): i for i, b in enumerate(plan.buffers)}

    def arg(a) -> str:
        if isinstance(a, Tensor):
            return f"te_arena + TE_BUFFER_{buffer_index[id(plan.tensor_buffer[id(a)])]}"
        if isinstance(a, View):
            return f"{arg(a.tensor)} + {a.offset}" if a.offset else arg(a.tensor)
        if isinstance(a, Const):
            return a.symbol
        if isinstance(a, list):
            return "(const int8_t *const[]){ " + ", ".join(arg(x) for x in a) + " }"
        return str(a)

    rendered = []
    # Patches of one layer mostly share their parameters: one struct per distinct set.
    params_names: dict[tuple, str] = {}
    for i, s in enumerate(all_steps):
        if isinstance(s, Alias):
            continue
        n = len(rendered)
        op = s.op
        ins = ", ".join(_shape(t) for t in s.inputs)
        outs = ", ".join(_shape(t) for t in s.outputs)
        origin = f"{op.type} (operator #{op.index})" if op is not None else s.kernel
        args = [arg(a) for a in s.args]
        if i in plan.scratch:
            args.append(f"te_arena + TE_BUFFER_{buffer_index[id(plan.scratch[i])]}")
        fields = [(k, c_value(v)) for k, v in s.params.items()]
        key = (s.params_type, tuple(fields))
        first_use = key not in params_names
        if first_use:
            params_names[key] = f"layer{n}"
        rendered.append(RenderedStep(
            kernel=s.kernel, params_type=s.params_type, params_name=params_names[key],
            fields=fields, args=args, defines_params=first_use,
            comment=f"layer {n}: {origin}{'' if s.patch is None else f' [patch {s.patch}]'} {ins} -> {outs}"))

    def io(t: Tensor) -> dict:
        return dict(name=comment_text(t.name), shape=list(t.shape), bytes=t.nbytes,
                    scale_text=f"{t.quant.s:.9g}", scale_literal=float_literal(t.quant.s),
                    zero_point=t.quant.zp, offset=plan.offset(t))

    def label(b) -> str:
        return comment_text(", ".join(t.name for t in b.tensors)[:80] if b.tensors else b.name)

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "model")),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    context = dict(
        version=__version__, model_name=comment_text(model_name), steps=rendered,
        constants=[dict(ctype=c.ctype, symbol=c.symbol, count=len(c.values), body=_body(c.values), align=c.align)
                   for c in constants],
        inputs=[io(t) for t in inputs], outputs=[io(t) for t in outputs],
        arena_bytes=plan.arena_bytes, lower_bound=plan.lower_bound,
        buffers=[dict(offset=b.offset, size=b.size, first=b.first, last=b.last, label=label(b)) for b in plan.buffers],
        total_macs=sum(s.macs for s in steps), weight_bytes=constant_bytes(constants),
        arena_attributes=arena_attributes, notes=[comment_text(n) for n in notes],
    )
    return {name: env.get_template(name + ".j2").render(**context)
            for name in ("genModel.h", "genModel.c", "genMemory.h")}


_CTYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4}


def constant_bytes(constants: list[Const]) -> int:
    return sum(len(c.values) * _CTYPE_BYTES[c.ctype] for c in constants)
