"""`roboloop learn` and `roboloop train` share one training loop: with the same config (10 scripted demos,
a demo file, a person intervening) they fill the same demo buffer, and the learner's online buffer holds
the transitions an actor sent, as the trainer's holds those it stepped."""
import threading

import numpy as np

from roboloop.config import build_train_config
from roboloop.envs import env_spec, make_env
from roboloop.hardware.gamepad.virtual import ScriptedPerson
from roboloop.policies.replay import ReplayBuffer
from roboloop.policies.train_loop import Trainer
from roboloop.policies.transport.actor import ActorClient
from roboloop.policies.transport.batch import Step
from roboloop.policies.transport.learner import Learner
from roboloop.record import record

QUIET = dict(progress=False, log=lambda s: None)


def transitions(buf: ReplayBuffer) -> list[tuple]:
    """Every stored transition in insertion order (the buffers here never wrap), as plain tuples."""
    idx = np.flatnonzero(buf.is_start[: buf.filled])
    b = buf.gather(idx)
    return [tuple([*(b["obs"][k][i] for k in sorted(b["obs"])), b["action"][i], b["reward"][i],
                   *(b["next_obs"][k][i] for k in sorted(b["next_obs"])), b["terminated"][i]])
            for i in range(len(idx))]


def assert_same(a: list[tuple], b: list[tuple], what: str) -> None:
    assert len(a) == len(b), f"{what}: {len(a)} vs {len(b)} transitions"
    for n, (x, y) in enumerate(zip(a, b)):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v, err_msg=f"{what}: transition {n} differs")


def test_learn_and_train_with_10_demos_a_demo_file_and_a_person_fill_the_same_buffers(tmp_path):
    demo_file = record(str(tmp_path / "demos.npz"), "Reach", "expert", 2, seed=5, view=False, log=lambda s: None)
    cfg = build_train_config("Reach", None, ["sac.hidden_dims=[16, 16]", "sac.compile=false", "sac.batch_size=16",
                                             "learning_starts=1000", "eval_every=0", "eval_episodes=1",
                                             "checkpoint_every=100000", "transport.learner_nice=0"],
                             steps=90, seed=0, demos=10, demo_file=demo_file)

    person = ScriptedPerson(None, lambda env, t: (t // 5) % 2 == 1)   # drives every other 5 steps
    trainer = Trainer(cfg, run_dir=tmp_path / "train", teleop=person, **QUIET)
    person.attach(trainer.env)
    try:
        trainer.run()
    finally:
        person.close()
    online, demo = transitions(trainer.online), transitions(trainer.demo)
    intervened = [any(_same(t, d) for d in demo) for t in online]
    n_prior = len(demo) - sum(intervened)    # 10 scripted demos and the file's, before the person's steps
    assert 0 < sum(intervened) < len(online) and n_prior >= 10 + 2

    learner = Learner(cfg, tmp_path / "learn", "tcp://127.0.0.1:*", **QUIET)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(r=learner.run()))
    thread.start()
    client = ActorClient(learner.endpoint, name="replayed", log=lambda s: None)
    try:
        client.connect(env_spec(make_env("Reach")), timeout_s=60)
        buf = trainer.online
        for i, t in zip(np.flatnonzero(buf.is_start[: buf.filled]), intervened):
            obs = {k: v[i] for k, v in buf.obs.items()}
            nxt = {k: v[i + 1] for k, v in buf.obs.items()}
            terminated = bool(buf.terminated[i])
            end = not buf.is_start[i + 1]   # the next slot starts no transition: the episode ended here
            client.push(Step(obs, buf.action[i].copy(), float(buf.reward[i]), nxt, terminated, end and not terminated, t))
        assert client.flush(timeout_s=60)
        thread.join(timeout=120)
    finally:
        client.close()
        learner.close()
    assert not thread.is_alive() and result["r"].received == len(online)
    assert_same(transitions(learner.demo), demo, "demo buffer")
    assert_same(transitions(learner.online), online, "online buffer")


def _same(t: tuple, u: tuple) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(t, u))
