"""Fixtures shared across test folders."""
import pytest

from roboloop.config import build_train_config
from roboloop.policies.train_loop import Trainer


@pytest.fixture(scope="session")
def trained_pick_cube(tmp_path_factory):
    """The PickCube preset (RLPD with 10 scripted demos, sparse reward), seed 0, trained until an eval reaches
    80% (30k env steps at most): the TrainResult. Trained once per session; the PickCube learning test
    asserts on it, the demo test starts from its checkpoint."""
    # evaluated as the other learning tests are (tests/policies/test_learning.py's STOP_EVAL)
    cfg = build_train_config("PickCube", None, ["stop_at_success=0.8", "eval_episodes=20", "eval_every=500"],
                             steps=30_000, seed=0)
    assert cfg.demos == 10
    return Trainer(cfg, run_dir=tmp_path_factory.mktemp("pick_cube"), progress=False, log=lambda s: None).run()
