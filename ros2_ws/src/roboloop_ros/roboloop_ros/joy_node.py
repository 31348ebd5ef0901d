"""joy_node: a gamepad read through roboloop's pygame/SDL code, published as sensor_msgs/Joy.

The standard ROS 2 `joy` node does the same where it is installed; this one comes with roboloop (and
pygame from PyPI), so `teleop.launch.xml` works on any machine.

Publishes:
  joy   sensor_msgs/Joy   every 1 / rate_hz s while the pad is connected (frame `joy`)
A pad that is missing at start is a clear error (exit 2); one that is unplugged later stops the
stream (teleop_node then ends any intervention) and is picked up again when it comes back.
"""
from __future__ import annotations

from rclpy.node import Node
from sensor_msgs.msg import Joy as JoyMsg

from roboloop.hardware.gamepad.pygame_pad import GamepadError, PygameGamepad
from roboloop_ros.node_main import declare_params, run_node


class JoyNode(Node):
    def __init__(self, name: str = "joy_node"):
        super().__init__(name)
        p = declare_params(self, {
            "device": 0,      # SDL joystick index
            "rate_hz": 50.0,  # Joy messages per second
        })
        self.open_pad(p["device"])
        self.pub = self.create_publisher(JoyMsg, "joy", 10)
        self.lost = False
        self.create_timer(1.0 / p["rate_hz"], self.tick)
        self.get_logger().info(f"pad {self.pad.name!r} at {p['rate_hz']:g} Hz")

    def open_pad(self, device: int) -> None:
        try:
            self.pad = PygameGamepad(device)
        except GamepadError as e:
            raise ValueError(str(e)) from None

    def tick(self) -> None:
        self.publish_pad()

    def publish_pad(self) -> None:
        """Read the pad now and publish what it says."""
        joy = self.pad.poll()
        if joy is None:
            if not self.lost:
                self.get_logger().warning("gamepad unplugged: no Joy messages until it is back")
            self.lost = True
            self.pad.reconnect()
            return
        self.lost = False
        msg = JoyMsg()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = "joy"
        msg.axes = [float(a) for a in joy.axes]
        msg.buttons = [int(b) for b in joy.buttons]
        self.pub.publish(msg)

    def close(self) -> None:
        pass


def main(args: list[str] | None = None) -> int:
    return run_node(JoyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
