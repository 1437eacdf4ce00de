"""Scaling-law fits, as Hoffmann et al. 2022 ("Chinchilla") fit theirs.

Approach 3: L(N, D) = E + A / N^alpha + B / D^beta, fitted in log space: with A = e^a, B = e^b, E = e^e,
    log L_hat = logsumexp(a - alpha log N, b - beta log D, e)
minimising the Huber loss (delta 1e-3) between log L_hat and log L with L-BFGS from a grid of initialisations
(the paper's grid: alpha, beta in 0..2, e in -1..1, a, b in 0..25), keeping the best. The Huber loss keeps one
outlying run from dragging the fit; the log makes the error relative. We run L-BFGS from the best GRID_STARTS grid
points rather than all 4500 (most land in the same basin; the objective is evaluated on the whole grid first).
Intervals: percentiles of refits on bootstrap resamples of the points (Besiroglu et al. 2024 found the paper's
own intervals implausibly narrow for its 400 runs; with tens of runs they are wide, and honestly so).

Approach 2: for each compute budget C (an IsoFLOP profile), a parabola of loss against log N; its vertex is
N_opt(C). A line through (log C, log N_opt) gives N_opt ∝ C^a, and D_opt = C / 6 N_opt gives b = 1 - a.

The optimiser is torch's L-BFGS (strong Wolfe line search, float64): scipy is not a dependency of this project
and torch already is one of `train`'s.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

HUBER_DELTA = 1e-3
GRID_STARTS = 16
NAMES = ("E", "A", "B", "alpha", "beta")


@dataclass
class Law:
    """L(N, D) = E + A / N^alpha + B / D^beta."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    def loss(self, N, D):
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return self.E + self.A / N**self.alpha + self.B / D**self.beta

    def optimal(self, C):
        """Compute-optimal (N, D) for C = 6 N D: minimising L along the constraint gives
        N_opt = G (C/6)^(beta/(alpha+beta)), D_opt = (C/6) / N_opt, G = (alpha A / (beta B))^(1/(alpha+beta))."""
        C = np.asarray(C, dtype=float)
        s = self.alpha + self.beta
        G = (self.alpha * self.A / (self.beta * self.B)) ** (1 / s)
        N = G * (C / 6) ** (self.beta / s)
        return N, C / 6 / N

    def frontier(self, C):
        """The lowest loss reachable with compute C (at the compute-optimal split)."""
        return self.loss(*self.optimal(C))


def _huber_terms(theta, logN, logD, logL, delta=HUBER_DELTA):
    """Per-point Huber loss of log-space residuals, its derivative and the softmax weights of the three terms;
    theta (..., 5) = a, b, e, alpha, beta (batched over starting points)."""
    theta = np.asarray(theta, dtype=float)
    a, b, e, alpha, beta = (theta[..., i, None] for i in range(5))
    terms = np.stack(np.broadcast_arrays(a - alpha * logN, b - beta * logD, e))
    top = terms.max(axis=0)
    weights = np.exp(terms - top)
    total = weights.sum(axis=0)
    residual = top + np.log(total) - logL
    small = np.abs(residual) <= delta
    value = np.where(small, 0.5 * residual**2, delta * (np.abs(residual) - 0.5 * delta))
    slope = np.where(small, residual, delta * np.sign(residual))
    return value, slope, weights / total


def _objective(theta, logN, logD, logL):
    return _huber_terms(theta, logN, logD, logL)[0].sum(-1)


def _value_grad(theta, logN, logD, logL):
    """The summed Huber loss and its gradient in (a, b, e, alpha, beta), by hand: numpy on tens of points is
    an order of magnitude faster than autograd, and L-BFGS calls this hundreds of times per start."""
    value, slope, (pu, pv, pw) = _huber_terms(theta, logN, logD, logL)
    grad = np.array(
        [
            (slope * pu).sum(),
            (slope * pv).sum(),
            (slope * pw).sum(),
            -(slope * pu * logN).sum(),
            -(slope * pv * logD).sum(),
        ]
    )
    return float(value.sum()), grad


def _lbfgs(start, logN, logD, logL):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # five numbers: a thread pool only adds hand-offs (seconds per fit on a busy machine)
    try:
        return _lbfgs_run(start, logN, logD, logL)
    finally:
        torch.set_num_threads(threads)


def _lbfgs_run(start, logN, logD, logL):
    import torch

    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [theta],
        lr=1,
        max_iter=500,
        tolerance_grad=1e-10,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        value, grad = _value_grad(theta.detach().numpy(), logN, logD, logL)
        theta.grad = torch.from_numpy(grad)
        return torch.tensor(value, dtype=torch.float64)

    opt.step(closure)
    final = theta.detach().numpy().copy()
    return final, float(_objective(final, logN, logD, logL))


def _grid():
    return np.array(
        list(
            itertools.product(
                np.arange(0, 30, 5),
                np.arange(0, 30, 5),
                np.arange(-1, 1.5, 0.5),
                np.arange(0, 2.5, 0.5),
                np.arange(0, 2.5, 0.5),
            )
        ),
        dtype=float,
    )


def _logs(N, D, L):
    return tuple(np.log(np.asarray(x, dtype=float)) for x in (N, D, L))


def _grid_best(logN, logD, logL, k):
    grid = _grid()
    return grid[np.argsort(_objective(grid, logN, logD, logL))[:k]]


def fit_law(N, D, L, starts: np.ndarray | None = None) -> Law:
    """The approach-3 fit of losses L measured at N parameters, D tokens (1-D arrays of equal length)."""
    logN, logD, logL = _logs(N, D, L)
    if starts is None:
        starts = _grid_best(logN, logD, logL, GRID_STARTS)
    fits = [_lbfgs(s, logN, logD, logL) for s in starts]
    (a, b, e, alpha, beta), _ = min(fits, key=lambda r: r[1] if math.isfinite(r[1]) else math.inf)
    return Law(E=math.exp(e), A=math.exp(a), B=math.exp(b), alpha=float(alpha), beta=float(beta))


def _theta(law: Law) -> np.ndarray:
    return np.array([math.log(law.A), math.log(law.B), math.log(law.E), law.alpha, law.beta])


def bootstrap_laws(N, D, L, law: Law, samples: int = 100, seed: int = 0) -> list[Law]:
    """Refits on `samples` resamples (with replacement) of the points, each started from the full fit (a
    resample's optimum lies near it; one start instead of the grid keeps 100 refits to seconds). A resample with
    fewer than 5 distinct points (5 coefficients) is drawn again, up to 20 draws per refit."""
    N, D, L = (np.asarray(x, dtype=float) for x in (N, D, L))
    rng = np.random.default_rng(seed)
    laws = []
    for _ in range(20 * samples):
        if len(laws) == samples:
            break
        pick = rng.integers(0, len(L), len(L))
        if len(set(pick)) >= 5:
            laws.append(fit_law(N[pick], D[pick], L[pick], _theta(law)[None]))
    return laws


def interval(values, level: float = 0.9) -> tuple[float, float]:
    """The central `level` percentile interval of bootstrap values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


@dataclass
class Profile:
    """One IsoFLOP profile: its budget, points and fitted parabola loss = p0 (log N)^2 + p1 log N + p2."""

    flops: float
    params: np.ndarray
    losses: np.ndarray
    coeffs: np.ndarray | None  # None: fewer than 3 points
    n_opt: float | None  # the vertex; None when the parabola opens downwards or the vertex is outside the sizes

    @property
    def note(self) -> str:
        if self.coeffs is None:
            return f"{len(self.params)} point(s): a parabola needs 3"
        if self.n_opt is None:
            return "no minimum inside the profile's sizes: widen the sizes at this budget"
        return ""


def isoflop_profiles(points: list[dict]) -> list[Profile]:
    """Group points by their IsoFLOP budget (`isoflop`, 0 for none) and fit each profile's parabola in log N."""
    groups: dict[float, list[dict]] = {}
    for p in points:
        if p.get("isoflop"):
            groups.setdefault(p["isoflop"], []).append(p)
    return [_profile(budget, g) for budget, g in sorted(groups.items()) if len(g) >= 2]


def _profile(flops: float, group: list[dict]) -> Profile:
    params = np.array([p["params"] for p in group], dtype=float)
    losses = np.array([p["loss"] for p in group], dtype=float)
    if len(set(params)) < 3:
        return Profile(flops, params, losses, None, None)
    coeffs = np.polyfit(np.log(params), losses, 2)
    n_opt = None
    if coeffs[0] > 0:
        vertex = -coeffs[1] / (2 * coeffs[0])
        if np.log(params.min()) <= vertex <= np.log(params.max()):
            n_opt = float(np.exp(vertex))
    return Profile(flops, params, losses, coeffs, n_opt)


def fit_isoflop(profiles: list[Profile]) -> tuple[float, float] | None:
    """(a, k) of log N_opt = a log C + k over the profiles with a minimum; None with fewer than 2."""
    usable = [p for p in profiles if p.n_opt is not None]
    if len(usable) < 2:
        return None
    a, k = np.polyfit(np.log([p.flops for p in usable]), np.log([p.n_opt for p in usable]), 1)
    return float(a), float(k)


def crossings(first: Law, second: Law, low: float, high: float) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Computes in [low, high] where the two frontiers cross, and the difference first - second on a log grid."""
    C = np.logspace(math.log10(low), math.log10(high), 400)
    gap = first.frontier(C) - second.frontier(C)
    sign = np.sign(gap)
    where = np.nonzero(sign[1:] * sign[:-1] < 0)[0]
    # geometric interpolation between the grid points around each sign change
    cross = [
        float(np.exp(np.interp(0, sorted(gap[i : i + 2]), np.log(C[i : i + 2])[np.argsort(gap[i : i + 2])])))
        for i in where
    ]
    return cross, C, gap
