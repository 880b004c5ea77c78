"""The memory timeline of a plan: every buffer a box (steps x arena offset)."""

from __future__ import annotations

from pathlib import Path

from .errors import TinyEngineError


def plot_memory(report: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        raise TinyEngineError("--plot needs matplotlib: pip install 'platformio-tinyengine[plot]'") from None
    if path.suffix.lower() not in (".png", ".svg"):
        raise TinyEngineError(f"--plot writes .png or .svg files, not '{path.suffix}'")
    totals = report["totals"]
    fig, ax = plt.subplots(figsize=(12, 6))
    cmap = plt.get_cmap("tab20")
    steps = 1
    for i, b in enumerate(report["buffers"]):
        width = b["last_step"] - b["first_step"] + 1
        steps = max(steps, b["last_step"] + 1)
        ax.add_patch(Rectangle((b["first_step"] - 0.45, b["offset"] / 1024), width - 0.1, b["bytes"] / 1024,
                               facecolor=cmap(i % 20), edgecolor="black", linewidth=0.4, alpha=0.85))
    patch = report.get("patch")
    if patch is not None:
        ax.axvspan(-0.5, patch["stage_steps"] - 0.5, color="tab:blue", alpha=0.08, zorder=0)
        ax.text(0, totals["peak_sram_bytes"] / 1024 * 1.03,
                f"patch stage: layers 0-{patch['split_layer']} as {patch['grid'][0]}x{patch['grid'][1]} patches "
                f"(+{patch['mac_overhead']:.1%} MACs)", color="tab:blue")
    peak = totals["peak_step"]
    ax.axvline(peak, color="red", linestyle="--", linewidth=1)
    ax.axhline(totals["peak_sram_bytes"] / 1024, color="black", linewidth=0.8)
    ax.text(peak + 0.3, totals["peak_sram_bytes"] / 1024 * 1.01, "busiest step", color="red")
    ax.set_xlim(-1, steps)
    ax.set_ylim(0, totals["peak_sram_bytes"] / 1024 * 1.08 + 0.01)
    ax.set_xlabel("step (kernel call)")
    ax.set_ylabel("arena offset (KiB)")
    ax.set_title(f"{report['model']}: arena {totals['peak_sram_bytes'] / 1024:.1f} KiB "
                 f"(lower bound {totals['lower_bound_bytes'] / 1024:.1f} KiB)")
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise TinyEngineError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)
