"""`roboloop launch sim.launch.xml robot:=so101`: the actor drives the SO-101's sim through the safety node.

Real processes over real DDS: the launcher starts sim_robot (the SO-101 sim), teleop, safety and the actor
(a checkpoint of roboloop/so101-PickCube-v0); the test process listens.
"""
import time

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from sensor_msgs.msg import JointState

from .ros_helpers import PY, wait_for

SO101_JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def test_actor_drives_the_so101_sim_through_safety(ros_node, spawn, tmp_path):
    from roboloop.config import build_train_config
    from roboloop.policies.train_loop import Trainer
    cfg = build_train_config("so101-PickCube", None, ["sac.compile=false"], steps=0, seed=0)
    ckpt = str(Trainer(cfg, run_dir=tmp_path, progress=False, log=lambda s: None).save())

    got = {"joints": [], "pose": [], "actor": [], "cmd": []}
    subs = [  # noqa: F841  (kept referenced)
        ros_node.create_subscription(JointState, "/joint_states", got["joints"].append, 10),
        ros_node.create_subscription(PoseStamped, "/ee_pose", got["pose"].append, 10),
        ros_node.create_subscription(TwistStamped, "/actor/cmd_vel", got["actor"].append, 50),
        ros_node.create_subscription(TwistStamped, "/cmd_vel", got["cmd"].append, 50),
    ]
    launcher = spawn(PY, "-m", "roboloop.cli", "launch", "sim.launch.xml", "robot:=so101", f"checkpoint:={ckpt}",
                     "cameras:=false", "control_hz:=20.0")
    wait_for(lambda: len(got["actor"]) > 10 and len(got["pose"]) > 10, 90,
             lambda: f"commands through safety to the SO-101 sim; launcher output:\n{launcher.output}")
    assert list(got["joints"][-1].name) == SO101_JOINTS      # the sim robot is the SO-101
    p0 = got["pose"][-1].pose.position
    time.sleep(1.0)
    p1 = got["pose"][-1].pose.position
    moved = np.linalg.norm([p1.x - p0.x, p1.y - p0.y, p1.z - p0.z])
    assert moved > 0.005, (f"the SO-101 did not move under the actor's commands ({moved * 1000:.1f} mm); "
                           f"{[m.twist.linear for m in got['cmd'][-5:]]}\n{launcher.output[-3000:]}")
    # What reached the robot is the actor's command through the safety envelope: never faster.
    speed = [np.linalg.norm([m.twist.linear.x, m.twist.linear.y, m.twist.linear.z]) for m in got["cmd"]]
    actor_speed = [np.linalg.norm([m.twist.linear.x, m.twist.linear.y, m.twist.linear.z]) for m in got["actor"]]
    assert max(speed) > 0 and max(speed) <= max(actor_speed) + 1e-9
    assert launcher.p.poll() is None
