"""Interventions reach both buffers; a demo file recorded with the virtual pad round-trips into training."""
import numpy as np
import pytest

from roboloop.checkpoint import SpecMismatchError
from roboloop.config import build_train_config
from roboloop.dataset import DatasetError, load_demos, save_demos
from roboloop.envs import make_env
from roboloop.hardware.gamepad.virtual import ScriptedPerson
from roboloop.policies.train_loop import Trainer
from roboloop.record import drive

TINY = ["sac.hidden_dims=[16, 16]", "sac.compile=false", "sac.batch_size=16", "learning_starts=20", "eval_every=0",
        "eval_episodes=1", "checkpoint_every=100000"]


def test_record_with_the_virtual_pad_load_and_train_from_it(tmp_path):
    env = make_env("PickCube")
    person = ScriptedPerson(env, lambda env, t: True)
    try:
        episodes, spec = drive("PickCube", "gamepad", 3, seed=0, view=False, teleop=person, env=env)
    finally:
        person.close()
    assert sum(e.success for e in episodes) >= 2, "the person drives the expert's actions through the pad"
    assert all(all(e.intervention) for e in episodes)
    path = save_demos(tmp_path / "demos.npz", episodes, spec)
    loaded, meta = load_demos(path)
    assert [len(e.actions) for e in loaded] == [len(e.actions) for e in episodes]
    np.testing.assert_array_equal(loaded[1].actions, episodes[1].actions)
    np.testing.assert_array_equal(loaded[2].observations[-1]["state"], episodes[2].observations[-1]["state"])

    cfg = build_train_config("PickCube", None, TINY + [f"demo_file={path}", "demos=0"], steps=60, seed=0)
    trainer = Trainer(cfg, run_dir=tmp_path / "run", progress=False, log=lambda s: None)
    result = trainer.run()
    assert trainer.demo.num_added == sum(len(e.actions) for e in episodes) and result.updates > 0

    reach = build_train_config("Reach", None, TINY + [f"demo_file={path}"], steps=60, seed=0)
    with pytest.raises(SpecMismatchError):
        Trainer(reach, run_dir=tmp_path / "r2", progress=False, log=lambda s: None)


def test_bad_demo_files_are_refused(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable .npz"):
        load_demos(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", meta=np.array('{"format": "lerobot", "version": 2}'))
    with pytest.raises(DatasetError, match="format 'lerobot' v2, expected 'roboloop-demos' v1"):
        load_demos(tmp_path / "other.npz")
    with pytest.raises(DatasetError, match="not found"):
        load_demos(tmp_path / "missing.npz")


def test_interventions_go_to_the_online_and_the_demo_buffer(tmp_path):
    cfg = build_train_config("PickCube", None, TINY + ["demos=0"], steps=100, seed=0)
    person = ScriptedPerson(None, lambda env, t: (t // 10) % 2 == 1)  # drives every other 10 steps
    trainer = Trainer(cfg, run_dir=tmp_path, progress=False, log=lambda s: None, teleop=person)
    person.attach(trainer.env)
    try:
        trainer.run()
    finally:
        person.close()
    n_demo = trainer.demo.num_added
    assert 0 < n_demo < trainer.step
    # what the demo buffer holds is what the online buffer stored for the same steps: the person's actions
    demo_actions = trainer.demo.state_dict()["action"][:n_demo]
    online_actions = trainer.online.state_dict()["action"][:trainer.step]
    matches = [np.any(np.all(np.isclose(online_actions, a, atol=1e-6), axis=1)) for a in demo_actions]
    assert all(matches)
    assert trainer.intervention_rates and 0 < np.mean([r for _, r in trainer.intervention_rates]) < 1
