"""The gradient-taking Adam (policies/optim.py) against torch.optim.Adam, and its two update paths."""
import torch

from roboloop.policies.optim import Adam

SHAPES = [(2, 17, 32), (2, 1, 32), (32, 8), (8,), ()]


def gradients(i):
    g = torch.Generator().manual_seed(i)
    # Alternating scales so that clipping is active on some steps and not on others.
    return [torch.randn(s, generator=g) * (30.0 if i % 2 else 0.01) for s in SHAPES]


def test_foreach_and_per_tensor_updates_are_bit_identical():
    torch.manual_seed(0)
    start = [torch.randn(s) for s in SHAPES]
    a, b = [p.clone() for p in start], [p.clone() for p in start]
    fast, loop = Adam(a, 1e-2, max_grad_norm=1.0), Adam(b, 1e-2, max_grad_norm=1.0, foreach=False)
    for i in range(10):
        assert torch.equal(fast.step(gradients(i)), loop.step(gradients(i)))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert all(not torch.equal(x, y) for x, y in zip(a, start)), "every tensor must have moved"
    assert all(torch.equal(x, y) for x, y in zip(fast.exp_avg_sq, loop.exp_avg_sq))


def test_matches_torch_adam_with_gradient_clipping():
    torch.manual_seed(0)
    ours = [torch.randn(s) for s in SHAPES]
    ref = [p.clone().requires_grad_(True) for p in ours]
    opt, ref_opt = Adam(ours, 1e-2, max_grad_norm=1.0), torch.optim.Adam(ref, lr=1e-2)
    for i in range(10):
        opt.step(gradients(i))
        for p, g in zip(ref, gradients(i)):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(ref, 1.0)
        ref_opt.step()
    for x, y in zip(ours, ref):
        torch.testing.assert_close(x, y.detach(), rtol=1e-5, atol=1e-6)
