"""The whole ROS 2 loop with the mobile base, over real DDS between real processes and real pyzmq:
base_sim.launch.xml starts the MuJoCo base with its forward camera (sim_base_node), the scripted person
(the DWA planner on an SDL virtual pad) with teleop, the base safety node and the actor (an untrained
base-Nav policy); `roboloop learn --init` trains on what the actor streams and sends weights back.

One graph run checks, in order: /scan (LaserScan), /odom (Odometry) and the camera image arrive with the
task's beams, frames and size, and /tf (tf2_msgs/TFMessage, built into the venv from its upstream
definition) carries odom -> base_link; the learner finishes, with the person's transitions (and the
policy's) in its store and its weights in the actor; the base obeyed /cmd_vel as a plain Twist
(cmd_vel_stamped:=false) and drove, /tf following it with the odometry's pose; the lidar stop held for
every command the base received, and fired; and when the actor is SIGKILLed the safety watchdog stops the
base within its 200 ms timeout.
"""
import os
import signal
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, LaserScan
from std_msgs.msg import Bool
from tf2_msgs.msg import TFMessage

from .ros_helpers import PY, actor_stats, node_stats, start_learner, wait_for
from .test_actor_safety_dds import child_pid

STOP_DISTANCE = 0.4   # m; the lidar stop of this run (clutter and walls come closer than that, ahead or beside)


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory):
    from roboloop.config import build_train_config
    from roboloop.policies.train_loop import Trainer
    cfg = build_train_config("base-nav", None, ["sac.compile=false", "demos=0"], steps=0, seed=0)
    return str(Trainer(cfg, run_dir=tmp_path_factory.mktemp("ckpt"), progress=False, log=lambda s: None).save())


def lidar_stop_violations(cmds, scans, stop_distance: float) -> list[str]:
    """Commands (t, Twist) that moved the base toward a lidar reading under stop_distance. The safety node
    decided on the scan it had; this process may have received the next one first (topics are not ordered
    across each other), so a command counts as a violation only when none of the scans around it (the
    newest before it, the one before, the one after) allowed it. scans: (t, ranges (n,), angles (n,))."""
    times = np.array([t for t, _, _ in scans])
    bad = []
    for t, m in cmds:
        v = m.linear.x
        if v == 0.0:
            continue
        i = int(np.searchsorted(times, t, side="right")) - 1
        near = [scans[j] for j in (i - 1, i, i + 1) if 0 <= j < len(scans)]
        side = [r[np.cos(a) * np.sign(v) > 0].min() for _, r, a in near]
        if near and max(side) < stop_distance - 0.02:
            bad.append(f"v={v:+.3f} m/s at t={t:.3f} with {min(side):.2f} m {'ahead' if v > 0 else 'behind'}")
    return bad


def test_whole_loop_on_the_base_lidar_stop_and_watchdog(ros_node, spawn, base_checkpoint, tmp_path):
    from roboloop.policies.transport.store import TransitionStore
    from roboloop.policies.transport.wire import decode, record_to_frames

    got = {"cmd": [], "actor": [], "scan": [], "odom": [], "image": [], "diag": [], "active": [], "tf": []}
    subs = [  # noqa: F841  (kept referenced)
        ros_node.create_subscription(Twist, "/cmd_vel", lambda m: got["cmd"].append((time.monotonic(), m)), 50),
        ros_node.create_subscription(TwistStamped, "/actor/cmd_vel",
                                     lambda m: got["actor"].append((time.monotonic(), m)), 50),
        ros_node.create_subscription(LaserScan, "/scan", lambda m: got["scan"].append((time.monotonic(), m)),
                                     qos_profile_sensor_data),
        ros_node.create_subscription(Odometry, "/odom", got["odom"].append, 50),
        ros_node.create_subscription(Image, "/front/image_raw", got["image"].append, qos_profile_sensor_data),
        ros_node.create_subscription(DiagnosticArray, "/diagnostics", got["diag"].append, 50),
        ros_node.create_subscription(Bool, "/intervention/active", got["active"].append, 50),
        ros_node.create_subscription(TFMessage, "/tf", got["tf"].append, 50),
    ]
    run = tmp_path / "learner"
    learner, endpoint = start_learner(spawn, base_checkpoint, run, 60, 40, "transport.publish_every=5")
    launcher = spawn(PY, "-m", "roboloop.cli", "launch", "base_sim.launch.xml", f"checkpoint:={base_checkpoint}",
                     f"learner:={endpoint}", "env:=camera=true", "cmd_vel_stamped:=false",
                     f"stop_distance:={STOP_DISTANCE}", "scripted_person:=true", "patience:=10",
                     "real_time_factor:=2.0")
    wait_for(lambda: got["scan"] and got["odom"] and got["image"], 60,
             lambda: f"/scan, /odom and /front/image_raw; launcher output:\n{launcher.output}")
    scan, odom, image = got["scan"][-1][1], got["odom"][-1], got["image"][-1]
    assert len(scan.ranges) == 36 and scan.range_max == pytest.approx(3.5)
    assert scan.angle_increment == pytest.approx(2 * np.pi / 36) and scan.header.frame_id == "base_scan"
    assert 0.18 < min(scan.ranges) <= 3.5
    assert (odom.header.frame_id, odom.child_frame_id) == ("odom", "base_link")
    tf = wait_for(lambda: got["tf"] and got["tf"][-1].transforms, 10, f"/tf; launcher output:\n{launcher.output}")[0]
    assert (tf.header.frame_id, tf.child_frame_id) == ("odom", "base_link")
    assert (image.height, image.width, image.encoding, image.header.frame_id) == (64, 64, "rgb8", "front_camera")
    assert np.ptp(np.frombuffer(bytes(image.data), np.uint8)) > 20, "the camera image is blank"

    try:
        wait_for(lambda: learner.p.poll() is not None, 150, "the learner to train on 60 base steps")
    finally:
        print(f"{learner.output[-2000:]}\n{launcher.output[-3000:]}")
    assert learner.p.returncode == 0, learner.output
    # The learner's store: the person's transitions (the DWA planner through pad -> Joy -> teleop -> actor)
    # and the policy's, in the base's action space.
    steps = intervened = 0
    for payload in TransitionStore(run / "transitions.rlog"):
        msg = decode(record_to_frames(payload))
        assert msg.arrays["action"].shape[1:] == (2,)          # [v, w]
        steps += len(msg.arrays["reward"])
        intervened += int(msg.arrays["intervened"].sum()) if "intervened" in msg.arrays else 0
    assert steps >= 60 and 0 < intervened < steps, (steps, intervened)
    assert any(m.data for m in got["active"]) and (run / "checkpoint").exists()
    wait_for(lambda: int(actor_stats(got["diag"]).get("weights_version") or 0) >= 1, 5,
             lambda: f"the learner's weights in the actor; its status: {actor_stats(got['diag'])}")

    # The base obeyed the plain Twists and drove.
    xy = np.array([[o.pose.pose.position.x, o.pose.pose.position.y] for o in got["odom"]])
    assert np.linalg.norm(xy - xy[0], axis=1).max() > 0.2, "the base did not drive"

    def same_tick():   # the newest /tf transform with an /odom message of the same tick
        odoms = {(o.header.stamp.sec, o.header.stamp.nanosec): o.pose.pose for o in list(got["odom"])}
        for m in reversed(list(got["tf"])):
            t = m.transforms[0]
            if (t.header.stamp.sec, t.header.stamp.nanosec) in odoms:
                return t.transform, odoms[(t.header.stamp.sec, t.header.stamp.nanosec)]
        return None

    tf_pose, odom_pose = wait_for(same_tick, 5, "a /tf transform with the stamp of an /odom message")
    assert np.allclose([tf_pose.translation.x, tf_pose.translation.y, tf_pose.rotation.z, tf_pose.rotation.w],
                       [odom_pose.position.x, odom_pose.position.y, odom_pose.orientation.z, odom_pose.orientation.w],
                       atol=1e-9), (tf_pose, odom_pose)
    tf_xy = np.array([[m.transforms[0].transform.translation.x, m.transforms[0].transform.translation.y]
                      for m in got["tf"]])
    assert np.linalg.norm(tf_xy - tf_xy[0], axis=1).max() > 0.1, "/tf did not follow the base"

    # The lidar stop: no command that reached the base moved it toward a reading under stop_distance,
    # though the actor and the person asked for such motion (the safety node counted its stops).
    scans = [(t, np.asarray(m.ranges, float), m.angle_min + m.angle_increment * np.arange(len(m.ranges)))
             for t, m in got["scan"]]
    assert any(m.linear.x != 0.0 for _, m in got["cmd"]), "no linear motion ever passed the safety node"
    bad = lidar_stop_violations(got["cmd"], scans, STOP_DISTANCE)
    assert not bad, f"{len(bad)} commands drove toward an obstacle: {bad[:5]}"
    safety = node_stats(got["diag"], "safety")
    assert int(safety.get("clipped_lidar_stop", 0)) > 0, f"the lidar stop never fired: {safety}"

    # The watchdog: the actor dies mid-motion (it keeps driving after the learner is gone).
    wait_for(lambda: got["actor"] and got["actor"][-1][0] > time.monotonic() - 0.3, 10, "the actor still commanding")
    actor = child_pid(launcher.p.pid, "roboloop_ros.actor_node")
    os.kill(actor, signal.SIGKILL)
    t_kill = time.monotonic()

    def stopped(m: Twist) -> bool:
        return m.linear.x == 0.0 and m.angular.z == 0.0

    wait_for(lambda: got["cmd"] and got["cmd"][-1][0] > t_kill and stopped(got["cmd"][-1][1]), 2.0,
             "a stop on /cmd_vel after the actor died")
    last_actor = max(t for t, _ in got["actor"])
    first_stop = next(t for t, m in got["cmd"] if t > last_actor and stopped(m))
    gap = first_stop - last_actor
    print(f"base watchdog: last actor command -> stop at the base: {gap * 1e3:.0f} ms; {steps} steps, "
          f"{intervened} by the person; safety: {safety}")
    assert gap <= 0.2 * 1.25 + 0.05, f"stop came {gap * 1e3:.0f} ms after the actor's last command"
    time.sleep(0.5)
    assert all(stopped(m) for t, m in got["cmd"] if t > first_stop), "the base moved again after the stop"
    assert launcher.p.poll() is None, "the launcher (and the other nodes) must keep running"


def test_the_base_person_takes_over_when_the_policy_makes_no_progress():
    """scripted_person_node's base driver: it watches for `patience` steps, takes over for the rest of the
    episode unless the base got `progress` m closer to the goal, and drives with the DWA planner."""
    import gymnasium as gym
    from roboloop_ros.scripted_person_node import BasePerson
    env = gym.make("roboloop/base-Nav-v0").unwrapped
    obs, _ = env.reset(seed=3)
    state = obs["state"].astype(float)
    names = env.task_spec()["observation"]["state"]["names"]
    gx, gy = names.index("goal_x"), names.index("goal_y")
    person = BasePerson("roboloop/base-Nav-v0", "", patience=5, progress=0.5)
    for t in range(5):
        action, control = person.decide(state, t)
        assert not control and action.shape == (2,) and np.all(np.abs(action) <= 1)
    assert person.decide(state, 5)[1] and person.decide(state, 6)[1], "no progress in 5 steps: the person drives"
    person.reset()
    person.decide(state, 0)
    closer = state.copy()
    closer[[gx, gy]] *= 1 - 0.6 / np.hypot(state[gx], state[gy])   # 0.6 m of progress
    assert not person.decide(closer, 5)[1], "the policy made progress: the person keeps watching"
    with pytest.raises(ValueError, match="expected 42 finite numbers"):
        person.decide(state[:10], 6)
