"""`train estimate`: compute, GPU time, cost and energy of a training run from C ≈ 6·N·D.

6·N·D counts the matmul FLOPs of the forward (2 per parameter per token) and backward pass (4); attention adds
a few percent at usual sequence lengths and is left out here, as in Kaplan et al. 2020 and the GPT-3 paper
(175B parameters x 300B tokens ≈ 3.15e23 FLOPs).
"""

from __future__ import annotations

from train.config import ConfigError

# Dense tensor-core peak FLOP/s (no sparsity) by dtype, and board power, from the vendors' data sheets. The same
# chip differs by form factor: an H100 PCIe (114 SMs, 350 W) peaks at 756 bf16 TFLOP/s, an SXM at 989. None: the
# GPU has no such tensor-core path (V100: no bf16, no TF32; its fp16 peak is 125 TFLOP/s).
GPUS = {
    "h100-sxm": {"bf16": 989e12, "tf32": 494.7e12, "watts": 700},
    "h100-pcie": {"bf16": 756e12, "tf32": 378e12, "watts": 350},
    "h100-nvl": {"bf16": 835e12, "tf32": 417.5e12, "watts": 400},
    "h200-sxm": {"bf16": 989e12, "tf32": 494.7e12, "watts": 700},
    "h200-nvl": {"bf16": 835e12, "tf32": 417.5e12, "watts": 600},
    "b200": {"bf16": 2250e12, "tf32": 1100e12, "watts": 1000},
    "a100": {"bf16": 312e12, "tf32": 156e12, "watts": 400},
    "l40s": {"bf16": 362e12, "tf32": 183e12, "watts": 350},
    "a10": {"bf16": 125e12, "tf32": 62.5e12, "watts": 150},
    "v100": {"bf16": None, "tf32": None, "fp16": 125e12, "watts": 300},
}
ALIASES = {"h100": "h100-sxm", "h200": "h200-sxm"}
CHINCHILLA_TOKENS_PER_PARAM = 20  # Hoffmann et al. 2022: compute-optimal D ~ 20 N
SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


def parse_count(text: str) -> float:
    """'175B', '300e9', '1.5T', '124M' -> a number."""
    text = str(text).strip()
    scale = SUFFIXES.get(text[-1:].upper())
    try:
        return float(text[:-1]) * scale if scale else float(text)
    except ValueError:
        raise ConfigError(f"expected a number such as 175e9 or 175B, got {text!r}") from None


def gpu_key(name: str, multiprocessors: int) -> str | None:
    """GPUS key of a CUDA device from its name and SM count (an H100 PCIe has 114 SMs, SXM and NVL 132)."""
    name = name.lower()
    family = next((f for f in ("h200", "h100", "b200", "a100", "l40s", "a10", "v100") if f in name), None)
    if family in ("h100", "h200"):
        variant = "nvl" if "nvl" in name else "pcie" if "pcie" in name or multiprocessors == 114 else "sxm"
        return f"{family}-{variant}"
    return family


def peak_for(gpu: str, kind: str) -> float | None:
    """Peak FLOP/s of a GPUS key for bf16 or tf32 (fp32 training uses TF32 tensor cores), None if it has none."""
    return GPUS[ALIASES.get(gpu, gpu)].get(kind)


def estimate(
    params: float,
    tokens: float | None = None,
    gpu: str = "h100",
    gpus: int = 1,
    mfu: float = 0.4,
    price: float | None = None,
    watts: float | None = None,
) -> dict:
    """Compute and cost of training `params` parameters on `tokens` tokens (default: the compute-optimal 20 N)."""
    gpu = ALIASES.get(gpu.lower(), gpu.lower())
    if gpu not in GPUS:
        raise ConfigError(f"--gpu: unknown GPU {gpu!r}; expected one of {', '.join([*ALIASES, *GPUS])}")
    tokens = CHINCHILLA_TOKENS_PER_PARAM * params if tokens is None else tokens
    if not 0 < mfu <= 1 or gpus < 1 or params <= 0 or tokens <= 0:
        raise ConfigError("need params > 0, tokens > 0, gpus >= 1 and 0 < mfu <= 1")
    kind = "bf16" if GPUS[gpu]["bf16"] else "fp16"
    flops = 6 * params * tokens
    gpu_seconds = flops / (GPUS[gpu][kind] * mfu)
    gpu_hours = gpu_seconds / 3600
    watts = GPUS[gpu]["watts"] if watts is None else watts
    return {
        "flops": flops,
        "tokens": tokens,
        "optimal_tokens": CHINCHILLA_TOKENS_PER_PARAM * params,
        "gpu": gpu,
        "kind": kind,
        "peak": GPUS[gpu][kind],
        "gpus": gpus,
        "mfu": mfu,
        "gpu_hours": gpu_hours,
        "wall_days": gpu_seconds / gpus / 86400,
        "cost": gpu_hours * price if price is not None else None,
        "energy_mwh": gpu_hours * watts / 1e6,
        "watts": watts,
    }


def readable_duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:.1f} seconds"


def format_estimate(e: dict, params: float, tokens: float | None) -> str:
    optimal = f"compute-optimal D = {CHINCHILLA_TOKENS_PER_PARAM} x N = {e['optimal_tokens']:.3g} tokens (Chinchilla)"
    lines = [
        f"tokens      D = {e['tokens']:.3g}"
        + (
            "  (none given: the " + optimal + ")"
            if tokens is None
            else f"  ({e['tokens'] / e['optimal_tokens']:.2g} x the {optimal})"
        ),
        f"compute     C = 6 x N x D = 6 x {params:.3g} x {e['tokens']:.3g} = {e['flops']:.3g} FLOPs",
        f"GPU time    {e['gpu_hours']:,.0f} {e['gpu'].upper()}-hours"
        if e["gpu_hours"] >= 10
        else f"GPU time    {readable_duration(e['gpu_hours'] * 3600)} of one {e['gpu'].upper()}",
        f"            at {e['mfu']:.0%} MFU of its {e['peak'] / 1e12:.0f} TFLOP/s {e['kind']} peak",
        f"wall time   {readable_duration(e['wall_days'] * 86400)} on {e['gpus']:,} GPUs",
    ]
    if e["cost"] is not None:
        lines.append(f"cost        ${e['cost']:,.2f}" if e["cost"] < 100 else f"cost        ${e['cost']:,.0f}")
    energy = e["energy_mwh"]
    lines.append(
        f"energy      {energy:,.2f} MWh"
        if energy >= 1
        else f"energy      {energy * 1000:,.2f} kWh"
        if energy >= 1e-3
        else f"energy      {energy * 1e6:,.1f} Wh"
    )
    lines[-1] += f" at {e['watts']:.0f} W per GPU (GPUs only)"
    return "\n".join(lines)
