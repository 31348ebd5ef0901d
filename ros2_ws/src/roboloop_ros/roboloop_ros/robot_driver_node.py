"""robot_driver_node: a real arm under ros2_control (or MoveIt Servo), behind the same topics as sim_robot_node.

The command topics, ee_pose and /diagnostics are DriverNode's (see driver_node.py). The `interface`
parameter picks the controller the arm runs (roboloop.hardware.ros2_control):
  joint_trajectory   trajectory_msgs/JointTrajectory on /<controller>/joint_trajectory (one point per tick)
  follow_joint_trajectory  control_msgs/FollowJointTrajectory goals on /<controller>/follow_joint_trajectory
                     (one one-point goal per tick, each preempting the last; a stop cancels the running goal)
  forward_position   std_msgs/Float64MultiArray joint positions on /<controller>/commands
  forward_velocity   std_msgs/Float64MultiArray joint velocities on /<controller>/commands
  servo_twist        geometry_msgs/TwistStamped on /servo_node/delta_twist_cmds (MoveIt Servo)
The state comes from /joint_states; the kinematics from the `robot`'s description (or /robot_description).
"""
from __future__ import annotations

from roboloop.hardware.ros2_control import make_controller_driver
from roboloop_ros.driver_node import COMMAND_PARAMS, DriverNode
from roboloop_ros.node_main import declare_params, run_node


class RobotDriverNode(DriverNode):
    def __init__(self):
        super().__init__("robot_driver")
        p = declare_params(self, {
            **COMMAND_PARAMS,
            "robot": "so101",  # the arm: a shipped arm (so101, panda, ur5) or the path of an arm YAML file
            "interface": "joint_trajectory",  # joint_trajectory, follow_joint_trajectory, forward_position, forward_velocity or servo_twist
            "controller": "",  # controller name ("" = joint_trajectory_controller, forward_position_controller, forward_velocity_controller or servo_node)
            "joint_names": [],  # the controller's joints in its order ([] = read from the controller's joints parameter)
            "description_from_topic": False,  # build the kinematics from /robot_description instead of the arm's file
            "gripper": "none",  # none, forward (forward position controller), action (control_msgs/GripperCommand) or controller (joints of the arm's controller)
            "gripper_controller": "",  # the gripper's forward controller, or the full name of its GripperCommand action
            "gripper_range": [],  # [open, closed] gripper joint values, rad or m ([] = the arm config's)
            "workspace": [],  # [xmin, ymin, zmin, xmax, ymax, zmax] m, base frame ([] = the arm config's)
            "state_timeout": 0.5,  # s; older /joint_states -> stop the arm
            "max_joint_speed": 1.0,  # rad/s per joint (m/s for prismatic joints)
            "point_time": 0.0,  # s, joint_trajectory and follow_joint_trajectory: time to each tick's point (0 = one control period)
            "gain": 0.0,  # 1/s, forward_velocity and servo_twist: feedback gain (0 = control_hz / 2)
            "servo_topic": "",  # servo_twist: twist topic ("" = /<controller>/delta_twist_cmds)
            "max_linear_speed": 0.25,  # m/s
            "max_yaw_rate": 1.0,  # rad/s
        })
        if p["workspace"] and len(p["workspace"]) != 6:
            raise ValueError(f"parameter 'workspace': expected 6 numbers (m), got {p['workspace']}")
        if p["gripper_range"] and len(p["gripper_range"]) != 2:
            raise ValueError(f"parameter 'gripper_range': expected [open, closed], got {p['gripper_range']}")
        extra = {"joint_trajectory": {"point_time": p["point_time"]},
                 "follow_joint_trajectory": {"point_time": p["point_time"]},
                 "forward_velocity": {"gain": p["gain"]},
                 "servo_twist": {"gain": p["gain"], "servo_topic": p["servo_topic"]}}.get(p["interface"], {})
        robot = make_controller_driver(
            self, p["interface"], p["robot"], p["controller"],
            workspace=p["workspace"] or None, gripper_range=tuple(p["gripper_range"]) or None,
            joint_names=p["joint_names"], gripper=p["gripper"], gripper_controller=p["gripper_controller"],
            control_hz=p["control_hz"], state_timeout=p["state_timeout"], max_joint_speed=p["max_joint_speed"],
            description_from_topic=p["description_from_topic"], max_linear_speed=p["max_linear_speed"],
            max_yaw_rate=p["max_yaw_rate"], **extra)
        self.start(robot, p, f"{p['robot']}:{p['interface']}:{robot.controller}")
        self.get_logger().info(f"{p['robot']} through {p['interface']} controller {robot.controller!r}")

    def step(self) -> None:
        self.robot.tick()


def main(args: list[str] | None = None) -> int:
    return run_node(RobotDriverNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
