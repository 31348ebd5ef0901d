"""The safety envelope: whatever the policy (or a person, or a network peer) commands, the commanded
end-effector target stays in a workspace box, moves no faster than a speed limit and accelerates no
harder than an acceleration limit, and a command that is not 3 finite numbers and a finite gripper
value (NaN, a string, a list) becomes a stop.

`SafetyEnvelope` is plain numpy so the same object guards the sim (through `SafetyWrapper`), the ROS 2
safety node and a real driver. It works on *targets* (where the end effector is told to be, metres,
world frame), one call per control period of `dt` seconds; its velocity is the target's step / dt.

    1. not a finite command    -> stop: hold the last target, zero velocity (never a motion)
    2. clip to the box         -> the request is reachable
    3. speed limit             -> |v| <= max_speed
    4. acceleration limit      -> |v - v_prev| <= max_accel * dt
    5. brake ahead of a wall   -> along each axis, the target keeps a velocity it can still brake to
                                  zero inside the box: v_i * dt + v_i^2 / (2 a_b) <= distance to the
                                  wall, with a_b = max_accel / sqrt(3) (all three axes braking at
                                  once stay within max_accel). When (4) would break this, the step
                                  is the closest one to the request that keeps 2-5 together; such a
                                  step always exists while the envelope's own output is followed.

Every limit holds in every corner (on a wall, in a corner, for boxes up to +-1e308 m) with one
precisely stated exception: after `anchor()` moves the target to a measured pose from which the
current velocity cannot be braked inside the box under max_accel (the robot lagged its commands near
a wall), the box wins: that step brakes harder than max_accel and is reported as
`clipped["accel_overridden"]`. Speed and box hold always; the speed limit carries a 1 ppm margin so
a command that travels on as float32 still respects it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import math
import numbers

import numpy as np

CLIP_KINDS = ("non_finite", "box", "speed", "accel", "brake", "accel_overridden", "gripper")
_MARGIN = 1.0 - 1e-6


@dataclass
class SafetyLimits:
    """Limits in SI units. box: [[xmin, ymin, zmin], [xmax, ymax, zmax]] m, world frame."""

    box: list[list[float]] = field(default_factory=lambda: [[0.22, -0.28, 0.422], [0.62, 0.28, 0.76]])
    max_speed: float = 0.5               # m/s of the commanded target
    max_accel: float = 3.0               # m/s^2 of the commanded target
    gripper_force: float | None = None   # N; applied where the driver offers a force limit

    def __post_init__(self) -> None:
        try:
            box = np.asarray(self.box, dtype=float)
        except (TypeError, ValueError):
            box = np.zeros(0)
        if box.shape != (2, 3) or not np.all(np.isfinite(box)):
            raise ValueError(f"safety.box must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] (finite), got {self.box}")
        if np.any(box[0] > box[1]):
            raise ValueError(f"safety.box has a min above its max: {self.box}")
        for name in ("max_speed", "max_accel"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"safety.{name} must be a positive number, got {v}")
        if self.gripper_force is not None and not (np.isfinite(self.gripper_force) and self.gripper_force > 0):
            raise ValueError(f"safety.gripper_force must be positive or null, got {self.gripper_force}")


@dataclass
class SafetyReport:
    """What one `filter` call changed; `counts` accumulates over the envelope's life."""

    clipped: dict[str, bool]
    counts: dict[str, int]

    def as_info(self) -> dict:
        return {"clipped": dict(self.clipped), "counts": dict(self.counts), "stopped": self.clipped["non_finite"]}


class SafetyEnvelope:
    """Filters commanded end-effector targets (see the module docstring for the order of checks).

    limits: SafetyLimits; dt: control period in seconds. The public surface: `reset`, `anchor`,
    `filter`, `stop`, and the read-only `target`, `velocity`, `gripper`, `counts`, `box`.
    """

    def __init__(self, limits: SafetyLimits, dt: float):
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"control period dt must be positive, got {dt}")
        self.limits, self.dt = limits, float(dt)
        self._low, self._high = (np.asarray(b, dtype=float) for b in limits.box)
        self._counts = {k: 0 for k in CLIP_KINDS}
        self._target = np.clip(np.zeros(3), self._low, self._high)
        self._velocity = np.zeros(3)
        self._gripper = -1.0
        self._max_speed = limits.max_speed * _MARGIN
        self._max_dv = limits.max_accel * self.dt * (1.0 - 1e-9)   # rounding room only
        self._brake = limits.max_accel * _MARGIN / math.sqrt(3.0)

    # ------------------------------------------------------------------------- read-only state
    @property
    def target(self) -> np.ndarray:
        """The last safe target (3,) m."""
        return self._target.copy()

    @property
    def velocity(self) -> np.ndarray:
        """The last safe step / dt (3,) m/s."""
        return self._velocity.copy()

    @property
    def gripper(self) -> float:
        return self._gripper

    @property
    def counts(self) -> dict[str, int]:
        """How often each kind of clip happened since the envelope was made."""
        return dict(self._counts)

    @property
    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) corners of the workspace box (3,) m."""
        return self._low.copy(), self._high.copy()

    # ---------------------------------------------------------------------------------- commands
    def reset(self, target: np.ndarray, gripper: float = -1.0) -> None:
        """Start from the robot's present target (clipped into the box) at rest."""
        target = np.asarray(target, dtype=float)
        if target.shape != (3,) or not np.all(np.isfinite(target)):
            raise ValueError(f"reset target must be 3 finite numbers, got {target}")
        self._target = np.clip(target, self._low, self._high)
        self._velocity = np.zeros(3)
        g = _number(gripper)
        self._gripper = float(np.clip(g, -1.0, 1.0)) if g is not None else -1.0

    def anchor(self, target: np.ndarray) -> None:
        """Move the target to where the robot is (or is commanded to be), clipped into the box, keeping
        the velocity so the acceleration limit spans commands. A non-finite target is ignored."""
        target = _vector(target)
        if target is not None:
            self._target = np.clip(target, self._low, self._high)

    def filter(self, target: np.ndarray, gripper: float) -> tuple[np.ndarray, float, SafetyReport]:
        """requested target (3,) m and gripper command in [-1, 1] -> (safe target, safe gripper, report)."""
        clipped = {k: False for k in CLIP_KINDS}
        requested, g = _vector(target), _number(gripper)
        if requested is None or g is None:
            clipped["non_finite"] = True
            self._velocity = np.zeros(3)  # stop: hold the last safe target and the gripper as they are
            return self._done(self._target.copy(), self._gripper, clipped)

        clipped_req = np.clip(requested, self._low, self._high)
        clipped["box"] = not np.array_equal(clipped_req, requested)
        # halves first: two finite coordinates up to 1.8e308 apart must not overflow to inf
        half = clipped_req / 2 - self._target / 2
        half_dist = math.hypot(*half)
        if half_dist * 2 > self._max_speed * self.dt:
            v_req = half * (self._max_speed / half_dist)
            clipped["speed"] = True
        else:
            v_req = 2 * half / self.dt
        v = v_req
        dv = v - self._velocity
        dv_norm = math.hypot(*dv)
        if dv_norm > self._max_dv:
            v = self._velocity + dv * (self._max_dv / dv_norm)
            clipped["accel"] = True

        lo, hi = self._brake_interval()
        if np.any(v < lo) or np.any(v > hi):
            clipped["brake"] = True
            v, overridden = self._closest_feasible(v_req, lo, hi)
            clipped["accel_overridden"] = overridden
        new = np.clip(self._target + v * self.dt, self._low, self._high)   # rounding only: v keeps it inside
        self._velocity = (new - self._target) / self.dt
        out = float(np.clip(g, -1.0, 1.0))
        clipped["gripper"] = bool(out != g)
        self._gripper = out
        return self._done(new, out, clipped)

    def stop(self) -> tuple[np.ndarray, float]:
        """The stop command: hold the last safe target, zero velocity (used by watchdogs)."""
        self._velocity = np.zeros(3)
        return self._target.copy(), self._gripper

    # --------------------------------------------------------------------------------- internals
    def _done(self, target: np.ndarray, gripper: float, clipped: dict[str, bool]):
        self._target = target
        for k, v in clipped.items():
            self._counts[k] += int(v)
        return target.copy(), gripper, SafetyReport(clipped, dict(self._counts))

    def _brake_interval(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-axis velocity bounds (m/s) from which the target can still stop inside the box."""
        a, dt = self._brake, self.dt

        def fastest(dist: np.ndarray) -> np.ndarray:   # largest v with v dt + v^2 / (2a) <= dist
            return a * (np.sqrt(dt * dt + 2.0 * (dist / a)) - dt)

        with np.errstate(over="ignore"):   # a wall 1e308 m away is infinitely far: no bound, no NaN
            hi = fastest(np.maximum(self._high - self._target, 0.0))
            lo = -fastest(np.maximum(self._target - self._low, 0.0))
        return lo, hi

    def _feasible(self, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
        return bool(np.all(v >= lo) and np.all(v <= hi) and math.hypot(*v) <= self._max_speed
                    and math.hypot(*(v - self._velocity)) <= self._max_dv)

    def _closest_feasible(self, v_req: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, bool]:
        """The velocity closest to v_req inside the brake interval, the speed ball and the acceleration
        ball (Dykstra's projections), made exactly feasible by a line search from a known feasible
        point: braking every axis by a_b * dt. (velocity, True if no feasible velocity existed and the
        acceleration limit gave way to the box)."""
        v0 = self._velocity
        brake = np.sign(v0) * np.maximum(np.abs(v0) - self._brake * self.dt, 0.0)
        if not self._feasible(brake, lo, hi):   # re-anchored where braking in time is impossible: the box wins
            v = np.clip(brake, lo, hi)
            speed = math.hypot(*v)
            return (v * (self._max_speed / speed) if speed > self._max_speed else v), True
        x, p, q, r = v_req.copy(), np.zeros(3), np.zeros(3), np.zeros(3)
        for _ in range(60):
            y = np.clip(x + p, lo, hi)
            p, x = x + p - y, y
            y = _into_ball(x + q, v0, self._max_dv)
            q, x = x + q - y, y
            y = _into_ball(x + r, np.zeros(3), self._max_speed)
            r, x = x + r - y, y
        if self._feasible(x, lo, hi):
            return x, False
        t_ok, t_bad = 0.0, 1.0
        for _ in range(40):
            t = (t_ok + t_bad) / 2
            if self._feasible(brake + t * (x - brake), lo, hi):
                t_ok = t
            else:
                t_bad = t
        return brake + t_ok * (x - brake), False


def _into_ball(x: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    d = x - centre
    n = math.hypot(*d)
    return x if n <= radius else centre + d * (radius / n)


def _number(x) -> float | None:
    """A finite real number as float, else None (NaN, inf, strings, arrays, None)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "iuf":
            x = x.item()
        else:
            return None
    x = float(x)
    return x if math.isfinite(x) else None


def _vector(x) -> np.ndarray | None:
    """3 finite real numbers as a float array, else None."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError):
        return None
    if a.dtype.kind not in "iuf" or a.size != 3:
        return None
    a = a.astype(float).reshape(3)
    return a if np.all(np.isfinite(a)) else None
