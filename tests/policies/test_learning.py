"""End-to-end learning: the policy must actually learn (seeded, CPU).

A run stops at its first periodic evaluation over a bar (20 episodes, its own seeds); what is asserted
is the saved checkpoint on 20 other episodes that nothing in training ever saw (policies/held_out.py),
so the asserted rate was not selected on.
"""
import pytest

from roboloop.config import build_train_config
from roboloop.policies.held_out import evaluate_held_out
from roboloop.policies.train_loop import Trainer

# evaluate often, on enough episodes that a lucky eval rarely stops a run early; the held-out check judges it
STOP_EVAL = ["eval_episodes=20", "eval_every=500"]


@pytest.mark.slow
def test_reach_learns_to_90_percent(tmp_path):
    # The shipped Reach preset, with a hard budget; training stops once an eval reaches 90%.
    cfg = build_train_config("Reach", None, ["stop_at_success=0.9", *STOP_EVAL], steps=10_000, seed=0)
    result = Trainer(cfg, run_dir=tmp_path, progress=False, log=lambda s: None).run()
    assert max(rate for _, rate in result.evals) >= 0.9, result.evals
    assert result.steps <= 10_000 + 30
    held_out = evaluate_held_out(result.checkpoint, episodes=20)
    assert held_out.success_rate >= 0.8, (held_out, result.evals)


@pytest.mark.slow
def test_pick_cube_learns_from_ten_demos(trained_pick_cube):
    # RLPD with 10 scripted demos, sparse reward (a random policy lifts the cube in 0 of 200 episodes);
    # trained by the session fixture (tests/conftest.py), which the demo test starts from too.
    result = trained_pick_cube
    assert max(rate for _, rate in result.evals) >= 0.8, result.evals
    held_out = evaluate_held_out(result.checkpoint, episodes=20)
    assert held_out.success_rate >= 0.7, (held_out, result.evals)


@pytest.mark.slow
def test_pick_cube_learns_from_cameras(tmp_path):
    # The shipped PickCubeVision preset: front + wrist images and proprioception, no cube pose, through
    # the frozen pretrained encoder, RLPD from 10 demos, sparse reward (a random policy lifts the cube in
    # 0 of 200 episodes). Seed 0 reaches 80% near 3,500 steps; the held-out bar is well above random.
    cfg = build_train_config("PickCubeVision", None, ["stop_at_success=0.6", "eval_episodes=10", "eval_every=500"],
                             steps=6_000, seed=0)
    assert cfg.sac.freeze_encoder and cfg.sac.image_encoder == "pretrained" and cfg.demos == 10
    result = Trainer(cfg, run_dir=tmp_path, progress=False, log=lambda s: None).run()
    assert max(rate for _, rate in result.evals) >= 0.6, result.evals
    held_out = evaluate_held_out(result.checkpoint, episodes=20)
    assert held_out.success_rate >= 0.5, (held_out, result.evals)


def test_vision_task_trains_end_to_end(tmp_path):
    """Images flow env -> replay (stored once) -> augmented conv encoder -> checkpoint."""
    overrides = ["sac.image_encoder=conv", "sac.hidden_dims=[32, 32]", "sac.compile=false", "sac.batch_size=16",
                 "sac.image_channels=8", "learning_starts=60",
                 "eval_every=0", "eval_episodes=1", "env.image_size=64", "replay_capacity=1000"]
    cfg = build_train_config("PickCubeVision", None, overrides, steps=100, seed=0, demos=1)
    trainer = Trainer(cfg, run_dir=tmp_path, progress=False, log=lambda s: None)
    result = trainer.run()
    assert result.updates > 0 and trainer.online.obs["front"].shape == (1000, 64, 64, 3)
    assert any(k.startswith("encoder.convs.front") for k in trainer.agent.state_dict())
