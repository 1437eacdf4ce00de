"""Optimizers: AdamW, or Muon for the hidden matrices with AdamW for the rest (as modded-nanogpt and nanochat).

Muon (Jordan et al. 2024) takes SGD-momentum's update of a weight matrix and replaces it by the nearest
semi-orthogonal matrix (all singular values ~1), found with five Newton-Schulz iterations. Every direction of
the update then moves at the same rate, which reaches a given loss in fewer tokens than AdamW on transformer
matrices. It is defined for 2-D matrices only: embeddings, the (tied) output head, norms and biases stay on AdamW.

Which implementation (muon_class): PyTorch's torch.optim.Muon on GPUs without FSDP, this module's Muon
under FSDP2 and on CPU. Both make the same update from the same state (EMA momentum, Nesterov, the
sqrt(max(1, rows / cols)) scale, decoupled weight decay; their updates agree to a cosine of 0.98-1.0, the
difference being bf16 rounding), so a checkpoint of one resumes with the other. Ours is kept where measured (bench/RESULTS.md,
"Muon: ours or torch.optim.Muon"): torch's runs Newton-Schulz in bf16 on every device, on FSDP2 shards
through DTensor collectives inside every iteration, so the same step on 1 and 2 processes differs by ~1.5% of
the update (3e-4 on a 0.02 step), while ours gathers each matrix once and, on CPU, iterates in fp32, so a run
resumed on another process count keeps its loss curve (tests/test_train_ddp.py holds it to 1e-4). On CPU
torch's is 1.26x slower at width 128 and 2.3x faster at width 768 (on this machine's AMX bf16 units; CPUs
without them are slower in bf16).
"""

from __future__ import annotations

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # the quintic of Jordan et al.: fast growth of small singular values


def orthogonalize(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """Approximately U V^T of g = U S V^T by a quintic Newton-Schulz iteration; bf16 on GPU, fp32 on CPU."""
    a, b, c = NS_COEFFICIENTS
    x = g.to(torch.bfloat16 if g.is_cuda else torch.float32)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T  # iterate on the smaller Gram matrix
    x = x / (x.norm() + 1e-7)  # spectral norm <= Frobenius norm <= 1: inside the iteration's basin
    if x.dtype == torch.float32 and x.size(1) >= 2 * x.size(0):
        x = _gram_newton_schulz(x, steps)
    else:
        for _ in range(steps):  # x <- (a I + b A + c A^2) x with A = x x^T; addmm folds the scalings into the matmuls
            gram = x @ x.T
            x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return (x.T if tall else x).to(g.dtype)


def _gram_newton_schulz(x: torch.Tensor, steps: int) -> torch.Tensor:
    """The same iteration for a wide m x n x, carried out on its m x m Gram matrix A = x x^T.

    Each step multiplies x on the left by P = a I + b A + c A^2, a polynomial in A that commutes with it, so
    the next Gram matrix is P A P and x is needed only at the end: P_k ... P_0 x. That costs 2 m^2 n + ~4 m^3
    per step instead of (2 m^2 n + m^3) per step: a third fewer FLOPs at the 3-4x aspect of the attention and
    MLP matrices, which matters where Newton-Schulz runs in fp32 (CPU). fp32 only: in bf16 the product of the
    P's drifts, which the per-step form corrects by recomputing A from x.
    """
    a, b, c = NS_COEFFICIENTS
    gram, product = x @ x.T, None
    for step in range(steps):
        p = torch.addmm(gram, gram, gram, beta=b, alpha=c)
        p.diagonal().add_(a)
        product = p if product is None else p @ product
        if step < steps - 1:
            gram = p @ gram @ p
    return product @ x


def _full(t: torch.Tensor) -> torch.Tensor:
    """A DTensor (FSDP2 shard) as the whole matrix: Newton-Schulz needs all of it."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def _like(update: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """The whole-matrix update as `param` is laid out: this rank's shard of it under FSDP2 (every rank computed
    the same whole update, so each keeps its part without communication)."""
    if not hasattr(param, "device_mesh"):
        return update
    from torch.distributed.tensor import distribute_tensor

    return distribute_tensor(update, param.device_mesh, param.placements, src_data_rank=None)


class Muon(torch.optim.Optimizer):
    """Nesterov momentum (an exponential moving average, as torch.optim.Muon keeps it), orthogonalised, scaled
    by sqrt(max(1, rows / cols)) so tall and wide matrices get updates of the same RMS per element; decoupled
    weight decay as AdamW's."""

    def __init__(
        self,
        params,
        lr: float = 0.02,
        momentum: float = 0.95,
        nesterov: bool = True,
        weight_decay: float = 0.0,
        ns_steps: int = 5,
    ):
        super().__init__(
            params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay, ns_steps=ns_steps)
        )

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                buf = state["momentum_buffer"]
                buf.lerp_(p.grad, 1 - group["momentum"])
                g = p.grad.lerp(buf, group["momentum"]) if group["nesterov"] else buf
                full = _full(g)
                update = orthogonalize(full, group["ns_steps"]) * max(1.0, full.size(0) / full.size(1)) ** 0.5
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(_like(update, p), alpha=-group["lr"])


class Optimizers:
    """Several optimizers stepped as one (Muon + AdamW); torch's checkpoint helpers take the list `parts`."""

    def __init__(self, parts: list[torch.optim.Optimizer]):
        self.parts = parts

    @property
    def param_groups(self) -> list[dict]:
        # read afresh: loading a state dict replaces each part's group dicts
        return [g for part in self.parts for g in part.param_groups]

    def step(self) -> None:
        for part in self.parts:
            part.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)


def muon_class(cuda: bool, sharded: bool) -> type[torch.optim.Optimizer]:
    """torch.optim.Muon where it does what the trainer needs (GPUs without FSDP); ours elsewhere (see above)."""
    return torch.optim.Muon if cuda and not sharded else Muon


def build_optimizer(model: torch.nn.Module, c, fused: bool, sharded: bool = False) -> Optimizers:
    """The configured optimizer; every param group carries `lr_scale`, its lr as a multiple of the schedule's.
    fused: on CUDA (fused AdamW, torch's Muon); sharded: the parameters are FSDP2 shards."""
    groups = model.optimizer_groups(c.weight_decay)
    if c.optimizer == "adamw":
        for group in groups:
            group["lr_scale"] = 1.0
        return Optimizers([torch.optim.AdamW(groups, lr=c.lr, betas=(c.beta1, c.beta2), fused=fused or None)])
    hidden = {id(p) for block in model.h for p in block.parameters() if p.dim() == 2}
    matrices = [p for p in model.parameters() if id(p) in hidden]
    rest = [{**g, "params": [p for p in g["params"] if id(p) not in hidden]} for g in groups]
    for group in rest:
        group["lr_scale"] = 1.0
    adamw = torch.optim.AdamW([g for g in rest if g["params"]], lr=c.lr, betas=(c.beta1, c.beta2), fused=fused or None)
    muon = muon_class(fused, sharded)(
        [{"params": matrices, "lr_scale": c.muon_lr / c.lr}],
        lr=c.muon_lr,
        momentum=c.muon_momentum,
        weight_decay=c.weight_decay,
    )
    return Optimizers([muon, adamw])
