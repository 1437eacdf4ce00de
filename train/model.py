"""A decoder-only transformer in GPT-2 style or Llama style (one switch), nanoGPT-sized.

gpt2:  learned position embeddings, LayerNorm, GELU MLP (exact erf GELU, as nanoGPT; GPT-2's tanh approximation
       differs by < 1e-3 and its CPU kernel is twice as slow), biases.
llama: rotary position embeddings (RoPE), RMSNorm, SwiGLU MLP, no biases.
Both: causal attention through scaled_dot_product_attention (flash kernels on GPU), input and output embeddings
tied, GPT-2 initialisation (std 0.02; residual projections scaled by 1/sqrt(2 * n_layer) because each layer
adds two of them to the residual stream). Nothing here knows about devices or parallelism (train/parallel.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint


@dataclass
class GPTConfig:
    vocab_size: int
    seq_len: int
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    style: str = "gpt2"
    dropout: float = 0.0

    @property
    def bias(self) -> bool:
        return self.style == "gpt2"


CE_CHUNK_ROWS = 4096  # rows of logits alive at once: 4096 x 50304 fp32 = 0.8 GB at GPT-2's vocabulary


class _ChunkedCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of softmax(h @ w.T) against targets, a chunk of rows at a time.

    The gradients are computed in the forward pass, chunk by chunk, while each chunk's logits exist (as Liger's
    fused linear cross-entropy does), so neither pass holds logits for the whole batch and nothing is recomputed.
    Matmuls run in h's dtype (bf16 under autocast), the softmax in fp32. Targets of -100 are ignored.
    """

    @staticmethod
    def forward(ctx, h, weight, targets):
        w = weight.to(h.dtype)
        valid = targets != -100
        count = valid.sum().clamp(min=1)
        loss = torch.zeros((), device=h.device, dtype=torch.float32)
        grad_h = torch.empty_like(h) if ctx.needs_input_grad[0] else None
        grad_w = torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        for start in range(0, h.size(0), CE_CHUNK_ROWS):
            rows = slice(start, start + CE_CHUNK_ROWS)
            logits = (h[rows] @ w.T).float()
            target, keep = targets[rows].clamp(min=0), valid[rows]
            log_p = torch.log_softmax(logits, dim=-1)  # one vectorised pass (logsumexp + exp are two, slower on CPU)
            picked = log_p.gather(1, target[:, None]).squeeze(1)
            loss -= (picked * keep).sum()
            if grad_h is None and grad_w is None:
                continue
            # d(loss_row)/d(logits) = softmax - one_hot(target), zero for ignored rows, over the batch mean
            grad_logits = log_p.exp_()
            grad_logits.scatter_add_(1, target[:, None], -torch.ones_like(picked)[:, None])
            grad_logits.mul_((keep / count)[:, None])
            grad_logits = grad_logits.to(h.dtype)
            if grad_h is not None:
                grad_h[rows] = grad_logits @ w
            if grad_w is not None:
                grad_w += (grad_logits.T @ h[rows]).float()
        ctx.save_for_backward(grad_h, grad_w)
        ctx.weight_dtype = weight.dtype
        return loss / count

    @staticmethod
    def backward(ctx, grad_loss):
        grad_h, grad_w = ctx.saved_tensors
        grad_h = grad_h * grad_loss.to(grad_h.dtype) if grad_h is not None else None
        grad_w = (grad_w * grad_loss).to(ctx.weight_dtype) if grad_w is not None else None
        return grad_h, grad_w, None


def chunked_cross_entropy(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """F.cross_entropy(h @ weight.T, targets) (mean, ignore_index -100) without the full logits (N, V)."""
    return _ChunkedCrossEntropy.apply(h, weight, targets)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)


def make_norm(config: GPTConfig) -> nn.Module:
    return nn.LayerNorm(config.n_embd) if config.style == "gpt2" else RMSNorm(config.n_embd)


def rotary_tables(seq_len: int, head_dim: int, theta: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x, cos, sin):
    """Rotate pairs (first half, second half) of each head's channels by position-dependent angles."""
    x1, x2 = x.float().chunk(2, dim=-1)
    cos, sin = cos[: x.size(-2)], sin[: x.size(-2)]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).type_as(x)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.dropout, self.rotary = config.n_head, config.dropout, config.style == "llama"
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.c_proj.residual_scaled = True

    def forward(self, x, rope=None):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if self.rotary:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.swiglu = config.style == "llama"
        # SwiGLU has three matrices; 8/3 * n_embd hidden keeps its parameter count that of a 4x GELU MLP
        hidden = 64 * math.ceil(8 * config.n_embd / 3 / 64) if self.swiglu else 4 * config.n_embd
        self.c_fc = nn.Linear(config.n_embd, (2 if self.swiglu else 1) * hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.c_proj.residual_scaled = True

    def forward(self, x):
        h = self.c_fc(x)
        if self.swiglu:
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        else:
            h = F.gelu(h)
        return self.c_proj(h)


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1, self.attn = make_norm(config), CausalSelfAttention(config)
        self.ln_2, self.mlp = make_norm(config), MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, rope=None):
        x = x + self.drop(self.attn(self.ln_1(x), rope))
        return x + self.drop(self.mlp(self.ln_2(x)))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.seq_len, config.n_embd) if config.style == "gpt2" else None
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = make_norm(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one matrix reads tokens in and scores them out
        self.checkpoint_blocks = False  # activation checkpointing: recompute blocks in the backward
        if config.style == "llama":
            cos, sin = rotary_tables(config.seq_len, config.n_embd // config.n_head)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            std = 0.02 / math.sqrt(2 * self.config.n_layer) if getattr(module, "residual_scaled", False) else 0.02
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameters; position embeddings left out by default (they do no matmul work per token)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.wpe.weight.numel() if non_embedding and self.wpe is not None else n

    def flops_per_token(self) -> float:
        """Training FLOPs per token: 6N for the matmuls (forward 2N, backward 4N) plus attention's
        12 * n_layer * n_embd * seq_len (PaLM, Chowdhery et al. 2022, appendix B; llm.c counts the same)."""
        c = self.config
        return 6 * self.num_params() + 12 * c.n_layer * c.n_embd * c.seq_len

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """(logits (B, T, V), None); with targets (None, L), L = -1/(B*T) * sum over positions of log P(x_t | x_<t).

        With targets the logits are never materialised whole (chunked_cross_entropy): at a 50k vocabulary they
        would be the largest tensor of the step."""
        T = idx.size(1)
        if T > self.config.seq_len:
            raise ValueError(f"sequence of {T} tokens is longer than the model's seq_len {self.config.seq_len}")
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))
        x = self.drop(x)
        rope = (self.rope_cos, self.rope_sin) if self.wpe is None else None
        for block in self.h:
            if self.checkpoint_blocks and self.training:
                x = torch.utils.checkpoint.checkpoint(block, x, rope, use_reentrant=False)
            else:
                x = block(x, rope)
        x = self.ln_f(x)
        if targets is None:
            return self.lm_head(x), None
        return None, chunked_cross_entropy(x.reshape(-1, x.size(-1)), self.lm_head.weight, targets.reshape(-1))

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on matrices only: norms, biases and embeddings (all < 2-D, or the tied embedding) keep
        theirs, since shrinking them toward zero only fights the normalisation or the token statistics."""
        embeddings = {id(self.wte.weight)} | ({id(self.wpe.weight)} if self.wpe is not None else set())
        decay, no_decay = [], []
        for p in self.parameters():
            (decay if p.dim() >= 2 and id(p) not in embeddings else no_decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.config.seq_len :])
            logits = logits[:, -1, :].float()
            if temperature <= 0:
                next_id = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                next_id = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            idx = torch.cat([idx, next_id], dim=1)
        return idx
