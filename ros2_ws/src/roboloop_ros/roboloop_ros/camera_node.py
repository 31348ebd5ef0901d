"""camera_node: an OpenCV camera (device index, video file or URL) as sensor_msgs/Image.

Publishes `<camera_name>/image_raw` (rgb8, sensor-data QoS, frame `<camera_name>_camera`) at
`rate_hz`, and /diagnostics once a second. A source that cannot be opened is not fatal: the node
reports it (ERROR diagnostic naming the source) and retries every `reopen_s` seconds.
"""
from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from roboloop.hardware.camera import Camera, CameraError
from roboloop_ros.conversions import diagnostics_msg, image_msg
from roboloop_ros.node_main import declare_params, run_node


class CameraNode(Node):
    def __init__(self):
        super().__init__("camera")
        p = declare_params(self, {
            "source": "0",  # device index, file path or URL
            "camera_name": "front",  # publishes <camera_name>/image_raw
            "width": 128,  # px of the published image (resized)
            "height": 128,  # px of the published image (resized)
            "rate_hz": 10.0,  # frames per second published
            "loop": True,  # replay a video file from the start at its end
            "reopen_s": 2.0,  # s between attempts to reopen a source that failed
        })
        self.p = p
        self.frame_id = f"{p['camera_name']}_camera"
        self.camera: Camera | None = None
        self.fault = ""
        self.published = 0
        self.pub = self.create_publisher(Image, f"{p['camera_name']}/image_raw", qos_profile_sensor_data)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.open()
        self.create_timer(1.0 / p["rate_hz"], self.grab)
        self.create_timer(p["reopen_s"], self.open)
        self.create_timer(1.0, self.publish_diagnostics)

    def open(self) -> None:
        if self.camera is not None:
            return
        try:
            self.camera = Camera(self.p["source"], self.p["width"], self.p["height"], loop=self.p["loop"])
            self.fault = ""
            self.get_logger().info(f"camera {self.p['source']!r} open")
        except CameraError as e:
            if str(e) != self.fault:
                self.get_logger().error(f"{e}; retrying every {self.p['reopen_s']} s")
            self.fault = str(e)
        self.publish_diagnostics()

    def grab(self) -> None:
        if self.camera is None:
            return
        rgb = self.camera.read()
        if rgb is None:
            self.fault = f"camera {self.p['source']!r}: no frame ({self.camera.failures} failed reads)"
            if self.camera.failures % 10 == 1:
                self.get_logger().warning(self.fault)
            return
        self.pub.publish(image_msg(rgb, self.get_clock().now().to_msg(), self.frame_id))
        self.published += 1

    def publish_diagnostics(self) -> None:
        level = "error" if self.camera is None else ("warn" if self.fault else "ok")
        self.pub_diag.publish(diagnostics_msg(
            self.get_clock().now().to_msg(), f"camera/{self.p['camera_name']}", str(self.p["source"]),
            level, self.fault or "streaming",
            {"published": self.published, "failed_reads": self.camera.failures if self.camera else 0}))

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()


def main(args: list[str] | None = None) -> int:
    return run_node(CameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
