"""train.model: the loss definition, causality, tying, initialisation, optimizer groups."""

from __future__ import annotations

import math

import pytest
import torch

from train import model as model_module
from train.model import GPT, GPTConfig, chunked_cross_entropy


def tiny(style: str) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=96, seq_len=16, n_layer=2, n_head=2, n_embd=32, style=style))


@pytest.mark.parametrize("style", ["gpt2", "llama"])
def test_loss_is_mean_negative_log_likelihood(style):
    model = tiny(style)
    x = torch.randint(0, 96, (3, 16))
    y = torch.randint(0, 96, (3, 16))
    logits, _ = model(x)
    _, loss = model(x, y)
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    expected = -log_probs.gather(-1, y.unsqueeze(-1)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.item() == pytest.approx(math.log(96), rel=0.05)  # small init: close to uniform


@pytest.mark.parametrize("style", ["gpt2", "llama"])
def test_attention_is_causal(style):
    model = tiny(style).eval()
    x = torch.randint(0, 96, (1, 16))
    changed = x.clone()
    changed[0, 10:] = (changed[0, 10:] + 1) % 96
    a, _ = model(x)
    b, _ = model(changed)
    assert torch.allclose(a[0, :10], b[0, :10], atol=1e-6)
    assert not torch.allclose(a[0, 10:], b[0, 10:])


def test_styles_differ_as_specified():
    gpt2, llama = tiny("gpt2"), tiny("llama")
    assert gpt2.wpe is not None and isinstance(gpt2.ln_f, torch.nn.LayerNorm)
    assert llama.wpe is None and not any(n.endswith("bias") for n, _ in llama.named_parameters())
    assert llama.h[0].mlp.c_fc.out_features == 2 * llama.h[0].mlp.c_proj.in_features  # SwiGLU gate + up
    for model in (gpt2, llama):
        assert model.lm_head.weight is model.wte.weight


def test_gpt2_initialisation_scales_residual_projections():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=512, seq_len=32, n_layer=8, n_head=4, n_embd=256))
    assert model.h[0].attn.c_attn.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.h[0].mlp.c_proj.weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)


def test_no_weight_decay_on_norms_biases_embeddings():
    model = tiny("gpt2")
    decay, no_decay = model.optimizer_groups(0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(p.dim() == 2 and "wte" not in names[id(p)] and "wpe" not in names[id(p)] for p in decay["params"])
    assert {names[id(p)] for p in no_decay["params"]} >= {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_flops_per_token_counts_matmuls_and_attention():
    model = tiny("gpt2")
    n = sum(p.numel() for p in model.parameters()) - 16 * 32
    assert model.flops_per_token() == 6 * n + 12 * 2 * 32 * 16


@pytest.mark.parametrize("chunk", [7, 4096])
def test_chunked_cross_entropy_equals_full_cross_entropy(monkeypatch, chunk):
    """Loss and both gradients within 1e-5 of F.cross_entropy on the whole logits, also with ignored targets
    and a chunk size that does not divide the rows."""
    monkeypatch.setattr(model_module, "CE_CHUNK_ROWS", chunk)
    torch.manual_seed(0)
    h = torch.randn(50, 32, requires_grad=True)
    w = (0.3 * torch.randn(200, 32)).requires_grad_()
    targets = torch.randint(0, 200, (50,))
    targets[[3, 17]] = -100
    full = torch.nn.functional.cross_entropy(h @ w.T, targets)
    full_grads = torch.autograd.grad(2.5 * full, (h, w))
    chunked = chunked_cross_entropy(h, w, targets)
    chunked_grads = torch.autograd.grad(2.5 * chunked, (h, w))
    assert chunked.item() == pytest.approx(full.item(), abs=1e-5)
    for a, b in zip(chunked_grads, full_grads):
        assert torch.allclose(a, b, atol=1e-5)
