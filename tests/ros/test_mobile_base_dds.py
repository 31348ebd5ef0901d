"""The mobile base on the standard interfaces over real DDS between real processes: base_sim.launch.xml
starts the MuJoCo base (sim_base_node), teleop, the base safety node and the actor (an untrained
base-Nav policy: it commands motion, which is all this needs).

One run checks, in order: /scan (LaserScan) and /odom (Odometry) arrive with the task's beams and frames,
and /tf (tf2_msgs/TFMessage, built into the venv from its upstream definition) carries odom -> base_link
with the odometry's pose;
the base obeys /cmd_vel as a plain Twist (cmd_vel_stamped:=false); the lidar stop holds (stop_distance
above the lidar's range, so every reading is "too close": the actor asks for forward motion, the safety
node passes rotation only and the odometry shows the base turning in place); and when the actor is
SIGKILLed the safety watchdog stops the base within its 200 ms timeout.
"""
import os
import signal
import time

import numpy as np
import pytest
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import LaserScan
from tf2_msgs.msg import TFMessage

from .ros_helpers import PY, wait_for
from .test_actor_safety_dds import child_pid


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory):
    from roboloop.config import build_train_config
    from roboloop.policies.train_loop import Trainer
    cfg = build_train_config("base-nav", None, ["sac.compile=false", "demos=0"], steps=0, seed=0)
    return str(Trainer(cfg, run_dir=tmp_path_factory.mktemp("ckpt"), progress=False, log=lambda s: None).save())


def test_base_scan_odom_lidar_stop_and_watchdog(ros_node, spawn, base_checkpoint):
    got = {"cmd": [], "actor": [], "scan": [], "odom": [], "tf": []}
    subs = [  # noqa: F841  (kept referenced)
        ros_node.create_subscription(Twist, "/cmd_vel", lambda m: got["cmd"].append((time.monotonic(), m)), 50),
        ros_node.create_subscription(TwistStamped, "/actor/cmd_vel",
                                     lambda m: got["actor"].append((time.monotonic(), m)), 50),
        ros_node.create_subscription(LaserScan, "/scan", got["scan"].append, qos_profile_sensor_data),
        ros_node.create_subscription(Odometry, "/odom", got["odom"].append, 50),
        ros_node.create_subscription(TFMessage, "/tf", got["tf"].append, 50),
    ]
    launcher = spawn(PY, "-m", "roboloop.cli", "launch", "base_sim.launch.xml", f"checkpoint:={base_checkpoint}",
                     "cmd_vel_stamped:=false", "stop_distance:=5.0")
    wait_for(lambda: got["scan"] and got["odom"], 60, f"/scan and /odom; launcher output:\n{launcher.output}")
    scan, odom = got["scan"][-1], got["odom"][-1]
    assert len(scan.ranges) == 36 and scan.range_max == pytest.approx(3.5)
    assert scan.angle_increment == pytest.approx(2 * np.pi / 36) and scan.header.frame_id == "base_scan"
    assert 0.18 < min(scan.ranges) <= 3.5
    assert (odom.header.frame_id, odom.child_frame_id) == ("odom", "base_link")
    tf = wait_for(lambda: got["tf"] and got["tf"][-1].transforms, 10, f"/tf; launcher output:\n{launcher.output}")[0]
    assert (tf.header.frame_id, tf.child_frame_id) == ("odom", "base_link")

    def forward_asked():
        return [m for _, m in got["actor"] if m.twist.linear.x > 0.05]

    def odom_yaw() -> float:
        q = got["odom"][-1].pose.pose.orientation
        return abs(2 * np.arctan2(q.z, q.w))

    wait_for(lambda: len(forward_asked()) >= 5 and odom_yaw() > 0.1, 30,
             f"the actor asking for forward motion and the base turning; launcher output:\n{launcher.output}")

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
    assert abs(tf_pose.rotation.z) > 0.02   # the base has turned: /tf follows it

    # The lidar stop: every reading is under stop_distance, so no linear motion reaches the base ...
    assert all(m.linear.x == 0.0 for _, m in got["cmd"]), "the safety node passed linear motion despite the lidar"
    # ... while it turns in place (odometry: encoder noise only, ~1 cm over the run).
    o = got["odom"][-1].pose.pose
    assert np.hypot(o.position.x, o.position.y) < 0.1, o

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
    print(f"base watchdog: last actor command -> stop at the base: {gap * 1e3:.0f} ms")
    assert gap <= 0.2 * 1.25 + 0.05, f"stop came {gap * 1e3:.0f} ms after the actor's last command"
    time.sleep(0.5)
    assert all(stopped(m) for t, m in got["cmd"] if t > first_stop), "the base moved again after the stop"
    w = got["odom"][-1].twist.twist.angular.z
    assert abs(w) < 0.3, f"the base still turns at {w} rad/s after the stop (encoder noise only expected)"
    assert launcher.p.poll() is None, "the launcher (and the other nodes) must keep running"
