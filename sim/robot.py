"""MuJoCo arm wrapper: home pose, state read-out and end-effector Cartesian control.

`ArmSim` owns one `mujoco.MjModel`/`MjData` built from ``assets/arm.xml`` and exposes what the
tasks need in SI units (metres, radians). Control is Cartesian: each control step moves an
internal commanded end-effector target (position + yaw, gripper pointing down), damped
least-squares IK turns it into joint targets for the position servos, and physics advances
``physics_hz / control_hz`` substeps.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from importlib import resources  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

ARM_JOINTS = ("j1", "j2", "j3", "j4", "j5", "j6")
TABLE_Z = 0.40  # m, height of the table top in world coordinates (see arm.xml)
FINGER_MAX = 0.04  # m, per-finger travel; pad gap = 0.01 + 2 * q

# Commanded EE targets are clipped to this box (world frame, metres): above the table, in
# front of the base, inside the arm's comfortable reach. z_min keeps the pads just off the table.
DEFAULT_WORKSPACE = np.array([[0.22, -0.28, TABLE_Z + 0.022], [0.62, 0.28, TABLE_Z + 0.36]])
HOME_EE = np.array([0.35, 0.0, TABLE_Z + 0.25])  # m
# Joint-space seed for the home pose (elbow up, tool down); IK refines it to HOME_EE exactly.
_HOME_SEED = np.array([0.0, 0.2, 1.63, 0.0, 1.31, 0.0])
YAW_LIMIT = np.pi / 2 + 0.2  # rad; j6 has +/-2.9 rad, this keeps a margin for the IK


def default_model_path() -> str:
    """Path of the packaged MJCF (``roboloop/sim/assets/arm.xml``)."""
    return str(resources.files("roboloop.sim").joinpath("assets", "arm.xml"))


def down_rotation(yaw: float) -> np.ndarray:
    """Rotation matrix (3, 3) of the `ee` site pointing down with the given yaw (rad).

    At yaw 0 the fingers close along world y; the tool axis (site +z) points to world -z.
    It is R_z(yaw) @ R_y(pi).
    """
    c, s = np.cos(yaw), np.sin(yaw)
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    ry_pi = np.diag([-1.0, 1.0, -1.0])
    return rz @ ry_pi


def wrap_angle(a: float) -> float:
    """Wrap an angle to [-pi, pi)."""
    return float((a + np.pi) % (2 * np.pi) - np.pi)


class ArmSim:
    """6-DoF arm + parallel gripper + cube, with Cartesian end-effector control.

    Args:
        physics_hz: physics rate (Hz); sets ``model.opt.timestep = 1 / physics_hz``.
        control_hz: control rate (Hz); each `apply_action` runs ``physics_hz // control_hz``
            physics substeps. physics_hz must be an integer multiple of control_hz.
        model_path: MJCF to load (defaults to the packaged ``arm.xml``).
        workspace: (2, 3) array [[xmin, ymin, zmin], [xmax, ymax, zmax]] (m) that clips the
            commanded EE target.
        ik_damping: damped-least-squares lambda (m-equivalent); larger is smoother near
            singularities, slower to converge.
        ik_iters: DLS iterations per control step (warm-started from the last solution).
    """

    def __init__(
        self,
        physics_hz: float = 500.0,
        control_hz: float = 10.0,
        model_path: str | None = None,
        workspace: np.ndarray | None = None,
        ik_damping: float = 0.05,
        ik_iters: int = 8,
    ):
        if physics_hz <= 0 or control_hz <= 0:
            raise ValueError("physics_hz and control_hz must be positive")
        ratio = physics_hz / control_hz
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(
                f"physics_hz ({physics_hz}) must be an integer multiple of control_hz ({control_hz})"
            )
        self.physics_hz = float(physics_hz)
        self.control_hz = float(control_hz)
        self.n_substeps = int(round(ratio))

        self.model = mujoco.MjModel.from_xml_path(model_path or default_model_path())
        self.model.opt.timestep = 1.0 / self.physics_hz
        self.data = mujoco.MjData(self.model)
        # Scratch data for IK so that solving never disturbs the simulated state.
        self._ik_data = mujoco.MjData(self.model)

        m = self.model
        self.workspace = np.array(DEFAULT_WORKSPACE if workspace is None else workspace, dtype=float)
        self.ik_damping = float(ik_damping)
        self.ik_iters = int(ik_iters)

        self._arm_qadr = np.array([m.joint(j).qposadr[0] for j in ARM_JOINTS])
        self._arm_dadr = np.array([m.joint(j).dofadr[0] for j in ARM_JOINTS])
        self._arm_range = np.array([m.joint(j).range for j in ARM_JOINTS])
        self._finger_qadr = np.array([m.joint("finger_l").qposadr[0], m.joint("finger_r").qposadr[0]])
        self._cube_qadr = m.joint("cube").qposadr[0]
        self._cube_dadr = m.joint("cube").dofadr[0]
        self._arm_act = np.array([m.actuator(f"a{i + 1}").id for i in range(6)])
        self._grip_act = m.actuator("gripper").id
        self._ee_site = m.site("ee").id
        self._pad_geoms = (m.geom("pad_l").id, m.geom("pad_r").id)
        self._cube_geom = m.geom("cube").id
        self._cube_body = m.body("cube").id

        # Jacobian buffers (3, nv) reused every IK iteration.
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))

        self.home_qpos = self.solve_ik(HOME_EE, 0.0, _HOME_SEED, iters=100)
        self.target_pos = HOME_EE.copy()
        self.target_yaw = 0.0
        self.gripper_target = FINGER_MAX
        self._q_cmd = self.home_qpos.copy()
        self.reset()

    def physics(self):
        """The model's physics knobs (`physics.ArmPhysics`), for domain randomization."""
        from .physics import ArmPhysics
        return ArmPhysics(self.model, self.data)

    def robot_spec(self) -> dict:
        """The robot a checkpoint names: name and joint names (a checkpoint refuses another robot)."""
        return {"name": "roboloop_arm", "arm_joints": list(ARM_JOINTS), "gripper_joints": ["finger_l", "finger_r"]}

    # ------------------------------------------------------------------ reset / state
    def reset(self, cube_pos: np.ndarray | None = None, cube_yaw: float = 0.0) -> None:
        """Reset physics to the home pose, gripper open, cube at ``cube_pos`` (x, y) or (x, y, z).

        Resets every piece of internal state (commanded target, IK warm start) so that equal
        inputs give bit-identical trajectories.
        """
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self._arm_qadr] = self.home_qpos
        d.qpos[self._finger_qadr] = FINGER_MAX
        d.ctrl[self._arm_act] = self.home_qpos
        d.ctrl[self._grip_act] = FINGER_MAX
        self._q_cmd = self.home_qpos.copy()
        self.target_pos = HOME_EE.copy()
        self.target_yaw = 0.0
        self.gripper_target = FINGER_MAX
        if cube_pos is None:
            cube_pos = (0.42, 0.0)
        self.set_cube_pose(cube_pos, cube_yaw)

    def set_cube_pose(self, pos, yaw: float = 0.0) -> None:
        """Place the cube at world ``pos`` (x, y[, z]) m with yaw (rad) about z, at rest."""
        pos = np.asarray(pos, dtype=float)
        z = TABLE_Z + self.cube_half() if pos.shape[0] == 2 else pos[2]
        q = self.data.qpos
        a = self._cube_qadr
        q[a : a + 3] = (pos[0], pos[1], z)
        q[a + 3 : a + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        self.data.qvel[self._cube_dadr : self._cube_dadr + 6] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def cube_half(self) -> float:
        """Half edge of the cube (m), read from the model: domain randomization may scale it."""
        return float(self.model.geom_size[self.model.geom("cube").id][2])

    @property
    def arm_qpos(self) -> np.ndarray:
        """Arm joint angles (6,) rad."""
        return self.data.qpos[self._arm_qadr].copy()

    def ee_pos(self) -> np.ndarray:
        """End-effector (pinch point) position (3,) m, world frame."""
        return self.data.site_xpos[self._ee_site].copy()

    def ee_rot(self) -> np.ndarray:
        """End-effector rotation matrix (3, 3), world frame."""
        return self.data.site_xmat[self._ee_site].reshape(3, 3).copy()

    def ee_yaw(self) -> float:
        """Gripper yaw (rad) about world z: angle of the finger closing axis from world y."""
        r = self.data.site_xmat[self._ee_site].reshape(3, 3)
        return float(np.arctan2(-r[0, 1], r[1, 1]))

    def ee_vel(self) -> np.ndarray:
        """End-effector linear velocity (3,) m/s, world frame."""
        mujoco.mj_jacSite(self.model, self.data, self._jacp, None, self._ee_site)
        return self._jacp @ self.data.qvel

    def gripper_opening(self) -> float:
        """Normalized gripper opening: 0 = fully closed, 1 = fully open."""
        q = self.data.qpos[self._finger_qadr].mean()
        return float(np.clip(q / FINGER_MAX, 0.0, 1.0))

    def cube_pos(self) -> np.ndarray:
        """Cube centre (3,) m, world frame."""
        return self.data.xpos[self._cube_body].copy()

    def cube_quat(self) -> np.ndarray:
        """Cube orientation quaternion (4,) (w, x, y, z), world frame."""
        return self.data.xquat[self._cube_body].copy()

    def cube_yaw(self) -> float:
        """Cube yaw (rad) about world z, from its body x axis projected on the table."""
        r = self.data.xmat[self._cube_body].reshape(3, 3)
        return float(np.arctan2(r[1, 0], r[0, 0]))

    def finger_contacts(self) -> tuple[bool, bool]:
        """Whether the (left, right) finger pads currently touch the cube."""
        left = right = False
        pad_l, pad_r = self._pad_geoms
        cube = self._cube_geom
        for i in range(self.data.ncon):
            c = self.data.contact[i]
            pair = (c.geom1, c.geom2)
            if cube in pair:
                left |= pad_l in pair
                right |= pad_r in pair
        return left, right

    def is_grasped(self) -> bool:
        """Both pads touch the cube (a two-sided pinch)."""
        left, right = self.finger_contacts()
        return left and right

    # ------------------------------------------------------------------ control
    def solve_ik(self, pos, yaw: float, q_init: np.ndarray, iters: int | None = None) -> np.ndarray:
        """Damped-least-squares IK for the `ee` site, gripper pointing down.

        Args:
            pos: target position (3,) m, world frame.
            yaw: target yaw (rad), see `down_rotation`.
            q_init: warm start (6,) rad.
            iters: iterations (defaults to ``self.ik_iters``).
        Returns:
            Arm joint angles (6,) rad, clipped to the joint limits.
        """
        m, d = self.model, self._ik_data
        pos = np.asarray(pos, dtype=float)
        r_goal = down_rotation(yaw)
        q = np.array(q_init, dtype=float)
        lam2 = self.ik_damping**2
        # Orientation errors (rad) are weighted less than position errors (m) so that, when the
        # target is slightly out of reach, position wins; 0.3 m/rad still holds the tool down.
        w_rot = 0.3
        for _ in range(iters or self.ik_iters):
            d.qpos[self._arm_qadr] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)  # mj_jacSite needs the com-based quantities
            e_pos = pos - d.site_xpos[self._ee_site]
            r = d.site_xmat[self._ee_site].reshape(3, 3)
            # Small-angle rotation error, world frame: 0.5 * sum_i r_i x r*_i.
            e_rot = 0.5 * (np.cross(r[:, 0], r_goal[:, 0]) + np.cross(r[:, 1], r_goal[:, 1])
                           + np.cross(r[:, 2], r_goal[:, 2]))
            mujoco.mj_jacSite(m, d, self._jacp, self._jacr, self._ee_site)
            jac = np.vstack([self._jacp[:, self._arm_dadr], w_rot * self._jacr[:, self._arm_dadr]])
            err = np.concatenate([e_pos, w_rot * e_rot])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + lam2 * np.eye(6), err)
            q = np.clip(q + dq, self._arm_range[:, 0], self._arm_range[:, 1])
        return q

    def set_target(self, pos, yaw: float | None = None) -> None:
        """Set the commanded EE target directly (clipped to the workspace)."""
        self.target_pos = np.clip(np.asarray(pos, dtype=float), self.workspace[0], self.workspace[1])
        if yaw is not None:
            self.target_yaw = float(np.clip(wrap_angle(yaw), -YAW_LIMIT, YAW_LIMIT))

    def apply_action(self, delta_pos, delta_yaw: float = 0.0, gripper_cmd: float = 0.0) -> None:
        """One control step: move the commanded target, solve IK, run the physics substeps.

        Args:
            delta_pos: (3,) m, added to the commanded EE target (then clipped to the workspace).
            delta_yaw: rad, added to the commanded yaw (clipped to +/- YAW_LIMIT).
            gripper_cmd: in [-1, 1]; absolute gripper command, -1 = fully open, +1 = fully
                closed (squeezing with the servo's capped force), 0 = half open.
        """
        self.set_target(self.target_pos + np.asarray(delta_pos, dtype=float),
                        self.target_yaw + float(delta_yaw))
        g = float(np.clip(gripper_cmd, -1.0, 1.0))
        self.gripper_target = 0.5 * (1.0 - g) * FINGER_MAX
        q_new = self.solve_ik(self.target_pos, self.target_yaw, self._q_cmd)
        self.step_joint_targets(q_new)

    def step_joint_targets(self, q_new: np.ndarray) -> None:
        """Run one control period towards arm joint targets ``q_new`` (6,) rad.

        The servo setpoint is ramped linearly over the first half of the period, then held:
        a ramp avoids the torque spike of a step (which jolts a held cube), and the hold lets
        the servos settle so the EE reaches the target by the end of the control step.
        """
        d = self.data
        q_old = self._q_cmd
        d.ctrl[self._grip_act] = self.gripper_target
        n_ramp = max(1, self.n_substeps // 2)
        for k in range(self.n_substeps):
            a = min(1.0, (k + 1) / n_ramp)
            d.ctrl[self._arm_act] = q_old + a * (q_new - q_old)
            mujoco.mj_step(self.model, d)
        self._q_cmd = q_new.copy()
        # mj_step leaves positions-dependent quantities one step stale; refresh them so the
        # state read-outs (site_xpos, xpos, contacts) match qpos.
        mujoco.mj_forward(self.model, d)
