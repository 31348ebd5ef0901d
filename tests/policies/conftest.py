import pytest

from roboloop.config import build_train_config

TINY = ["sac.hidden_dims=[32, 32]", "sac.compile=false", "sac.batch_size=32", "learning_starts=100", "eval_every=0",
        "eval_episodes=2", "checkpoint_every=100000"]


def tiny_config(task="Reach", steps=300, extra=()):
    return build_train_config(task, None, TINY + list(extra), steps=steps, seed=3)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A small Reach run's checkpoint folder (trained once per test session)."""
    from roboloop.policies.train_loop import Trainer
    out = tmp_path_factory.mktemp("tiny_run")
    return Trainer(tiny_config(), run_dir=out, progress=False, log=lambda s: None).run().checkpoint
