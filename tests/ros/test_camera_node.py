"""camera_node publishes a real video file as sensor_msgs/Image over DDS; a missing device is a
clear diagnostic and the node keeps running."""
import time

import cv2
import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from .ros_helpers import PY, wait_for


def test_video_file_and_missing_device(ros_node, spawn, tmp_path):
    video = tmp_path / "cam.avi"
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(5):
        out.write(np.full((120, 160, 3), (0, 0, 50 * i), np.uint8))  # red ramps up (BGR)
    out.release()

    images, diags = [], []
    subs = [ros_node.create_subscription(Image, "/side/image_raw", images.append, qos_profile_sensor_data),
            ros_node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)]
    cam = spawn(PY, "-m", "roboloop_ros.camera_node", "--ros-args", "-r", "__node:=side_cam",
                "-p", f"source:={video}", "-p", "camera_name:=side", "-p", "width:=64", "-p", "height:=48",
                "-p", "rate_hz:=20.0")
    missing = spawn(PY, "-m", "roboloop_ros.camera_node", "--ros-args", "-r", "__node:=gone_cam",
                    "-p", "source:=7", "-p", "camera_name:=gone", "-p", "reopen_s:=0.5")

    wait_for(lambda: len(images) >= 12, 30, f"images from camera_node:\n{cam.output}")
    img = images[-1]
    assert (img.height, img.width, img.encoding, img.header.frame_id) == (48, 64, "rgb8", "side_camera")
    reds = [np.frombuffer(bytes(m.data), np.uint8).reshape(48, 64, 3)[..., 0].mean() for m in images[:12]]
    assert max(reds) > 180 and min(reds) < 20  # the file's frames, looping
    n, t = len(images), time.monotonic()
    time.sleep(2.0)
    rate = (len(images) - n) / (time.monotonic() - t)
    assert 8 <= rate <= 24, rate  # ~rate_hz: paced, never free-running; a loaded machine may lag

    def gone_error():
        return [d.status[0] for d in diags if d.status[0].name == "camera/gone"
                and d.status[0].level == DiagnosticStatus.ERROR]

    status = wait_for(gone_error, 20, f"an ERROR diagnostic for the missing camera:\n{missing.output}")[-1]
    assert "cannot open camera source 7" in status.message and status.hardware_id == "7"
    assert "cannot open camera source 7" in missing.output
    assert missing.p.poll() is None and cam.p.poll() is None  # nothing crashed
    assert missing.stop() == 0 and cam.stop() == 0
    del subs
