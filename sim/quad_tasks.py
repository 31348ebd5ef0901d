"""Gymnasium tasks on the Crazyflie-class quadrotor (sim/quadrotor.py): hover and trajectory tracking.

Contract (ARCHITECTURE.md, "Env contract"):
  * observation ``Dict(state=Box(float32, (29,)))``: position error p - p_target (3, m, world), rotation
    matrix body-to-world row-major (9, 1), velocity error v - v_target (3, m/s, world), angular velocity
    (3, rad/s, body), the previous action (4, 1), the motor estimate (4, 1): the past actions through
    the nominal motor lag (first order, 0.15 s), i.e. where the rotors should be now, and the integral of
    the position error (3, m s, world; of the error clipped to +-0.3 m per axis, itself clipped to +-1 m s,
    zero at reset). A flight controller computes the last two from its own commands and estimates; with a
    0.15 s lag at 100 Hz the rotors' state matters for the next 15 steps and the last action alone does
    not tell it, and without the integral a memoryless policy cannot tell a heavier or weaker vehicle
    from a lighter one and holds a steady-state offset. Observation noise (``obs_noise``) is added to the
    first 18 entries.
  * action ``Box(-1, 1, (4,), float32)``: normalized thrusts of motors m1..m4 (f = (a + 1) / 2 * 0.1488 N);
    the hover command of the nominal vehicle is about -0.11.
  * dense reward in (0, 1]: exp(-cost), cost = 3 |e_p| + 0.5 (1 - R_zz) + 0.1 |e_v| + 0.02 |w|
    + 0.05 mean((a - a_hover)^2); a crash ends the episode, forfeiting the rest of it.
  * ``terminated`` on a crash (|e_p| > max_dist or |w| > max_angvel); ``truncated`` after ``episode_s``
    seconds, from the env itself (its length in steps depends on control_hz).
  * ``info["is_success"]``: the position error stayed below ``success_dist`` (default 0.1 m) for the
    last ``hold_s`` seconds (default 2 s), i.e. the vehicle is holding; at the episode's end it is the
    episode's result.

Per-episode domain randomization (off by default; the quadhover preset turns it on), drawn from the
env's seeded generator at reset: mass x U(1 - mass_range, 1 + mass_range), inertia per axis
x U(1 - inertia_range, ...), thrust constant (all motors) x U(1 - thrust_range, ...), motor time constant
U(motor_tau_range) s. ``info["physics"]`` holds the episode's values (the privileged state).

Initial states: position U(+-init_pos) m per axis, velocity U(+-init_vel) m/s, a tilt about a random
horizontal axis of up to init_tilt rad, body rates U(+-init_angvel) rad/s; with probability
``tumble_prob`` a tumbling start instead: tilt up to tumble_tilt rad, rates up to tumble_angvel rad/s. With
probability ``guide_prob`` (RLtools' "guidance") the episode starts on the target, level and at rest: a
learner sees the hover it must hold from its first episodes (evaluations set it to 0).
"""
from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .quadrotor import (F_MAX, GRAVITY, HOVER_ACTION, MASS, MOTOR_TAU, QuadPhysics, QuadSim,
                        action_to_thrust)

STATE_NAMES = (["err_x", "err_y", "err_z"] + [f"rot_{r}{c}" for r in range(3) for c in range(3)]
               + ["err_vx", "err_vy", "err_vz", "rate_x", "rate_y", "rate_z"]
               + [f"prev_action_m{i}" for i in range(1, 5)] + [f"motor_est_m{i}" for i in range(1, 5)]
               + ["int_err_x", "int_err_y", "int_err_z"])
STATE_UNITS = ["m"] * 3 + ["1"] * 9 + ["m/s"] * 3 + ["rad/s"] * 3 + ["1"] * 8 + ["m s"] * 3
_BOUNDS = {"m": 5.0, "1": 1.0, "m/s": 50.0, "rad/s": 100.0, "m s": 1.0}
# The integral of the position error is of the clipped error, and is itself clipped: a far start must not
# wind it up, and +-1 m s is enough for a memoryless policy to cancel a +-30% thrust-to-weight error.
_INTEGRAL_ERR_CLIP, _INTEGRAL_CLIP = 0.3, 1.0
# Observation noise standard deviations at obs_noise=1 (position m, rotation entries, velocity m/s,
# body rates rad/s), of the order of a motion-capture-fed Crazyflie state estimate.
_NOISE_STD = np.array([0.002] * 3 + [0.002] * 9 + [0.01] * 3 + [0.02] * 3)


def _axis_angle_quat(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


class QuadHoverEnv(gym.Env):
    """Fly to and hold a fixed point (the origin of the error frame, 1 m above the world origin).

    Kwargs (units): control_hz (Hz, 100), physics_hz (Hz, 500; an integer multiple of control_hz),
    episode_s (s, 5), hold_s (s, 2), success_dist (m, 0.1), max_dist (m, 1.0), max_angvel (rad/s, 40),
    init_pos (m, 0.3), init_vel (m/s, 0.5), init_tilt (rad, 0.5), init_angvel (rad/s, 1.0),
    tumble_prob (0), tumble_tilt (rad, pi/2), tumble_angvel (rad/s, 8), guide_prob (0), mass_range (0), inertia_range (0),
    thrust_range (0), motor_tau_range ((0.15, 0.15) s), obs_noise (0; 1 = the stds in _NOISE_STD),
    render_mode (None or "rgb_array"), render_size (px, 480).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 100}
    TASK_ID = "roboloop/QuadHover-v0"
    TARGET = np.array([0.0, 0.0, 1.0])

    def __init__(self, control_hz: float = 100.0, physics_hz: float = 500.0, episode_s: float = 5.0,
                 hold_s: float = 2.0, success_dist: float = 0.1, max_dist: float = 1.0, max_angvel: float = 40.0,
                 init_pos: float = 0.3, init_vel: float = 0.5, init_tilt: float = 0.5, init_angvel: float = 1.0,
                 tumble_prob: float = 0.0, tumble_tilt: float = np.pi / 2, tumble_angvel: float = 8.0,
                 guide_prob: float = 0.0, mass_range: float = 0.0, inertia_range: float = 0.0, thrust_range: float = 0.0,
                 motor_tau_range: Sequence[float] = (MOTOR_TAU, MOTOR_TAU), obs_noise: float = 0.0,
                 render_mode: str | None = None, render_size: int = 480):
        if not 100.0 <= control_hz <= 500.0:
            raise ValueError(f"control_hz must be within 100-500 Hz, got {control_hz}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        for name, v in (("episode_s", episode_s), ("success_dist", success_dist), ("max_dist", max_dist),
                        ("max_angvel", max_angvel)):
            if v <= 0:
                raise ValueError(f"{name} must be positive, got {v}")
        if not 0 <= hold_s <= episode_s:
            raise ValueError(f"hold_s must be within [0, episode_s={episode_s}], got {hold_s}")
        for name, v in (("mass_range", mass_range), ("inertia_range", inertia_range), ("thrust_range", thrust_range)):
            if not 0 <= v < 1:
                raise ValueError(f"{name} is a relative half-width in [0, 1), got {v}")
        tau_lo, tau_hi = (float(x) for x in motor_tau_range)
        if not 0 < tau_lo <= tau_hi:
            raise ValueError(f"motor_tau_range must be (low, high) seconds with 0 < low <= high, got {motor_tau_range}")
        if not 0 <= tumble_prob <= 1 or not 0 <= guide_prob <= 1 or obs_noise < 0:
            raise ValueError("tumble_prob and guide_prob must be in [0, 1] and obs_noise >= 0")
        self.sim = QuadSim(physics_hz=physics_hz, control_hz=control_hz)
        self.control_hz, self.physics_hz = float(control_hz), float(physics_hz)
        self.episode_steps = int(round(episode_s * control_hz))
        self.hold_steps = int(round(hold_s * control_hz))
        self.hold_s, self.success_dist = float(hold_s), float(success_dist)
        self.max_dist, self.max_angvel = float(max_dist), float(max_angvel)
        self.init = dict(pos=float(init_pos), vel=float(init_vel), tilt=float(init_tilt), angvel=float(init_angvel),
                         tumble_prob=float(tumble_prob), tumble_tilt=float(tumble_tilt),
                         tumble_angvel=float(tumble_angvel), guide_prob=float(guide_prob))
        self.ranges = dict(mass=float(mass_range), inertia=float(inertia_range), thrust=float(thrust_range),
                           motor_tau=(tau_lo, tau_hi))
        self.obs_noise = float(obs_noise)
        self.render_mode, self.render_size = render_mode, int(render_size)
        self.metadata = dict(self.metadata, render_fps=int(round(self.control_hz)))

        high = np.array([_BOUNDS[u] for u in STATE_UNITS], np.float32)
        self.observation_space = spaces.Dict({"state": spaces.Box(-high, high, dtype=np.float32)})
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
        self._high = high
        self._t = 0
        self._held = 0
        self._prev_action = np.full(4, HOVER_ACTION)
        self._motor_est = np.full(4, HOVER_ACTION)
        self._integral = np.zeros(3)
        self._motor_alpha = 1.0 - np.exp(-1.0 / (self.control_hz * MOTOR_TAU))
        self._renderer = None

    # ------------------------------------------------------------------------- target (subclass hook)
    def target(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(position m, velocity m/s) of the target at time t s into the episode."""
        return self.TARGET, np.zeros(3)

    def _sample_target(self) -> None:
        """Draw the episode's target parameters with self.np_random."""

    # ------------------------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        r = self.ranges
        phys = QuadPhysics(
            mass_scale=float(rng.uniform(1 - r["mass"], 1 + r["mass"])),
            inertia_scale=tuple(float(x) for x in rng.uniform(1 - r["inertia"], 1 + r["inertia"], 3)),
            thrust_scale=float(rng.uniform(1 - r["thrust"], 1 + r["thrust"])),
            motor_tau=float(rng.uniform(*r["motor_tau"])))
        self.sim.set_physics(phys)
        self._sample_target()
        init = self.init
        tumbling = rng.uniform() < init["tumble_prob"]
        tilt_max, rate_max = ((init["tumble_tilt"], init["tumble_angvel"]) if tumbling
                              else (init["tilt"], init["angvel"]))
        heading = _axis_angle_quat(np.array([0.0, 0.0, 1.0]), rng.uniform(-np.pi, np.pi))
        axis_angle = rng.uniform(0, 2 * np.pi)
        tilt = _axis_angle_quat(np.array([np.cos(axis_angle), np.sin(axis_angle), 0.0]), rng.uniform(0, tilt_max))
        quat = _quat_mul(tilt, heading)
        p0, v0 = self.target(0.0)
        pos = p0 + rng.uniform(-init["pos"], init["pos"], 3)
        vel = v0 + rng.uniform(-init["vel"], init["vel"], 3)
        angvel = rng.uniform(-rate_max, rate_max, 3)
        if init["guide_prob"] > 0 and rng.uniform() < init["guide_prob"]:   # on the target, level, at rest
            pos, vel, angvel, quat = p0.copy(), v0.copy(), np.zeros(3), heading
        # Rotors start at this vehicle's hover thrust: it was flying before the episode began.
        hover = np.full(4, MASS * phys.mass_scale * GRAVITY / 4.0 / phys.thrust_scale)
        self.sim.reset(pos, quat, vel, angvel, np.minimum(hover, F_MAX))
        self._t, self._held = 0, 0
        self._prev_action = np.full(4, HOVER_ACTION)
        self._motor_est = np.full(4, HOVER_ACTION)
        self._integral = np.zeros(3)
        self._tumbling = bool(tumbling)
        err = self._errors()[0]
        self._held = int(np.linalg.norm(err) < self.success_dist)
        return self._obs(), self._info(err)

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(4)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{self.TASK_ID}: non-finite action {a.tolist()}")
        a = np.clip(a, -1.0, 1.0)
        self.sim.step(action_to_thrust(a))
        self._t += 1
        e_p, e_v = self._errors()
        dist = float(np.linalg.norm(e_p))
        angvel = self.sim.angvel()
        rot = self.sim.rot()
        self._held = self._held + 1 if dist < self.success_dist else 0
        cost = (3.0 * dist + 0.5 * (1.0 - rot[2, 2]) + 0.1 * float(np.linalg.norm(e_v))
                + 0.02 * float(np.linalg.norm(angvel)) + 0.05 * float(np.mean((a - HOVER_ACTION) ** 2)))
        reward = float(np.exp(-cost))
        self._prev_action = a
        self._motor_est = self._motor_est + self._motor_alpha * (a - self._motor_est)
        self._integral = np.clip(self._integral + np.clip(e_p, -_INTEGRAL_ERR_CLIP, _INTEGRAL_ERR_CLIP) / self.control_hz,
                                 -_INTEGRAL_CLIP, _INTEGRAL_CLIP)
        crashed = bool(dist > self.max_dist or np.linalg.norm(angvel) > self.max_angvel
                       or not np.all(np.isfinite(self.sim.data.qpos)))
        truncated = (not crashed) and self._t >= self.episode_steps
        return self._obs(), reward, crashed, truncated, self._info(e_p, crashed)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        import mujoco

        from .rendering import offscreen_renderer
        if self._renderer is None:
            self._renderer = offscreen_renderer(self.sim.model, self.render_size, self.render_size)
            self._option = mujoco.MjvOption()
            self._option.sitegroup[4] = 1
        self.sim.model.site_pos[self.sim.target_site] = self.target(self._t / self.control_hz)[0]
        self._renderer.update_scene(self.sim.data, camera="chase", scene_option=self._option)
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ------------------------------------------------------------------------------------ helpers
    def _errors(self) -> tuple[np.ndarray, np.ndarray]:
        p, v = self.target(self._t / self.control_hz)
        return self.sim.pos() - p, self.sim.vel() - v

    def true_state(self) -> np.ndarray:
        """(29,) the noise-free observation vector (what a privileged critic or a scripted controller reads)."""
        e_p, e_v = self._errors()
        return np.concatenate([e_p, self.sim.rot().reshape(-1), e_v, self.sim.angvel(), self._prev_action,
                               self._motor_est, self._integral])

    def _obs(self) -> dict[str, np.ndarray]:
        s = self.true_state()
        if self.obs_noise > 0:
            s[:18] += self.np_random.normal(0.0, 1.0, 18) * (_NOISE_STD * self.obs_noise)
        return {"state": np.clip(s, -self._high, self._high).astype(np.float32)}

    def _info(self, e_p: np.ndarray, crashed: bool = False) -> dict[str, Any]:
        success = (not crashed) and self._held >= max(self.hold_steps, 1)
        return {"is_success": bool(success), "is_failure": bool(crashed), "pos_error": float(np.linalg.norm(e_p)),
                "held_s": self._held / self.control_hz, "tumbling_start": self._tumbling,
                "physics": self.sim.physics.as_vector()}

    def task_spec(self) -> dict[str, Any]:
        """JSON-serializable interface spec (names, shapes, units, rates); checkpoints compare it on load.
        Episode settings (length, success window, randomization) are not part of it: a policy is evaluated
        under other ones unchanged."""
        return {
            "task": self.TASK_ID, "control_hz": self.control_hz, "physics_hz": self.physics_hz,
            "observation": {"state": {"shape": [len(STATE_NAMES)], "dtype": "float32", "names": list(STATE_NAMES),
                                      "units": list(STATE_UNITS)}},
            "action": {"shape": [4], "dtype": "float32", "names": ["m1", "m2", "m3", "m4"], "units": ["1"] * 4,
                       "low": -1.0, "high": 1.0, "max_thrust_n": F_MAX,
                       "thrust": "absolute per motor: f = (a + 1) / 2 * max_thrust_n"},
        }


class QuadTrackEnv(QuadHoverEnv):
    """Follow a moving target along a horizontal figure eight (Lissajous 1:2) around (0, 0, 1) m.

    Extra kwargs: track_radius (m, 0.2; x amplitude, y amplitude is half), track_period (s, 8); the phase
    is drawn per episode. Observations are errors against the moving target's position and velocity,
    so a hover policy runs here unchanged; success = tracking error < success_dist for the last hold_s.
    """

    TASK_ID = "roboloop/QuadTrack-v0"

    def __init__(self, track_radius: float = 0.2, track_period: float = 8.0, **kwargs):
        if track_radius < 0 or track_period <= 0:
            raise ValueError("track_radius must be >= 0 and track_period > 0")
        self.track_radius, self.track_period = float(track_radius), float(track_period)
        self._phase = 0.0
        kwargs.setdefault("success_dist", 0.15)
        super().__init__(**kwargs)

    def _sample_target(self) -> None:
        self._phase = float(self.np_random.uniform(0, 2 * np.pi))

    def target(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        w = 2 * np.pi / self.track_period
        th = w * t + self._phase
        a = self.track_radius
        pos = self.TARGET + np.array([a * np.sin(th), 0.5 * a * np.sin(2 * th), 0.0])
        vel = np.array([a * w * np.cos(th), a * w * np.cos(2 * th), 0.0])
        return pos, vel
