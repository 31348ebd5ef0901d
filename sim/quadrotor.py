"""A Crazyflie 2.x class quadrotor in MuJoCo (``assets/quadrotor.xml``): parameters, per-episode physics
randomization, the motor mixer and a scripted hover controller.

Nominal parameters and where they come from:
  * mass 0.027 kg: Bitcraze, Crazyflie 2.1 datasheet ("27 g"); the same value in Förster (2015) and in
    RLtools' Crazyflie model (Eschmann et al. 2023).
  * inertia diag(1.395e-5, 1.436e-5, 2.173e-5) kg m^2: Förster, "System Identification of the Crazyflie
    2.0 Nano Quadrocopter", ETH Zurich BSc thesis, 2015 (measured by a bifilar pendulum).
  * motors 0.046 m from the centre (Bitcraze: 92 mm motor-to-motor diagonal), X configuration.
  * thrust per motor f = k_f * rpm^2 with k_f = 3.16e-10 N/rpm^2 and rpm <= 21702, so at most 0.1488 N per
    motor (thrust-to-weight about 2.25): RLtools, include/rl_tools/rl/environments/l2f/parameters/dynamics/
    crazy_flie.h (Eschmann, Albani, Loianno, "Learning to Fly in Seconds", IEEE RA-L 2024, arXiv:2311.13081).
  * drag torque per newton of thrust 0.005964552 m: Förster (2015), also used by RLtools.
  * motor time constant 0.15 s (first-order lag): RLtools' Crazyflie model.

Actions are normalized thrusts: a in [-1, 1] commands f = (a + 1) / 2 * F_MAX per motor; the rotor
follows with the first-order lag. The hover command is about -0.11.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import mujoco
import numpy as np

GRAVITY = 9.81                      # m/s^2
MASS = 0.027                        # kg
INERTIA = np.array([1.395e-5, 1.436e-5, 2.173e-5])   # kg m^2, body axes
ARM = 0.046                         # m, motor distance from the centre
THRUST_CONSTANT = 3.16e-10          # N / rpm^2
MAX_RPM = 21702.0
F_MAX = THRUST_CONSTANT * MAX_RPM ** 2   # N per motor (0.1488)
TORQUE_PER_THRUST = 0.005964552     # m: yaw drag torque (N m) per newton of thrust
MOTOR_TAU = 0.15                    # s
# Motor positions (x, y) in the body frame and the sign of each motor's drag torque about +z.
MOTOR_XY = ARM / np.sqrt(2.0) * np.array([[1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
MOTOR_YAW_SIGN = np.array([-1.0, 1.0, -1.0, 1.0])


def model_path() -> str:
    """Path of the packaged MJCF (``roboloop/sim/assets/quadrotor.xml``)."""
    return str(resources.files("roboloop.sim").joinpath("assets", "quadrotor.xml"))


def mixer_matrix() -> np.ndarray:
    """(4, 4) M with [thrust N, torque_x, torque_y, torque_z N m] = M @ motor thrusts (N)."""
    x, y = MOTOR_XY[:, 0], MOTOR_XY[:, 1]
    return np.stack([np.ones(4), y, -x, TORQUE_PER_THRUST * MOTOR_YAW_SIGN])


HOVER_ACTION = 2.0 * (MASS * GRAVITY / 4.0) / F_MAX - 1.0   # normalized command that holds the nominal vehicle


@dataclass
class QuadPhysics:
    """One episode's physical parameters (scales are relative to the nominal values above)."""
    mass_scale: float = 1.0
    inertia_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    thrust_scale: float = 1.0       # thrust constant, all motors
    motor_tau: float = MOTOR_TAU    # s

    def as_vector(self) -> np.ndarray:
        """(6,) [mass_scale, inertia_scale x3, thrust_scale, motor_tau s]: the privileged physics."""
        return np.array([self.mass_scale, *self.inertia_scale, self.thrust_scale, self.motor_tau])


class QuadSim:
    """The MuJoCo quadrotor: load, set physics and state, step one control period.

    State conventions (MuJoCo free joint): position (3, m, world), quaternion (4, w-first, body to world),
    linear velocity (3, m/s, world), angular velocity (3, rad/s, body frame).
    """

    def __init__(self, physics_hz: float = 500.0, control_hz: float = 100.0):
        if physics_hz < 500.0:
            raise ValueError(f"physics_hz must be >= 500 for the motor and attitude dynamics, got {physics_hz}")
        ratio = physics_hz / control_hz
        if control_hz <= 0 or abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(f"physics_hz ({physics_hz}) must be an integer multiple of control_hz ({control_hz})")
        self.model = mujoco.MjModel.from_xml_path(model_path())
        self.data = mujoco.MjData(self.model)
        self.model.opt.timestep = 1.0 / physics_hz
        self.substeps = int(round(ratio))
        self.body = self.model.body("quad").id
        self.target_site = self.model.site("target").id
        self.physics = QuadPhysics()
        self.set_physics(self.physics)

    def set_physics(self, p: QuadPhysics) -> None:
        m = self.model
        m.body_mass[self.body] = MASS * p.mass_scale
        m.body_inertia[self.body] = INERTIA * np.asarray(p.inertia_scale)
        m.actuator_gainprm[:, 0] = p.thrust_scale   # delivered thrust per commanded newton
        m.actuator_dynprm[:, 0] = p.motor_tau
        self.physics = p

    def reset(self, pos, quat, vel, angvel, motor_thrust) -> None:
        """Set the state; motor_thrust (4,) N is each rotor's current (lagged) thrust command."""
        d = self.data
        mujoco.mj_resetData(self.model, d)
        d.qpos[:3], d.qpos[3:7] = pos, quat
        d.qvel[:3], d.qvel[3:6] = vel, angvel
        d.act[:] = motor_thrust
        d.ctrl[:] = motor_thrust
        mujoco.mj_forward(self.model, d)

    def step(self, motor_cmd: np.ndarray) -> None:
        """Hold motor commands (4,) N for one control period."""
        self.data.ctrl[:] = motor_cmd
        mujoco.mj_step(self.model, self.data, nstep=self.substeps)

    # ------------------------------------------------------------------------------ state
    def pos(self) -> np.ndarray:
        return self.data.qpos[:3].copy()

    def quat(self) -> np.ndarray:
        return self.data.qpos[3:7].copy()

    def rot(self) -> np.ndarray:
        """(3, 3) body-to-world rotation."""
        return self.data.xmat[self.body].reshape(3, 3).copy()

    def vel(self) -> np.ndarray:
        return self.data.qvel[:3].copy()

    def angvel(self) -> np.ndarray:
        return self.data.qvel[3:6].copy()

    def motor_thrust(self) -> np.ndarray:
        """(4,) N the rotors deliver now (lagged command times thrust scale)."""
        return self.data.act.copy() * self.model.actuator_gainprm[:, 0]


def thrust_to_action(thrust: np.ndarray) -> np.ndarray:
    """Motor thrusts (N) -> normalized commands in [-1, 1] (clipped)."""
    return np.clip(2.0 * np.asarray(thrust) / F_MAX - 1.0, -1.0, 1.0)


def action_to_thrust(action: np.ndarray) -> np.ndarray:
    """Normalized commands [-1, 1] -> motor thrusts (N)."""
    return (np.clip(action, -1.0, 1.0) + 1.0) * (0.5 * F_MAX)


class HoverController:
    """Scripted baseline: a geometric position/attitude controller (Lee, Leok, McClamroch 2010 style).

    Uses the nominal parameters only (no knowledge of the episode's randomized physics; the integral term
    absorbs a wrong mass or thrust constant), reads the observation vector of the quadrotor tasks and
    returns normalized motor commands (4,). Call reset() at each episode start.
    Gains: position kp, integral ki, velocity kd (1/s^2, 1/s^3, 1/s), attitude kr, rate kw (1/s^2, 1/s),
    all as accelerations; control_hz is the rate it is called at.

    observed_integral: use the observation's integral of the position error (entries 26:29, m s) instead of
    its own, so the controller is a memoryless function of the observation (a policy can imitate it).
    motor_lead: 0, or a gain g > 1 that commands est + g (a - est) around the observation's motor estimate
    (entries 22:26): a lead on the 0.15 s rotor lag, which lets the attitude loop be several times faster.
    ``HoverController.expert()`` is the memoryless, fast-settling setting the scripted demos use.
    """

    def __init__(self, kp: float = 3.0, kd: float = 2.5, ki: float = 0.5, kr: float = 40.0, kw: float = 10.0,
                 max_tilt_acc: float = 12.0, control_hz: float = 100.0, observed_integral: bool = False,
                 motor_lead: float = 0.0):
        if motor_lead != 0.0 and motor_lead < 1.0:
            raise ValueError(f"motor_lead must be 0 (off) or >= 1, got {motor_lead}")
        self.kp, self.kd, self.ki, self.kr, self.kw, self.max_tilt_acc = kp, kd, ki, kr, kw, max_tilt_acc
        self.observed_integral, self.motor_lead = bool(observed_integral), float(motor_lead)
        self.dt = 1.0 / control_hz
        self.mix_inv = np.linalg.inv(mixer_matrix())
        self.integral = np.zeros(3)

    @classmethod
    def expert(cls, control_hz: float = 100.0) -> "HoverController":
        """Memoryless in the observation, with the rotor-lag lead and gains tuned for it: from the hover
        benchmark's starts (0.3 m, 0.5 m/s, 0.5 rad) it is within 0.1 m in under 2 s under the quadhover
        preset's randomization and sensor noise (the default gains settle in 3-5 s). ki = 3 on the observed
        integral (at most 1 m s) gives up to 0.3 g of correction, as the own integral's bound does."""
        return cls(kp=12.0, kd=7.0, ki=3.0, kr=150.0, kw=25.0, control_hz=control_hz, observed_integral=True,
                   motor_lead=3.0)

    def reset(self) -> None:
        self.integral = np.zeros(3)

    def __call__(self, obs: dict | np.ndarray) -> np.ndarray:
        s = np.asarray(obs["state"] if isinstance(obs, dict) else obs, np.float64)
        e_p, rot, e_v, w = s[0:3], s[3:12].reshape(3, 3), s[12:15], s[15:18]
        if self.observed_integral:   # the task's own: error clipped to 0.3 m, itself clipped to 1 m s
            self.integral = s[26:29].copy()
        else:
            # Bounded to 0.3 g of correction (a +-30% mass or thrust error) so a recovery cannot wind it up further.
            lim = 0.3 * GRAVITY / self.ki
            self.integral = np.clip(self.integral + np.clip(e_p, -0.3, 0.3) * self.dt, -lim, lim)
        acc = -self.kp * e_p - self.kd * e_v - self.ki * self.integral
        horiz = np.linalg.norm(acc[:2])
        if horiz > self.max_tilt_acc:   # keep the commanded tilt sane far from the target
            acc[:2] *= self.max_tilt_acc / horiz
        acc[2] += GRAVITY
        acc[2] = max(acc[2], 0.3 * GRAVITY)
        z_des = acc / np.linalg.norm(acc)
        # Keep the current heading (damp yaw rate only): yaw authority from rotor drag is ~100x weaker
        # than roll/pitch, and spending it on a heading would saturate the motors that keep the vehicle up.
        x_c = rot[:, 0] if abs(rot[2, 0]) < 0.95 else rot[:, 1]
        y_des = np.cross(z_des, x_c)
        y_des /= np.linalg.norm(y_des)
        r_des = np.stack([np.cross(y_des, z_des), y_des, z_des], axis=1)
        e_r_mat = 0.5 * (r_des.T @ rot - rot.T @ r_des)
        e_r = np.array([e_r_mat[2, 1], e_r_mat[0, 2], e_r_mat[1, 0]])
        thrust = MASS * float(acc @ rot[:, 2])
        torque = INERTIA * (-self.kr * e_r - self.kw * w) + np.cross(w, INERTIA * w)
        motors = self.mix_inv @ np.concatenate([[max(thrust, 0.0)], torque])
        action = thrust_to_action(motors)
        if self.motor_lead:
            est = s[22:26]
            action = np.clip(est + self.motor_lead * (action - est), -1.0, 1.0)
        return action.astype(np.float32)
