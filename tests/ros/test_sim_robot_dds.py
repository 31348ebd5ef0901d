"""`roboloop launch sim.launch.xml` starts a real sim_robot_node that talks over real DDS.

The test process is the other end: it subscribes to joint states, the end-effector pose, camera
images (sensor-data QoS) and diagnostics, and publishes TwistStamped commands.
"""
import math
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float32MultiArray, Float64
from std_srvs.srv import Trigger

from .ros_helpers import PY, wait_for


def test_launch_sim_robot_over_dds(ros_node, spawn):
    got = {"joints": [], "pose": [], "front": [], "wrist": [], "diag": [], "success": []}
    subs = [  # kept referenced so they live for the whole test
        ros_node.create_subscription(JointState, "/joint_states", got["joints"].append, 10),
        ros_node.create_subscription(PoseStamped, "/ee_pose", got["pose"].append, 10),
        ros_node.create_subscription(Image, "/front/image_raw", got["front"].append, qos_profile_sensor_data),
        ros_node.create_subscription(Image, "/wrist/image_raw", got["wrist"].append, qos_profile_sensor_data),
        ros_node.create_subscription(DiagnosticArray, "/diagnostics", got["diag"].append, 10),
        ros_node.create_subscription(Bool, "/success", got["success"].append, 10),
    ]
    cmd = ros_node.create_publisher(TwistStamped, "/cmd_vel", 10)
    launcher = spawn(PY, "-m", "roboloop.cli", "launch", "sim.launch.xml", "control_hz:=20.0",
                     "task:=roboloop/PickCube-v0", "actor:=false")

    wait_for(lambda: len(got["joints"]) >= 5 and got["front"] and got["wrist"], 60,
             f"joint states and images from sim_robot; launcher output:\n{launcher.output}")
    js = got["joints"][-1]
    assert js.name[:6] == ["j1", "j2", "j3", "j4", "j5", "j6"] and len(js.position) == 8
    img = got["front"][-1]
    assert (img.height, img.width, img.encoding, img.header.frame_id) == (128, 128, "rgb8", "front_camera")
    assert got["wrist"][-1].header.frame_id == "wrist_camera"
    assert len(img.data) == 128 * 128 * 3 and len(set(bytes(img.data))) > 10  # a rendered scene
    assert not got["success"][-1].data

    # Real time: 20 Hz control -> ~20 joint states per second of wall time, never more (a sim that
    # free-runs would show hundreds); a loaded machine may fall behind, so the floor is loose.
    n0, t0 = len(got["joints"]), time.monotonic()
    time.sleep(3.0)
    rate = (len(got["joints"]) - n0) / (time.monotonic() - t0)
    assert 10 <= rate <= 22, rate

    def ee_x():
        p = got["pose"][-1].pose.position
        return p.x

    x0 = ee_x()
    msg = TwistStamped()
    msg.twist.linear.x = 0.1  # m/s
    for _ in range(10):  # 1 s of +x commands at 10 Hz
        msg.header.stamp = ros_node.get_clock().now().to_msg()
        cmd.publish(msg)
        time.sleep(0.1)
    time.sleep(0.2)
    moved = ee_x() - x0
    assert 0.06 < moved < 0.14, f"ee moved {moved:.3f} m for 0.1 m/s over 1 s"

    # No fresh command: the robot stops (command_timeout 0.5 s) and holds.
    time.sleep(0.8)
    x_hold = ee_x()
    time.sleep(0.5)
    assert abs(ee_x() - x_hold) < 0.005

    # A NaN command is refused: a diagnostic names it, the robot stays, the node lives on.
    msg.twist.linear.x = math.nan
    msg.header.stamp = ros_node.get_clock().now().to_msg()
    cmd.publish(msg)
    wait_for(lambda: any("non-finite" in d.status[0].message for d in got["diag"]), 5, "NaN diagnostic")
    # A stale command (stamped 2 s ago) is refused too.
    msg.twist.linear.x = 0.1
    stamp = ros_node.get_clock().now().nanoseconds - 2_000_000_000
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    cmd.publish(msg)
    wait_for(lambda: any("stale cmd_vel" in d.status[0].message for d in got["diag"]), 5, "stale diagnostic")
    time.sleep(0.3)
    assert abs(ee_x() - x_hold) < 0.005
    assert launcher.p.poll() is None

    # A command built on an observation 0.3 s old (6 ticks at 20 Hz) but not stale arrives after the
    # tick that followed it: the driver counts a miss.
    def late_commands() -> int:
        return max(int({kv.key: kv.value for kv in d.status[0].values}.get("late_commands", -1))
                   for d in got["diag"] if d.status[0].name.endswith("sim_robot"))
    before = late_commands()
    assert before >= 0
    msg.twist.linear.x = 0.0
    stamp = ros_node.get_clock().now().nanoseconds - 300_000_000
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    cmd.publish(msg)
    wait_for(lambda: late_commands() > before, 5, "a late command counted in /diagnostics")

    # reset service: new episode, arm back home.
    client = ros_node.create_client(Trigger, "/reset")
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(Trigger.Request())
    wait_for(future.done, 10, "reset response")
    assert future.result().success
    time.sleep(0.3)
    home = np.array([0.35, 0.0, 0.65])
    p = got["pose"][-1].pose.position
    assert np.linalg.norm(np.array([p.x, p.y, p.z]) - home) < 0.02

    assert launcher.stop() == 0, launcher.output
    assert "[launch] sim_robot stopped (exit code 0)" in launcher.output, launcher.output
    del subs


def test_lockstep_sim_time_waits_for_the_command_to_each_observation(ros_node, spawn):
    """With lockstep:=true sim_robot steps only once the command answering its last observation is in, or
    after lockstep_timeout (0.5 s): with nobody answering it ticks at about 2 Hz; an echo that answers
    every state at once (a stamped twist, then the gripper, as the actor sends them) sets the 20 Hz pace."""
    states = []
    answering = [False]
    cmd = ros_node.create_publisher(TwistStamped, "/cmd_vel", 10)
    grip = ros_node.create_publisher(Float64, "/gripper_cmd", 10)

    def on_state(_msg):
        states.append(time.monotonic())
        if answering[0]:
            t = TwistStamped()
            t.header.stamp = ros_node.get_clock().now().to_msg()   # the observation's arrival, as the actor stamps
            cmd.publish(t)
            grip.publish(Float64(data=-1.0))
    sub = ros_node.create_subscription(Float32MultiArray, "/observation/state", on_state, 10)  # noqa: F841
    launcher = spawn(PY, "-m", "roboloop.cli", "launch", "sim.launch.xml", "control_hz:=20.0", "cameras:=false",
                     "task:=roboloop/PickCube-v0", "actor:=false", "lockstep:=true")
    wait_for(lambda: len(states) >= 2, 60, lambda: f"states from sim_robot; launcher output:\n{launcher.output}")

    def rate(seconds: float) -> float:
        n0, t0 = len(states), time.monotonic()
        time.sleep(seconds)
        return (len(states) - n0) / (time.monotonic() - t0)
    silent = rate(3.0)
    answering[0] = True
    time.sleep(0.5)
    answered = rate(3.0)
    assert 1.0 <= silent <= 3.0, (silent, answered)
    assert answered >= 10.0, (silent, answered)
