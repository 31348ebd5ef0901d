"""sim_robot_node: the MuJoCo arm as a ROS 2 robot, in real time.

The command topics, ee_pose and /diagnostics are DriverNode's (see driver_node.py). Adds:
  joint_states          sensor_msgs/JointState      every tick
  <camera>/image_raw    sensor_msgs/Image rgb8      sensor-data QoS, frame `<camera>_camera`
  observation/state     std_msgs/Float32MultiArray  the task's state observation (`roboloop tasks`),
                                                    published last in each tick
  ground_truth/state    std_msgs/Float32MultiArray  the same state as the world is, free of the robot's
                                                    sensing errors (a miscalibrated gap variant's): what a
                                                    person watching the scene goes by (the scripted person)
  success, failure      std_msgs/Bool               the task's outcome from the sim's privileged state, every
                                                    tick (a success detector, for rules the state cannot decide)
  reset (service)       std_srvs/Trigger            new episode (cube re-sampled), arm home, stopped
Subscribes, besides the commands:
  cube_push             geometry_msgs/Vector3       a disturbance: sets the cube's velocity (m/s, world frame)
The physics is the `task` parameter's env, so the reality-gap task ids are other robots; `robot` runs the
task on a real arm's sim (so101, panda, ur5, or an arm YAML file: ``roboloop/<arm>-<Task>-v0``).
"""
from __future__ import annotations

from geometry_msgs.msg import Vector3
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float32MultiArray
from std_srvs.srv import Trigger

from roboloop.hardware.sim_robot import SimRobotDriver
from roboloop.sim.registry import task_for_robot
from roboloop_ros.conversions import image_msg, joint_state_msg, parse_env_option
from roboloop_ros.driver_node import COMMAND_PARAMS, DriverNode
from roboloop_ros.node_main import declare_params, run_node


class SimRobotNode(DriverNode):
    def __init__(self):
        super().__init__("sim_robot")
        p = declare_params(self, {
            "task": "roboloop/PickCube-v0",   # the sim robot's physics: a task id (PickCubeGap variants too)
            "robot": "",               # the arm: so101, panda, ur5 or an arm YAML path ("" = the task's own arm)
            "seed": 0,                 # seed of the first episode
            **COMMAND_PARAMS,
            "env": "",                 # task options, "key=value,key=value" (e.g. variant=latency for PickCubeGap)
            "real_time_factor": 1.0,   # >1: faster than real time (tests, demos)
            "cameras": ["front", "wrist"],   # cameras to render and publish (<name>/image_raw)
            "image_width": 128,        # px of the published images
            "image_height": 128,       # px of the published images
            "camera_every": 1,  # render the cameras every N ticks
            "lockstep": False,         # a tick waits for the command answering the last observation (see DriverNode)
            "lockstep_timeout": 0.5,   # s of wall time a lockstep tick waits at most before stepping anyway
        })
        self.cameras, self.size = p["cameras"], (p["image_width"], p["image_height"])
        self.camera_every = max(1, p["camera_every"])
        task, arm_options = task_for_robot(p["task"], p["robot"])
        robot = SimRobotDriver(task, {**arm_options, **parse_env_option(p["env"]), "control_hz": p["control_hz"]},
                               seed=p["seed"])
        self.pub_joints = self.create_publisher(JointState, "joint_states", 10)
        self.pub_state = self.create_publisher(Float32MultiArray, "observation/state", 10)
        self.pub_truth = self.create_publisher(Float32MultiArray, "ground_truth/state", 10)
        self.pub_success = self.create_publisher(Bool, "success", 10)
        self.pub_failure = self.create_publisher(Bool, "failure", 10)
        self.pub_images = {c: self.create_publisher(Image, f"{c}/image_raw", qos_profile_sensor_data)
                           for c in self.cameras}
        self.create_service(Trigger, "reset", self.on_reset)
        self.create_subscription(Vector3, "cube_push", self.on_push, 10)
        self.start(robot, p, robot.task)
        self.get_logger().info(f"{robot.task} at {robot.control_hz:g} Hz, cameras {self.cameras}")

    def on_reset(self, request, response):
        self.robot.reset()
        self.episode_started()
        response.success, response.message = True, f"{self.robot.task}: new episode"
        return response

    def on_push(self, msg: Vector3) -> None:
        try:
            self.robot.push_cube([msg.x, msg.y, msg.z])
        except ValueError as e:
            self.refuse(f"cube_push: {e}")

    def step(self) -> None:
        self.robot.tick()
        now = self.get_clock().now().to_msg()
        s = self.robot.read_state()
        # observation/state goes last: an actor may treat it as "this tick's observation is complete"
        if self.ticks % self.camera_every == 0:
            for cam, pub in self.pub_images.items():
                pub.publish(image_msg(self.robot.render(cam, *self.size), now, f"{cam}_camera"))
        self.pub_joints.publish(joint_state_msg(s.joint_names, s.joint_positions, s.joint_velocities, now))
        # The task's privileged outcome, for rules that cannot decide from the state (a success detector)
        self.pub_success.publish(Bool(data=self.robot.success))
        self.pub_failure.publish(Bool(data=bool(self.robot.info.get("is_failure", False))))
        self.pub_truth.publish(Float32MultiArray(data=[float(x) for x in self.robot.true_state()]))
        self.pub_state.publish(Float32MultiArray(data=[float(x) for x in self.robot.observation["state"]]))

    def diagnostic_values(self) -> dict:
        return {**super().diagnostic_values(), "success": self.robot.success, "episode_steps": self.robot.steps}


def main(args: list[str] | None = None) -> int:
    return run_node(SimRobotNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
