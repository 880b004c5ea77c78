"""The `tinyengine` command."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .boards import load_boards
from .errors import TinyEngineError
from .pipeline import compile_model, emit_sources, write_sources
from .plot import plot_memory
from .report import check_ram_limit, model_report
from .stack import model_stack_usage

console = Console(stderr=True, highlight=False)


class _Group(click.Group):
    """Every failure ends in one clear message and a non-zero exit, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TinyEngineError as exc:
            # Messages quote names from the model and paths: never read them as rich markup.
            console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            sys.exit(1)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except RecursionError:
            console.print("[bold red]error:[/] the model graph is too deep to process", soft_wrap=True)
            sys.exit(1)
        except Exception as exc:  # a bug of ours: say so plainly
            console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                          "Please report this with the model that caused it.", soft_wrap=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="tinyengine")
def main() -> None:
    """Compile int8 TFLite models into bit-exact, statically planned C for microcontrollers."""


RAM_LIMIT = click.option("--ram-limit", type=click.IntRange(min=0), default=None, metavar="BYTES",
                         help="Fail when the planned arena needs more than BYTES.")
PATCH = click.option("--patch", default="off", show_default=True, metavar="auto|off|ROWSxCOLS@LAYER",
                     help="Patch-based inference: run the layers up to LAYER patch by patch on a ROWSxCOLS "
                          "grid; 'auto' picks the plan with the smallest arena.")
MAX_MAC_OVERHEAD = click.option("--max-mac-overhead", type=click.FloatRange(min=0), default=0.2, show_default=True,
                                metavar="FRACTION", help="With --patch auto: extra MACs allowed for patches.")


@main.command()
@click.argument("model", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write genModel.h, genModel.c and genMemory.h into.")
@RAM_LIMIT
@PATCH
@MAX_MAC_OVERHEAD
def generate(model: Path, out_dir: Path, ram_limit: int | None, patch: str, max_mac_overhead: float) -> None:
    """Generate the C sources of MODEL (.tflite) into --out."""
    start = time.perf_counter()
    compiled = compile_model(model, patch=patch, max_mac_overhead=max_mac_overhead)
    check_ram_limit(compiled, ram_limit)
    files = write_sources(emit_sources(compiled), out_dir)
    elapsed = time.perf_counter() - start
    for note in compiled.graph.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    console.print(f"wrote {', '.join(f.name for f in files)} to {escape(str(out_dir))} in {elapsed:.2f} s: "
                  f"{len(compiled.kernel_calls)} kernel calls, {compiled.total_macs:,} MACs, "
                  f"arena {compiled.plan.arena_bytes:,} bytes")
    _print_patch(console, model_report(compiled)["patch"], patch)


def _print_patch(out: Console, patch: dict | None, option: str) -> None:
    if patch is not None:
        out.print(f"patch-based inference ({patch['option']}, {patch['order']}): layers 0-{patch['split_layer']} run "
                  f"as {patch['grid'][0]}x{patch['grid'][1]} patches; peak {patch['peak_sram_bytes']:,} bytes "
                  f"instead of {patch['peak_sram_bytes_without_patches']:,} "
                  f"({patch['peak_sram_bytes'] / patch['peak_sram_bytes_without_patches']:.2f}x) for "
                  f"{patch['mac_overhead']:.1%} more MACs ({patch['macs']:,} instead of {patch['macs_without_patches']:,})")
    elif option.strip().lower() == "auto":
        out.print("patch-based inference: no plan beats layer by layer within the MAC budget; running layer by layer")


def _dims(shapes: list[list[int]]) -> str:
    return ", ".join("x".join(map(str, s)) for s in shapes)


def _table_rows(layers: list[dict]) -> list[tuple[str, ...]]:
    """One row per layer; a patch stage's calls folded into one row per layer (its MACs summed
    over the patches, shapes and live bytes those of its busiest patch)."""
    rows: list[dict] = []
    folded: dict[tuple, dict] = {}
    for layer in layers:
        number = "" if layer["layer"] is None else str(layer["layer"])
        if layer["patch"] is None:
            rows.append(dict(layer, label=layer["op"], number=number))
            continue
        key = (layer["operator_index"], layer["kernel"])
        f = folded.get(key)
        if f is None:
            f = folded[key] = dict(layer, patches=0, number=number)
            rows.append(f)
        else:
            f["macs"] += layer["macs"]
            if layer["live_bytes"] > f["live_bytes"]:
                f.update(inputs=layer["inputs"], outputs=layer["outputs"], live_bytes=layer["live_bytes"])
        f["patches"] += 1
        f["label"] = f"{layer['op']} x{f['patches']} patches"
    return [(r["number"], r["label"], _dims(r["inputs"]), _dims(r["outputs"]), f"{r['macs']:,}",
             f"{r['weight_bytes']:,}", f"{r['live_bytes']:,}", f"{r['scratch_bytes']:,}") for r in rows]


@main.command()
@click.argument("model", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw the memory timeline into a .png or .svg file.")
@click.option("--stack", is_flag=True,
              help="Also measure the stack te_invoke() needs (compiles for Cortex-M7 with arm-none-eabi-gcc).")
@RAM_LIMIT
@PATCH
@MAX_MAC_OVERHEAD
def analyze(model: Path, as_json: bool, plot: Path | None, stack: bool, ram_limit: int | None, patch: str,
            max_mac_overhead: float) -> None:
    """Per-layer cost and the memory plan of MODEL."""
    compiled = compile_model(model, patch=patch, max_mac_overhead=max_mac_overhead)
    report = model_report(compiled)
    if stack:
        report["totals"]["stack_bytes"] = model_stack_usage(compiled)
    if plot is not None:
        plot_memory(report, plot)
    out = Console(highlight=False, width=max(Console().width, 110))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        table = Table(title=escape(model.name))
        for col in ("#", "op", "input", "output", "MACs", "weights", "live", "scratch"):
            table.add_column(col, justify="left" if col in ("op", "input", "output") else "right")
        for row in _table_rows(report["layers"]):
            table.add_row(*row)
        out.print(table)
        t = report["totals"]
        gap = t["peak_sram_bytes"] - t["lower_bound_bytes"]
        out.print(f"peak SRAM (arena): {t['peak_sram_bytes']:,} bytes; lower bound of this schedule: "
                  f"{t['lower_bound_bytes']:,} bytes (plan is {gap:,} bytes above it)\n"
                  f"flash for weights and parameters: {t['flash_constant_bytes']:,} bytes; "
                  f"total MACs: {t['macs']:,}")
        if "stack_bytes" in t:
            out.print(f"stack for te_invoke() on Cortex-M7 (-fstack-usage): {t['stack_bytes']:,} bytes")
        _print_patch(out, report["patch"], patch)
        for note in report["notes"]:
            out.print(f"note: {escape(note)}", soft_wrap=True)
        if plot is not None:
            out.print(f"memory timeline written to {plot}")
    check_ram_limit(compiled, ram_limit)


@main.command()
def boards() -> None:
    """List the boards TinyEngine knows: core, FPU, SIMD, RAM and flash."""
    table = Table(title="TinyEngine boards")
    for col in ("id", "board", "core", "FPU", "SIMD", "largest RAM", "fastest RAM", "flash", "QEMU machine"):
        table.add_column(col)
    for b in load_boards():
        table.add_row(b.id, b.name, b.core, b.fpu, b.simd, f"{b.largest_ram.bytes // 1024} KiB {b.largest_ram.name}",
                      f"{b.fastest_ram.bytes // 1024} KiB {b.fastest_ram.name}", f"{b.flash_bytes // 1024} KiB",
                      b.qemu.get("machine", ""))
    Console(highlight=False, width=max(Console().width, 140)).print(table)


@main.command()
@click.argument("model", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--board", "board_id", default="qemu_cortex_m7", show_default=True,
              help="Simulated board to run on (tinyengine boards lists them).")
@click.option("--compare", type=click.Choice(["portable"]), default=None,
              help="Also run the build with every kernel's portable C path (TE_PORTABLE) on the same core.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@PATCH
@MAX_MAC_OVERHEAD
def bench(model: Path, board_id: str, compare: str | None, as_json: bool, patch: str, max_mac_overhead: float) -> None:
    """Run MODEL as firmware on a simulated board: instructions, MACs, RAM and flash."""
    from .bench import bench as run_bench

    report = run_bench(model, board_id, compare_portable=compare == "portable", patch=patch,
                       max_mac_overhead=max_mac_overhead)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    variants = list(report["variants"])
    out = Console(highlight=False, width=max(Console().width, 120))
    table = Table(title=f"{report['model']} on {report['board']} (QEMU {report['machine']}, {report['cpu']})")
    for col in ("#", "op", "output", "MACs"):
        table.add_column(col, justify="left" if col in ("op", "output") else "right")
    for v in variants:
        table.add_column(f"instructions ({v})", justify="right")
        table.add_column(f"MAC/instr ({v})", justify="right")
    for layer in report["layers"]:
        table.add_row(str(layer["index"]), layer["op"], _dims(layer["outputs"]), f"{layer['macs']:,}",
                      *[x for v in variants for x in (f"{layer['instructions'][v]:,}",
                                                      f"{layer['macs_per_instruction'][v]:.3f}")])
    table.add_row("", "total", "", f"{report['macs']:,}",
                  *[x for v in variants for x in (f"{report['variants'][v]['instructions']:,}",
                                                  f"{report['variants'][v]['macs_per_instruction']:.3f}")])
    out.print(table)
    kernels = Table(title="per kernel, most instructions first")
    for col in ("kernel", "calls", "MACs"):
        kernels.add_column(col, justify="left" if col == "kernel" else "right")
    for v in variants:
        for col in (f"instructions ({v})", f"share ({v})", f"MAC/instr ({v})"):
            kernels.add_column(col, justify="right")
    for k in report["kernels"]:
        kernels.add_row(k["kernel"], str(k["calls"]), f"{k['macs']:,}",
                        *[x for v in variants for x in (f"{k['instructions'][v]:,}", f"{k['share'][v]:.1%}",
                                                        f"{k['macs_per_instruction'][v]:.3f}")])
    out.print(kernels)
    for v in variants:
        r = report["variants"][v]
        ram, flash = r["ram"], r["flash"]
        out.print(f"{v}: peak SRAM {ram['peak']:,} bytes (arena {ram['arena']:,} + .data {ram['data']:,} + "
                  f".bss {ram['bss']:,} + stack {ram['stack']:,} measured); flash {flash['total']:,} bytes "
                  f"(.text {flash['text']:,}, .rodata {flash['rodata']:,}, .data {flash['data']:,}, "
                  f"vectors {flash['vectors']:,}, exception tables {flash['exidx']:,})")
    if "portable" in variants:
        gain = report["variants"]["portable"]["instructions"] / max(report["variants"]["simd"]["instructions"], 1)
        out.print(f"the portable build executes {gain:.2f}x the instructions of the SIMD build")
    _print_patch(out, report["patch"], patch)
    out.print(f"note: {report['counter']}", soft_wrap=True)


@main.command("new")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--board", "board_id", required=True, help="Board id (tinyengine boards lists them).")
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The .tflite model to copy into the project's model/ (else put one there later).")
@click.option("--ide", type=click.Choice(["platformio", "stm32cubeide"]), default="platformio", show_default=True,
              help="stm32cubeide: an STM32CubeIDE project with the model generated into it (needs --model).")
def new(directory: Path, board_id: str, model: Path | None, ide: str) -> None:
    """Write a ready PlatformIO (or STM32CubeIDE) project for BOARD into DIRECTORY (which must not exist or
    be empty)."""
    from .project import new_project

    made = new_project(directory, board_id, model, ide)
    if ide == "stm32cubeide":
        console.print(f"wrote an STM32CubeIDE project for {escape(made.board.name)} to {escape(str(directory))}\n"
                      f"next: File > Import > Existing Projects into Workspace, then build", soft_wrap=True)
        return
    what = f"with {made.model.name}" if made.model else "without a model: put one .tflite file in model/"
    run = "pio run -t exec" if made.board.simulated else "pio run -t upload"
    console.print(f"wrote a PlatformIO project for {escape(made.board.name)} to {escape(str(directory))} {what}\n"
                  f"next: cd {escape(str(directory))} && {run}"
                  + ("  (after `tinyengine offline-setup`, once)" if made.board.simulated else ""), soft_wrap=True)


@main.command("offline-setup")
@click.option("--core-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="PlatformIO core directory to set up (default: $PLATFORMIO_CORE_DIR, else ~/.platformio).")
def offline_setup_command(core_dir: Path | None) -> None:
    """Make PlatformIO build and run projects for the simulated boards without its registry."""
    from .offline import offline_setup

    done = offline_setup(core_dir)
    scons = "installed" if done.tool_installed else "already installed"
    console.print(f"tool-scons {done.tool_version} (SCons {done.scons_version}) {scons} in "
                  f"{escape(str(done.core_dir))}\ndev-platform tinyengine-qemu installed from "
                  f"{escape(str(done.platform_dir))}", soft_wrap=True)
    if core_dir is not None:
        console.print(f"PlatformIO uses it with: export PLATFORMIO_CORE_DIR={escape(str(done.core_dir))}",
                      soft_wrap=True)
    for tool in done.missing_tools:
        console.print(f"[yellow]note:[/] not on the PATH, needed to build or run: {escape(tool)}", soft_wrap=True)


if __name__ == "__main__":
    main()
