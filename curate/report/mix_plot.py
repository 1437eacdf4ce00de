"""`curate mix --plot`: the mix plan as a PNG, drawn with matplotlib like `train plot`: the share of training
tokens per source, and the epochs each source repeats, with the 4-epoch line beyond which repeated tokens are
worth much less than fresh ones."""

from __future__ import annotations

from pathlib import Path

from common.colours import BLUE, ORANGE, RED
from common.mix import EPOCH_WARNING, MixPlan


def plot_mix(plan: MixPlan, out_path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = plan.sources
    names = [s.name for s in sources]
    figure, (share_axes, epoch_axes) = plt.subplots(2, 1, figsize=(9, 2.2 + 1.1 * len(sources)), dpi=100)
    figure.suptitle(f"mix {plan.manifest.name}: {plan.total_tokens:,} tokens")
    shares = [s.share * 100 for s in sources]
    bars = share_axes.barh(names, shares, color=BLUE)
    share_axes.bar_label(bars, [f"{s.share:.1%}" for s in sources], padding=4)
    share_axes.set(title="share of training tokens (%)", xlim=(0, max(max(shares), 1.0) * 1.2))
    epochs = [s.epochs for s in sources]
    colours = [RED if e > EPOCH_WARNING else ORANGE for e in epochs]
    bars = epoch_axes.barh(names, epochs, color=colours)
    epoch_axes.bar_label(bars, [f"{e:.2f}" for e in epochs], padding=4)
    epoch_axes.axvline(EPOCH_WARNING, color=RED, linewidth=2, label=f"{EPOCH_WARNING:g} epochs")
    epoch_axes.set(title="epochs (times each source is seen)", xlim=(0, max(max(epochs), EPOCH_WARNING) * 1.2))
    epoch_axes.legend(loc="lower right", fontsize=8)
    for axes in (share_axes, epoch_axes):
        axes.invert_yaxis()
        axes.grid(axis="x", alpha=0.3)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(out_path)
    plt.close(figure)
    return out_path
