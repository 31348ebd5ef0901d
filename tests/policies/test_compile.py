"""The compiled SAC update (SACConfig.compile, the default) computes what the eager one computes."""
import pytest
import torch

from roboloop.policies.sac import SAC, SACConfig

from .test_sac import image_batch


def state_batch(b=64, d=6, a=3):
    return {"obs": {"state": torch.randn(b, d)}, "next_obs": {"state": torch.randn(b, d)},
            "action": torch.rand(b, a) * 2 - 1, "reward": torch.randn(b), "terminated": (torch.rand(b) < 0.2).float()}


def twins(shapes, act_dim, **kw):
    """Two agents with identical weights and RNG state, one compiled and one eager."""
    agents = []
    for compile in (True, False):
        torch.manual_seed(0)
        agents.append(SAC(shapes, act_dim, SACConfig(matmul_precision="float32", compile=compile, **kw)))
    return agents


@pytest.mark.parametrize("case", ["state", "images"])
def test_compiled_update_matches_eager(case):
    if case == "state":  # ensemble of 4 with a REDQ subset of 2, UTD 2, backup entropy on
        compiled, eager = twins({"state": (6,)}, 3, hidden_dims=(64, 64), num_critics=4, num_min_critics=2,
                                backup_entropy=True)
        make = state_batch
    else:  # two cameras through the shared conv encoder, DrQ shifts drawn from the same RNG stream
        shapes = {"state": (3,), "front": (32, 32, 3), "wrist": (32, 32, 3)}
        compiled, eager = twins(shapes, 2, hidden_dims=(32, 32), image_channels=8, image_feature_dim=16)
        make = image_batch
    torch.manual_seed(1)
    batches = [make() for _ in range(6)]
    before = {k: v.clone() for k, v in eager.state_dict().items()}
    for agent in (compiled, eager):
        torch.manual_seed(2)  # the same noise, REDQ subsets and image shifts for both
        for i in range(0, 6, 2):
            info = agent.update(batches[i:i + 2])
        assert torch.isfinite(info["critic_loss"]) and torch.isfinite(info["actor_loss"])
    after = eager.state_dict()
    assert sum(not torch.equal(before[k], after[k]) for k in before) > len(before) // 2, "the updates must train"
    for (name, c), e in zip(compiled.state_dict().items(), after.values()):
        torch.testing.assert_close(c, e, rtol=1e-4, atol=1e-5, msg=lambda m: f"{name}: {m}")
    for c, e in zip(compiled.critic_opt.exp_avg_sq, eager.critic_opt.exp_avg_sq):
        torch.testing.assert_close(c, e, rtol=1e-3, atol=1e-12)


def test_a_failing_compiler_falls_back_to_eager_with_a_warning():
    import torch._inductor.config as inductor_config
    compiled, eager = twins({"state": (6,)}, 3, hidden_dims=(16, 16))
    torch.manual_seed(1)
    batch = state_batch()
    # config.patch, not monkeypatch: monkeypatch's undo deletes torch's config entries, and every later
    # compile in the session then fails. fx_graph_cache off: a cached kernel would skip the compiler.
    with inductor_config.patch({"cpp.cxx": ("/nonexistent/c++",), "fx_graph_cache": False}), \
            pytest.warns(RuntimeWarning, match="torch.compile failed"):
        torch.manual_seed(2)
        compiled.update([batch])
    assert inductor_config.fx_graph_cache is not None and inductor_config.cpp.cxx != ("/nonexistent/c++",)
    torch.manual_seed(2)
    eager.update([batch])
    for c, e in zip(compiled.state_dict().values(), eager.state_dict().values()):
        assert torch.equal(c, e)
