"""The safety envelope: whatever the policy (or a person, or a network peer) commands, the commanded
end-effector target stays in a workspace box, moves no faster than a speed limit and accelerates no
harder than an acceleration limit, and a non-finite command becomes a stop.

`SafetyEnvelope` is plain numpy so the same object guards the sim (through `SafetyWrapper`), the ROS 2
safety node and a real driver. It works on *targets* (where the end effector is told to be, metres,
world frame), one call per control period of `dt` seconds. The filter order matters:

    1. non-finite command      -> stop: hold the last target, zero velocity (never a motion)
    2. clip to the box         -> the request is reachable
    3. speed limit             -> scale the step so |p - p_prev| <= max_speed * dt
    4. acceleration limit      -> |v - v_prev| <= max_accel * dt
    5. clip to the box again   -> (4) can leave the segment; projecting onto the convex box keeps the
                                  point inside and never lengthens the step, so (3) still holds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLIP_KINDS = ("non_finite", "box", "speed", "accel", "gripper")


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

    limits: SafetyLimits; dt: control period in seconds.
    """

    def __init__(self, limits: SafetyLimits, dt: float):
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"control period dt must be positive, got {dt}")
        self.limits, self.dt = limits, float(dt)
        self.low, self.high = (np.asarray(b, dtype=float) for b in limits.box)
        self.counts = {k: 0 for k in CLIP_KINDS}
        self.target = np.clip(np.zeros(3), self.low, self.high)
        self.velocity = np.zeros(3)
        self.gripper = -1.0

    def reset(self, target: np.ndarray, gripper: float = -1.0) -> None:
        """Start from the robot's present target (clipped into the box) at rest."""
        target = np.asarray(target, dtype=float)
        if target.shape != (3,) or not np.all(np.isfinite(target)):
            raise ValueError(f"reset target must be 3 finite numbers, got {target}")
        self.target = np.clip(target, self.low, self.high)
        self.velocity = np.zeros(3)
        self.gripper = float(np.clip(gripper, -1.0, 1.0)) if np.isfinite(gripper) else -1.0

    def filter(self, target: np.ndarray, gripper: float) -> tuple[np.ndarray, float, SafetyReport]:
        """requested target (3,) m and gripper command in [-1, 1] -> (safe target, safe gripper, report)."""
        clipped = {k: False for k in CLIP_KINDS}
        target = np.asarray(target, dtype=float).reshape(-1)
        if target.shape != (3,) or not np.all(np.isfinite(target)) or not np.isfinite(gripper):
            clipped["non_finite"] = True
            self.velocity = np.zeros(3)  # stop: hold the last safe target and the gripper as they are
            return self._done(self.target.copy(), self.gripper, clipped)

        requested = np.clip(target, self.low, self.high)
        clipped["box"] = not np.array_equal(requested, target)

        step = requested - self.target
        # 1 ppm below the limit, so a command that travels on as float32 still respects it.
        max_step = self.limits.max_speed * self.dt * (1.0 - 1e-6)
        dist = float(np.linalg.norm(step))
        if dist > max_step:
            step *= max_step / dist
            clipped["speed"] = True

        dv = step / self.dt - self.velocity
        max_dv = self.limits.max_accel * self.dt
        dv_norm = float(np.linalg.norm(dv))
        if dv_norm > max_dv:
            step = (self.velocity + dv * (max_dv / dv_norm)) * self.dt
            clipped["accel"] = True

        new = np.clip(self.target + step, self.low, self.high)
        # Rounding in the sums above can overshoot by an ulp; shrink the step once more if it did.
        step = new - self.target
        dist = float(np.linalg.norm(step))
        if dist > max_step:
            new = self.target + step * (max_step / dist)
        self.velocity = (new - self.target) / self.dt
        g = float(np.clip(gripper, -1.0, 1.0))
        clipped["gripper"] = bool(g != gripper)
        self.gripper = g
        return self._done(new, g, clipped)

    def _done(self, target: np.ndarray, gripper: float, clipped: dict[str, bool]):
        self.target = target
        for k, v in clipped.items():
            self.counts[k] += int(v)
        return target.copy(), gripper, SafetyReport(clipped, dict(self.counts))

    def stop(self) -> tuple[np.ndarray, float]:
        """The stop command: hold the last safe target, zero velocity (used by watchdogs)."""
        self.velocity = np.zeros(3)
        return self.target.copy(), self.gripper
