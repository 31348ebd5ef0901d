"""End-to-end learning: the policy must actually learn (seeded, CPU)."""
import pytest

from roboloop.config import build_train_config
from roboloop.policies.train_loop import Trainer


@pytest.mark.slow
def test_reach_learns_to_90_percent(tmp_path):
    # The shipped Reach preset, with a hard budget; training stops once an eval reaches 90%.
    cfg = build_train_config("Reach", None, ["stop_at_success=0.9", "eval_episodes=20"], steps=8000, seed=0)
    result = Trainer(cfg, run_dir=tmp_path, progress=False, log=lambda s: None).run()
    assert max(rate for _, rate in result.evals) >= 0.9, result.evals
    # the saved policy, evaluated again at the very end, holds up
    assert result.final_eval.success_rate >= 0.8, result.evals
    assert result.steps <= 8000 + 30
