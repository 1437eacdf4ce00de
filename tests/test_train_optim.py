"""train.optim: Muon against an independent reference of the published algorithm, and the parameter split."""

from __future__ import annotations

import pytest
import torch

from train.config import TrainConfig
from train.model import GPT, GPTConfig
from train.optim import Muon, build_optimizer, orthogonalize


def reference_newton_schulz(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """Keller Jordan's zeropower_via_newtonschulz5, in fp32."""
    a, b, c = (3.4445, -4.7750, 2.0315)
    x = g.float()
    if g.size(-2) > g.size(-1):
        x = x.mT
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.mT if g.size(-2) > g.size(-1) else x


def reference_muon_step(param, grad, momentum, lr, beta=0.95):
    """The reference's EMA form: momentum.lerp_(grad, 1 - beta); update = grad.lerp(momentum, beta). It differs from
    Muon's sum form by the factor (1 - beta) only, which the orthogonalisation removes."""
    momentum.lerp_(grad, 1 - beta)
    update = reference_newton_schulz(grad.lerp(momentum, beta))
    update *= max(1, grad.size(-2) / grad.size(-1)) ** 0.5
    param.add_(update, alpha=-lr)


@pytest.mark.parametrize("shape", [(48, 16), (16, 40)])
def test_muon_matches_the_reference_over_several_steps(shape):
    torch.manual_seed(0)
    ours = torch.nn.Parameter(torch.randn(shape) * 0.1)
    theirs, momentum = ours.detach().clone(), torch.zeros(shape)
    optimizer = Muon([ours], lr=0.02, momentum=0.95)
    for _ in range(4):
        grad = torch.randn(shape)
        ours.grad = grad.clone()
        optimizer.step()
        reference_muon_step(theirs, grad.clone(), momentum, lr=0.02)
        assert torch.allclose(ours.detach(), theirs, atol=1e-5), (ours.detach() - theirs).abs().max()


def test_orthogonalize_flattens_the_spectrum():
    torch.manual_seed(0)
    g = torch.randn(64, 32) @ torch.diag(torch.logspace(-1, 1, 32))  # singular values over two decades
    assert torch.linalg.cond(g) > 50
    singular = torch.linalg.svdvals(orthogonalize(g))
    assert singular.min() > 0.6 and singular.max() < 1.25  # the quintic's known band around 1


def test_muon_takes_the_block_matrices_and_adamw_the_rest():
    model = GPT(GPTConfig(vocab_size=96, seq_len=16, n_layer=2, n_head=2, n_embd=32))
    optimizer = build_optimizer(model, TrainConfig(optimizer="muon", lr=3e-3, muon_lr=0.02), fused=False)
    muon, adamw = optimizer.parts
    names = {id(p): n for n, p in model.named_parameters()}
    on_muon = {names[id(p)] for g in muon.param_groups for p in g["params"]}
    on_adamw = {names[id(p)] for g in adamw.param_groups for p in g["params"]}
    assert on_muon == {n for n, p in model.named_parameters() if n.startswith("h.") and p.dim() == 2}
    assert {"wte.weight", "wpe.weight", "ln_f.weight"} <= on_adamw and not on_muon & on_adamw
    assert len(on_muon) + len(on_adamw) == len(list(model.parameters()))
    assert muon.param_groups[0]["lr_scale"] == pytest.approx(0.02 / 3e-3)


def test_torch_muon_makes_the_same_update_and_its_checkpoint_resumes_with_ours():
    """build_optimizer uses torch.optim.Muon on GPUs without FSDP and ours elsewhere: the two must make the same
    update (torch's Newton-Schulz is bf16, ours fp32 on CPU: equal up to that rounding) and keep the momentum in
    the same form, so a checkpoint written by one resumes with the other."""
    from train.optim import muon_class

    assert muon_class(cuda=True, sharded=False) is torch.optim.Muon
    assert muon_class(cuda=True, sharded=True) is Muon and muon_class(cuda=False, sharded=False) is Muon
    torch.manual_seed(0)
    start = torch.randn(96, 32) * 0.1
    grads = [torch.randn(96, 32) for _ in range(4)]
    theirs, ours = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    torch_muon = torch.optim.Muon([theirs], lr=0.02, momentum=0.95, weight_decay=0.1)
    our_muon = Muon([ours], lr=0.02, momentum=0.95, weight_decay=0.1)
    for grad in grads[:2]:
        for p, optimizer in ((theirs, torch_muon), (ours, our_muon)):
            p.grad = grad.clone()
            optimizer.step()
    cosine = lambda a, b: torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()
    assert cosine(theirs.detach() - start, ours.detach() - start) > 0.99
    resumed = torch.nn.Parameter(theirs.detach().clone())  # torch's checkpoint, resumed with ours
    resumed_muon = Muon([resumed], lr=0.02, momentum=0.95, weight_decay=0.1)
    resumed_muon.load_state_dict(torch_muon.state_dict())
    before = theirs.detach().clone()
    for grad in grads[2:]:
        for p, optimizer in ((theirs, torch_muon), (resumed, resumed_muon)):
            p.grad = grad.clone()
            optimizer.step()
    # 0.98 here (bf16 rounding); the old sum-form momentum of ours, resumed from torch's EMA buffer, gave 0.82
    assert cosine(theirs.detach() - before, resumed.detach() - before) > 0.97
