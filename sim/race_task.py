"""Racing laps with the mobile base (sim/mobile_base.py), FastRLAP-style: checkpoints taken from one slow
demonstration lap, reward for progress along them, collisions penalized and reset automatically.

The track: the walled arena with an island of clutter cylinders along the x axis (x in [-1.2, 1.2] m);
the base laps counter-clockwise around it. A demonstration lap (`demo_lap`: a slow pure-pursuit driver,
standing in for a person with a gamepad) is recorded as poses; every `spacing` m of it becomes a
checkpoint. `BaseRaceEnv(checkpoints=...)` takes a lap recorded elsewhere (a person on a real track).

Contract:
  * observation ``Dict(state=Box(float32, (n_beams + 8,)))``: lidar ranges scan_<i> (m), the next two
    checkpoints in the base frame (cp1_x, cp1_y, cp2_x, cp2_y, m; the pose comes from a localization
    source, as on a track with motion capture or a map), the encoders' twist (odom_v m/s, odom_w rad/s)
    and the previous action (prev_v, prev_w).
  * action ``[v, w]`` in [-1, 1], as `roboloop/base-Nav-v0`.
  * reward: progress_scale x metres gained toward the next checkpoint, + checkpoint_bonus per checkpoint
    reached (within reach_dist m), - collision_penalty per collision.
  * collisions (a contact, or a lidar range under collision_range) do not end the episode: the base is
    respawned at rest at the last checkpoint it reached, facing the next one (a track marshal's reset),
    and the clock keeps running. ``truncated`` after max_episode_steps (600 = 60 s at 10 Hz).
  * ``info``: laps (completed), lap_times (s, each completed lap), collisions, is_success (a lap completed).
"""
from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .mobile_base import CHASSIS_RADIUS, BaseLimits, BasePhysics, MobileBaseSim
from .tasks import UNIT_BOUNDS

ISLAND_X = np.linspace(-1.2, 1.2, 7)     # m, centres of the island's cylinders (on y = 0)
CENTRE_A, CENTRE_B = 1.9, 1.35          # m, semi-axes of the demonstration driver's elliptic line


def _to_base(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    c, s = np.cos(pose[2]), np.sin(pose[2])
    d = np.asarray(points, float) - pose[:2]
    return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], axis=-1)


def make_track_sim(control_hz: float = 10.0, n_beams: int = 36, lidar_noise: float = 0.01,
                   limits: BaseLimits | None = None) -> MobileBaseSim:
    """The arena (walls at +-2.5 m) with the island placed."""
    sim = MobileBaseSim(n_beams=n_beams, lidar_noise=lidar_noise, n_clutter=len(ISLAND_X), arena_half=2.5,
                        control_hz=control_hz, limits=limits)
    sim.set_clutter(np.stack([ISLAND_X, np.zeros_like(ISLAND_X)], axis=1))
    return sim


def pursuit(target_base: np.ndarray, speed: float, max_angular: float) -> tuple[float, float]:
    """Pure pursuit toward a target (2,) m in the base frame: (v m/s, w rad/s); slows down for sharp turns."""
    x, y = float(target_base[0]), float(target_base[1])
    d2 = max(x * x + y * y, 1e-6)
    w = float(np.clip(2.0 * speed * y / d2, -max_angular, max_angular))
    heading_err = abs(np.arctan2(y, x))
    v = speed * max(0.0, np.cos(heading_err)) ** 2
    return v, w


def demo_lap(sim: MobileBaseSim, speed: float = 0.25, lookahead: float = 0.6, spacing: float = 0.5,
             max_steps: int = 2000) -> tuple[np.ndarray, float]:
    """Drive one slow counter-clockwise lap along the ellipse (CENTRE_A, CENTRE_B) from (0, -CENTRE_B) and
    return (checkpoints (N, 2) m: every `spacing` m of the driven path, lap time s)."""
    sim.reset((0.0, -CENTRE_B, 0.0), BasePhysics())
    path = [sim.pose()[:2]]
    travelled, theta0 = 0.0, -np.pi / 2
    angle_done = 0.0
    last_angle = theta0
    for k in range(max_steps):
        pose = sim.pose()
        ang = np.arctan2(pose[1] / CENTRE_B, pose[0] / CENTRE_A)
        angle_done += (ang - last_angle + np.pi) % (2 * np.pi) - np.pi
        last_angle = ang
        if angle_done >= 2 * np.pi:
            cps = np.array(path)
            return cps, (k + 1) / sim.control_hz
        # Lookahead point on the ellipse, a little further along than the base.
        t = ang + lookahead / np.hypot(CENTRE_A * np.sin(ang), CENTRE_B * np.cos(ang))
        target = np.array([CENTRE_A * np.cos(t), CENTRE_B * np.sin(t)])
        sim.command(*pursuit(_to_base(target, pose), speed, sim.limits.max_angular))
        sim.step()
        if sim.contact:
            raise RuntimeError(f"the demonstration lap hit something at {pose[:2]}")
        p = sim.pose()[:2]
        travelled += float(np.linalg.norm(p - pose[:2]))
        if travelled >= spacing * len(path):
            path.append(p)
    raise RuntimeError("the demonstration lap did not close")


class BaseRaceEnv(gym.Env):
    """Lap the island as fast as possible (see the module docstring).

    Kwargs (units): checkpoints ((N, 2) m; None: record them from `demo_lap`), spacing (m, 0.5),
    reach_dist (m, 0.5), control_hz (Hz, 10), n_beams (36), lidar_noise (m, 0.01), max_linear (m/s, 0.5),
    max_angular (rad/s, 1.5), max_linear_accel (m/s^2, 1.0), max_angular_accel (rad/s^2, 3.0),
    collision_range (m, 0.2), progress_scale (10), checkpoint_bonus (1), collision_penalty (5),
    start_noise (m, 0.1).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    TASK_ID = "roboloop/base-Race-v0"

    def __init__(self, checkpoints: Sequence[Sequence[float]] | None = None, spacing: float = 0.5,
                 reach_dist: float = 0.5, control_hz: float = 10.0, n_beams: int = 36, lidar_noise: float = 0.01,
                 max_linear: float = 0.5, max_angular: float = 1.5, max_linear_accel: float = 1.0,
                 max_angular_accel: float = 3.0, collision_range: float = 0.2, progress_scale: float = 10.0,
                 checkpoint_bonus: float = 1.0, collision_penalty: float = 5.0, start_noise: float = 0.1,
                 render_mode: str | None = None, render_size: int = 480):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if min(spacing, reach_dist, collision_range) <= 0 or start_noise < 0:
            raise ValueError("spacing, reach_dist and collision_range must be > 0, start_noise >= 0")
        self.limits = BaseLimits(max_linear, max_angular, max_linear_accel, max_angular_accel)
        self.sim = make_track_sim(control_hz, n_beams, lidar_noise, self.limits)
        if checkpoints is None:
            checkpoints, self.demo_lap_s = demo_lap(self.sim, spacing=spacing)
        else:
            self.demo_lap_s = float("nan")
        cps = np.asarray(checkpoints, float)
        if cps.ndim != 2 or cps.shape[1] != 2 or len(cps) < 3 or not np.all(np.isfinite(cps)):
            raise ValueError(f"checkpoints must be (N >= 3, 2) finite metres, got shape {cps.shape}")
        self.checkpoints = cps
        self.control_hz, self.reach_dist, self.collision_range = float(control_hz), float(reach_dist), float(collision_range)
        self.progress_scale, self.checkpoint_bonus = float(progress_scale), float(checkpoint_bonus)
        self.collision_penalty, self.start_noise = float(collision_penalty), float(start_noise)
        self.render_mode, self.render_size = render_mode, int(render_size)
        self.state_names = ([f"scan_{i}" for i in range(n_beams)]
                            + ["cp1_x", "cp1_y", "cp2_x", "cp2_y", "odom_v", "odom_w", "prev_v", "prev_w"])
        self.state_units = ["m"] * (n_beams + 4) + ["m/s", "rad/s", "1", "1"]
        self._low = np.array([UNIT_BOUNDS[u][0] for u in self.state_units], np.float32)
        self._high = np.array([UNIT_BOUNDS[u][1] for u in self.state_units], np.float32)
        self.observation_space = spaces.Dict({"state": spaces.Box(self._low, self._high, dtype=np.float32)})
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._renderer = None
        self._last_state = np.zeros(len(self.state_names), np.float32)

    # ------------------------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.last_cp = 0
        self._respawn(jitter=True)
        self.t = 0
        self.lap_start = 0
        self.lap_times: list[float] = []
        self.collisions = 0
        return self._obs(), self._info()

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (2,) or not np.all(np.isfinite(a)):
            raise ValueError(f"{self.TASK_ID}: action must be 2 finite numbers [v, w], got {a.tolist()}")
        a = np.clip(a, -1.0, 1.0)
        self.sim.command(a[0] * self.limits.max_linear, a[1] * self.limits.max_angular)
        self.sim.step(self.np_random)
        self._prev_action = a
        self.t += 1
        reward = 0.0
        pose = self.sim.pose()
        nxt = self.checkpoints[self._next()]
        d = float(np.linalg.norm(nxt - pose[:2]))
        reward += self.progress_scale * (self._dist - d)
        self._dist = d
        if d < self.reach_dist:
            self.last_cp = self._next()
            reward += self.checkpoint_bonus
            if self.last_cp == 0:    # back at the start line: a lap
                self.lap_times.append((self.t - self.lap_start) / self.control_hz)
                self.lap_start = self.t
            self._dist = float(np.linalg.norm(self.checkpoints[self._next()] - pose[:2]))
        scan = self.sim.scan(self.np_random)
        if self.sim.contact or scan.min() < self.collision_range:
            reward -= self.collision_penalty
            self.collisions += 1
            self._respawn(jitter=False)
        return self._obs(scan if not self._respawned else None), float(reward), False, False, self._info()

    # ------------------------------------------------------------------------------------ helpers
    def _next(self, k: int = 1) -> int:
        return (self.last_cp + k) % len(self.checkpoints)

    def _respawn(self, jitter: bool) -> None:
        """At rest on the last reached checkpoint, facing the next one."""
        p = self.checkpoints[self.last_cp].copy()
        if jitter and self.start_noise:
            p += self.np_random.uniform(-self.start_noise, self.start_noise, 2)
        d = self.checkpoints[self._next()] - p
        self.sim.reset((p[0], p[1], float(np.arctan2(d[1], d[0]))), self.sim.physics)
        self._prev_action = np.zeros(2)
        self._dist = float(np.linalg.norm(d))
        self._respawned = True

    def _obs(self, scan: np.ndarray | None = None) -> dict[str, np.ndarray]:
        self._respawned = False
        pose = self.sim.pose()
        cps = _to_base(self.checkpoints[[self._next(1), self._next(2)]], pose).reshape(-1)
        scan = self.sim.scan(self.np_random) if scan is None else scan
        state = np.concatenate([scan, cps, self.sim.odom_twist, self._prev_action])
        self._last_state = np.clip(state, self._low, self._high).astype(np.float32)
        return {"state": self._last_state.copy()}

    def _info(self) -> dict[str, Any]:
        return {"laps": len(self.lap_times), "lap_times": list(self.lap_times), "collisions": self.collisions,
                "checkpoint": self.last_cp, "is_success": bool(self.lap_times), "is_failure": False}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        from .rendering import offscreen_renderer
        if self._renderer is None:
            self._renderer = offscreen_renderer(self.sim.model, self.render_size, self.render_size)
        self._renderer.update_scene(self.sim.data, camera="top")
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def task_spec(self) -> dict[str, Any]:
        return {
            "task": self.TASK_ID, "robot": {"kind": "diff_drive", "chassis_radius_m": CHASSIS_RADIUS},
            "control_hz": self.control_hz, "physics_hz": float(self.sim.control_hz * self.sim.substeps),
            "observation": {"state": {"shape": [len(self.state_names)], "dtype": "float32",
                                      "names": list(self.state_names), "units": list(self.state_units)}},
            "action": {"shape": [2], "dtype": "float32", "names": ["v", "w"], "units": ["1", "1"],
                       "low": -1.0, "high": 1.0, "command": "base_velocity",
                       "max_linear_mps": self.limits.max_linear, "max_angular_radps": self.limits.max_angular},
            "lidar": {"n_beams": self.sim.n_beams, "range_max_m": self.sim.range_max, "angle_min_rad": 0.0,
                      "angle_increment_rad": float(2 * np.pi / self.sim.n_beams)},
        }


class RacePursuit:
    """The scripted racing expert: pure pursuit on the next checkpoints, from the observation alone.
    `act(obs) -> [v, w]` normalized; speed is a fraction of max_linear."""

    def __init__(self, spec: dict, speed: float = 1.0):
        names = spec["observation"]["state"]["names"]
        self.cols = [names.index(n) for n in ("cp1_x", "cp1_y", "cp2_x", "cp2_y")]
        self.max_v, self.max_w = spec["action"]["max_linear_mps"], spec["action"]["max_angular_radps"]
        self.speed = float(speed)

    def reset(self) -> None:
        pass

    def act(self, obs, deterministic: bool = True) -> np.ndarray:
        s = np.asarray(obs["state"] if isinstance(obs, dict) else obs, np.float64)
        cp1, cp2 = s[self.cols[:2]], s[self.cols[2:]]
        # Aim between the next two checkpoints once the next one is close: smoother corners.
        target = cp1 if np.linalg.norm(cp1) > 0.6 else 0.5 * (cp1 + cp2)
        v, w = pursuit(target, self.speed * self.max_v, self.max_w)
        return np.clip([v / self.max_v, w / self.max_w], -1.0, 1.0).astype(np.float32)
