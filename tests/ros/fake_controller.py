"""A stand-in for a ros2_control controller (or MoveIt Servo) and its arm, in its own process.

The real controllers (joint_trajectory_controller, forward_command_controller, gripper_action_controller,
MoveIt Servo) are C++ packages of a ROS 2 install and cannot be installed from PyPI; this process speaks
their exact interface (topics, the control_msgs actions, the `joints` parameter) over real DDS instead:

  * a node named like the controller, with the controller's `joints` parameter (its joint order), so
    the parameter service ``/<controller>/get_parameters`` answers as the controller's does;
  * joint_trajectory: trajectory_msgs/JointTrajectory on ``/<controller>/joint_trajectory``; joints are
    matched by name, a message with unknown joints, mismatched lengths or non-finite values is rejected
    (as the controller does); each joint moves linearly to the last point, reached at time_from_start;
    and, as the controller's action, control_msgs/FollowJointTrajectory on
    ``/<controller>/follow_joint_trajectory``: a goal naming other joints than the controller's (any
    order), with mismatched lengths or non-finite values is rejected; an accepted goal runs like the
    topic's trajectory, preempts (aborts) the active goal, succeeds once its last point is reached; a
    cancelled goal stops the joints where they are (the controller holds its position);
  * forward_position / forward_velocity: std_msgs/Float64MultiArray on ``/<controller>/commands``, one
    value per joint in the `joints` order (positions, or velocities in rad/s); wrong lengths rejected;
  * servo_twist: geometry_msgs/TwistStamped on ``/<controller>/delta_twist_cmds`` (recorded only);
  * optionally a gripper forward position controller (`--gripper NAME:JOINT`), as a second node, or a
    gripper_action_controller (`--gripper-action ACTION:JOINT`): control_msgs/GripperCommand on the full
    action name ACTION, the joint moving to command.position in 0.2 s (the goal then succeeds);
  * joint_state_broadcaster: sensor_msgs/JointState on /joint_states at 100 Hz, joints in `--state-order`
    (default: alphabetical, unlike the controller's order); std_msgs/Bool on /stand_in/mute silences it;
  * with `--description FILE`, robot_state_publisher: the URDF text on /robot_description (transient local).

Every command received is printed as one JSON line {"topic", "names", "values", "frame"} (action goals
under the topic "follow_joint_trajectory" / "gripper_action", values [position, max_effort] for the
gripper; a cancelled goal as topic "follow_joint_trajectory/cancel", a rejected one as ".../rejected");
a non-finite value, once received, prints "NONFINITE".
"""
import argparse
import json
import math
import threading
import time

import numpy as np
import rclpy
from geometry_msgs.msg import TwistStamped
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["joint_trajectory", "forward_position", "forward_velocity", "servo_twist"])
    ap.add_argument("controller")
    ap.add_argument("--joints", required=True, help="comma-separated, the controller's order")
    ap.add_argument("--q0", required=True, help="comma-separated initial positions, controller order")
    ap.add_argument("--state-order", default="", help="comma-separated /joint_states order (default sorted)")
    ap.add_argument("--gripper", default="", help="NAME:JOINT[:q0] of a gripper forward position controller")
    ap.add_argument("--gripper-action", default="", help="ACTION:JOINT[:q0] of a GripperCommand action server")
    ap.add_argument("--description", default="", help="URDF file to publish on /robot_description")
    a = ap.parse_args()
    joints = a.joints.split(",")
    lock = threading.Lock()
    q = dict(zip(joints, map(float, a.q0.split(","))))
    vel = dict.fromkeys(joints, 0.0)
    plan = {}   # joint -> (start value, goal value, start time, duration)
    muted = [False]
    rclpy.init()
    ctrl = rclpy.create_node(a.controller.strip("/"))
    ctrl.declare_parameter("joints", joints)
    nodes = [ctrl]

    out_lock = threading.Lock()   # action goals are reported from several executor threads

    def report(topic, names, values, frame=""):
        line = json.dumps({"topic": topic, "names": list(names), "values": [float(v) for v in values], "frame": frame})
        with out_lock:
            if not all(math.isfinite(v) for v in values):
                print("NONFINITE", flush=True)
            print(line, flush=True)

    def now():
        return ctrl.get_clock().now().nanoseconds * 1e-9

    def on_trajectory(msg):
        pts = msg.points
        vals = list(pts[-1].positions) if pts else []
        report("joint_trajectory", msg.joint_names, vals)
        if (set(msg.joint_names) - set(joints) or not pts or len(vals) != len(msg.joint_names)
                or not all(math.isfinite(v) for v in vals)):
            ctrl.get_logger().error("trajectory rejected")
            return
        d = pts[-1].time_from_start
        with lock:
            for name, v in zip(msg.joint_names, vals):
                plan[name] = (q[name], v, now(), max(d.sec + d.nanosec * 1e-9, 1e-3))

    def on_forward(msg):
        vals = list(msg.data)
        report("commands", joints, vals)
        if len(vals) != len(joints) or not all(math.isfinite(v) for v in vals):
            ctrl.get_logger().error("command rejected")
            return
        with lock:
            if a.kind == "forward_position":
                for name, v in zip(joints, vals):
                    plan[name] = (q[name], v, now(), 0.05)
            else:
                vel.update(zip(joints, vals))

    def on_twist(msg):
        t = msg.twist
        report("delta_twist_cmds", [], [t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z],
               msg.header.frame_id)

    active = {}   # action name -> its executing goal handle

    def serve(node, action_type, action_name, check, begin, result, done):
        """An action server as ros2_control's: a new goal preempts the active one; `check(goal)` -> accept?,
        `begin(goal)` -> seconds to run, `result(goal)` the result message, `done(goal, cancelled)` cleanup."""
        from rclpy.action import ActionServer, CancelResponse, GoalResponse

        def accepted(gh):
            with lock:
                active[action_name] = gh
            gh.execute()

        def execute(gh):
            end = now() + begin(gh.request)
            while True:
                with lock:
                    current = active.get(action_name) is gh
                if gh.is_cancel_requested:
                    done(gh.request, True)
                    gh.canceled()
                    return result(gh.request, "cancelled")
                if not current:
                    gh.abort()
                    return result(gh.request, "preempted by a new goal")
                if now() >= end:
                    with lock:
                        if active.get(action_name) is gh:
                            del active[action_name]
                    done(gh.request, False)
                    gh.succeed()
                    return result(gh.request, "")
                time.sleep(0.005)

        return ActionServer(node, action_type, action_name, execute, callback_group=ReentrantCallbackGroup(),
                            goal_callback=lambda g: GoalResponse.ACCEPT if check(g) else GoalResponse.REJECT,
                            handle_accepted_callback=accepted, cancel_callback=lambda _: CancelResponse.ACCEPT,
                            result_timeout=5)

    def fjt_check(goal):
        t = goal.trajectory
        vals = list(t.points[-1].positions) if t.points else []
        report("follow_joint_trajectory", t.joint_names, vals)
        ok = (sorted(t.joint_names) == sorted(joints) and t.points
              and all(len(p.positions) == len(t.joint_names) for p in t.points)
              and all(math.isfinite(v) for p in t.points for v in p.positions))
        if not ok:
            report("follow_joint_trajectory/rejected", t.joint_names, [])
        return ok

    def fjt_begin(goal):
        t = goal.trajectory
        d = t.points[-1].time_from_start
        dur = max(d.sec + d.nanosec * 1e-9, 1e-3)
        with lock:
            for name, v in zip(t.joint_names, t.points[-1].positions):
                plan[name] = (q[name], v, now(), dur)
        return dur

    def hold(names):
        with lock:
            for j in names:
                plan[j] = (q[j], q[j], now(), 1e-3)

    def fjt_done(goal, cancelled):
        if cancelled:
            hold(goal.trajectory.joint_names)
            report("follow_joint_trajectory/cancel", goal.trajectory.joint_names, [])

    def fjt_result(goal, error):
        from control_msgs.action import FollowJointTrajectory
        r = FollowJointTrajectory.Result(error_string=error)
        r.error_code = r.SUCCESSFUL if not error else r.INVALID_GOAL
        return r

    name = a.controller if a.controller.startswith("/") else "/" + a.controller
    if a.kind == "joint_trajectory":
        from control_msgs.action import FollowJointTrajectory
        ctrl.create_subscription(JointTrajectory, f"{name}/joint_trajectory", on_trajectory, 10)
        serve(ctrl, FollowJointTrajectory, f"{name}/follow_joint_trajectory", fjt_check, fjt_begin, fjt_result,
              fjt_done)
    elif a.kind == "servo_twist":
        ctrl.create_subscription(TwistStamped, f"{name}/delta_twist_cmds", on_twist, 10)
    else:
        ctrl.create_subscription(Float64MultiArray, f"{name}/commands", on_forward, 10)

    if a.gripper:
        gname, gjoint, *g0 = a.gripper.split(":")
        gnode = rclpy.create_node(gname)
        gnode.declare_parameter("joints", [gjoint])
        q[gjoint] = float(g0[0]) if g0 else 0.0
        vel[gjoint] = 0.0

        def on_gripper(msg):
            report("gripper_commands", [gjoint], list(msg.data))
            if len(msg.data) == 1 and math.isfinite(msg.data[0]):
                with lock:
                    plan[gjoint] = (q[gjoint], float(msg.data[0]), now(), 0.05)
        gnode.create_subscription(Float64MultiArray, f"/{gname}/commands", on_gripper, 10)
        nodes.append(gnode)

    if a.gripper_action:
        from control_msgs.action import GripperCommand
        aname, gjoint, *g0 = a.gripper_action.split(":")
        gnode = rclpy.create_node(aname.strip("/").split("/")[0])
        q[gjoint] = float(g0[0]) if g0 else 0.0
        vel[gjoint] = 0.0

        def grip_check(goal):
            c = goal.command
            report("gripper_action", [gjoint], [c.position, c.max_effort])
            return math.isfinite(c.position) and math.isfinite(c.max_effort)

        def grip_begin(goal):
            with lock:
                plan[gjoint] = (q[gjoint], goal.command.position, now(), 0.2)
            return 0.2

        def grip_result(goal, error):
            with lock:
                r = GripperCommand.Result(position=q[gjoint])
            r.reached_goal = not error and abs(r.position - goal.command.position) < 1e-3
            return r

        serve(gnode, GripperCommand, aname, grip_check, grip_begin, grip_result,
              lambda goal, cancelled: hold([gjoint]) if cancelled else None)
        nodes.append(gnode)

    order = a.state_order.split(",") if a.state_order else sorted(q)
    pub = ctrl.create_publisher(JointState, "/joint_states", 10)
    ctrl.create_subscription(Bool, "/stand_in/mute", lambda m: muted.__setitem__(0, m.data), 10)
    if a.description:
        qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        desc_pub = ctrl.create_publisher(String, "/robot_description", qos)
        with open(a.description) as f:
            desc_pub.publish(String(data=f.read()))

    def tick():
        t, dt = now(), 0.01
        with lock:
            for j, (q0, q1, t0, dur) in plan.items():
                q[j] = q0 + (q1 - q0) * min(1.0, (t - t0) / dur)
            for j, v in vel.items():
                q[j] += v * dt
            pos = [q[j] for j in order]
        if muted[0]:
            return
        msg = JointState(name=order, position=pos, velocity=[0.0] * len(order))
        msg.header.stamp = ctrl.get_clock().now().to_msg()
        pub.publish(msg)

    ctrl.create_timer(0.01, tick)
    # Threads for the action servers' goals, which run while new goals, cancels and ticks arrive.
    executor = MultiThreadedExecutor(num_threads=4)
    for n in nodes:
        executor.add_node(n)
    print("ready", flush=True)
    try:
        executor.spin()
    except KeyboardInterrupt:
        pass
    rclpy.try_shutdown()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
