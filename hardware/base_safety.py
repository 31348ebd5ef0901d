"""The safety filter of a mobile base: whatever the policy, a person or a network peer commands, the base's
velocity command stays within speed and acceleration limits and stops before an obstacle the lidar sees.

`BaseSafety` is plain numpy so the same object guards a simulated base and the ROS 2 safety node
(`safety_node` with ``kind: base``). One `filter` call per command, `dt` seconds apart:

    1. not two finite numbers       -> stop (v = w = 0)
    2. no scan, or a stale one      -> the linear velocity stops (rotation in place stays allowed)
    3. speed limits                 -> |v| <= max_linear, |w| <= max_angular
    4. lidar stop                   -> moving forward (backward) with any range in the front (rear)
                                       half-plane under stop_distance: v = 0. Turning in place stays
                                       allowed so the base (or the person) can turn away.
    5. acceleration limits          -> |v - v_prev| <= max_linear_accel * dt, the same for w; a stop
                                       (1, 2, 4) is exempt: braking is never delayed by the filter.

Units: m/s, rad/s, m/s^2, rad/s^2, m, s. Scan angles are in the base frame, counter-clockwise from forward.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

BASE_CLIP_KINDS = ("non_finite", "no_scan", "speed", "lidar_stop", "accel")


@dataclass
class BaseSafetyLimits:
    """max_linear m/s, max_angular rad/s, max_linear_accel m/s^2, max_angular_accel rad/s^2,
    stop_distance m (lidar range from the lidar's centre), max_scan_age s."""

    max_linear: float = 0.5
    max_angular: float = 1.5
    max_linear_accel: float = 1.0
    max_angular_accel: float = 3.0
    stop_distance: float = 0.3
    max_scan_age: float = 0.5

    def __post_init__(self):
        for k in ("max_linear", "max_angular", "max_linear_accel", "max_angular_accel", "stop_distance",
                  "max_scan_age"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and v > 0):
                raise ValueError(f"safety.{k} must be a positive number, got {v!r}")


class BaseSafety:
    """Filters (v, w) commands (see the module docstring). `update_scan` feeds the lidar; `counts` says how
    often each kind of clip happened."""

    def __init__(self, limits: BaseSafetyLimits, dt: float):
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"control period dt must be positive, got {dt}")
        self.limits, self.dt = limits, float(dt)
        self.velocity = np.zeros(2)               # the last safe (v, w)
        self.counts = {k: 0 for k in BASE_CLIP_KINDS}
        self._ranges: np.ndarray | None = None
        self._angles: np.ndarray | None = None
        self._scan_time = -math.inf

    def update_scan(self, ranges, angles, now: float) -> None:
        """ranges (n,) m and angles (n,) rad of one scan, received at `now` (s, monotonic). Readings that are
        not finite (a missed return) count as free space; a scan whose sizes differ is a ValueError."""
        r, a = np.asarray(ranges, float).reshape(-1), np.asarray(angles, float).reshape(-1)
        if r.shape != a.shape or r.size == 0 or not np.all(np.isfinite(a)):
            raise ValueError(f"scan has {r.size} ranges for {a.size} angles (angles must be finite)")
        self._ranges, self._angles, self._scan_time = np.where(np.isfinite(r), r, np.inf), a, float(now)

    def min_range(self, direction: float) -> float:
        """The nearest reading (m) in the half-plane ahead (direction > 0) or behind (< 0); inf without one."""
        if self._ranges is None:
            return math.inf
        side = np.cos(self._angles) * np.sign(direction) > 0
        return float(self._ranges[side].min()) if side.any() else math.inf

    def filter(self, v, w, now: float) -> tuple[float, float, dict[str, bool]]:
        """Requested (v m/s, w rad/s) at time `now` (s, monotonic) -> (safe v, safe w, what was clipped)."""
        lim = self.limits
        clipped = {k: False for k in BASE_CLIP_KINDS}
        if not (_finite(v) and _finite(w)):
            clipped["non_finite"] = True
            return self._done(0.0, 0.0, clipped)
        v, w = float(v), float(w)
        vc, wc = float(np.clip(v, -lim.max_linear, lim.max_linear)), float(np.clip(w, -lim.max_angular, lim.max_angular))
        clipped["speed"] = (vc, wc) != (v, w)
        stop_v = False
        if now - self._scan_time > lim.max_scan_age:
            clipped["no_scan"] = stop_v = vc != 0.0
        elif vc != 0.0 and self.min_range(vc) < lim.stop_distance:
            clipped["lidar_stop"] = stop_v = True
        dv, dw = lim.max_linear_accel * self.dt, lim.max_angular_accel * self.dt
        v0, w0 = self.velocity
        v_out = 0.0 if stop_v else float(np.clip(vc, v0 - dv, v0 + dv))
        w_out = float(np.clip(wc, w0 - dw, w0 + dw))
        # Slowing toward zero is never held back by the acceleration limit.
        if abs(vc) < abs(v0) and np.sign(vc) == np.sign(v0) or vc == 0.0:
            v_out = 0.0 if stop_v else vc
        clipped["accel"] = (v_out, w_out) != (0.0 if stop_v else vc, wc)
        return self._done(v_out, w_out, clipped)

    def stop(self) -> tuple[float, float]:
        """The stop command (used by watchdogs)."""
        self.velocity = np.zeros(2)
        return 0.0, 0.0

    def _done(self, v: float, w: float, clipped: dict[str, bool]):
        self.velocity = np.array([v, w])
        for k, c in clipped.items():
            self.counts[k] += int(c)
        return v, w, clipped


def _finite(x) -> bool:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return False
    return math.isfinite(float(x))
