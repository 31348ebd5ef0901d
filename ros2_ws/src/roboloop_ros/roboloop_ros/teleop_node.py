"""teleop_node: sensor_msgs/Joy in, the intervention stream out.

Subscribes:
  joy                    sensor_msgs/Joy            from the standard `joy` node, or roboloop's `joy_node`
Publishes:
  intervention/active    std_msgs/Bool              on every Joy message; false when the pad goes silent
  intervention/action    std_msgs/Float32MultiArray the person's normalized action [dx, dy, dz, (dyaw,)
                                                    gripper], on every Joy message while the deadman is held
  episode_event          std_msgs/String            "success", "failure" or "reset", once per button press
  /diagnostics           diagnostic_msgs/DiagnosticArray  1 Hz

The pad layout is a `roboloop.hardware.gamepad` map (`pad`: xbox, playstation, logitech_f310,
logitech_f710, or a YAML path), so this node, `roboloop teleop` and training with `--teleop` read a pad
the same way. A pad that stops publishing for `joy_timeout` seconds ends any intervention.
"""
from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import Joy as JoyMsg
from std_msgs.msg import Bool, Float32MultiArray, String

from roboloop.hardware.gamepad.joy import Joy, load_map
from roboloop_ros.conversions import diagnostics_msg, stamp_seconds
from roboloop_ros.node_main import declare_params, run_node


class TeleopNode(Node):
    def __init__(self):
        super().__init__("teleop")
        p = declare_params(self, {
            "pad": "xbox",       # pad map: xbox, playstation, logitech_f310, logitech_f710 or a YAML path
            "act_dim": 4,        # action size of the task (4: dx dy dz gripper; 5 with yaw; 2: a base's v w)
            "joy_timeout": 0.5,  # s without a Joy message -> the pad counts as unplugged
        })
        self.map = load_map(p["pad"])
        self.act_dim, self.joy_timeout = p["act_dim"], p["joy_timeout"]
        self.gripper = -1.0
        self.last_joy = -float("inf")
        self.active = False
        self.messages = self.interventions = self.pad_losses = 0
        self.pub_active = self.create_publisher(Bool, "intervention/active", 10)
        self.pub_action = self.create_publisher(Float32MultiArray, "intervention/action", 10)
        self.pub_event = self.create_publisher(String, "episode_event", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(JoyMsg, "joy", self.on_joy, 10)
        self.create_timer(self.joy_timeout / 2.0, self.check_pad)
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(f"pad map {self.map.name}, {self.act_dim}-dim actions")

    def on_joy(self, msg: JoyMsg) -> None:
        joy = Joy(stamp_seconds(msg.header.stamp), list(msg.axes), list(msg.buttons))
        cmd = self.map.command(joy, self.act_dim, self.gripper)   # non-finite axes read as 0
        if self.act_dim != 2:
            self.gripper = float(cmd.action[-1])
        self.last_joy = time.monotonic()
        self.messages += 1
        if cmd.intervening and not self.active:
            self.interventions += 1
        self.active = cmd.intervening
        self.pub_active.publish(Bool(data=cmd.intervening))
        if cmd.intervening:
            self.pub_action.publish(Float32MultiArray(data=[float(x) for x in cmd.action]))
        for event in ("success", "failure", "reset"):
            if getattr(cmd, event):
                self.pub_event.publish(String(data=event))
                self.get_logger().info(f"person: {event}")

    def check_pad(self) -> None:
        if self.active and time.monotonic() - self.last_joy > self.joy_timeout:
            self.active = False
            self.pad_losses += 1
            self.get_logger().warning(f"no Joy message for {self.joy_timeout} s: intervention ended")
            self.publish_diagnostics("error", "pad silent: intervention ended")
        if time.monotonic() - self.last_joy > self.joy_timeout:
            self.pub_active.publish(Bool(data=False))

    def publish_diagnostics(self, level: str | None = None, message: str | None = None) -> None:
        if level is None:
            silent = time.monotonic() - self.last_joy > self.joy_timeout
            level, message = ("warn", "no pad") if silent else ("ok", "intervening" if self.active else "watching")
        values = {"joy_messages": self.messages, "interventions": self.interventions, "pad_losses": self.pad_losses}
        self.pub_diag.publish(diagnostics_msg(self.get_clock().now().to_msg(), self.get_name(), self.map.name,
                                              level, message, values))

    def close(self) -> None:
        pass


def main(args: list[str] | None = None) -> int:
    return run_node(TeleopNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
