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


def parse_env_option(text: str) -> dict:
    """"variant=latency,control_hz=20" -> {"variant": "latency", "control_hz": 20} (YAML scalars)."""
    import yaml
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"env option {item!r} is not key=value")
        out[key.strip()] = yaml.safe_load(value)
    return out


def laser_scan_msg(ranges, angle_min: float, angle_increment: float, range_min: float, range_max: float,
                   scan_time: float, stamp: Time, frame_id: str):
    """sensor_msgs/LaserScan from ranges (n,) m, counter-clockwise from angle_min (rad)."""
    from sensor_msgs.msg import LaserScan
    r = np.asarray(ranges, dtype=np.float32).reshape(-1)
    msg = LaserScan()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.angle_min, msg.angle_increment = float(angle_min), float(angle_increment)
    msg.angle_max = float(angle_min + angle_increment * (len(r) - 1))
    msg.time_increment, msg.scan_time = 0.0, float(scan_time)
    msg.range_min, msg.range_max = float(range_min), float(range_max)
    msg.ranges = r.tolist()
    return msg


def scan_arrays(msg) -> tuple[np.ndarray, np.ndarray]:
    """(ranges (n,) m, angles (n,) rad) of a sensor_msgs/LaserScan; readings outside [range_min, range_max]
    become inf (no return), as REP 117 asks. ValueError for a scan without readings or with a bad angle grid."""
    r = np.asarray(msg.ranges, dtype=np.float64)
    if r.size == 0 or not (np.isfinite(msg.angle_min) and np.isfinite(msg.angle_increment)):
        raise ValueError(f"scan has {r.size} ranges, angle_min {msg.angle_min}, increment {msg.angle_increment}")
    valid = np.isfinite(r) & (r >= msg.range_min) & (r <= msg.range_max)
    return np.where(valid, r, np.inf), msg.angle_min + msg.angle_increment * np.arange(r.size)


def yaw_quaternion(yaw: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation by yaw rad about z."""
    return 0.0, 0.0, float(np.sin(yaw / 2)), float(np.cos(yaw / 2))


def odometry_msg(pose, twist, stamp: Time, frame_id: str, child_frame_id: str):
    """nav_msgs/Odometry from pose (x m, y m, yaw rad) in `frame_id` and twist (v m/s, w rad/s) in the child frame."""
    from nav_msgs.msg import Odometry
    msg = Odometry()
    msg.header.stamp, msg.header.frame_id, msg.child_frame_id = stamp, frame_id, child_frame_id
    p = msg.pose.pose
    p.position.x, p.position.y = float(pose[0]), float(pose[1])
    p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w = yaw_quaternion(pose[2])
    msg.twist.twist.linear.x, msg.twist.twist.angular.z = float(twist[0]), float(twist[1])
    return msg
