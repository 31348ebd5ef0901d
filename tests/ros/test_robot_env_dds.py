"""The robot path is the sim path: RobotEnv + the checkpoint's wrappers + the shared actor loop inside the
actor node, over real DDS between real processes.

* the person's success button ends the robot episode with reward 1 and a cube knocked off the table ends
  one as `terminated`, and both reach the learner's store so;
* a policy trained with the `history` and `relative_frame` wrappers (behaviour-cloned from the Reach
  expert on the wrapped observations: 26 numbers, positions relative to the home pose) succeeds through
  the graph as it does in sim.
"""
import re
import signal
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Vector3
from std_msgs.msg import String

from .ros_helpers import PY, actor_stats, start_learner, wait_for


def episodes(output: str) -> list[str]:
    """The actor's episode log lines ("episode N: success in T steps, ...")."""
    return [line for line in output.splitlines() if "]: episode " in line]


def test_success_button_and_a_knocked_off_cube_reach_the_learner_store(ros_node, spawn, tmp_path):
    from roboloop.config import build_train_config
    from roboloop.envs import env_spec, make_env
    from roboloop.policies.train_loop import Trainer
    from roboloop.policies.transport.store import TransitionStore
    from roboloop.policies.transport.wire import decode, record_to_frames
    cfg = build_train_config("PickCube", None, ["sac.compile=false"], steps=0, seed=0)
    ckpt = str(Trainer(cfg, run_dir=tmp_path / "ckpt", progress=False, log=lambda s: None).save())
    diag = []
    sub = ros_node.create_subscription(DiagnosticArray, "/diagnostics", diag.append, 50)  # noqa: F841
    button = ros_node.create_publisher(String, "/episode_event", 10)
    push = ros_node.create_publisher(Vector3, "/cube_push", 10)
    run = tmp_path / "learner"
    learner, endpoint = start_learner(spawn, ckpt, run, 100_000, 100_000, bind_timeout=60)
    launcher = spawn(PY, "-m", "roboloop.cli", "launch", "sim.launch.xml", f"checkpoint:={ckpt}",
                     f"learner:={endpoint}", "task:=roboloop/PickCube-v0",
                     "cameras:=false", "real_time_factor:=2.0")
    logs = lambda: f"{launcher.output[-3000:]}\n{learner.output[-2000:]}"  # noqa: E731
    wait_for(lambda: int(actor_stats(diag).get("steps", 0)) >= 3, 90, f"the actor stepping:\n{logs()}")

    n = len(episodes(launcher.output))
    button.publish(String(data="success"))   # what teleop_node sends for the pad's success button
    wait_for(lambda: any(": success in " in e for e in episodes(launcher.output)[n:]), 10,
             f"the success button to end an episode:\n{logs()}")
    n = len(episodes(launcher.output))
    limit = env_spec(make_env("PickCube"))["max_episode_steps"]

    def knocked_off() -> bool:   # a failure before the step limit: a termination, not a truncation
        return any(int(m.group(1)) < limit for e in episodes(launcher.output)[n:]
                   if (m := re.search(r": failure in (\d+) steps", e)))
    # A push that lands while the sim resets the scene is undone by the reset: push until one ends an episode.
    deadline = time.monotonic() + 20
    while not knocked_off():
        if time.monotonic() > deadline:
            pytest.fail(f"no push knocked the cube off the table within 20 s:\n{logs()}")
        push.publish(Vector3(x=4.0, y=0.0, z=0.0))   # m/s: the cube slides off the far edge of the table
        time.sleep(0.3)
    k = len(diag)   # the actor keeps stepping: wait for a report caught between a batch's ack and the next step
    wait_for(lambda: any(d.status[0].name.endswith("actor") and actor_stats([d])["unacked"] == "0"
                         and actor_stats([d])["queue"] == "0" for d in diag[k + 1:]), 30,
             f"the learner to acknowledge every transition:\n{logs()}")
    learner.stop(signal.SIGINT)

    ends = []   # (reward, terminated, truncated) of every episode's last step in the store
    for payload in TransitionStore(run / "transitions.rlog"):
        a = decode(record_to_frames(payload)).arrays
        ends += [(float(a["reward"][i]), bool(a["terminated"][i]), bool(a["truncated"][i]))
                 for i in np.flatnonzero(a["terminated"] | a["truncated"])]
    print(f"episode ends in the store (reward, terminated, truncated): {ends}")
    assert (1.0, True, False) in ends, ends    # the success button: reward 1, terminated
    assert (0.0, True, False) in ends, ends    # the cube off the table: terminated (not a step-limit truncation)


@pytest.fixture(scope="module")
def history_relative_reach(tmp_path_factory):
    """A Reach policy behind `history` (length 2) and `relative_frame`, behaviour-cloned from the expert on
    the wrapped observations; returns (checkpoint, its success rate in sim)."""
    import torch
    from roboloop.config import build_train_config
    from roboloop.policies.evaluate import evaluate
    from roboloop.policies.train_loop import Trainer
    from roboloop.sim import make_expert
    stack = "[{type: history, length: 2}, {type: relative_frame}]"
    cfg = build_train_config("Reach", None, ["sac.compile=false", "sac.hidden_dims=[64, 64]", f"wrappers={stack}"],
                             steps=0, seed=0)
    trainer = Trainer(cfg, run_dir=tmp_path_factory.mktemp("reach"), progress=False, log=lambda s: None)
    env, agent = trainer.eval_env, trainer.agent
    assert env.observation_space["state"].shape == (26,)
    obs_l, act_l = [], []
    for ep in range(40):
        obs, _ = env.reset(seed=1000 + ep)
        expert, done = make_expert(env), False
        while not done:
            a = expert.act()
            obs_l.append(obs["state"])
            act_l.append(a)
            obs, _, terminated, truncated, _ = env.step(a)
            done = terminated or truncated
    x = torch.as_tensor(np.stack(obs_l))
    y = torch.as_tensor(np.clip(np.stack(act_l), -0.97, 0.97))
    params = [*agent.encoder.parameters(), *agent.actor.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, 1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        idx = torch.randint(0, len(x), (256,), generator=gen)
        loss = ((agent.actor.deterministic(agent.encoder({"state": x[idx]})) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in params:
        p.requires_grad_(False)
    sim = evaluate(lambda o: agent.act(o, deterministic=True), env, 10, seed=0)
    return str(trainer.save()), sim.success_rate


def test_a_history_relative_frame_policy_succeeds_through_the_graph_as_in_sim(spawn, history_relative_reach):
    ckpt, sim_rate = history_relative_reach
    assert sim_rate >= 0.9, sim_rate
    launcher = spawn(PY, "-m", "roboloop.cli", "launch", "sim.launch.xml", f"checkpoint:={ckpt}",
                     "task:=roboloop/Reach-v0", "deterministic:=true", "cameras:=false")
    wait_for(lambda: len(episodes(launcher.output)) >= 10, 90, f"10 episodes:\n{launcher.output[-3000:]}")
    assert re.search(r"wrappers \['history', 'relative_frame'\]", launcher.output), launcher.output[-3000:]
    outcomes = [": success in " in e for e in episodes(launcher.output)[:10]]
    print(f"history + relative_frame Reach policy: sim {sim_rate:.0%}, through ROS {np.mean(outcomes):.0%}")
    print("\n".join(episodes(launcher.output)[:10]))
    assert np.mean(outcomes) >= sim_rate - 0.2, launcher.output[-3000:]
