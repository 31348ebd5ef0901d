"""Physics values applied to the arm's MuJoCo model: one function for reality-gap variants and for
domain randomization, so "the robot" and "the randomized sim" change the same quantities the same way.

Every value is relative to the MJCF's nominal model and never compounds: `ArmPhysics.apply` first
restores the nominal values, then applies the given ones. Keys (each optional):

    link_mass      scale of the arm links' masses and inertias            scalar or (6,)
    friction       scale of the sliding friction of cube and finger pads   scalar or (3,)
    joint_damping  scale of the arm joints' damping                        scalar or (6,)
    armature       scale of the arm joints' armature                       scalar or (6,)
    actuator_gain  scale of the arm position servos' kp and kv             scalar or (6,)
    cube_size      scale of the cube's half-size (inertia follows)         scalar
    cube_mass      scale of the cube's mass and inertia                    scalar
    camera_pos     m added to the cameras' positions (front, wrist)        (3,) for both, or (2, 3)
    camera_fovy    degrees added to the cameras' vertical field of view    scalar or (2,)
    light          scale of every light's diffuse intensity                scalar or (nlight,)
    gravity_tilt   [tilt rad, heading rad] of gravity away from -z
"""
from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

ARM_JOINTS = ("j1", "j2", "j3", "j4", "j5", "j6")
FRICTION_GEOMS = ("cube", "pad_l", "pad_r")
CAMERAS = ("front", "wrist")
KEYS = ("link_mass", "friction", "joint_damping", "armature", "actuator_gain", "cube_size", "cube_mass",
        "camera_pos", "camera_fovy", "light", "gravity_tilt")
_MODEL_FIELDS = ("body_mass", "body_inertia", "geom_friction", "geom_size", "dof_damping", "dof_armature",
                 "actuator_gainprm", "actuator_biasprm", "cam_pos", "cam_fovy", "light_diffuse")


class ArmPhysics:
    """The arm model's physics knobs.

    Args: the task's `mujoco.MjModel` and `MjData` (for mj_setConst); arm_joints: the arm's joints (their
    servos are the actuators a1..aN; the links are the bodies these joints move), roboloop's own arm's
    by default. The per-link and per-joint keys then take N values.
    """

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, arm_joints: tuple[str, ...] = ARM_JOINTS):
        self.model, self.data = model, data
        m = model
        self.bodies = [int(m.jnt_bodyid[m.joint(j).id]) for j in arm_joints]
        self.dofs = [m.joint(j).dofadr[0] for j in arm_joints]
        self.acts = [m.actuator(f"a{i + 1}").id for i in range(len(arm_joints))]
        self.friction_geoms = [m.geom(g).id for g in FRICTION_GEOMS]
        self.cube_geom, self.cube_body = m.geom("cube").id, m.body("cube").id
        self.cams = [m.camera(c).id for c in CAMERAS]
        self.nominal = {k: getattr(m, k).copy() for k in _MODEL_FIELDS}
        self.gravity = m.opt.gravity.copy()

    def sizes(self) -> dict[str, int]:
        """How many values each per-element key takes (for samplers)."""
        return {"link_mass": len(self.bodies), "friction": len(self.friction_geoms), "joint_damping": len(self.dofs),
                "armature": len(self.dofs), "actuator_gain": len(self.acts), "camera_pos": 3 * len(self.cams),
                "camera_fovy": len(self.cams), "light": self.model.nlight}

    def apply(self, values: dict[str, Any]) -> None:
        """Restore the nominal model, then apply `values` (see the module docstring)."""
        unknown = sorted(set(values) - set(KEYS))
        if unknown:
            raise ValueError(f"unknown physics value(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
        m = self.model
        for k, nominal in self.nominal.items():
            getattr(m, k)[:] = nominal
        m.opt.gravity[:] = self.gravity

        def each(key: str, n: int) -> np.ndarray:
            return np.broadcast_to(np.asarray(values[key], dtype=float), (n,))

        if "link_mass" in values:
            s = each("link_mass", len(self.bodies))
            m.body_mass[self.bodies] *= s
            m.body_inertia[self.bodies] *= s[:, None]
        if "friction" in values:
            m.geom_friction[self.friction_geoms, 0] *= each("friction", len(self.friction_geoms))
        if "joint_damping" in values:
            m.dof_damping[self.dofs] *= each("joint_damping", len(self.dofs))
        if "armature" in values:
            m.dof_armature[self.dofs] *= each("armature", len(self.dofs))
        if "actuator_gain" in values:  # position servo: force = kp * (ctrl - q) - kv * qdot
            s = each("actuator_gain", len(self.acts))
            m.actuator_gainprm[self.acts, 0] *= s
            m.actuator_biasprm[self.acts, 1:3] *= s[:, None]
        if "cube_size" in values:
            m.geom_size[self.cube_geom] *= float(values["cube_size"])
            m.body_inertia[self.cube_body] *= float(values["cube_size"]) ** 2
        if "cube_mass" in values:
            m.body_mass[self.cube_body] *= float(values["cube_mass"])
            m.body_inertia[self.cube_body] *= float(values["cube_mass"])
        if "camera_pos" in values:
            m.cam_pos[self.cams] += np.broadcast_to(np.asarray(values["camera_pos"], float).reshape(-1, 3),
                                                    (len(self.cams), 3))
        if "camera_fovy" in values:
            m.cam_fovy[self.cams] += each("camera_fovy", len(self.cams))
        if "light" in values:
            m.light_diffuse[:] *= each("light", m.nlight)[:, None]
        if "gravity_tilt" in values:
            tilt, heading = values["gravity_tilt"]
            g = float(np.linalg.norm(self.gravity))
            m.opt.gravity[:] = g * np.array([np.sin(tilt) * np.cos(heading), np.sin(tilt) * np.sin(heading),
                                             -np.cos(tilt)])
        mujoco.mj_setConst(m, self.data)  # masses/inertias changed: refresh derived constants
