"""`train plot RUN_DIR`: a PNG of training and validation loss, drawn with numpy alone.

The GPU machine has no matplotlib, so this module rasterises lines onto a numpy image, letters axis labels
with a built-in 3x5 bitmap font, and encodes the PNG with zlib. The plot shades the three phases a reader
should see in a healthy run, found on the smoothed training loss: rapid decrease (the first 60% of the total
drop), steady improvement (up to 90%), diminishing returns (the last 10%); skipped spikes are red crosses and
rollbacks red vertical lines.
"""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np

from train.metrics import read_metrics

# 3x5 glyphs: five rows, each an octal digit whose bits are the row's pixels, left pixel highest.
FONT = dict(zip(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-+:()/=,% _",
    "75557 26227 71747 71717 55711 74717 74757 71122 75757 75717 25755 65656 34443 65556 74647 74644 34553 "
    "55755 72227 11152 55655 44447 57755 65555 25552 65644 25563 65655 34216 72222 55557 55552 55775 55255 "
    "55222 71247 00002 00700 02720 02020 12221 42224 11244 07070 00024 51245 00000 00007".split()))
WHITE, BLACK, GREY = (255, 255, 255), (40, 40, 40), (200, 200, 200)
BLUE, ORANGE, RED, GREEN = (31, 119, 180), (255, 127, 14), (214, 39, 40), (44, 160, 44)
PHASE_COLOURS = ((232, 244, 232), (232, 238, 250), (250, 240, 228))
PHASE_NAMES = ("RAPID DECREASE", "STEADY IMPROVEMENT", "DIMINISHING RETURNS")


class Canvas:
    def __init__(self, width: int, height: int):
        self.pixels = np.full((height, width, 3), 255, dtype=np.uint8)

    def fill(self, x0, y0, x1, y1, colour) -> None:
        self.pixels[max(int(y0), 0):max(int(y1), 0), max(int(x0), 0):max(int(x1), 0)] = colour

    def polyline(self, xs, ys, colour, thickness: int = 1) -> None:
        """Straight segments between consecutive points, sampled one pixel apart."""
        xs, ys = np.asarray(xs, float), np.asarray(ys, float)
        if len(xs) == 1:
            xs, ys = np.repeat(xs, 2), np.repeat(ys, 2)
        steps = np.maximum(np.ceil(np.maximum(abs(np.diff(xs)), abs(np.diff(ys)))), 1).astype(int)
        t = np.concatenate([np.arange(n) / n for n in steps] + [[1.0]])
        seg = np.concatenate([np.full(n, i) for i, n in enumerate(steps)] + [[len(steps) - 1]])
        px = np.rint(xs[seg] + t * (xs[seg + 1] - xs[seg])).astype(int)
        py = np.rint(ys[seg] + t * (ys[seg + 1] - ys[seg])).astype(int)
        h, w, _ = self.pixels.shape
        for dx in range(thickness):
            for dy in range(thickness):
                x, y = px + dx - thickness // 2, py + dy - thickness // 2
                ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
                self.pixels[y[ok], x[ok]] = colour

    def text(self, x: int, y: int, text: str, colour=BLACK, scale: int = 2, anchor: str = "left") -> None:
        text = text.upper()
        if anchor != "left":
            x -= text_width(text, scale) // (2 if anchor == "centre" else 1)
        for i, char in enumerate(text):
            rows = FONT.get(char, FONT["_"])
            for r, digit in enumerate(rows):
                for c in range(3):
                    if int(digit) >> (2 - c) & 1:
                        cx, cy = x + (4 * i + c) * scale, y + r * scale
                        self.fill(cx, cy, cx + scale, cy + scale, colour)

    def png(self) -> bytes:
        h, w, _ = self.pixels.shape
        raw = np.concatenate([np.zeros((h, 1), np.uint8), self.pixels.reshape(h, w * 3)], axis=1).tobytes()

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)   # 8-bit RGB, no interlace
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def text_width(text: str, scale: int = 2) -> int:
    return (4 * len(text) - 1) * scale


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round-numbered ticks (1, 2 or 5 times a power of ten apart) inside [low, high]."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step) + 1)]


def phase_bounds(steps: np.ndarray, losses: np.ndarray) -> tuple[float, float] | None:
    """Steps where the smoothed loss has made 60% and 90% of its total drop; None if it did not fall."""
    if len(losses) < 10:
        return None
    k = max(len(losses) // 20, 1)
    smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
    drop = losses[0] - smooth.min()
    if drop <= 0:
        return None
    reached = lambda fraction: steps[k - 1 + int(np.argmax(smooth <= losses[0] - fraction * drop))]
    return float(reached(0.6)), float(reached(0.9))


def plot_run(run_dir, out_path=None, log_scale: bool = False, width: int = 900, height: int = 520) -> Path:
    """Draw RUN_DIR/metrics.jsonl to a PNG (default RUN_DIR/loss.png) and return its path."""
    run_dir = Path(run_dir)
    out_path = Path(out_path) if out_path else run_dir / "loss.png"
    metrics = read_metrics(run_dir)
    train = np.array([(r["step"], r["loss"]) for r in metrics["train"]], dtype=float).reshape(-1, 2)
    val = np.array([(r["step"], r["val_loss"]) for r in metrics["val"]], dtype=float).reshape(-1, 2)
    held_out = np.array([(r["step"], r["eval/macro/loss"]) for r in metrics.get("eval", [])], float).reshape(-1, 2)
    spikes = np.array([(e["step"], e["loss"]) for e in metrics["event"] if e["event"] == "spike_skipped"], float).reshape(-1, 2)
    rollbacks = [e["step"] for e in metrics["event"] if e["event"] == "rollback"]
    if not len(train):
        raise ValueError(f"{run_dir}/metrics.jsonl has no training steps to plot")
    finite = lambda a: a[np.isfinite(a[:, 1]) & (a[:, 1] > 0)] if len(a) else a
    train, val, spikes, held_out = finite(train), finite(val), finite(spikes), finite(held_out)
    everything = np.concatenate([train, val, spikes, held_out])
    left, right, top, bottom = 80, width - 20, 50, height - 60
    x_low, x_high = 0.0, max(everything[:, 0].max(), 1.0)
    transform = np.log10 if log_scale else (lambda v: np.asarray(v, float))
    y_low, y_high = float(everything[:, 1].min()), float(everything[:, 1].max())
    pad = (transform(y_high) - transform(y_low)) * 0.05 or 0.5
    ty_low, ty_high = transform(y_low) - pad, transform(y_high) + pad
    to_x = lambda s: left + (np.asarray(s, float) - x_low) / (x_high - x_low) * (right - left)
    to_y = lambda v: bottom - (transform(v) - ty_low) / (ty_high - ty_low) * (bottom - top)

    canvas = Canvas(width, height)
    bounds = phase_bounds(train[:, 0], train[:, 1])
    if bounds:
        edges = [x_low, bounds[0], bounds[1], x_high]
        for i, (name, colour) in enumerate(zip(PHASE_NAMES, PHASE_COLOURS)):
            x0, x1 = to_x(edges[i]), to_x(edges[i + 1])
            canvas.fill(x0, top, x1, bottom, colour)
            if x1 - x0 > text_width(name, 1) + 4:
                canvas.text(int((x0 + x1) / 2), top + 6, name, BLACK, scale=1, anchor="centre")
    y_ticks = nice_ticks(y_low, y_high)
    for value in y_ticks:
        y = int(to_y(value))
        if top <= y <= bottom:
            canvas.polyline([left, right], [y, y], GREY)
            canvas.text(left - 8, y - 5, f"{value:g}", anchor="right")
    for value in nice_ticks(x_low, x_high):
        x = int(to_x(value))
        canvas.polyline([x, x], [bottom, bottom + 5], BLACK)
        canvas.text(x, bottom + 10, f"{value:g}", anchor="centre")
    canvas.polyline([left, left, right], [top, bottom, bottom], BLACK)
    for step in rollbacks:
        canvas.polyline([to_x(step)] * 2, [top, bottom], RED)
    canvas.polyline(to_x(train[:, 0]), to_y(train[:, 1]), BLUE, thickness=2)
    if len(val):
        canvas.polyline(to_x(val[:, 0]), to_y(val[:, 1]), ORANGE, thickness=2)
    if len(held_out):   # eval_sets: macro-average loss over the held-out sets
        canvas.polyline(to_x(held_out[:, 0]), to_y(held_out[:, 1]), GREEN, thickness=2)
    for x, y in zip(to_x(spikes[:, 0]), to_y(spikes[:, 1])):
        canvas.polyline([x - 5, x + 5], [y - 5, y + 5], RED, 2)
        canvas.polyline([x - 5, x + 5], [y + 5, y - 5], RED, 2)
    canvas.text(left, 12, f"LOSS{' (LOG SCALE)' if log_scale else ''}: {run_dir.name}", scale=2)
    canvas.text((left + right) // 2, height - 25, "STEP", anchor="centre")
    legend = [("TRAIN", BLUE)] + ([("VAL", ORANGE)] if len(val) else []) + ([("SPIKE SKIPPED", RED)] if len(spikes) else [])
    legend += [("HELD-OUT", GREEN)] if len(held_out) else []
    x = right - sum(text_width(name) + 40 for name, _ in legend)
    for name, colour in legend:
        canvas.fill(x, 18, x + 20, 22, colour)
        canvas.text(x + 26, 15, name)
        x += text_width(name) + 40
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(canvas.png())
    return out_path
