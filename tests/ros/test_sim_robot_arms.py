"""`roboloop launch sim.launch.xml robot:=so101` with the learner: the whole loop on a sim of the SO-101.

Real processes over real DDS and real pyzmq: the launcher starts sim_robot (the SO-101 sim), the scripted
person on a virtual pad with teleop, safety and the actor (a checkpoint of roboloop/so101-PickCube-v0);
`roboloop learn` trains on what the actor streams and sends weights back. The test process listens.
"""
import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
from sensor_msgs.msg import JointState

from .ros_helpers import PY, actor_stats, start_learner, wait_for

SO101_JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def test_whole_loop_with_the_learner_on_the_so101_sim(ros_node, spawn, tmp_path):
    from roboloop.config import build_train_config
    from roboloop.policies.train_loop import Trainer
    from roboloop.policies.transport.store import TransitionStore
    from roboloop.policies.transport.wire import decode, record_to_frames
    cfg = build_train_config("so101-PickCube", None, ["sac.compile=false"], steps=0, seed=0)
    ckpt = str(Trainer(cfg, run_dir=tmp_path / "ckpt", progress=False, log=lambda s: None).save())

    got = {"joints": [], "pose": [], "actor": [], "cmd": [], "diag": []}
    subs = [  # noqa: F841  (kept referenced)
        ros_node.create_subscription(JointState, "/joint_states", got["joints"].append, 10),
        ros_node.create_subscription(PoseStamped, "/ee_pose", got["pose"].append, 10),
        ros_node.create_subscription(TwistStamped, "/actor/cmd_vel", got["actor"].append, 50),
        ros_node.create_subscription(TwistStamped, "/cmd_vel", got["cmd"].append, 50),
        ros_node.create_subscription(DiagnosticArray, "/diagnostics", got["diag"].append, 50),
    ]
    run = tmp_path / "learner"
    learner, endpoint = start_learner(spawn, ckpt, run, 45, 30, "transport.publish_every=5")
    launcher = spawn(PY, "-m", "roboloop.cli", "launch", "sim.launch.xml", "robot:=so101", f"checkpoint:={ckpt}",
                     f"learner:={endpoint}", "cameras:=false", "scripted_person:=true", "patience:=5",
                     "real_time_factor:=2.0")
    try:
        wait_for(lambda: learner.p.poll() is not None, 150, "the learner to make 15 updates on SO-101 steps")
    finally:
        print(f"{learner.output[-3000:]}\n{launcher.output[-3000:]}")
    assert learner.p.returncode == 0, learner.output
    assert list(got["joints"][-1].name) == SO101_JOINTS      # the sim robot is the SO-101
    positions = np.array([[m.pose.position.x, m.pose.position.y, m.pose.position.z] for m in got["pose"]])
    moved = float(np.ptp(positions, axis=0).max())
    assert moved > 0.005, f"the SO-101 did not move under the commands ({moved * 1000:.1f} mm)"
    # What reached the robot is the actor's command through the safety envelope: never faster.
    speed = [np.linalg.norm([m.twist.linear.x, m.twist.linear.y, m.twist.linear.z]) for m in got["cmd"]]
    actor_speed = [np.linalg.norm([m.twist.linear.x, m.twist.linear.y, m.twist.linear.z]) for m in got["actor"]]
    assert max(speed) > 0 and max(speed) <= max(actor_speed) + 1e-9
    assert int(actor_stats(got["diag"]).get("weights_version") or 0) >= 1, "the learner's weights never reached the actor"
    steps = intervened = 0
    for payload in TransitionStore(run / "transitions.rlog"):
        msg = decode(record_to_frames(payload))
        steps += len(msg.arrays["reward"])
        intervened += int(msg.arrays["intervened"].sum()) if "intervened" in msg.arrays else 0
        assert msg.arrays["action"].shape[1:] == (4,)         # the SO-101 task's actions (dx dy dz gripper)
    assert steps >= 45 and intervened > 0, (steps, intervened)
    assert (run / "checkpoint").exists()
    assert launcher.p.poll() is None
