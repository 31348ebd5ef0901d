"""A robot from its description: which file, which frames, which joints.

A `RobotDescription` names a URDF (a file, a ``package://`` URI, or the XML text that
``robot_state_publisher`` publishes as ``robot_description``) or an MJCF file, and the parts of it
that roboloop needs: the base frame, the end-effector frame (plus an offset to the pinch point),
the arm joints in command order and the gripper joints. `mjcf_spec` turns it into a `mujoco.MjSpec`:

  * ``package://<pkg>/<path>`` URIs resolve against the package's folder: first the description's
    own ``packages`` map, then ``<prefix>/share/<pkg>`` for every prefix on ``AMENT_PREFIX_PATH``
    (a sourced ROS 2 workspace) and the ``cmeel.prefix`` folders of the Python environment (where
    PyPI packages such as ``example-robot-data`` install theirs);
  * relative mesh paths resolve against the URDF file's folder;
  * meshes MuJoCo cannot read (anything but .stl, .obj, .msh) are dropped: their geoms only ever
    matter for looks, never for kinematics;
  * fixed joints keep their child links as bodies (MuJoCo would fuse them), so every URDF link
    stays a frame that can be named.
"""
from __future__ import annotations

import os
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mujoco

MESH_FORMATS = (".stl", ".obj", ".msh")


class DescriptionError(ValueError):
    """A robot description that cannot be found, parsed or matched to its configuration."""


@dataclass(frozen=True)
class RobotDescription:
    """What roboloop needs to know about a robot, beyond its description file.

    Attributes:
        name: short robot name (stored in checkpoints; a checkpoint refuses another robot).
        description: URDF file path, ``package://`` URI, URDF XML text, or an MJCF ``.xml`` path.
        base_frame: link (body) whose frame positions are expressed in.
        ee_frame: link (body) of the end effector.
        arm_joints: the arm's joints, in command order.
        gripper_joints: the gripper's joints (may be empty).
        ee_offset: (3,) m, the pinch point in the ee frame.
        packages: package name -> folder, for ``package://`` URIs (searched first).
        base_dir: folder that relative paths resolve against (the config file's folder).
    """

    name: str
    description: str
    base_frame: str
    ee_frame: str
    arm_joints: tuple[str, ...]
    gripper_joints: tuple[str, ...] = ()
    ee_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    packages: dict[str, str] = field(default_factory=dict)
    base_dir: str = "."

    @classmethod
    def from_dict(cls, d: dict[str, Any], base_dir: str | Path = ".") -> RobotDescription:
        """Build from a config mapping (the top-level keys of a robot YAML file)."""
        required = ("name", "description", "base_frame", "ee_frame", "arm_joints")
        missing = [k for k in required if k not in d]
        if missing:
            raise DescriptionError(f"robot config lacks {', '.join(missing)} (required: {', '.join(required)})")
        offset = tuple(float(x) for x in d.get("ee_offset", (0.0, 0.0, 0.0)))
        if len(offset) != 3:
            raise DescriptionError(f"robot config: ee_offset must have 3 numbers (m), got {d['ee_offset']!r}")
        if not d["arm_joints"]:
            raise DescriptionError("robot config: arm_joints is empty")
        return cls(name=str(d["name"]), description=str(d["description"]), base_frame=str(d["base_frame"]),
                   ee_frame=str(d["ee_frame"]), arm_joints=tuple(str(j) for j in d["arm_joints"]),
                   gripper_joints=tuple(str(j) for j in d.get("gripper_joints", ()) or ()),
                   ee_offset=offset,  # type: ignore[arg-type]
                   packages={str(k): str(v) for k, v in (d.get("packages") or {}).items()},
                   base_dir=str(base_dir))

    def spec(self) -> dict[str, Any]:
        """The part a checkpoint stores: robot name and joint names."""
        return {"name": self.name, "arm_joints": list(self.arm_joints),
                "gripper_joints": list(self.gripper_joints)}


def _prefixes() -> list[Path]:
    """Install prefixes whose ``share/<package>`` folders hold ROS-style packages."""
    found = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    found += [Path(p) / "cmeel.prefix" for p in sys.path if p]
    found.append(Path(sys.prefix))
    return found


def package_dir(package: str, packages: dict[str, str] | None = None, base_dir: str | Path = ".") -> Path:
    """Folder of ``package``: the explicit map first, then ``<prefix>/share/<package>``."""
    if packages and package in packages:
        p = Path(packages[package])
        return p if p.is_absolute() else (Path(base_dir) / p).resolve()
    for prefix in _prefixes():
        cand = prefix / "share" / package
        if cand.is_dir():
            return cand
    raise DescriptionError(
        f"package {package!r} not found: name its folder under 'packages:' in the robot config, or put it "
        f"on AMENT_PREFIX_PATH (searched {', '.join(str(p / 'share') for p in _prefixes()[:4])}, ...)"
        + (" (it ships with example-robot-data: pip install 'roboloop[arms]')" if package == "example-robot-data" else ""))


def resolve_path(uri: str, packages: dict[str, str] | None = None, base_dir: str | Path = ".") -> Path:
    """``package://pkg/a/b``, ``file:///a/b``, an absolute or a relative path -> absolute Path."""
    if uri.startswith("package://"):
        pkg, _, rest = uri[len("package://"):].partition("/")
        return package_dir(pkg, packages, base_dir) / rest
    if uri.startswith("file://"):
        return Path(uri[len("file://"):])
    p = Path(uri)
    return p if p.is_absolute() else (Path(base_dir) / p).resolve()


def _is_xml_text(s: str) -> bool:
    return s.lstrip().startswith("<")


def read_description(desc: RobotDescription) -> tuple[str, str, Path]:
    """(kind, text, folder): kind is 'urdf' or 'mjcf'; folder is where relative paths resolve."""
    if _is_xml_text(desc.description):
        text, folder = desc.description, Path(desc.base_dir)
    else:
        path = resolve_path(desc.description, desc.packages, desc.base_dir)
        if not path.is_file():
            raise DescriptionError(f"robot description {desc.description!r} not found (looked at {path})")
        text, folder = path.read_text(), path.parent
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise DescriptionError(f"robot description of {desc.name!r} is not valid XML: {e}") from None
    if root.tag == "robot":
        return "urdf", text, folder
    if root.tag == "mujoco":
        return "mjcf", text, folder
    raise DescriptionError(f"robot description of {desc.name!r}: root element <{root.tag}> is neither "
                           "<robot> (URDF) nor <mujoco> (MJCF)")


def urdf_for_mujoco(text: str, folder: str | Path, packages: dict[str, str] | None = None,
                    geometry: bool = True) -> str:
    """URDF text with absolute mesh paths, unreadable meshes dropped, MuJoCo compiler options set.

    geometry=False leaves out every visual and collision element: kinematics need only the joints and
    the links' inertials, and then no mesh has to be found (a robot_description read from another
    machine may name packages this one lacks).
    """
    root = ET.fromstring(text)
    for link in root.iter("link"):
        for tag in ("visual", "collision"):
            for el in list(link.findall(tag)):
                if not geometry:
                    link.remove(el)
                    continue
                mesh = el.find("geometry/mesh")
                if mesh is None:
                    continue
                uri = mesh.get("filename", "")
                if not uri.lower().endswith(MESH_FORMATS):
                    link.remove(el)  # e.g. COLLADA (.dae) visuals: looks only
                    continue
                path = resolve_path(uri, packages, folder)
                if not path.is_file():
                    raise DescriptionError(f"mesh {uri!r} of link {link.get('name')!r} not found (looked at {path})")
                mesh.set("filename", str(path))
    for old in root.findall("mujoco"):
        root.remove(old)
    mj = ET.SubElement(root, "mujoco")
    # strippath=false keeps our absolute paths; fusestatic=false keeps every link a body.
    ET.SubElement(mj, "compiler", strippath="false", fusestatic="false", discardvisual="true",
                  balanceinertia="true", angle="radian",
                  # links without an inertial (frames such as tool0) are massless: bound them
                  **({} if geometry else {"boundmass": "1e-6", "boundinertia": "1e-9"}))
    return ET.tostring(root, encoding="unicode")


def mjcf_spec(desc: RobotDescription, geometry: bool = True) -> mujoco.MjSpec:
    """The robot as a `mujoco.MjSpec` (not compiled), frames and joints checked against `desc`.

    geometry=False (URDF only): joints and inertials without any visual or collision geometry.
    """
    kind, text, folder = read_description(desc)
    if kind == "urdf":
        xml = urdf_for_mujoco(text, folder, desc.packages, geometry=geometry)
        spec = mujoco.MjSpec.from_string(xml)
    else:
        # MJCF resolves its own meshdir/includes relative to its file.
        path = resolve_path(desc.description, desc.packages, desc.base_dir) if not _is_xml_text(desc.description) else None
        spec = mujoco.MjSpec.from_file(str(path)) if path else mujoco.MjSpec.from_string(text)
    bodies = {b.name for b in spec.bodies} | {"world"}
    joints = {j.name for j in spec.joints}
    for what, name in (("base_frame", desc.base_frame), ("ee_frame", desc.ee_frame)):
        if name not in bodies:
            raise DescriptionError(f"robot {desc.name!r}: {what} {name!r} is not a link of the description "
                                   f"(links: {', '.join(sorted(b for b in bodies if b))})")
    bad = [j for j in (*desc.arm_joints, *desc.gripper_joints) if j not in joints]
    if bad:
        raise DescriptionError(f"robot {desc.name!r}: joint(s) {', '.join(bad)} not in the description "
                               f"(joints: {', '.join(sorted(joints))})")
    return spec


_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def check_name(name: str) -> str:
    """Robot names become parts of task ids: letters, digits and underscores only."""
    if not _NAME.match(name):
        raise DescriptionError(f"robot name {name!r} may hold only letters, digits and underscores")
    return name
