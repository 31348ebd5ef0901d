"""Forward kinematics and damped-least-squares IK of a robot built from its description.

`RobotModel` compiles the description (`description.mjcf_spec`) with MuJoCo and answers in the base
frame, in metres and radians; joint limits come from the description. `dls_ik` is the solver itself,
shared with the arm sims (which run it on their scene model every control step).
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from .description import RobotDescription, mjcf_spec

EE_SITE = "roboloop_ee"
# Joints without limits in the description (URDF "continuous") are solved within one turn.
_UNLIMITED = (-np.pi, np.pi)


@dataclass
class IKResult:
    """q: (n,) rad; iterations: how many the solver ran; pos_error: m; rot_error: rad."""

    q: np.ndarray
    iterations: int
    pos_error: float
    rot_error: float
    success: bool


def rotation_error(r: np.ndarray, r_goal: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) rad, world frame, taking r (3, 3) to r_goal (axis * angle, angle <= pi)."""
    q, qg, qe = np.zeros(4), np.zeros(4), np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(r).ravel())
    mujoco.mju_mat2Quat(qg, np.ascontiguousarray(r_goal).ravel())
    mujoco.mju_negQuat(q, q)
    mujoco.mju_mulQuat(qe, qg, q)
    if qe[0] < 0:  # the short way round
        qe = -qe
    v = np.zeros(3)
    mujoco.mju_quat2Vel(v, qe, 1.0)
    return v


def dls_ik(model: mujoco.MjModel, data: mujoco.MjData, site: int, qadr: np.ndarray, dadr: np.ndarray,
           limits: np.ndarray, pos: np.ndarray, rot: np.ndarray | None, q0: np.ndarray, iters: int,
           damping: float = 0.05, rot_weight: float = 0.3, tol: float = 0.0, rot_tol: float = np.inf,
           ) -> tuple[np.ndarray, int]:
    """Damped least squares on the site's pose, joints clipped to their limits each iteration.

    Args:
        model, data: a MuJoCo model and scratch data (its qpos outside `qadr` is left as is).
        site: id of the site to place; qadr, dadr: qpos / dof addresses of the solved joints (n,).
        limits: (n, 2) rad or m. pos: (3,) m, world frame; rot: (3, 3) or None (position only).
        q0: (n,) warm start. iters: iteration cap. damping: lambda (m-equivalent).
        rot_weight: m per rad; below 1, position wins when the pose is slightly out of reach.
        tol, rot_tol: stop once the position error (m) and rotation error (rad) are below them.
    Returns:
        (q (n,), iterations run).
    """
    q = np.array(q0, dtype=float)
    n = len(qadr)
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    rows = 3 if rot is None else 6
    lam2 = damping**2
    for it in range(iters + 1):
        data.qpos[qadr] = q
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)  # mj_jacSite needs the com-based quantities
        e_pos = pos - data.site_xpos[site]
        e_rot = np.zeros(3) if rot is None else rotation_error(data.site_xmat[site].reshape(3, 3), rot)
        if np.linalg.norm(e_pos) < tol and np.linalg.norm(e_rot) < rot_tol:
            return q, it
        if it == iters:
            break
        mujoco.mj_jacSite(model, data, jacp, jacr, site)
        if rot is None:
            jac, err = jacp[:, dadr], e_pos
        else:
            jac = np.vstack([jacp[:, dadr], rot_weight * jacr[:, dadr]])
            err = np.concatenate([e_pos, rot_weight * e_rot])
        if n >= rows:
            dq = jac.T @ np.linalg.solve(jac @ jac.T + lam2 * np.eye(rows), err)
        else:
            dq = np.linalg.solve(jac.T @ jac + lam2 * np.eye(n), jac.T @ err)
        q = np.clip(q + dq, limits[:, 0], limits[:, 1])
    return q, iters


def joint_limits(model: mujoco.MjModel, joints) -> np.ndarray:
    """(n, 2) limits of named joints from the compiled model; unlimited hinges get +/- pi."""
    out = []
    for j in joints:
        jj = model.joint(j)
        out.append(tuple(jj.range) if model.jnt_limited[jj.id] else _UNLIMITED)
    return np.array(out, dtype=float)


class RobotModel:
    """Kinematics of one robot description (arm joints only; gripper joints held at zero). Built from the
    joints alone: the description's meshes need not exist on this machine.

    Args:
        desc: the robot's `RobotDescription`.
    Attributes:
        n: number of arm joints; limits: (n, 2) rad (m for prismatic joints).
    """

    def __init__(self, desc: RobotDescription):
        self.desc = desc
        spec = mjcf_spec(desc, geometry=False)  # kinematics need no meshes
        ee = spec.body(desc.ee_frame)
        ee.add_site(name=EE_SITE, pos=list(desc.ee_offset))
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.n = len(desc.arm_joints)
        self.qadr = np.array([m.joint(j).qposadr[0] for j in desc.arm_joints])
        self.dadr = np.array([m.joint(j).dofadr[0] for j in desc.arm_joints])
        self.limits = joint_limits(m, desc.arm_joints)
        self.site = m.site(EE_SITE).id
        self.base = m.body(desc.base_frame).id
        self.ee_body = m.body(desc.ee_frame).id

    def _base_pose(self) -> tuple[np.ndarray, np.ndarray]:
        d = self.data
        return d.xpos[self.base].copy(), d.xmat[self.base].reshape(3, 3).copy()

    def _check_q(self, q) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        if q.shape != (self.n,):
            raise ValueError(f"{self.desc.name}: expected {self.n} arm joint values "
                             f"({', '.join(self.desc.arm_joints)}), got shape {q.shape}")
        return q

    def fk(self, q) -> tuple[np.ndarray, np.ndarray]:
        """(position (3,) m, rotation (3, 3)) of the end effector (ee frame + ee_offset), base frame."""
        q = self._check_q(q)
        self.data.qpos[:] = self.model.qpos0
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        pb, rb = self._base_pose()
        p = self.data.site_xpos[self.site]
        r = self.data.site_xmat[self.site].reshape(3, 3)
        return rb.T @ (p - pb), rb.T @ r

    def random_q(self, rng: np.random.Generator, margin: float = 0.0) -> np.ndarray:
        """Uniform joint values inside the limits, `margin` (rad) away from them."""
        lo, hi = self.limits[:, 0] + margin, self.limits[:, 1] - margin
        return rng.uniform(lo, hi)

    def ik(self, pos, rot=None, q0=None, max_iters: int = 200, tol: float = 1e-4, rot_tol: float = 1e-3,
           damping: float = 0.05, rot_weight: float = 0.3, success_tol: float = 2e-3) -> IKResult:
        """Joint values putting the end effector at `pos` (3,) m (and `rot` (3, 3) if given), base frame.

        Starts from q0 (default: the middle of the joint ranges); `success` means within success_tol m
        (and 0.01 rad if rot is given). Joints stay inside their limits.
        """
        m, d = self.model, self.data
        d.qpos[:] = m.qpos0
        mujoco.mj_kinematics(m, d)
        pb, rb = self._base_pose()
        pos_w = pb + rb @ np.asarray(pos, dtype=float)
        rot_w = None if rot is None else rb @ np.asarray(rot, dtype=float)
        q0 = self.limits.mean(axis=1) if q0 is None else self._check_q(q0)
        q, its = dls_ik(m, d, self.site, self.qadr, self.dadr, self.limits, pos_w, rot_w, q0, max_iters,
                        damping=damping, rot_weight=rot_weight, tol=tol, rot_tol=rot_tol)
        p, r = self.fk(q)
        pe = float(np.linalg.norm(p - np.asarray(pos, dtype=float)))
        re = 0.0 if rot is None else float(np.linalg.norm(rotation_error(r, np.asarray(rot, dtype=float))))
        ok = pe < success_tol and (rot is None or re < 0.01)
        return IKResult(q=q, iterations=its, pos_error=pe, rot_error=re, success=ok)
