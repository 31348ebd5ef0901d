import torch

from roboloop.policies.train_loop import Trainer

from .conftest import tiny_config

QUIET = dict(progress=False, log=lambda s: None)


def test_resume_gives_the_same_parameters_as_an_uninterrupted_run(tmp_path):
    cfg = tiny_config(steps=1000)
    first = Trainer(cfg, run_dir=tmp_path / "a", **QUIET).run()
    resumed = Trainer.resume(first.checkpoint, steps=1500, **QUIET)
    assert resumed.step == first.steps
    resumed_result = resumed.run()

    straight = Trainer(tiny_config(steps=1500), run_dir=tmp_path / "b", **QUIET)
    straight_result = straight.run()

    assert resumed_result.steps == straight_result.steps > 1500 - 1
    assert resumed_result.updates == straight_result.updates
    a, b = resumed.agent.state_dict(), straight.agent.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    oa, ob = resumed.agent.critic_opt.state_dict(), straight.agent.critic_opt.state_dict()
    assert torch.equal(oa["t"], ob["t"])
    for x, y in zip(oa["exp_avg_sq"], ob["exp_avg_sq"], strict=True):
        assert torch.equal(x, y)


def test_resume_without_identical_rng_would_differ(tmp_path):
    """Guard that the test above can fail: two runs with different seeds end with different weights."""
    a = Trainer(tiny_config(steps=300), run_dir=tmp_path / "a", **QUIET)
    a.run()
    cfg = tiny_config(steps=300)
    cfg.seed = 4
    b = Trainer(cfg, run_dir=tmp_path / "b", **QUIET)
    b.run()
    assert not torch.equal(a.agent.actor.head.weight, b.agent.actor.head.weight)
