"""Per-set verdicts for an ablation: for each held-out set and each pair of arms, the difference in bits per byte,
its 95% confidence interval over seeds, and whether the first arm wins, ties or loses there. The macro average
over sets is reported beside these, never instead of them: it hides a step that helps one kind of text and
hurts another.

Runs are keyed (init seed, data seed). Two arms are compared on the seed pairs both finished (paired: the same
initialisation and data order), so the interval is the t interval of the mean paired difference; with one pair
there is no interval and the verdict is a tie. The two spreads are reported apart: over initialisation seeds
at the first data seed, and over data-order seeds at the first initialisation seed.
"""

from __future__ import annotations

import math

import numpy as np

# two-sided 95% Student t quantiles by degrees of freedom (beyond 30: the normal's 1.96)
T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    30: 2.042,
}


def t95(df: int) -> float:
    if df >= 30:
        return 1.96 if df > 30 else T95[30]
    return T95[max(k for k in T95 if k <= df)]  # rounding df down: the wider interval


def paired_difference(a: dict, b: dict) -> dict:
    """a, b: {run key: value}. Mean of a - b over the keys both have, its 95% interval and the verdict for a
    (lower bpb is better: 'wins' when the whole interval is below zero)."""
    keys = sorted(set(a) & set(b))
    d = np.array([a[k] - b[k] for k in keys], dtype=float)
    if len(d) == 0:
        return {"n": 0, "diff": None, "low": None, "high": None, "verdict": "no common runs"}
    mean = float(d.mean())
    if len(d) < 2:
        return {"n": 1, "diff": mean, "low": None, "high": None, "verdict": "ties"}
    half = t95(len(d) - 1) * float(d.std(ddof=1)) / math.sqrt(len(d))
    low, high = mean - half, mean + half
    verdict = "wins" if high < 0 else "loses" if low > 0 else "ties"
    return {"n": len(d), "diff": mean, "low": low, "high": high, "verdict": verdict}


def spreads(values: dict) -> dict:
    """values: {(init, data): bpb}. Mean over all runs; sample standard deviation over init seeds (data order
    fixed at the first data seed) and over data seeds (init fixed at the first init seed)."""
    keys = sorted(values)
    init0, data0 = keys[0][0], min(k[1] for k in keys)
    by_init = [values[k] for k in keys if k[1] == data0]
    by_data = [values[k] for k in keys if k[0] == init0]
    sd = lambda xs: float(np.std(xs, ddof=1)) if len(xs) > 1 else None
    return {
        "mean": float(np.mean(list(values.values()))),
        "n": len(keys),
        "init_sd": sd(by_init),
        "n_init": len(by_init),
        "data_sd": sd(by_data),
        "n_data": len(by_data),
    }


def verdicts(runs: dict, pairs: list[tuple[str, str]], sets: list[str]) -> dict:
    """runs: {arm: {run key: {set: bpb}}}. {(a, b): {set: paired_difference}}, plus per pair the tally."""
    out = {}
    for a, b in pairs:
        if a not in runs or b not in runs:
            continue
        per_set = {
            s: paired_difference({k: r[s] for k, r in runs[a].items()}, {k: r[s] for k, r in runs[b].items()})
            for s in sets
        }
        out[(a, b)] = per_set
    return out


def tally(per_set: dict, sets: list[str]) -> dict:
    counts = {"wins": 0, "ties": 0, "loses": 0}
    for s in sets:
        if per_set[s]["verdict"] in counts:
            counts[per_set[s]["verdict"]] += 1
    return counts


def attribution(label: str, per_set: dict, sets: list[str]) -> str:
    """'quality (vs langid): -0.041 bpb on web [wins], +0.012 on books [ties], ...'."""
    parts = []
    for s in sets:
        r = per_set[s]
        if r["diff"] is not None:
            parts.append(f"{r['diff']:+.3f} on {s} [{r['verdict']}]")
    return f"{label}: " + ", ".join(parts)
