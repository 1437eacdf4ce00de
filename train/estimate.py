"""`train estimate`: compute, GPU time, cost and energy of a training run from C ≈ 6·N·D.

6·N·D counts the matmul FLOPs of the forward (2 per parameter per token) and backward pass (4); attention adds
a few percent at usual sequence lengths and is left out here, as in Kaplan et al. 2020 and the GPT-3 paper
(175B parameters x 300B tokens ≈ 3.15e23 FLOPs).
"""
from __future__ import annotations

# Dense bf16 tensor-core peak FLOP/s (no sparsity) and board power, from the vendors' data sheets (SXM parts).
GPU_PEAK_BF16 = {"h100": 989e12, "h200": 989e12, "b200": 2250e12, "a100": 312e12, "l40s": 362e12,
                 "a10": 125e12, "v100": 125e12}
GPU_WATTS = {"h100": 700, "h200": 700, "b200": 1000, "a100": 400, "l40s": 350, "a10": 150, "v100": 300}
SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


def parse_count(text: str) -> float:
    """'175B', '300e9', '1.5T', '124M' -> a number."""
    text = str(text).strip()
    scale = SUFFIXES.get(text[-1:].upper())
    try:
        return float(text[:-1]) * scale if scale else float(text)
    except ValueError:
        raise ValueError(f"expected a number such as 175e9 or 175B, got {text!r}") from None


def estimate(params: float, tokens: float, gpu: str = "h100", gpus: int = 1, mfu: float = 0.4,
             price: float | None = None, watts: float | None = None) -> dict:
    gpu = gpu.lower()
    if gpu not in GPU_PEAK_BF16:
        raise ValueError(f"unknown GPU {gpu!r}; expected one of {', '.join(GPU_PEAK_BF16)}")
    if not 0 < mfu <= 1 or gpus < 1 or params <= 0 or tokens <= 0:
        raise ValueError("need params > 0, tokens > 0, gpus >= 1 and 0 < mfu <= 1")
    flops = 6 * params * tokens
    gpu_seconds = flops / (GPU_PEAK_BF16[gpu] * mfu)
    gpu_hours = gpu_seconds / 3600
    watts = GPU_WATTS[gpu] if watts is None else watts
    return {"flops": flops, "gpu": gpu, "gpus": gpus, "mfu": mfu, "gpu_hours": gpu_hours,
            "wall_days": gpu_seconds / gpus / 86400, "cost": gpu_hours * price if price is not None else None,
            "energy_mwh": gpu_hours * watts / 1e6, "watts": watts}


def format_estimate(e: dict, params: float, tokens: float) -> str:
    lines = [f"compute     C = 6 x N x D = 6 x {params:.3g} x {tokens:.3g} = {e['flops']:.3g} FLOPs",
             f"GPU time    {e['gpu_hours']:,.0f} {e['gpu'].upper()}-hours at {e['mfu']:.0%} MFU "
             f"({GPU_PEAK_BF16[e['gpu']] / 1e12:.0f} TFLOP/s bf16 peak)",
             f"wall time   {e['wall_days']:,.2f} days on {e['gpus']:,} GPUs"]
    if e["cost"] is not None:
        lines.append(f"cost        ${e['cost']:,.0f}")
    lines.append(f"energy      {e['energy_mwh']:,.2f} MWh at {e['watts']:.0f} W per GPU (GPUs only)")
    return "\n".join(lines)
