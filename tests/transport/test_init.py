"""`roboloop learn --init`: a learner fine-tuning a trained run starts from its networks and its replay."""
import numpy as np
import torch

from roboloop.checkpoint import load_checkpoint
from roboloop.config import build_train_config
from roboloop.policies.train_loop import Trainer
from roboloop.policies.transport.learner import INIT_FILE, Learner


def test_init_brings_networks_and_prior_data_and_resume_keeps_them(tmp_path):
    cfg = build_train_config("Reach", None, ["sac.compile=false", "demos=2", "learning_starts=100", "eval_every=0",
                                        "transport.learner_nice=0"],
                             steps=300, seed=0)
    sim = Trainer(cfg, run_dir=tmp_path / "sim", progress=False, log=lambda s: None)
    sim.run()
    ckpt = load_checkpoint(tmp_path / "sim" / "checkpoint")
    n_online, n_demo = int(ckpt.replay["online"]["is_start"].sum()), int(ckpt.replay["demo"]["is_start"].sum())
    assert n_online >= 300 and n_demo > 0

    def learner(**kw):
        return Learner(cfg, tmp_path / "robot", "tcp://127.0.0.1:*", progress=False, log=lambda s: None, **kw)
    first = learner(init=tmp_path / "sim" / "checkpoint")
    try:
        assert (len(first.online), len(first.demo)) == (n_online, n_demo)
        assert first.prior_demos and first.received == 0      # prior data is not counted as robot steps
        for name, value in first.agent.state_dict().items():
            torch.testing.assert_close(value, ckpt.model["agent"][name], msg=name)
        batch = first.online.sample(64, np.random.default_rng(0))
        assert np.isin(batch["reward"], ckpt.replay["online"]["reward"]).all()
    finally:
        first.close()
    assert (tmp_path / "robot" / INIT_FILE).read_text().strip() == str((tmp_path / "sim" / "checkpoint").resolve())
    again = learner(resume=True)   # after a crash: the same prior data, before the stored robot transitions
    try:
        assert (len(again.online), len(again.demo)) == (n_online, n_demo)
    finally:
        again.close()
