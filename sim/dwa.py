"""A dynamic-window local planner (DWA; Fox, Burgard, Thrun, "The Dynamic Window Approach to Collision
Avoidance", IEEE RAM 1997) for a differential-drive base, from a lidar scan and a goal in the base frame.

It sees what a learned policy sees (the scan and the odometry goal of `roboloop/base-Nav-v0`), nothing
privileged, so it is both the classical baseline of the navigation benchmark and the scripted expert
that records demonstrations. Nav2's DWB controller implements the same idea with more critics; Nav2
itself does not install from PyPI, so this compact planner stands in for it.

Each call: the window of (v, w) reachable within one control period under the acceleration limits
(v >= 0: no reversing, as DWB's default), sampled on a grid; each sample is rolled out as an arc for
`horizon_s`; a sample is admissible when the arc keeps `margin` m of clearance from every lidar
point and the base can still brake before the nearest one; the admissible sample with the best
weighted score of goal progress, heading to the goal, clearance and speed wins. With none
admissible the base turns in place toward the more open side.

Recovery (DWA's local minima: an obstacle squarely between the base and the goal): after `stuck_s`
seconds without driving, the planner backs up for `backup_s` seconds at `backup_speed` while the rear
half-plane is clear, then heads for a temporary subgoal `detour_m` away along the most open lidar
direction within 120 degrees of the goal's bearing, for `detour_s` seconds (dead-reckoned from its own
commands), then returns to the goal. Nav2's behaviour tree runs back-up and detour recoveries for the
same reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .mobile_base import CHASSIS_RADIUS, BaseLimits


@dataclass
class DWAConfig:
    """Units: m/s, rad/s, m/s^2, rad/s^2, s, m. Weights are dimensionless (each term is scaled to ~[0, 1])."""
    limits: BaseLimits = field(default_factory=BaseLimits)   # the base's speed and acceleration limits
    dt: float = 0.1                 # the control period
    horizon_s: float = 2.0
    n_v: int = 7
    n_w: int = 21
    radius: float = CHASSIS_RADIUS
    margin: float = 0.15
    w_progress: float = 1.0
    w_heading: float = 0.4
    w_clearance: float = 0.3
    w_speed: float = 0.2
    floor: float = 0.06             # m of clearance no arc may go below (lidar noise and beam gaps)
    stuck_s: float = 1.0
    detour_m: float = 1.0
    detour_s: float = 3.0
    backup_s: float = 1.0
    backup_speed: float = 0.15


class DWAPlanner:
    """`plan(ranges, angles, goal, v, w) -> (v, w)`: ranges (n,) m at angles (n,) rad (base frame, lidar at
    the centre), range_max readings mean free space; goal (2,) m in the base frame; v, w the present
    twist (m/s, rad/s). Returns the commanded (v m/s, w rad/s)."""

    def __init__(self, config: DWAConfig | None = None, range_max: float = 3.5):
        self.c = config or DWAConfig()
        self.range_max = float(range_max)
        steps = max(2, int(round(self.c.horizon_s / self.c.dt)))
        self.t = np.linspace(self.c.dt, self.c.horizon_s, steps)       # rollout times (T,)
        self.reset()

    def reset(self) -> None:
        """Forget the recovery state (a new episode)."""
        self._still = 0                   # consecutive calls without driving
        self._detour: np.ndarray | None = None   # subgoal (2,) m in the present base frame
        self._detour_left = 0
        self._backup_left = 0

    def window(self, v: float, w: float) -> tuple[np.ndarray, np.ndarray]:
        c = self.c
        dv, dw = c.limits.max_linear_accel * c.dt, c.limits.max_angular_accel * c.dt
        vs = np.linspace(max(0.0, v - dv), min(c.limits.max_linear, max(v + dv, 0.0)), c.n_v)
        ws = np.linspace(max(-c.limits.max_angular, w - dw), min(c.limits.max_angular, w + dw), c.n_w)
        return vs, ws

    def rollout(self, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(K,) twists -> (K, T, 3) poses (x, y, yaw) along constant-twist arcs from the origin."""
        th = w[:, None] * self.t[None, :]
        small = np.abs(w)[:, None] < 1e-6
        w_safe = np.where(small, 1.0, w[:, None])
        x = np.where(small, v[:, None] * self.t, v[:, None] * np.sin(th) / w_safe)
        y = np.where(small, 0.0, v[:, None] * (1.0 - np.cos(th)) / w_safe)
        return np.stack([x, y, th], axis=-1)

    def plan(self, ranges, angles, goal, v: float, w: float) -> tuple[float, float]:
        c = self.c
        ranges, angles = np.asarray(ranges, float), np.asarray(angles, float)
        goal = np.asarray(goal, float).reshape(2)
        if self._backup_left > 0:
            self._backup_left -= 1
            rear = ranges[np.cos(angles) < 0]
            if len(rear) and rear.min() > c.radius + c.margin:
                return -c.backup_speed, 0.0
            self._backup_left = 0
        if self._detour is not None:
            goal = self._detour
        elif self._still * c.dt >= c.stuck_s and len(ranges):
            if self._backup_left == 0 and self._still * c.dt < c.stuck_s + c.backup_s:
                self._backup_left = int(round(c.backup_s / c.dt))
                self._still += self._backup_left   # backed up once: the detour comes next
                return self.plan(ranges, angles, goal, v, w)
            bearing = np.arctan2(goal[1], goal[0])
            off = np.abs(np.arctan2(np.sin(angles - bearing), np.cos(angles - bearing)))
            pick = np.where(off <= np.deg2rad(120), ranges, -np.inf)
            a = angles[int(np.argmax(pick))]
            self._detour = goal = c.detour_m * np.array([np.cos(a), np.sin(a)])
            self._detour_left = int(round(c.detour_s / c.dt))
        v_cmd, w_cmd = self._plan(ranges, angles, goal, v, w)
        self._still = self._still + 1 if v_cmd < 0.02 and np.linalg.norm(goal) > 0.3 else 0
        if self._detour is not None:
            self._detour_left -= 1
            # Carry the subgoal into the next base frame by the commanded motion of one period.
            th = w_cmd * c.dt
            moved = self._detour - np.array([v_cmd * c.dt * np.cos(th / 2), v_cmd * c.dt * np.sin(th / 2)])
            rot = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
            self._detour = rot @ moved
            if self._detour_left <= 0 or np.linalg.norm(self._detour) < 0.2:
                self._detour, self._still = None, 0
        return v_cmd, w_cmd

    def _plan(self, ranges, angles, goal, v: float, w: float) -> tuple[float, float]:
        c = self.c
        hit = ranges < self.range_max - 1e-3
        pts = np.stack([ranges[hit] * np.cos(angles[hit]), ranges[hit] * np.sin(angles[hit])], axis=-1)
        vs, ws = self.window(v, w)
        V, W = (a.reshape(-1) for a in np.meshgrid(vs, ws, indexing="ij"))
        poses = self.rollout(V, W)                                   # (K, T, 3)
        if len(pts):
            d = np.linalg.norm(poses[:, :, None, :2] - pts[None, None, :, :], axis=-1).min(axis=2)   # (K, T)
        else:
            d = np.full(poses.shape[:2], np.inf)
        clear = d - c.radius                                          # m of free space along each arc
        min_clear = clear.min(axis=1)
        # Admissible (Fox et al.): the base can brake to a stop before the arc first comes within the margin.
        # Already inside the margin (squeezed past a corner), moving away from the nearest point is allowed.
        clear_now = (np.linalg.norm(pts, axis=1).min() - c.radius) if len(pts) else np.inf
        # Inside the floor already, an arc may not get any closer than the base is now.
        thr = min(c.margin, max(c.floor, clear_now - 0.01)) if clear_now >= c.floor else clear_now
        blocked = clear < thr
        first = blocked.argmax(axis=1)
        t_free = np.where(first > 0, self.t[np.maximum(first - 1, 0)], 0.0)
        travel = np.where(blocked.any(axis=1), V * t_free, np.inf)
        admissible = V ** 2 <= 2.0 * c.limits.max_linear_accel * travel + 1e-12
        if not admissible.any():
            left = ranges[(angles % (2 * np.pi)) < np.pi].mean() if len(ranges) else 1.0
            right = ranges[(angles % (2 * np.pi)) >= np.pi].mean() if len(ranges) else 1.0
            return 0.0, float(c.limits.max_angular if left >= right else -c.limits.max_angular)
        end = poses[:, -1, :]
        d0 = float(np.linalg.norm(goal))
        d_end = np.linalg.norm(goal[None, :] - end[:, :2], axis=1)
        progress = (d0 - d_end) / (c.limits.max_linear * self.t[-1])
        bearing = np.arctan2(goal[1] - end[:, 1], goal[0] - end[:, 0]) - end[:, 2]
        bearing = np.abs(np.arctan2(np.sin(bearing), np.cos(bearing)))
        heading = 1.0 - bearing / np.pi
        score = (c.w_progress * progress + c.w_heading * heading + c.w_clearance * np.clip(min_clear, 0.0, 1.0)
                 + c.w_speed * V / c.limits.max_linear)
        # Near the goal, arriving beats cruising: slow down inside the last half metre.
        if d0 < 0.5:
            score -= c.w_speed * V / c.limits.max_linear
        score[~admissible] = -np.inf
        k = int(np.argmax(score))
        return float(V[k]), float(W[k])


class DWAPolicy:
    """DWA behind roboloop's policy interface for `roboloop/base-Nav-v0`: `act(obs, deterministic)` reads
    the state vector (scan, goal, odometry twist) and returns the normalized action [v, w] (float32)."""

    def __init__(self, spec: dict, config: DWAConfig | None = None):
        names = spec["observation"]["state"]["names"]
        act, lidar = spec["action"], spec["lidar"]
        self.scan_cols = [i for i, n in enumerate(names) if n.startswith("scan_")]
        self.cols = {n: names.index(n) for n in ("goal_x", "goal_y", "odom_v", "odom_w")}
        self.max_v, self.max_w = float(act["max_linear_mps"]), float(act["max_angular_radps"])
        self.angles = lidar["angle_min_rad"] + lidar["angle_increment_rad"] * np.arange(len(self.scan_cols))
        cfg = config or DWAConfig(limits=BaseLimits(max_linear=self.max_v, max_angular=self.max_w),
                                  dt=1.0 / spec["control_hz"])
        self.planner = DWAPlanner(cfg, lidar["range_max_m"])

    def reset(self) -> None:
        self.planner.reset()

    def act(self, obs, deterministic: bool = True) -> np.ndarray:
        s = np.asarray(obs["state"] if isinstance(obs, dict) else obs, np.float64)
        col = self.cols
        v, w = self.planner.plan(s[self.scan_cols], self.angles, [s[col["goal_x"]], s[col["goal_y"]]],
                                 s[col["odom_v"]], s[col["odom_w"]])
        return np.clip([v / self.max_v, w / self.max_w], -1.0, 1.0).astype(np.float32)
