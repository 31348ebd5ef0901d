"""sim_base_node: the MuJoCo mobile base as a ROS 2 robot on the standard mobile-base interfaces, in real time.

Publishes:
  scan                sensor_msgs/LaserScan        every tick, sensor-data QoS, frame `laser_frame`
  odom                nav_msgs/Odometry            wheel odometry (slip and noise included), `odom_frame` ->
                                                   `base_frame`
  /tf                 tf2_msgs/TFMessage           odom -> base_frame (next to the PyPI ROS 2 wheels, tf2_msgs
                                                   is built by make install; without it the node says so and
                                                   skips /tf)
  front/image_raw     sensor_msgs/Image rgb8       with the task option camera=true (sensor-data QoS)
  observation/state   std_msgs/Float32MultiArray   the task's state vector, published last in each tick
  success, failure    std_msgs/Bool                goal reached / collision, every tick
  /diagnostics        diagnostic_msgs/DiagnosticArray  1 Hz
Subscribes:
  cmd_vel             geometry_msgs/TwistStamped (cmd_vel_stamped: true) or Twist (false): linear.x m/s,
                      angular.z rad/s. No command for command_timeout s stops the base.
Service:
  reset               std_srvs/Trigger             a new episode (a new map), the base at rest
"""
from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, LaserScan
from std_msgs.msg import Bool, Float32MultiArray
from std_srvs.srv import Trigger

from roboloop.hardware.sim_base import SimBaseDriver
from roboloop.sim.mobile_base import CHASSIS_RADIUS
from roboloop_ros.conversions import (diagnostics_msg, image_msg, laser_scan_msg, odometry_msg,
                                      parse_env_option, yaw_quaternion)
from roboloop_ros.node_main import declare_params, run_node

try:
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage
except ImportError:   # the PyPI ROS 2 wheels ship no tf2_msgs: ros2_ws/interfaces/build_interfaces.py builds it
    TFMessage = None


class SimBaseNode(Node):
    def __init__(self):
        super().__init__("sim_base")
        p = declare_params(self, {
            "task": "roboloop/base-Nav-v0",  # the base's task (map generator, physics, observation)
            "env": "",                       # task options, "key=value,key=value" (e.g. camera=true)
            "seed": 0,                       # seed of the first episode (map)
            "control_hz": 10.0,              # ticks per second of sim time
            "real_time_factor": 1.0,         # >1: faster than real time (tests, demos)
            "command_timeout": 0.5,          # s without a command -> stop
            "cmd_vel_stamped": True,         # cmd_vel is TwistStamped (true) or Twist (false)
            "odom_frame": "odom",            # frame of the odometry (the pose at the episode start)
            "base_frame": "base_link",       # the base's frame (odom's child frame, /tf's child)
            "laser_frame": "base_scan",      # frame of the LaserScan (at the base's centre)
        })
        self.frames = p["odom_frame"], p["base_frame"], p["laser_frame"]
        rtf = p["real_time_factor"]
        self.robot = SimBaseDriver(p["task"], {**parse_env_option(p["env"]), "control_hz": p["control_hz"]},
                                   seed=p["seed"], command_timeout=p["command_timeout"] / rtf)
        self.camera = "front" in self.robot.spec["observation"]
        self.pub_scan = self.create_publisher(LaserScan, "scan", qos_profile_sensor_data)
        self.pub_odom = self.create_publisher(Odometry, "odom", 10)
        self.pub_tf = self.create_publisher(TFMessage, "/tf", 10) if TFMessage is not None else None
        if self.pub_tf is None:
            self.get_logger().warning("tf2_msgs is not installed (with the PyPI ROS 2 wheels: python "
                                      "ros2_ws/interfaces/build_interfaces.py): /tf is not published "
                                      "(odom carries the pose)")
        self.pub_image = self.create_publisher(Image, "front/image_raw", qos_profile_sensor_data) if self.camera else None
        self.pub_state = self.create_publisher(Float32MultiArray, "observation/state", 10)
        self.pub_success = self.create_publisher(Bool, "success", 10)
        self.pub_failure = self.create_publisher(Bool, "failure", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        if p["cmd_vel_stamped"]:
            self.create_subscription(TwistStamped, "cmd_vel", lambda m: self.on_cmd(m.twist), 10)
        else:
            self.create_subscription(Twist, "cmd_vel", self.on_cmd, 10)
        self.create_service(Trigger, "reset", self.on_reset)
        self.refused, self.last_fault = 0, ""
        self.create_timer(1.0 / (self.robot.control_hz * rtf), self.tick)
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(f"{self.robot.task} at {self.robot.control_hz:g} Hz, {len(self.robot.angles)} lidar "
                               f"beams, cmd_vel as {'TwistStamped' if p['cmd_vel_stamped'] else 'Twist'}")

    def on_cmd(self, twist: Twist) -> None:
        try:
            self.robot.command(twist.linear.x, twist.angular.z)
        except ValueError as e:
            self.refused += 1
            self.last_fault = f"cmd_vel: {e}"
            self.get_logger().warning(f"{self.last_fault}; base stopped")

    def on_reset(self, request, response):
        self.robot.reset()
        response.success, response.message = True, f"{self.robot.task}: new episode"
        return response

    def tick(self) -> None:
        r = self.robot
        r.tick()
        now = self.get_clock().now().to_msg()
        odom_f, base_f, laser_f = self.frames
        lidar = r.spec["lidar"]
        self.pub_scan.publish(laser_scan_msg(r.scan(), lidar["angle_min_rad"], lidar["angle_increment_rad"],
                                             0.0, lidar["range_max_m"], 1.0 / r.control_hz, now, laser_f))
        pose, twist = r.odometry()
        self.pub_odom.publish(odometry_msg(pose, twist, now, odom_f, base_f))
        if self.pub_tf is not None:
            t = TransformStamped()
            t.header.stamp, t.header.frame_id, t.child_frame_id = now, odom_f, base_f
            t.transform.translation.x, t.transform.translation.y = float(pose[0]), float(pose[1])
            q = t.transform.rotation
            q.x, q.y, q.z, q.w = yaw_quaternion(pose[2])
            self.pub_tf.publish(TFMessage(transforms=[t]))
        if self.pub_image is not None:
            self.pub_image.publish(image_msg(r.observation["front"], now, "front_camera"))
        self.pub_success.publish(Bool(data=r.success))
        self.pub_failure.publish(Bool(data=r.failure))
        self.pub_state.publish(Float32MultiArray(data=[float(x) for x in r.observation["state"]]))

    def publish_diagnostics(self) -> None:
        r = self.robot
        level, message = ("error", self.last_fault) if self.last_fault else ("ok", "running")
        values = {"episode_steps": r.steps, "success": r.success, "collision": r.failure, "stops": r.stops,
                  "refused_commands": self.refused, "chassis_radius_m": CHASSIS_RADIUS}
        self.pub_diag.publish(diagnostics_msg(self.get_clock().now().to_msg(), self.get_name(), r.task, level,
                                              message, values))

    def close(self) -> None:
        self.robot.stop()


def main(args: list[str] | None = None) -> int:
    return run_node(SimBaseNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
