"""numpy <-> standard ROS 2 messages, and the small helpers every node shares."""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Image, JointState

LEVELS = {"ok": DiagnosticStatus.OK, "warn": DiagnosticStatus.WARN, "error": DiagnosticStatus.ERROR,
          "stale": DiagnosticStatus.STALE}


def image_msg(rgb: np.ndarray, stamp: Time, frame_id: str) -> Image:
    """sensor_msgs/Image (rgb8) from an RGB uint8 array (height, width, 3)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) image, got {rgb.dtype} {rgb.shape}")
    msg = Image()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding, msg.is_bigendian, msg.step = "rgb8", 0, int(rgb.shape[1]) * 3
    msg.data = np.ascontiguousarray(rgb).tobytes()
    return msg


def image_array(msg: Image) -> np.ndarray:
    """RGB uint8 (height, width, 3) from an rgb8/bgr8 sensor_msgs/Image; ValueError names what is wrong."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"image encoding {msg.encoding!r} is not rgb8/bgr8")
    row = msg.width * 3
    if msg.step < row or len(msg.data) != msg.step * msg.height:
        raise ValueError(f"image data is {len(msg.data)} bytes, expected step {msg.step} x height "
                         f"{msg.height} with step >= {row} for width {msg.width}")
    a = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, :row]
    a = a.reshape(msg.height, msg.width, 3)
    return a[..., ::-1].copy() if msg.encoding == "bgr8" else a.copy()


def joint_state_msg(names, positions, velocities, stamp: Time) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(names)
    msg.position = [float(x) for x in positions]
    msg.velocity = [float(x) for x in velocities]
    return msg


def pose_msg(position, quat_wxyz, stamp: Time, frame_id: str) -> PoseStamped:
    msg = PoseStamped()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    p, q = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z = (float(v) for v in position)
    q.w, q.x, q.y, q.z = (float(v) for v in quat_wxyz)
    return msg


def diagnostics_msg(stamp: Time, name: str, hardware_id: str, level: str, message: str,
                    values: dict | None = None) -> DiagnosticArray:
    """A one-status diagnostic_msgs/DiagnosticArray; level is ok, warn, error or stale."""
    status = DiagnosticStatus(level=LEVELS[level], name=name, message=message, hardware_id=hardware_id)
    status.values = [KeyValue(key=str(k), value=str(v)) for k, v in (values or {}).items()]
    arr = DiagnosticArray()
    arr.header.stamp = stamp
    arr.status = [status]
    return arr


def stamp_seconds(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9
