import torch
from torch.distributions import Normal

from roboloop.policies.networks import (CriticEnsemble, EnsembleLayerNorm, EnsembleLinear, SquashedGaussianActor,
                                        random_shift)


def test_squashed_gaussian_log_prob_matches_change_of_variables():
    torch.manual_seed(0)
    actor = SquashedGaussianActor(6, 3, (32, 32))
    feat = torch.randn(64, 6)
    torch.manual_seed(1)
    a, logp = actor.sample(feat)
    mu, log_std = actor(feat)
    torch.manual_seed(1)
    u = mu + log_std.exp() * torch.randn_like(mu)
    expected = Normal(mu, log_std.exp()).log_prob(u).sum(-1) - torch.log(1 - torch.tanh(u) ** 2 + 1e-12).sum(-1)
    assert torch.allclose(a, torch.tanh(u))
    assert torch.allclose(logp, expected, atol=1e-3)
    assert a.abs().max() < 1.0


def test_ensemble_linear_equals_independent_layers():
    torch.manual_seed(0)
    layer = EnsembleLinear(3, 5, 4)
    x = torch.randn(3, 7, 5)
    out = layer(x)
    for e in range(3):
        ref = x[e] @ layer.weight[e] + layer.bias[e]
        assert torch.allclose(out[e], ref, atol=1e-6)


def test_critic_members_are_independent_and_layer_normed():
    torch.manual_seed(0)
    critic = CriticEnsemble(5, 2, (16, 16), ensemble_size=4, layer_norm=True)
    q = critic(torch.randn(8, 5), torch.randn(8, 2))
    assert q.shape == (4, 8)
    # different initializations -> different members
    assert not torch.allclose(q[0], q[1])
    # a gradient through member 0 touches only member 0's weights
    critic.zero_grad()
    q[0].sum().backward()
    # every parameter (linear and LayerNorm gain/bias) is per member
    for p in critic.parameters():
        assert p.grad[0].abs().sum() > 0 and p.grad[1:].abs().sum() == 0
    assert any(isinstance(m, EnsembleLayerNorm) for m in critic.hidden)


def test_ensemble_layer_norm_matches_layer_norm_per_member():
    torch.manual_seed(0)
    eln = EnsembleLayerNorm(3, 8)
    with torch.no_grad():
        eln.weight.normal_()
        eln.bias.normal_()
    x = torch.randn(3, 5, 8)
    for e in range(3):
        ref = torch.nn.functional.layer_norm(x[e], (8,), eln.weight[e, 0], eln.bias[e, 0])
        assert torch.allclose(eln(x)[e], ref, atol=1e-5)


def test_random_shift_is_an_integer_translation_within_pad():
    torch.manual_seed(0)
    img = torch.randint(0, 255, (4, 16, 16, 3), dtype=torch.uint8)
    out = random_shift(img, pad=2)
    assert out.shape == img.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(img.permute(0, 3, 1, 2).float(), (2, 2, 2, 2), mode="replicate")
    for b in range(4):
        found = any(torch.equal(padded[b, :, dy:dy + 16, dx:dx + 16].permute(1, 2, 0).to(torch.uint8), out[b])
                    for dy in range(5) for dx in range(5))
        assert found, f"sample {b} is not a shifted crop"
    assert not all(torch.equal(out[b], img[b]) for b in range(4))


def test_low_precision_keeps_float32_outputs_and_stays_close():
    torch.manual_seed(0)
    critic = CriticEnsemble(5, 2, (64, 64), ensemble_size=2)
    feat, act = torch.randn(16, 5), torch.randn(16, 2)
    q32 = critic(feat, act)
    critic.low_precision = True
    q16 = critic(feat, act)
    assert q16.dtype == torch.float32
    assert torch.allclose(q16, q32, atol=0.05), (q16 - q32).abs().max()
    assert not torch.equal(q16, q32)  # the bf16 path really ran


def test_auto_precision_is_bfloat16_only_where_the_cpu_computes_it():
    from pathlib import Path

    import pytest

    from roboloop.policies.networks import native_bf16, resolve_low_precision
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to read the CPU's flags from")
    flags = set(cpuinfo.read_text().split())
    # oneDNN also accepts bf16 on plain AVX-512 by emulating it, which is slower than float32.
    assert native_bf16() == bool(flags & {"avx512_bf16", "amx_bf16"})
    assert resolve_low_precision("auto") == native_bf16()
    assert resolve_low_precision("bfloat16") and not resolve_low_precision("float32")
