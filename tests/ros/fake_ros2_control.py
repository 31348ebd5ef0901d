"""A stand-in for a real arm under ros2_control (the one fake in these tests: no arm exists here).

Behaves like controller_manager with joint_state_broadcaster + forward_position_controller:
subscribes /<controller>/commands (std_msgs/Float64MultiArray, one position per joint) and
publishes /joint_states at 100 Hz, each joint tracking its target with a first-order lag
(time constant 50 ms). Wrong-length commands are rejected and logged, as the real controller does.
Usage: python fake_ros2_control.py CONTROLLER q1 q2 ... (initial joint positions, rad)
"""
import sys

import numpy as np
import rclpy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

JOINTS = ["j1", "j2", "j3", "j4", "j5", "j6"]


def main():
    controller, q0 = sys.argv[1], np.array([float(x) for x in sys.argv[2:8]])
    rclpy.init()
    node = rclpy.create_node("fake_ros2_control")
    q, target = q0.copy(), q0.copy()
    pub = node.create_publisher(JointState, "/joint_states", 10)

    def on_command(msg):
        nonlocal target
        if len(msg.data) != len(JOINTS):
            node.get_logger().error(f"command size {len(msg.data)} != {len(JOINTS)} joints; ignored")
            return
        target = np.array(msg.data)
        print(f"command {list(np.round(target, 4))}", flush=True)

    def tick():
        nonlocal q
        dt, tau = 0.01, 0.05
        q = q + (target - q) * (dt / tau)
        msg = JointState(name=JOINTS + ["finger_l", "finger_r"], position=list(q) + [0.04, 0.04])
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)

    node.create_subscription(Float64MultiArray, f"/{controller}/commands", on_command, 10)
    node.create_timer(0.01, tick)
    print("ready", flush=True)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
