"""robot_driver_node: a real arm under ros2_control, behind the same topics as sim_robot_node.

The command topics, ee_pose and /diagnostics are DriverNode's (see driver_node.py); the joint
targets go to ``/<controller>/commands`` and the state comes from ``/joint_states`` (see
roboloop.hardware.ros2_control).
"""
from __future__ import annotations

from roboloop.hardware.ros2_control import ARM_JOINTS, Ros2ControlDriver
from roboloop_ros.driver_node import COMMAND_PARAMS, DriverNode
from roboloop_ros.node_main import declare_params, run_node


class RobotDriverNode(DriverNode):
    def __init__(self):
        super().__init__("robot_driver")
        p = declare_params(self, {
            **COMMAND_PARAMS,
            "controller": "forward_position_controller",  # ros2_control controller that takes the joint targets
            "joint_names": list(ARM_JOINTS),  # the controller's joint order
            "gripper_controller": "",  # forward controller of the gripper ("" = none)
            "model_path": "",  # MJCF of the arm for IK ("" = the roboloop arm)
            "state_timeout": 0.5,  # s; older /joint_states -> hold position
            "max_linear_speed": 0.25, "max_yaw_rate": 1.0,  # m/s, rad/s
        })
        robot = Ros2ControlDriver(self, p["controller"], p["joint_names"], p["gripper_controller"],
                                  p["control_hz"], p["model_path"] or None, p["state_timeout"],
                                  max_linear_speed=p["max_linear_speed"], max_yaw_rate=p["max_yaw_rate"])
        self.start(robot, p, f"ros2_control:{p['controller']}")

    def step(self) -> None:
        self.robot.tick()


def main(args: list[str] | None = None) -> int:
    return run_node(RobotDriverNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
