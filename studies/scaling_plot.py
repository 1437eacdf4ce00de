"""The scaling sweep's figure (matplotlib, PNG): left, loss against compute for every point with each size's
fitted curve L(N, C / 6N) and the fitted frontier (the lowest loss per compute), held-out points open with their
prediction marked; right, the IsoFLOP profiles (loss against N per budget) with their parabolas and minima."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MARKERS = ("o", "s")
LINESTYLES = ("-", "--")


def plot_scaling(spec: dict, results: dict, summary: dict, laws: dict, out_path: Path, flops_range) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.4), dpi=100)
    sizes = sorted({p["params"] for points in results.values() for p in points})
    colour = {n: plt.cm.viridis(i / max(1, len(sizes) - 1) * 0.9) for i, n in enumerate(sizes)}
    C = np.logspace(np.log10(flops_range[0]) - 0.2, np.log10(flops_range[1]) + 0.2, 200)
    for m, (mix, points) in enumerate(results.items()):
        law, marker, style = laws[mix], MARKERS[m % 2], LINESTYLES[m % 2]
        tag = f"{mix}: " if len(results) > 1 else ""
        for n in sorted({p["params"] for p in points}):
            mine = [p for p in points if p["params"] == n]
            span = np.logspace(
                np.log10(min(p["flops"] for p in mine)) - 0.15, np.log10(max(p["flops"] for p in mine)) + 0.15, 50
            )
            left.plot(span, law.loss(n, span / (6 * n)), style, color=colour[n], alpha=0.45, linewidth=1)
            for p in mine:
                left.scatter(
                    p["flops"],
                    p["loss"],
                    marker=marker,
                    s=38,
                    color=colour[n],
                    facecolors="none" if p["holdout"] else colour[n],
                    zorder=3,
                    label=f"{tag}{p['size']} (N {n / 1e6:.2g}M)" if p is mine[0] else None,
                )
        left.plot(C, law.frontier(C), style, color="black", linewidth=2, label=f"{tag}fitted frontier")
        for h in summary[mix]["heldout"]:
            low, high = h["interval"]
            left.errorbar(
                h["flops"],
                h["predicted"],
                yerr=[[h["predicted"] - low], [high - h["predicted"]]],
                fmt="x",
                color="red",
                markersize=10,
                capsize=4,
                zorder=4,
                label=f"{tag}held out: predicted {h['predicted']:.3f} vs measured {h['loss']:.3f} ({h['error']:+.1%})",
            )
        for f in summary[mix]["predict"]:
            left.scatter(
                f["flops"], f["loss"], marker="*", s=120, color="red", zorder=4, label=f"{tag}forecast: {f['name']}"
            )
        iso = summary[mix]["isoflop"]
        for i, pr in enumerate(iso["profiles"] if iso else []):
            shade = plt.cm.plasma(i / max(1, len(iso["profiles"])) * 0.8)
            right.scatter(
                pr["params"], pr["losses"], marker=marker, color=shade, zorder=3, label=f"{tag}C = {pr['flops']:.2g}"
            )
            if pr["coeffs"] is not None:
                grid = np.logspace(np.log10(min(pr["params"])) - 0.1, np.log10(max(pr["params"])) + 0.1, 100)
                right.plot(grid, np.polyval(pr["coeffs"], np.log(grid)), style, color=shade)
            if pr["n_opt"]:
                right.axvline(pr["n_opt"], color=shade, linestyle=":", linewidth=1)
    left.set(
        xscale="log",
        xlabel="compute C = 6 N D (FLOPs)",
        ylabel=f"held-out {spec['metric']}",
        title=f"{spec['name']}: loss vs compute (open: held out)",
    )
    right.set(xscale="log", xlabel="parameters N", ylabel=f"held-out {spec['metric']}", title="IsoFLOP profiles")
    if not right.has_data():
        right.text(
            0.5,
            0.5,
            "no finished IsoFLOP profile (2+ points of one budget)",
            ha="center",
            va="center",
            transform=right.transAxes,
        )
    for axes in (left, right):
        axes.grid(alpha=0.3, which="both")
        if axes.has_data():
            axes.legend(fontsize=7, loc="lower left" if axes is left else "best", framealpha=0.8)
    figure.tight_layout()
    figure.savefig(out_path)
    plt.close(figure)
    return out_path
