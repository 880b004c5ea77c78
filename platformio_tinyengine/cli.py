"""The `tinyengine` command."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import TinyEngineError
from .pipeline import compile_model, emit_sources, write_sources

console = Console(stderr=True, highlight=False)


class _Group(click.Group):
    """Every failure ends in one clear message and a non-zero exit, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TinyEngineError as exc:
            console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
            sys.exit(1)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except RecursionError:
            console.print("[bold red]error:[/] the model graph is too deep to process", soft_wrap=True)
            sys.exit(1)
        except Exception as exc:  # a bug of ours: say so plainly
            console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
                          "Please report this with the model that caused it.", soft_wrap=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="tinyengine")
def main() -> None:
    """Compile int8 TFLite models into bit-exact, statically planned C for microcontrollers."""


@main.command()
@click.argument("model", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write genModel.h, genModel.c and genMemory.h into.")
def generate(model: Path, out_dir: Path) -> None:
    """Generate the C sources of MODEL (.tflite) into --out."""
    start = time.perf_counter()
    compiled = compile_model(model)
    files = write_sources(emit_sources(compiled), out_dir)
    elapsed = time.perf_counter() - start
    for note in compiled.graph.notes:
        console.print(f"[yellow]note:[/] {note}", soft_wrap=True)
    console.print(f"wrote {', '.join(f.name for f in files)} to {out_dir} in {elapsed:.2f} s: "
                  f"{len(compiled.kernel_calls)} kernel calls, {compiled.total_macs:,} MACs, "
                  f"arena {compiled.plan.arena_bytes:,} bytes")


@main.command()
@click.argument("model", type=click.Path(dir_okay=True, path_type=Path))
def analyze(model: Path) -> None:
    """Print MODEL's layers, their cost and the memory plan."""
    compiled = compile_model(model)
    table = Table(title=f"{model.name}")
    for col in ("#", "op", "kernel", "input", "output", "MACs"):
        table.add_column(col, justify="right" if col in ("#", "MACs") else "left")
    for i, call in enumerate(compiled.kernel_calls):
        shapes = lambda ts: ", ".join("x".join(map(str, t.shape)) for t in ts)  # noqa: E731
        table.add_row(str(i), call.op.type if call.op else "", call.kernel, shapes(call.inputs),
                      shapes(call.outputs), f"{call.macs:,}")
    out = Console(highlight=False)
    out.print(table)
    out.print(f"peak SRAM (arena): {compiled.plan.arena_bytes:,} bytes; lower bound of this schedule: "
              f"{compiled.plan.lower_bound:,} bytes; total MACs: {compiled.total_macs:,}")
    for note in compiled.graph.notes:
        out.print(f"note: {note}", soft_wrap=True)


if __name__ == "__main__":
    main()
