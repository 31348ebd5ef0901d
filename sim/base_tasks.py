"""Gymnasium tasks on the differential-drive base (sim/mobile_base.py): goal reaching in randomized clutter.

Contract (ARCHITECTURE.md, "Env contract"):
  * observation ``Dict(state=Box(float32, (n_beams + 6,)))`` (+ ``front=Box(uint8, (S, S, 3))`` with
    ``camera=True``): lidar ranges scan_0..scan_<n-1> (m, counter-clockwise from forward, range_max where
    nothing is hit), the goal in the base frame as the ODOMETRY sees it (goal_x, goal_y, m; the goal is
    given in the odom frame at the start, as a navigation goal is), the encoders' twist (odom_v m/s,
    odom_w rad/s) and the previous action (prev_v, prev_w, normalized).
  * action ``Box(-1, 1, (2,), float32)``: [v, w] as fractions of max_linear (m/s) and max_angular
    (rad/s); the base rate-limits them to its acceleration limits.
  * reward, success and failure: `roboloop.sim.rules.BaseNavRules` over the named state (the same rules
    a real base runs), with the chassis' contact with a wall or an obstacle as ``flags["is_failure"]``.
    A collision terminates the episode; ``truncated`` comes from max_episode_steps (Gymnasium's
    TimeLimit, 300 steps = 30 s at 10 Hz).
  * ``info``: is_success, is_failure, collision (the chassis touched something), goal_dist_true (m, from
    the true pose: odometry drift can make the two differ), path_length (m, travelled), odom_error (m).

Maps: walls at +-arena_half m; the start pose (uniform position, any heading), a goal between
goal_dist[0] and goal_dist[1] m away, and n_obstacles[0]..n_obstacles[1] clutter cylinders (radii
0.15-0.35 m) placed at least `clearance` m (surface to surface) from the start and the goal, all drawn
from the env's seeded generator at reset. Maps are a function of the reset seed: held-out maps are
held-out seeds.
"""
from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .mobile_base import CHASSIS_RADIUS, BaseLimits, BasePhysics, MobileBaseSim, Steering
from .rules import BaseNavRules, named
from .tasks import UNIT_BOUNDS


def _rot(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s], [s, c]])


class BaseNavEnv(gym.Env):
    """Drive a differential-drive base to a goal through randomized clutter (see the module docstring).

    Kwargs (units): control_hz (Hz, 10), physics_hz (Hz, 100), n_beams (36), range_max (m, 3.5),
    lidar_noise (m, 0.01), arena_half (m, 2.5), n_obstacles ((4, 8)), goal_dist ((2.0, 4.5) m),
    clearance (m, 0.3), max_linear (m/s, 0.5), max_angular (rad/s, 1.5), max_linear_accel (m/s^2, 1.0),
    max_angular_accel (rad/s^2, 3.0), radius_error (relative half-width of each wheel's true radius,
    0.003), slip ((0, 0.03): range of the episode's mean slip, common to both wheels), slip_jitter (per
    wheel and step, 0.01), encoder_noise (rad/s, 0.2), success_dist (m, 0.25), collision_range (m, 0.20), reward_type ("dense" | "sparse"),
    camera (False), image_size (px, 64), drive ("diff" | "ackermann": the car-like variant, see
    `roboloop.sim.mobile_base.Steering`), wheelbase (m, 0.26), max_steer (rad, 0.45),
    render_mode (None | "rgb_array"), render_size (px, 480).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    TASK_ID = "roboloop/base-Nav-v0"
    N_SLOTS = 8

    def __init__(self, control_hz: float = 10.0, physics_hz: float = 100.0, n_beams: int = 36,
                 range_max: float = 3.5, lidar_noise: float = 0.01, arena_half: float = 2.5,
                 n_obstacles: Sequence[int] = (4, 8), goal_dist: Sequence[float] = (2.0, 4.5),
                 clearance: float = 0.3, max_linear: float = 0.5, max_angular: float = 1.5,
                 max_linear_accel: float = 1.0, max_angular_accel: float = 3.0, radius_error: float = 0.003,
                 slip: Sequence[float] = (0.0, 0.03), slip_jitter: float = 0.01, encoder_noise: float = 0.2,
                 success_dist: float = 0.25, collision_range: float = 0.20, reward_type: str = "dense",
                 camera: bool = False, image_size: int = 64, drive: str = "diff", wheelbase: float = 0.26,
                 max_steer: float = 0.45, render_mode: str | None = None, render_size: int = 480):
        if not 1.0 <= control_hz <= 50.0:
            raise ValueError(f"control_hz must be within 1-50 Hz, got {control_hz}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        lo_n, hi_n = (int(x) for x in n_obstacles)
        if not 0 <= lo_n <= hi_n <= self.N_SLOTS:
            raise ValueError(f"n_obstacles must be (low, high) with 0 <= low <= high <= {self.N_SLOTS}, got {n_obstacles}")
        g_lo, g_hi = (float(x) for x in goal_dist)
        if not 0 < g_lo <= g_hi or g_hi > UNIT_BOUNDS["m"][1]:
            raise ValueError(f"goal_dist must be (low, high) m with 0 < low <= high <= 5, got {goal_dist}")
        s_lo, s_hi = (float(x) for x in slip)
        if not 0 <= s_lo <= s_hi < 1 or not 0 <= radius_error < 0.5:
            raise ValueError("slip must be (low, high) within [0, 1) and radius_error within [0, 0.5)")
        if min(slip_jitter, encoder_noise, clearance) < 0 or success_dist <= 0:
            raise ValueError("slip_jitter, encoder_noise and clearance must be >= 0, success_dist > 0")
        if range_max > UNIT_BOUNDS["m"][1]:
            raise ValueError(f"range_max must be <= {UNIT_BOUNDS['m'][1]} m (the state's bound), got {range_max}")
        if drive not in ("diff", "ackermann"):
            raise ValueError(f"drive must be 'diff' or 'ackermann', got {drive!r}")
        self.drive = drive
        self.limits = BaseLimits(max_linear, max_angular, max_linear_accel, max_angular_accel)
        self.sim = MobileBaseSim(n_beams=n_beams, range_max=range_max, lidar_noise=lidar_noise,
                                 n_clutter=self.N_SLOTS, arena_half=arena_half, control_hz=control_hz,
                                 physics_hz=physics_hz, limits=self.limits,
                                 steering=Steering(wheelbase, max_steer) if drive == "ackermann" else None)
        self.control_hz, self.physics_hz = float(control_hz), float(physics_hz)
        self.n_obstacles, self.goal_dist, self.clearance = (lo_n, hi_n), (g_lo, g_hi), float(clearance)
        self.radius_error, self.slip, self.slip_jitter = float(radius_error), (s_lo, s_hi), float(slip_jitter)
        self.encoder_noise = float(encoder_noise)
        self.rules = BaseNavRules(success_dist=success_dist, collision_range=collision_range, reward_type=reward_type)
        self.camera, self.image_size = bool(camera), int(image_size)
        self.render_mode, self.render_size = render_mode, int(render_size)
        self.metadata = dict(self.metadata, render_fps=int(round(self.control_hz)))
        self.state_names = ([f"scan_{i}" for i in range(n_beams)] + ["goal_x", "goal_y", "odom_v", "odom_w",
                                                                     "prev_v", "prev_w"])
        self.state_units = ["m"] * n_beams + ["m", "m", "m/s", "rad/s", "1", "1"]
        self._low = np.array([UNIT_BOUNDS[u][0] for u in self.state_units], np.float32)
        self._high = np.array([UNIT_BOUNDS[u][1] for u in self.state_units], np.float32)
        obs = {"state": spaces.Box(self._low, self._high, dtype=np.float32)}
        if self.camera:
            obs["front"] = spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.goal_world = np.zeros(2)
        self.goal_odom = np.zeros(2)
        self.clutter = np.zeros((0, 2))
        self.clutter_r = np.zeros(0)
        self._prev_action = np.zeros(2)
        self._renderers: dict[str, Any] = {}
        self._last_state = np.zeros(len(self.state_names), np.float32)

    # ------------------------------------------------------------------------------------ scene
    def _sample_map(self, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        """Start pose, goal and clutter for this episode; returns (start xy, start yaw)."""
        half = self.sim.arena_half
        inner = half - CHASSIS_RADIUS - 0.15
        for _ in range(1000):
            start = rng.uniform(-inner, inner, 2)
            goal = rng.uniform(-inner, inner, 2)
            if self.goal_dist[0] <= np.linalg.norm(goal - start) <= self.goal_dist[1]:
                break
        else:
            raise RuntimeError(f"no start/goal pair {self.goal_dist} m apart fits the {2 * half:g} m arena")
        k = int(rng.integers(self.n_obstacles[0], self.n_obstacles[1] + 1))
        slots = rng.permutation(self.N_SLOTS)[:k]
        radii = self.sim.clutter_radii[slots]
        centres: list[np.ndarray] = []
        placed: list[int] = []
        for slot, r in zip(slots, radii):
            for _ in range(100):
                c = rng.uniform(-half + r, half - r, 2)
                keep = CHASSIS_RADIUS + r + self.clearance
                if np.linalg.norm(c - start) < keep or np.linalg.norm(c - goal) < keep:
                    continue
                if any(np.linalg.norm(c - o) < r + self.sim.clutter_radii[s] + 0.05 for o, s in zip(centres, placed)):
                    continue
                centres.append(c)
                placed.append(int(slot))
                break
        self.clutter = np.array(centres).reshape(-1, 2)
        self.clutter_r = self.sim.clutter_radii[np.array(placed, int)] if placed else np.zeros(0)
        self.sim.set_clutter(self.clutter, placed)
        self.goal_world = goal
        self.sim.set_goal_marker(goal)
        return start, float(rng.uniform(-np.pi, np.pi))

    # ------------------------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        start, yaw = self._sample_map(rng)
        e = self.radius_error
        physics = BasePhysics(radius_scale=tuple(float(x) for x in rng.uniform(1 - e, 1 + e, 2)),
                              slip=(float(rng.uniform(*self.slip)),) * 2,
                              slip_jitter=self.slip_jitter, encoder_noise=self.encoder_noise)
        self.sim.reset((start[0], start[1], yaw), physics)
        self._start = np.array([start[0], start[1], yaw])
        self.goal_odom = _rot(-yaw) @ (self.goal_world - start)
        self._prev_action = np.zeros(2)
        obs = self._obs()
        s = named(self.state_names, obs["state"])
        self.rules.begin(s)
        return obs, self._info(False, False)

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (2,):
            raise ValueError(f"{self.TASK_ID}: action must have 2 entries [v, w], got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{self.TASK_ID}: non-finite action {a.tolist()}")
        a = np.clip(a, -1.0, 1.0)
        self.sim.command(a[0] * self.limits.max_linear, a[1] * self.limits.max_angular)
        self.sim.step(self.np_random)
        self._prev_action = a
        obs = self._obs()
        s = named(self.state_names, obs["state"])
        flags = {"is_failure": self.sim.contact}
        success, failure = self.rules.outcome(s, flags)
        reward = float(self.rules.reward(s, success, flags))
        return obs, reward, bool(success or failure), False, self._info(success, failure)

    # ------------------------------------------------------------------------------------ helpers
    def goal_in_base(self) -> np.ndarray:
        """(2,) m, the goal in the base frame as the odometry sees it."""
        x, y, yaw = self.sim.odom
        return _rot(-yaw) @ (self.goal_odom - np.array([x, y]))

    def odom_in_world(self) -> np.ndarray:
        """(x, y, yaw): the odometry pose mapped into the world through the start pose."""
        x0, y0, yaw0 = self._start
        xy = np.array([x0, y0]) + _rot(yaw0) @ self.sim.odom[:2]
        return np.array([xy[0], xy[1], np.arctan2(np.sin(yaw0 + self.sim.odom[2]), np.cos(yaw0 + self.sim.odom[2]))])

    def _obs(self) -> dict[str, np.ndarray]:
        state = np.concatenate([self.sim.scan(self.np_random), self.goal_in_base(), self.sim.odom_twist,
                                self._prev_action])
        self._last_state = np.clip(state, self._low, self._high).astype(np.float32)
        obs = {"state": self._last_state.copy()}
        if self.camera:
            obs["front"] = self._render_camera("front", self.image_size)
        return obs

    def _info(self, success: bool, failure: bool) -> dict[str, Any]:
        pose = self.sim.pose()
        return {"is_success": bool(success), "is_failure": bool(failure), "collision": bool(self.sim.contact),
                "goal_dist_true": float(np.linalg.norm(self.goal_world - pose[:2])),
                "path_length": float(self.sim.distance),
                "odom_error": float(np.linalg.norm(self.odom_in_world()[:2] - pose[:2]))}

    def _render_camera(self, camera: str, size: int) -> np.ndarray:
        from .rendering import offscreen_renderer
        if camera not in self._renderers:
            self._renderers[camera] = offscreen_renderer(self.sim.model, size, size)
        r = self._renderers[camera]
        r.update_scene(self.sim.data, camera=camera)
        return r.render().copy()

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return self._render_camera("top", self.render_size)

    def close(self):
        for r in self._renderers.values():
            r.close()
        self._renderers = {}

    def task_spec(self) -> dict[str, Any]:
        """JSON-serializable interface spec (names, shapes, units, rates, command scaling); checkpoints
        compare it on load. Map, noise and physics settings are not part of it."""
        observation: dict[str, Any] = {"state": {"shape": [len(self.state_names)], "dtype": "float32",
                                                 "names": list(self.state_names), "units": list(self.state_units)}}
        if self.camera:
            observation["front"] = {"shape": [self.image_size, self.image_size, 3], "dtype": "uint8",
                                    "camera": "front"}
        return {
            "task": self.TASK_ID, "robot": {"kind": "ackermann" if self.drive == "ackermann" else "diff_drive",
                                            "chassis_radius_m": CHASSIS_RADIUS},
            "control_hz": self.control_hz, "physics_hz": self.physics_hz, "observation": observation,
            "action": {"shape": [2], "dtype": "float32", "names": ["v", "w"], "units": ["1", "1"],
                       "low": -1.0, "high": 1.0, "command": "base_velocity",
                       "max_linear_mps": self.limits.max_linear, "max_angular_radps": self.limits.max_angular},
            "lidar": {"n_beams": self.sim.n_beams, "range_max_m": self.sim.range_max,
                      "angle_min_rad": 0.0, "angle_increment_rad": float(2 * np.pi / self.sim.n_beams)},
        }
