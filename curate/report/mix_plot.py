"""`curate mix --plot`: the mix plan as a PNG, drawn like `train plot` (numpy and train.plot's canvas, no
matplotlib): the share of training tokens per source, and the epochs each source repeats, with the
4-epoch line beyond which repeated tokens are worth much less than fresh ones."""
from __future__ import annotations

from pathlib import Path

from train.mix import EPOCH_WARNING, MixPlan
from train.plot import BLACK, BLUE, GREY, ORANGE, RED, Canvas, nice_ticks, text_width


def draw_bars(canvas: Canvas, top: int, title: str, rows: list[tuple[str, float, str]], high: float, colour, marker: float | None = None) -> None:
    """Horizontal bars under a title, one per (label, value, value text), on a 0..high axis."""
    left, right = 40 + max(text_width(label) for label, _, _ in rows), canvas.pixels.shape[1] - 150
    canvas.text(20, top, title, scale=2)
    to_x = lambda v: left + v / high * (right - left)
    bottom = top + 30 + 34 * len(rows)
    for value in nice_ticks(0, high):
        canvas.polyline([to_x(value)] * 2, [top + 26, bottom], GREY)
        canvas.text(int(to_x(value)), bottom + 6, f"{value:g}", anchor="centre", scale=1)
    for i, (label, value, shown) in enumerate(rows):
        y = top + 32 + 34 * i
        canvas.text(left - 10, y + 6, label, anchor="right")
        canvas.fill(left, y, to_x(min(value, high)), y + 22, RED if marker is not None and value > marker else colour)
        canvas.text(int(to_x(min(value, high))) + 8, y + 6, shown)
    if marker is not None and marker <= high:
        canvas.polyline([to_x(marker)] * 2, [top + 24, bottom], RED, thickness=2)
        canvas.text(int(to_x(marker)) + 4, top + 14, f"{marker:g} EPOCHS", colour=RED, scale=1)
    canvas.polyline([left, left], [top + 26, bottom], BLACK)


def plot_mix(plan: MixPlan, out_path: str | Path, width: int = 900) -> Path:
    sources = plan.sources
    height = 2 * (30 + 34 * len(sources)) + 140
    canvas = Canvas(width, height)
    canvas.text(20, 12, f"MIX {plan.manifest.name}: {plan.total_tokens:,} TOKENS", scale=2)
    shares = [(s.name, s.share * 100, f"{s.share:.1%}") for s in sources]
    draw_bars(canvas, 44, "SHARE OF TRAINING TOKENS (%)", shares, max(max(v for _, v, _ in shares), 1.0) * 1.1, BLUE)
    epochs = [(s.name, s.epochs, f"{s.epochs:.2f}") for s in sources]
    high = max(max(v for _, v, _ in epochs), EPOCH_WARNING) * 1.1
    draw_bars(canvas, 44 + 30 + 34 * len(sources) + 50, "EPOCHS (TIMES EACH SOURCE IS SEEN)", epochs, high, ORANGE, marker=EPOCH_WARNING)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(canvas.png())
    return out_path
