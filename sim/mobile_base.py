"""A differential-drive mobile base in MuJoCo (``assets/mobile_base.xml``): velocity commands in SI units
with acceleration limits, a 2D lidar made of MuJoCo rangefinder rays, wheel odometry with slip and noise,
and an optional forward camera.

Nominal parameters (a TurtleBot/Jackal-class indoor base): chassis radius 0.18 m, wheel radius 0.05 m,
track width 0.30 m, 6 kg; the lidar sits at the centre, 0.20 m above the floor.

How a command becomes motion, one control period at a time:
  1. ``command(v, w)``: linear m/s (body x) and angular rad/s (about z), clipped to max_linear /
     max_angular, then rate-limited to max_linear_accel (m/s^2) / max_angular_accel (rad/s^2): the
     wheel controllers' set point.
  2. The motor controllers turn the wheels at the set point computed with the NOMINAL wheel radius.
  3. The ground moves each wheel by its true radius (radius_scale x nominal) times (1 - slip) of that
     wheel (longitudinal slip, drawn per episode, plus per-step jitter): the chassis' true velocity.
     Velocity actuators drive the planar joints to it; an obstacle in the way stops the chassis
     (the actuators' forces are capped), while the wheels keep turning.
  4. The encoders measure each wheel's turn rate with gaussian noise (encoder_noise, rad/s); wheel
     odometry integrates them with the nominal radius and track width. So odometry drifts from the
     truth the way a real base's does: by radius error, by slip, by noise, and by pushing a wall.

Frames: world (the arena, x east, y north) and odom (the world pose at the episode start; the
odometry starts at zero there). The lidar scan is counter-clockwise from the base's forward axis,
beam i at angle ``2 pi i / n_beams`` (rad), ranges in m, ``range_max`` where nothing is hit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources

import mujoco
import numpy as np

CHASSIS_RADIUS = 0.18       # m
WHEEL_RADIUS = 0.05         # m, nominal
TRACK_WIDTH = 0.30          # m, distance between the wheels
LIDAR_HEIGHT = 0.20         # m above the floor
OBSTACLE_HEIGHT = 0.5       # m, clutter and walls (the lidar plane cuts them all)


def model_path() -> str:
    """Path of the packaged MJCF template (``roboloop/sim/assets/mobile_base.xml``)."""
    return str(resources.files("roboloop.sim").joinpath("assets", "mobile_base.xml"))


def beam_angles(n_beams: int) -> np.ndarray:
    """(n_beams,) rad: beam i at 2 pi i / n_beams, counter-clockwise from forward."""
    return 2.0 * np.pi * np.arange(n_beams) / n_beams


def clutter_radii(n_clutter: int) -> np.ndarray:
    """(n_clutter,) m: the radius of each clutter slot, cycling through 0.15 .. 0.35 m."""
    return np.resize(np.linspace(0.15, 0.35, 5), n_clutter)


def build_mjcf(n_beams: int, n_clutter: int, arena_half: float) -> str:
    """The MJCF text: the template with `n_beams` rangefinder rays, `n_clutter` cylinders (parked below the
    floor until placed) and walls at +-arena_half m."""
    if n_beams < 1 or n_clutter < 0 or arena_half <= CHASSIS_RADIUS:
        raise ValueError(f"need n_beams >= 1, n_clutter >= 0 and arena_half > {CHASSIS_RADIUS} m")
    text = open(model_path()).read()
    sites, sensors = [], []
    for i, a in enumerate(beam_angles(n_beams)):
        # A rangefinder measures along its site's +z axis.
        sites.append(f'<site name="ray{i}" pos="0 0 {LIDAR_HEIGHT}" size="0.005" rgba="1 0 0 0" '
                     f'zaxis="{math.cos(a):.9f} {math.sin(a):.9f} 0"/>')
        sensors.append(f'<rangefinder name="ray{i}" site="ray{i}"/>')
    clutter = [f'<body name="clutter{i}" mocap="true" pos="0 0 -5"><geom name="clutter{i}" type="cylinder" '
               f'size="{r:.4f} {OBSTACLE_HEIGHT / 2}" rgba="0.7 0.45 0.3 1"/></body>'
               for i, r in enumerate(clutter_radii(n_clutter))]
    wall = arena_half + 0.05
    return (text.replace("<!-- LIDAR_SITES -->", "\n      ".join(sites))
            .replace("<!-- LIDAR_SENSORS -->", "\n    ".join(sensors))
            .replace("<!-- CLUTTER -->", "\n    ".join(clutter))
            .replace("HALF_PLUS", f"{arena_half + 0.1:.6f}").replace("HALF_WALL", f"{wall:.6f}")
            .replace("ARENA_CAM", f"{2.2 * arena_half:.6f}"))


@dataclass
class BaseLimits:
    """Command limits: max_linear m/s, max_angular rad/s, max_linear_accel m/s^2, max_angular_accel rad/s^2."""
    max_linear: float = 0.5
    max_angular: float = 1.5
    max_linear_accel: float = 1.0
    max_angular_accel: float = 3.0

    def __post_init__(self):
        for k in ("max_linear", "max_angular", "max_linear_accel", "max_angular_accel"):
            v = getattr(self, k)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be a positive number, got {v}")


@dataclass
class Steering:
    """The car-like (Ackermann) variant: the front wheels steer, so the base cannot turn in place. A
    commanded (v, w) becomes the steering angle atan(w * wheelbase / |v|), clipped to +-max_steer (rad),
    and the base turns at v * tan(angle) / wheelbase. wheelbase m, max_steer rad."""
    wheelbase: float = 0.26
    max_steer: float = 0.45

    def __post_init__(self):
        if not (self.wheelbase > 0 and 0 < self.max_steer < math.pi / 2):
            raise ValueError(f"wheelbase must be > 0 m and max_steer within (0, pi/2) rad, got {self}")

    def yaw_rate(self, v: float, w: float) -> float:
        """The yaw rate (rad/s) the steering achieves for the request (v m/s, w rad/s)."""
        if abs(v) < 1e-9:
            return 0.0
        angle = float(np.clip(math.atan(w * self.wheelbase / abs(v)), -self.max_steer, self.max_steer))
        return v * math.tan(angle) / self.wheelbase


@dataclass
class BasePhysics:
    """One episode's wheel-ground physics. radius_scale: true / nominal wheel radius (per wheel, L R);
    slip: mean longitudinal slip of each wheel (0 = none, 0.1 = the ground moves 10% less than the
    wheel); slip_jitter: std of per-step slip added on top; encoder_noise: rad/s std of each encoder's
    speed reading."""
    radius_scale: tuple[float, float] = (1.0, 1.0)
    slip: tuple[float, float] = (0.0, 0.0)
    slip_jitter: float = 0.0
    encoder_noise: float = 0.0


def wheel_speeds(v: float, w: float, radius: float = WHEEL_RADIUS, track: float = TRACK_WIDTH) -> np.ndarray:
    """Body (v m/s, w rad/s) -> wheel turn rates (left, right) rad/s."""
    return np.array([(v - w * track / 2) / radius, (v + w * track / 2) / radius])


def body_velocity(wheels: np.ndarray, radius=WHEEL_RADIUS, track: float = TRACK_WIDTH) -> tuple[float, float]:
    """Wheel ground speeds: turn rates (left, right) rad/s times radius (m, scalar or per wheel) ->
    (v m/s, w rad/s)."""
    ground = np.asarray(wheels, float) * np.asarray(radius, float)
    return float(ground.mean()), float((ground[1] - ground[0]) / track)


class MobileBaseSim:
    """The MuJoCo base: commands, physics, lidar, odometry. One `step()` is one control period.

    Args:
        n_beams: lidar rays over 360 degrees. range_max: m (readings beyond it, and misses, read range_max).
        lidar_noise: m, std of gaussian range noise. n_clutter: clutter cylinders the model holds.
        arena_half: m, the walls stand at +-arena_half. control_hz / physics_hz: Hz (an integer ratio).
        limits: `BaseLimits`. seed: the noise generator's seed (tasks pass their own generator to reset).
        steering: None for differential drive, a `Steering` for the car-like (Ackermann) variant; its rear
            wheels carry the encoders, so the odometry is the same.
    """

    def __init__(self, n_beams: int = 24, range_max: float = 3.5, lidar_noise: float = 0.0, n_clutter: int = 8,
                 arena_half: float = 2.5, control_hz: float = 10.0, physics_hz: float = 100.0,
                 limits: BaseLimits | None = None, seed: int | None = None, steering: Steering | None = None):
        ratio = physics_hz / control_hz
        if control_hz <= 0 or abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(f"physics_hz ({physics_hz}) must be an integer multiple of control_hz ({control_hz})")
        if range_max <= CHASSIS_RADIUS or lidar_noise < 0:
            raise ValueError(f"range_max must exceed {CHASSIS_RADIUS} m and lidar_noise must be >= 0")
        self.n_beams, self.range_max, self.lidar_noise = int(n_beams), float(range_max), float(lidar_noise)
        self.arena_half, self.n_clutter = float(arena_half), int(n_clutter)
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(self.n_beams, self.n_clutter, self.arena_half))
        self.model.opt.timestep = 1.0 / physics_hz
        self.data = mujoco.MjData(self.model)
        self.control_hz, self.dt, self.substeps = float(control_hz), 1.0 / control_hz, int(round(ratio))
        self.limits = limits or BaseLimits()
        self.steering = steering
        self.rng = np.random.default_rng(seed)
        self.angles = beam_angles(self.n_beams)
        self.chassis = self.model.geom("chassis").id
        self.clutter_ids = np.array([self.model.geom(f"clutter{i}").id for i in range(self.n_clutter)], int)
        self.clutter_mocap = [int(self.model.body_mocapid[self.model.body(f"clutter{i}").id])
                              for i in range(self.n_clutter)]
        self.clutter_radii = clutter_radii(self.n_clutter)
        self.obstacle_ids = set(self.clutter_ids.tolist()) | {self.model.geom(f"wall_{s}").id for s in "nsew"}
        self.sensor_adr = np.array([self.model.sensor(f"ray{i}").adr[0] for i in range(self.n_beams)], int)
        self.physics = BasePhysics()
        self.reset((0.0, 0.0, 0.0))

    # ------------------------------------------------------------------------------------ scene
    def set_clutter(self, centres: np.ndarray, slots=None) -> None:
        """Place clutter cylinders: centres (k, 2) m for the slots `slots` (k indices, default 0..k-1; slot i
        has radius `clutter_radii[i]`); the other slots are parked below the floor (out of the lidar plane
        and of every contact). Cylinders are mocap bodies: moving them keeps MuJoCo's collision bounds valid."""
        centres = np.asarray(centres, float).reshape(-1, 2)
        slots = np.arange(len(centres)) if slots is None else np.asarray(slots, int).reshape(-1)
        if len(slots) != len(centres) or len(set(slots.tolist())) != len(slots) or \
                (len(slots) and (slots.min() < 0 or slots.max() >= self.n_clutter)):
            raise ValueError(f"{len(centres)} centres for slots {slots.tolist()}: need one distinct slot in "
                             f"[0, {self.n_clutter}) per centre")
        self.data.mocap_pos[:] = [0.0, 0.0, -5.0]
        for c, i in zip(centres, slots):
            self.data.mocap_pos[self.clutter_mocap[i]] = [c[0], c[1], OBSTACLE_HEIGHT / 2]
        mujoco.mj_forward(self.model, self.data)

    def set_goal_marker(self, xy) -> None:
        self.model.site_pos[self.model.site("goal").id, :2] = xy

    def reset(self, pose, physics: BasePhysics | None = None) -> None:
        """Place the base at rest at pose (x m, y m, yaw rad) in the world; the odometry restarts at zero."""
        mocap = self.data.mocap_pos.copy()   # the scene stays; only the base is reset
        mujoco.mj_resetData(self.model, self.data)
        self.data.mocap_pos[:] = mocap
        self.data.qpos[:3] = pose
        mujoco.mj_forward(self.model, self.data)
        if physics is not None:
            self.physics = physics
        self.setpoint = np.zeros(2)             # (v, w) the wheel controllers track
        self.encoder = np.zeros(2)              # last measured wheel rates (left, right) rad/s
        self.odom = np.zeros(3)                 # (x, y, yaw) in the odom frame
        self.odom_twist = np.zeros(2)           # (v, w) from the encoders
        self.distance = 0.0                     # m the chassis truly travelled this episode
        self.contact = self._in_contact()

    # ------------------------------------------------------------------------------------ commands
    def command(self, v: float, w: float) -> np.ndarray:
        """Clip (v m/s, w rad/s) to the limits and rate-limit it from the present set point; returns the
        new set point (2,)."""
        if not (math.isfinite(v) and math.isfinite(w)):
            raise ValueError(f"non-finite velocity command v={v}, w={w}")
        lim = self.limits
        req = np.array([np.clip(v, -lim.max_linear, lim.max_linear), np.clip(w, -lim.max_angular, lim.max_angular)])
        step = np.array([lim.max_linear_accel, lim.max_angular_accel]) * self.dt
        self.setpoint = self.setpoint + np.clip(req - self.setpoint, -step, step)
        return self.setpoint.copy()

    def step(self, rng: np.random.Generator | None = None) -> None:
        """Advance one control period at the present set point: physics, encoders, odometry."""
        rng = rng or self.rng
        p = self.physics
        v_set, w_set = self.setpoint
        if self.steering is not None:   # a car turns only as its steering allows
            w_set = self.steering.yaw_rate(v_set, w_set)
        wheels = wheel_speeds(v_set, w_set)                    # the motor controllers' nominal-radius targets
        slip = np.clip(np.asarray(p.slip) + rng.normal(0.0, p.slip_jitter, 2) if p.slip_jitter else
                       np.asarray(p.slip, float), 0.0, 0.95)
        v_true, w_true = body_velocity(wheels * (1.0 - slip), WHEEL_RADIUS * np.asarray(p.radius_scale))
        x0 = self.data.qpos[:2].copy()
        for _ in range(self.substeps):
            yaw = self.data.qpos[2]
            self.data.ctrl[:] = [v_true * math.cos(yaw), v_true * math.sin(yaw), w_true]
            mujoco.mj_step(self.model, self.data)
        self.distance += float(np.linalg.norm(self.data.qpos[:2] - x0))
        self.encoder = wheels + (rng.normal(0.0, p.encoder_noise, 2) if p.encoder_noise else 0.0)
        v, w = body_velocity(self.encoder)
        # Midpoint integration of the encoder twist over the period (the usual diff-drive odometry).
        th = self.odom[2] + 0.5 * w * self.dt
        self.odom += [v * self.dt * math.cos(th), v * self.dt * math.sin(th), w * self.dt]
        self.odom[2] = math.atan2(math.sin(self.odom[2]), math.cos(self.odom[2]))
        self.odom_twist = np.array([v, w])
        self.contact = self._in_contact()

    # ------------------------------------------------------------------------------------ sensors
    def scan(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """(n_beams,) m, lidar ranges from the chassis centre (misses and far hits read range_max)."""
        r = self.data.sensordata[self.sensor_adr].copy()
        r[(r < 0) | (r > self.range_max)] = self.range_max
        if self.lidar_noise > 0:
            r = r + (rng or self.rng).normal(0.0, self.lidar_noise, r.shape)
        return np.clip(r, 0.0, self.range_max)

    def pose(self) -> np.ndarray:
        """True (x m, y m, yaw rad) in the world."""
        q = self.data.qpos[:3].copy()
        q[2] = math.atan2(math.sin(q[2]), math.cos(q[2]))
        return q

    def twist(self) -> np.ndarray:
        """True (v m/s along the heading, w rad/s)."""
        yaw = self.data.qpos[2]
        return np.array([self.data.qvel[0] * math.cos(yaw) + self.data.qvel[1] * math.sin(yaw), self.data.qvel[2]])

    def _in_contact(self) -> bool:
        n = self.data.ncon
        c = self.data.contact
        g1, g2, dist = c.geom1[:n], c.geom2[:n], c.dist[:n]
        other = np.where(g1 == self.chassis, g2, np.where(g2 == self.chassis, g1, -1))
        return any(int(o) in self.obstacle_ids and d < 1e-3 for o, d in zip(other, dist))
