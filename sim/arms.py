"""Sims of real arms built from their descriptions: the scene around the arm, assembled in code.

An arm is one YAML file (``assets/arms/<name>.yaml`` for the shipped SO-101, Panda and UR5; any path
for a user's own): the top-level keys are a `RobotDescription` (description file, frames, joints),
the ``sim:`` section is an `ArmSceneConfig` (home pose, gripper, gains, workspace). `build_scene` puts
the arm's base on a table (top at z = TABLE_Z, base at the world origin, facing +x), adds a cube,
lights, a front camera and a wrist camera, position servos on every arm joint and a gripper:

  * ``gripper.kind: joints``: the description's own gripper joints (the SO-101's jaw, the Panda's
    fingers), coupled to move together and driven by one servo on their mean;
  * ``gripper.kind: parallel``: a two-finger parallel gripper added at the end effector in code, for
    descriptions without one (the UR5 in example-robot-data).

The arm's own meshes are visual only (no collisions); contact happens between the gripper's pads, the
cube and the table, as in roboloop's own arm: the workspace box keeps the arm above the table, and the
controller cannot reason about link-link contacts. `DescribedArmSim` drives the scene with the same
interface as `ArmSim` (so the Reach/PickCube tasks and their experts run on it unchanged).
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import yaml

from .description import DescriptionError, RobotDescription, check_name, mjcf_spec
from .kinematics import dls_ik, joint_limits, rotation_error
from .physics import ArmPhysics
from .robot import TABLE_Z, YAW_LIMIT, ArmSim, wrap_angle

EE_SITE = "ee"


@dataclass(frozen=True)
class GripperConfig:
    """kind: 'joints' (the description's gripper joints) or 'parallel' (added in code).

    open, closed: gripper joint value (rad or m) at fully open and at fully closed (the squeeze target).
    force: N (or N m) cap of the gripper servo. kp: its stiffness. pads: boxes that touch the cube,
    each ``{body, pos, size}``: pos (3,) m in the ee frame (before ee_offset) with every gripper joint at
    ``pads_at``, size (3,) half-sizes along the ee frame's axes; for 'parallel' they are made in code.
    pads_at: gripper joint value the pads are given at; for a jaw that swings, the value at which it
    holds a cube, so that its pad then faces the other one squarely.
    travel, finger_length: m, of the parallel gripper's fingers.
    """

    kind: str = "joints"
    open: float = 0.04
    closed: float = 0.0
    force: float = 20.0
    kp: float = 100.0
    pads: tuple[dict, ...] = ()
    pads_at: float = 0.0
    travel: float = 0.045
    finger_length: float = 0.07


@dataclass(frozen=True)
class ArmSceneConfig:
    """The sim around an arm. Positions are in the base frame (m; the table top is z = 0).

    home_ee: (3,) pinch point at the home pose; home_q: joint seed the home IK starts from.
    tool_axis, closing_axis: (3,) unit axes in the ee frame: the approach direction (points down when
    the gripper points down) and the direction the jaws close along (world y at yaw 0).
    workspace: (2, 3) box the commanded pinch point is clipped to. goal_range: (2, 3) Reach goals.
    cube_range: (2, 2) xy of cube spawns. cube_park: (2,) xy where Reach parks the cube.
    reach_success: m, Reach's success distance (a small arm's goals lie closer together).
    cube_half: m, half edge of the cube. lift_z: m, the expert's lift height of the pinch point.
    servo_hz: natural frequency (Hz) of the arm servos, critically damped: each joint's gains follow
    from its inertia at the home pose (kp = I w^2, kv = 2 I w), so the servos settle within a control
    step on a heavy arm and a light one alike. kp, kv: explicit gains instead (scalar or per joint).
    armature, damping: per arm joint (scalar or list).
    force: N m cap of each arm servo where the description gives no effort limit.
    max_delta_pos: m per control step at action 1.0.
    wrist_camera: (2,) m, the wrist camera's place from the pinch point: back along the tool axis and
    out to the side away from the robot (at yaw 0); it looks at the jaws.
    """

    home_ee: tuple[float, ...]
    home_q: tuple[float, ...]
    tool_axis: tuple[float, ...] = (0.0, 0.0, 1.0)
    closing_axis: tuple[float, ...] = (0.0, 1.0, 0.0)
    workspace: tuple[tuple[float, ...], ...] = ((0.22, -0.28, 0.022), (0.62, 0.28, 0.36))
    goal_range: tuple[tuple[float, ...], ...] = ((0.28, -0.20, 0.05), (0.56, 0.20, 0.30))
    cube_range: tuple[tuple[float, ...], ...] = ((0.32, -0.15), (0.52, 0.15))
    cube_park: tuple[float, ...] = (0.1, 0.42)
    reach_success: float = 0.03
    cube_half: float = 0.02
    lift_z: float = 0.16
    servo_hz: float = 15.0
    kp: Any = None
    kv: Any = None
    armature: Any = 0.1
    damping: Any = 2.0
    force: float = 100.0
    max_delta_pos: float = 0.05
    wrist_camera: tuple[float, ...] = (0.09, 0.05)
    gripper: GripperConfig = field(default_factory=GripperConfig)


@dataclass(frozen=True)
class Arm:
    """One arm: its description and its sim."""

    robot: RobotDescription
    scene: ArmSceneConfig
    source: str = ""

    @property
    def name(self) -> str:
        return self.robot.name


def _tuple(x, n=None, what=""):
    t = tuple(float(v) for v in x)
    if n is not None and len(t) != n:
        raise DescriptionError(f"arm config: {what} needs {n} numbers, got {list(x)!r}")
    return t


def arm_from_dict(d: dict[str, Any], base_dir: str | Path = ".", source: str = "") -> Arm:
    """An `Arm` from a parsed YAML mapping (top-level robot keys plus a ``sim:`` section)."""
    if not isinstance(d, dict):
        raise DescriptionError(f"arm config {source or ''} must be a mapping, got {type(d).__name__}")
    robot = RobotDescription.from_dict(d, base_dir)
    check_name(robot.name)
    s = dict(d.get("sim") or {})
    for k in ("home_ee", "home_q"):
        if k not in s:
            raise DescriptionError(f"arm config {robot.name!r}: sim.{k} is required")
    g = dict(s.pop("gripper", {}) or {})
    unknown_g = set(g) - set(GripperConfig.__dataclass_fields__)
    if unknown_g:
        raise DescriptionError(f"arm config {robot.name!r}: unknown sim.gripper key(s) {', '.join(sorted(unknown_g))}")
    if g.get("kind", "joints") not in ("joints", "parallel"):
        raise DescriptionError(f"arm config {robot.name!r}: sim.gripper.kind must be 'joints' or 'parallel'")
    if g.get("kind", "joints") == "joints" and not robot.gripper_joints:
        raise DescriptionError(f"arm config {robot.name!r}: gripper kind 'joints' needs gripper_joints "
                               "(or use kind: parallel to add one in code)")
    g["pads"] = tuple(dict(p) for p in g.get("pads", ()))
    gripper = GripperConfig(**g)
    unknown = set(s) - set(ArmSceneConfig.__dataclass_fields__)
    if unknown:
        raise DescriptionError(f"arm config {robot.name!r}: unknown sim key(s) {', '.join(sorted(unknown))}")
    n = len(robot.arm_joints)
    kw: dict[str, Any] = dict(s)
    kw["home_ee"] = _tuple(s["home_ee"], 3, "sim.home_ee")
    kw["home_q"] = _tuple(s["home_q"], n, "sim.home_q (one per arm joint)")
    for k in ("tool_axis", "closing_axis", "cube_park", "wrist_camera"):
        if k in s:
            kw[k] = _tuple(s[k], 2 if k in ("cube_park", "wrist_camera") else 3, f"sim.{k}")
    for k in ("workspace", "goal_range", "cube_range"):
        if k in s:
            kw[k] = tuple(_tuple(r, 2 if k == "cube_range" else 3, f"sim.{k}") for r in s[k])
    return Arm(robot=robot, scene=ArmSceneConfig(**kw, gripper=gripper), source=source)


def arms_dir() -> Path:
    return Path(str(resources.files("roboloop.sim").joinpath("assets", "arms")))


def shipped_arms() -> list[str]:
    """Names of the arms that ship with roboloop (their descriptions come from example-robot-data)."""
    return sorted(p.stem for p in arms_dir().glob("*.yaml"))


@functools.lru_cache(maxsize=None)
def load_arm(name_or_path: str) -> Arm:
    """A shipped arm by name ('so101', 'panda', 'ur5') or a user's arm YAML file by path."""
    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = arms_dir() / f"{name_or_path}.yaml"
        if not p.is_file():
            raise DescriptionError(f"unknown arm {name_or_path!r}: shipped arms are {', '.join(shipped_arms())}, "
                                   "or give the path of an arm YAML file (docs: guides/your-arm.md)")
    if not p.is_file():
        raise DescriptionError(f"arm config {p} not found")
    try:
        d = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise DescriptionError(f"arm config {p} is not valid YAML: {e}") from None
    return arm_from_dict(d, base_dir=p.parent.resolve(), source=str(p))


# ---------------------------------------------------------------------------------------------- scene
def _quat(rot: np.ndarray) -> list[float]:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(rot, dtype=float).ravel())
    return q.tolist()


def _look_at(pos: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Camera rotation (3, 3) (columns: image right, image up, backwards) looking from pos at target."""
    f = target - pos
    f = f / np.linalg.norm(f)
    x = np.cross(f, up)
    x = x / np.linalg.norm(x)
    y = np.cross(-f, x)
    return np.column_stack([x, y, -f])


def _each(v, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()


def _frame_axes(cfg: ArmSceneConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.asarray(cfg.tool_axis, float)
    c = np.asarray(cfg.closing_axis, float)
    a, c = a / np.linalg.norm(a), c / np.linalg.norm(c)
    if abs(a @ c) > 1e-6:
        raise DescriptionError("arm config: sim.tool_axis and sim.closing_axis must be perpendicular")
    return a, c, np.cross(a, c)


def _box_size(a, b, c, along_a, along_b, along_c) -> list[float]:
    """Half sizes in the ee frame's axes of a box with the given half extents along a, b, c."""
    return (np.abs(a) * along_a + np.abs(b) * along_b + np.abs(c) * along_c).tolist()


def _add_parallel_gripper(spec: mujoco.MjSpec, ee_body, ee_offset: np.ndarray, cfg: ArmSceneConfig) -> list[str]:
    """Palm, two slide fingers and their pads under the ee body; returns the finger joint names."""
    a, c, b = _frame_axes(cfg)
    g = cfg.gripper
    if not all(np.isclose(np.abs(v).max(), 1.0) for v in (a, c)):
        raise DescriptionError("arm config: a parallel gripper needs tool_axis and closing_axis along the ee frame's axes")
    pad_t, pad_h, pad_w = 0.004, 0.018, 0.011  # half thickness, height, width (m)
    palm_at = ee_offset - a * (g.finger_length - pad_h)
    ee_body.add_geom(name="palm", type=mujoco.mjtGeom.mjGEOM_BOX, pos=(palm_at - a * 0.01).tolist(),
                     size=_box_size(a, b, c, 0.01, 0.025, g.travel + 0.02), rgba=[0.15, 0.15, 0.15, 1],
                     contype=1, conaffinity=1, mass=0.3)
    joints = []
    for side, name in ((1.0, "finger_l"), (-1.0, "finger_r")):
        finger = ee_body.add_body(name=name, pos=(ee_offset + side * c * 0.002).tolist(), gravcomp=1.0)
        finger.add_joint(name=name, type=mujoco.mjtJoint.mjJNT_SLIDE, axis=(side * c).tolist(),
                         range=[0.0, g.travel], armature=0.01, damping=[5.0, 0.0, 0.0])
        finger.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, pos=(side * c * (pad_t + 0.006) - a * (g.finger_length / 2 - pad_h)).tolist(),
                        size=_box_size(a, b, c, g.finger_length / 2, 0.01, 0.006), rgba=[0.15, 0.15, 0.15, 1],
                        contype=0, conaffinity=0, mass=0.03)
        finger.add_geom(name=f"pad_{'l' if side > 0 else 'r'}", type=mujoco.mjtGeom.mjGEOM_BOX,
                        pos=(side * c * pad_t).tolist(), size=_box_size(a, b, c, pad_h, pad_w, pad_t), mass=0.01)
        joints.append(name)
    return joints


def _pad_defaults(geom) -> None:
    # As roboloop's own arm: condim 4 (torsional friction), stiff contacts for a firm pinch.
    geom.contype, geom.conaffinity, geom.condim = 1, 1, 4
    geom.friction = [1.5, 0.02, 0.001]
    geom.solref = [0.004, 1.0]
    geom.solimp = [0.95, 0.99, 0.001, 0.5, 2.0]
    geom.rgba = [0.9, 0.55, 0.1, 1.0]


def _kinematic_copy(spec: mujoco.MjSpec) -> mujoco.MjSpec:
    """A copy of `spec` without mesh geoms and meshes: same bodies and joints, compiled in milliseconds
    (the meshes' hulls take seconds), for forward kinematics only."""
    bare = spec.copy()
    for geom in list(bare.geoms):
        if geom.type == mujoco.mjtGeom.mjGEOM_MESH:
            bare.delete(geom)
    for mesh in list(bare.meshes):
        bare.delete(mesh)
    return bare


def build_spec(arm: Arm) -> mujoco.MjSpec:
    """The arm's scene as an MjSpec: arm on the table, gripper, servos, cube, lights, cameras."""
    robot, cfg = arm.robot, arm.scene
    spec = mjcf_spec(robot)
    spec.modelname = f"roboloop_{robot.name}"
    spec.compiler.discardvisual = False  # the arm's geoms become visual-only below; keep them
    spec.option.timestep = 0.002
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.visual.global_.offwidth = 640
    spec.visual.global_.offheight = 640
    spec.visual.headlight.ambient = [0.3, 0.3, 0.3]
    spec.visual.headlight.diffuse = [0.4, 0.4, 0.4]

    # The arm: visual only, gravity compensated (the servos then only fight inertia), on the table.
    for body in spec.bodies:
        body.gravcomp = 1.0
    for geom in spec.geoms:
        geom.contype, geom.conaffinity, geom.group = 0, 0, 1
        if geom.rgba[3] == 1 and np.allclose(geom.rgba[:3], 0.5):
            geom.rgba = [0.85, 0.85, 0.88, 1.0]
    for body in spec.worldbody.bodies:
        body.pos = (np.asarray(body.pos) + [0.0, 0.0, TABLE_Z]).tolist()

    # Pinch point site and pads, placed with the gripper at zero (one forward pass of the bare arm).
    ee_offset = np.asarray(robot.ee_offset, float)
    ee_body = spec.body(robot.ee_frame)
    ee_body.add_site(name=EE_SITE, pos=ee_offset.tolist(), size=[0.006, 0.006, 0.006], rgba=[0, 1, 0, 0.6], group=3)
    g = cfg.gripper
    if g.kind == "parallel":
        grip_joints = _add_parallel_gripper(spec, ee_body, ee_offset, cfg)
    else:
        grip_joints = list(robot.gripper_joints)
        bare = _kinematic_copy(spec).compile()
        d = mujoco.MjData(bare)
        d.qpos[[bare.joint(j).qposadr[0] for j in grip_joints]] = g.pads_at
        mujoco.mj_kinematics(bare, d)
        e = bare.body(robot.ee_frame).id
        pe, re = d.xpos[e], d.xmat[e].reshape(3, 3)
        for i, pad in enumerate(g.pads):
            if pad.get("body") not in {b.name for b in spec.bodies}:
                raise DescriptionError(f"arm {robot.name!r}: pad body {pad.get('body')!r} is not a link")
            bid = bare.body(pad["body"]).id
            pb, rb = d.xpos[bid], d.xmat[bid].reshape(3, 3)
            pos_w = pe + re @ np.asarray(pad["pos"], float)
            geom = spec.body(pad["body"]).add_geom(
                name=f"pad_{'lr'[i] if i < 2 else i}", type=mujoco.mjtGeom.mjGEOM_BOX,
                pos=(rb.T @ (pos_w - pb)).tolist(), quat=_quat(rb.T @ re),
                size=[float(v) for v in pad["size"]], mass=0.005)
            _pad_defaults(geom)
    for name in ("pad_l", "pad_r"):
        _pad_defaults(spec.geom(name))

    # Servos: one position actuator per arm joint, capped at the description's effort limit.
    n = len(robot.arm_joints)
    kp, kv = _each(cfg.kp or 1.0, n), _each(cfg.kv or 0.0, n)  # without explicit gains: set in build_model
    arm_, damp = _each(cfg.armature, n), _each(cfg.damping, n)
    for i, jn in enumerate(robot.arm_joints):
        j = spec.joint(jn)
        j.armature, j.damping = float(arm_[i]), [float(damp[i]), 0.0, 0.0]
        lim = float(j.actfrcrange[1]) if j.actfrclimited != mujoco.mjtLimited.mjLIMITED_FALSE and j.actfrcrange[1] > 0 else cfg.force
        j.actfrclimited = mujoco.mjtLimited.mjLIMITED_FALSE
        act = spec.add_actuator(name=f"a{i + 1}", target=jn, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=float(kp[i]), kv=float(kv[i]))
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-lim, lim]
    # Gripper: joints coupled to the first, one servo on their mean (a fixed tendon).
    for jn in grip_joints[1:]:
        spec.add_equality(type=mujoco.mjtEq.mjEQ_JOINT, name1=jn, name2=grip_joints[0],
                          data=[0, 1] + [0] * 10)
    for jn in grip_joints:
        j = spec.joint(jn)
        j.actfrclimited = mujoco.mjtLimited.mjLIMITED_FALSE
        j.armature = max(float(j.armature), 0.005)
        j.damping = [max(float(j.damping[0]), 0.5), 0.0, 0.0]
    tendon = spec.add_tendon(name="gripper_mean")
    for jn in grip_joints:
        tendon.wrap_joint(jn, 1.0 / len(grip_joints))
    act = spec.add_actuator(name="gripper", target="gripper_mean", trntype=mujoco.mjtTrn.mjTRN_TENDON)
    act.set_to_position(kp=float(g.kp), kv=0.1 * float(g.kp) ** 0.5)
    act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    act.forcerange = [-float(g.force), float(g.force)]

    # The world: floor, table (top at TABLE_Z), lights, cube, goal marker, cameras.
    wb = spec.worldbody
    wb.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.05], rgba=[0.3, 0.33, 0.37, 1])
    lo, hi = np.asarray(cfg.workspace, float)
    cx = 0.5 * (lo[0] + hi[0])
    half_x, half_y = max(0.5, hi[0] + 0.25 - (-0.2)) / 2, max(0.6, abs(lo[1]) + 0.35, hi[1] + 0.35)
    wb.add_geom(name="table_top", type=mujoco.mjtGeom.mjGEOM_BOX, pos=[-0.2 + half_x, 0, TABLE_Z / 2],
                size=[half_x, half_y, TABLE_Z / 2], rgba=[0.6, 0.46, 0.32, 1], friction=[0.8, 0.005, 0.0001])
    wb.add_light(name="key", pos=[0.6, -0.6, 2.0], dir=[-0.2, 0.3, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
                 diffuse=[0.7, 0.7, 0.7], specular=[0.2, 0.2, 0.2], castshadow=False)
    wb.add_light(name="fill", pos=[-0.5, 0.8, 1.5], dir=[0.5, -0.5, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
                 diffuse=[0.25, 0.25, 0.25], castshadow=False)
    wb.add_site(name="goal", pos=[0, 0, -1], size=[0.02, 0.02, 0.02], rgba=[0.1, 0.9, 0.2, 0.6], group=4)
    h = cfg.cube_half
    cube = wb.add_body(name="cube", pos=[cx, 0, TABLE_Z + h])
    cube.add_freejoint(name="cube")
    cg = cube.add_geom(name="cube", type=mujoco.mjtGeom.mjGEOM_BOX, size=[h, h, h], mass=0.05,
                       rgba=[0.85, 0.12, 0.1, 1])
    _pad_defaults(cg)
    cg.friction, cg.rgba = [1.2, 0.02, 0.001], [0.85, 0.12, 0.1, 1]
    # Front camera: in front of the workspace, looking back at the arm and the cube range.
    cr = np.asarray(cfg.cube_range, float)
    target = np.array([cr[:, 0].mean(), cr[:, 1].mean(), TABLE_Z + 0.3 * (hi[2] - lo[2])])
    span = max(hi[0] - lo[0], hi[1] - lo[1])
    cam_pos = target + span * np.array([1.2, 0.85, 1.0])
    wb.add_camera(name="front", pos=cam_pos.tolist(), quat=_quat(_look_at(cam_pos, target, np.array([0, 0, 1.0]))),
                  fovy=45.0)
    # Wrist camera: behind the pinch point on the side away from the robot, looking at the jaws.
    a, c, b = _frame_axes(cfg)
    back, side = cfg.wrist_camera
    wpos = ee_offset - back * a + side * b
    ee_body.add_camera(name="wrist", pos=wpos.tolist(), quat=_quat(_look_at(wpos, ee_offset + 0.03 * a, b)), fovy=75.0)
    return spec


_COMPILED: dict[str, mujoco.MjModel] = {}


def _servo_gains(model: mujoco.MjModel, arm: Arm) -> None:
    """Critically damped arm servos at `servo_hz`, from each joint's inertia at the home seed."""
    d = mujoco.MjData(model)
    dofs = [model.joint(j).dofadr[0] for j in arm.robot.arm_joints]
    d.qpos[[model.joint(j).qposadr[0] for j in arm.robot.arm_joints]] = arm.scene.home_q
    mujoco.mj_forward(model, d)
    full = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, d, full)
    w = 2 * np.pi * arm.scene.servo_hz
    for i, dof in enumerate(dofs):
        inertia = full[dof, dof]
        kp = inertia * w**2 if arm.scene.kp is None else _each(arm.scene.kp, len(dofs))[i]
        kv = 2 * inertia * w if arm.scene.kv is None else _each(arm.scene.kv, len(dofs))[i]
        act = model.actuator(f"a{i + 1}").id
        model.actuator_gainprm[act, 0] = kp
        model.actuator_biasprm[act, 1:3] = (-kp, -kv)


def build_model(arm: Arm) -> mujoco.MjModel:
    """A fresh MjModel of the arm's scene (compiled once per process and arm, then copied)."""
    # Keyed by content: every env loads its own `Arm`, and compiling the meshes takes seconds.
    key = repr(arm)
    if key not in _COMPILED:
        model = build_spec(arm).compile()
        if arm.scene.kp is None or arm.scene.kv is None:
            _servo_gains(model, arm)
        _COMPILED[key] = model
    return copy.deepcopy(_COMPILED[key])


def down_rotation_for(cfg: ArmSceneConfig, yaw: float) -> np.ndarray:
    """World rotation (3, 3) of the ee frame with the tool axis down and the jaws closing along R_z(yaw) y."""
    a, c, b = _frame_axes(cfg)
    a_w = np.array([0.0, 0.0, -1.0])
    c_w = np.array([-np.sin(yaw), np.cos(yaw), 0.0])
    return np.column_stack([a_w, c_w, np.cross(a_w, c_w)]) @ np.column_stack([a, c, b]).T


class DescribedArmSim(ArmSim):
    """`ArmSim`'s interface on an arm built from its description (see the module docstring).

    Args:
        arm: the `Arm` (see `load_arm`).
        physics_hz, control_hz, ik_damping, ik_iters: as `ArmSim`.
    """

    def __init__(self, arm: Arm, physics_hz: float = 500.0, control_hz: float = 10.0,
                 ik_damping: float = 0.05, ik_iters: int = 8):
        ratio = physics_hz / control_hz if physics_hz > 0 and control_hz > 0 else 0.0
        if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"physics_hz ({physics_hz}) must be a positive integer multiple of control_hz ({control_hz})")
        self.arm = arm
        self.physics_hz, self.control_hz, self.n_substeps = float(physics_hz), float(control_hz), int(round(ratio))
        self.model = build_model(arm)
        self.model.opt.timestep = 1.0 / self.physics_hz
        self.data = mujoco.MjData(self.model)
        self._ik_data = mujoco.MjData(self.model)
        m, cfg, robot = self.model, arm.scene, arm.robot
        base = np.array([0.0, 0.0, TABLE_Z])
        self.base_pos = base
        self.workspace = np.asarray(cfg.workspace, float) + base
        self.ik_damping, self.ik_iters = float(ik_damping), int(ik_iters)
        self._arm_qadr = np.array([m.joint(j).qposadr[0] for j in robot.arm_joints])
        self._arm_dadr = np.array([m.joint(j).dofadr[0] for j in robot.arm_joints])
        self._arm_range = joint_limits(m, robot.arm_joints)
        grip = robot.gripper_joints if cfg.gripper.kind == "joints" else ("finger_l", "finger_r")
        self._grip_qadr = np.array([m.joint(j).qposadr[0] for j in grip])
        self._cube_qadr = m.joint("cube").qposadr[0]
        self._cube_dadr = m.joint("cube").dofadr[0]
        self._arm_act = np.array([m.actuator(f"a{i + 1}").id for i in range(len(robot.arm_joints))])
        self._grip_act = m.actuator("gripper").id
        self._ee_site = m.site(EE_SITE).id
        self._pad_geoms = (m.geom("pad_l").id, m.geom("pad_r").id)
        self._cube_geom = m.geom("cube").id
        self._cube_body = m.body("cube").id
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))
        self._open, self._closed = float(cfg.gripper.open), float(cfg.gripper.closed)
        self._down0 = down_rotation_for(cfg, 0.0)
        self.home_ee = np.asarray(cfg.home_ee, float) + base
        self.home_qpos = self.solve_ik(self.home_ee, 0.0, np.asarray(cfg.home_q, float), iters=300)
        err = np.linalg.norm(self._fk_site(self.home_qpos) - self.home_ee)
        if err > 2e-3:
            raise DescriptionError(f"arm {robot.name!r}: sim.home_ee is out of reach pointing down "
                                   f"({err * 1000:.1f} mm off from seed sim.home_q)")
        self.target_pos = self.home_ee.copy()
        self.target_yaw = 0.0
        self.gripper_target = self._open
        self._q_cmd = self.home_qpos.copy()
        self.reset()

    def physics(self) -> ArmPhysics:
        """This arm's physics knobs (`physics.ArmPhysics` over its own joints), for domain randomization."""
        return ArmPhysics(self.model, self.data, self.arm.robot.arm_joints)

    def robot_spec(self) -> dict[str, Any]:
        return self.arm.robot.spec()

    def _fk_site(self, q: np.ndarray) -> np.ndarray:
        d = self._ik_data
        d.qpos[self._arm_qadr] = q
        mujoco.mj_kinematics(self.model, d)
        return d.site_xpos[self._ee_site].copy()

    def reset(self, cube_pos: np.ndarray | None = None, cube_yaw: float = 0.0) -> None:
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self._arm_qadr] = self.home_qpos
        d.qpos[self._grip_qadr] = self._open
        d.ctrl[self._arm_act] = self.home_qpos
        d.ctrl[self._grip_act] = self._open
        self._q_cmd = self.home_qpos.copy()
        self.target_pos = self.home_ee.copy()
        self.target_yaw = 0.0
        self.gripper_target = self._open
        cr = np.asarray(self.arm.scene.cube_range, float)
        self.set_cube_pose(cr.mean(axis=0) if cube_pos is None else cube_pos, cube_yaw)

    def ee_yaw(self) -> float:
        """Gripper yaw (rad) about world z: angle of the jaws' closing axis from world y."""
        r = self.data.site_xmat[self._ee_site].reshape(3, 3) @ self._down0.T
        return float(np.arctan2(-r[0, 1], r[1, 1]))

    def gripper_opening(self) -> float:
        q = float(self.data.qpos[self._grip_qadr].mean())
        return float(np.clip((q - self._closed) / (self._open - self._closed), 0.0, 1.0))

    def solve_ik(self, pos, yaw: float, q_init: np.ndarray, iters: int | None = None) -> np.ndarray:
        """Damped-least-squares IK of the pinch point (3,) m, world frame, pointing down at `yaw` rad."""
        rot = down_rotation_for(self.arm.scene, yaw)
        q, _ = dls_ik(self.model, self._ik_data, self._ee_site, self._arm_qadr, self._arm_dadr, self._arm_range,
                      np.asarray(pos, float), rot, q_init, iters or self.ik_iters, damping=self.ik_damping)
        return q

    def orientation_error(self) -> float:
        """rad between the ee frame and pointing down at the commanded yaw."""
        r = self.data.site_xmat[self._ee_site].reshape(3, 3)
        return float(np.linalg.norm(rotation_error(r, down_rotation_for(self.arm.scene, self.target_yaw))))

    def set_target(self, pos, yaw: float | None = None) -> None:
        self.target_pos = np.clip(np.asarray(pos, dtype=float), self.workspace[0], self.workspace[1])
        if yaw is not None:
            self.target_yaw = float(np.clip(wrap_angle(yaw), -YAW_LIMIT, YAW_LIMIT))

    def apply_action(self, delta_pos, delta_yaw: float = 0.0, gripper_cmd: float = 0.0) -> None:
        """As `ArmSim.apply_action`: gripper -1 fully open, +1 closed (squeezing), absolute."""
        self.set_target(self.target_pos + np.asarray(delta_pos, dtype=float), self.target_yaw + float(delta_yaw))
        gcmd = float(np.clip(gripper_cmd, -1.0, 1.0))
        self.gripper_target = self._closed + 0.5 * (1.0 - gcmd) * (self._open - self._closed)
        q_new = self.solve_ik(self.target_pos, self.target_yaw, self._q_cmd)
        self.step_joint_targets(q_new)
