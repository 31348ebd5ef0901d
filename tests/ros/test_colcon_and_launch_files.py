"""The roboloop_ros package builds with real colcon, and `roboloop launch` reads the same launch
files from the colcon install as from the source tree; launch-file errors name file and line."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from roboloop.launch import LaunchError, Launcher, load

from .ros_helpers import REPO

NODES = ["sim_robot_node", "camera_node", "robot_driver_node"]
LAUNCH_FILES = ["sim.launch.xml", "robot.launch.xml", "teleop.launch.xml"]


@pytest.fixture(scope="module")
def colcon_install(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("colcon")
    colcon = shutil.which("colcon", path=os.path.dirname(sys.executable))
    assert colcon, "colcon missing: pip install -e '.[ros]' (make install) provides it"
    r = subprocess.run([colcon, "--log-base", str(tmp / "log"), "build", "--base-paths",
                        os.path.join(REPO, "ros2_ws", "src"), "--build-base", str(tmp / "build"),
                        "--install-base", str(tmp / "install")],
                       cwd=tmp, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return tmp / "install" / "roboloop_ros"


def test_colcon_build_installs_nodes_launch_and_config(colcon_install):
    lib = colcon_install / "lib" / "roboloop_ros"
    for node in NODES:
        assert os.access(lib / node, os.X_OK), f"{node} not installed in {lib}"
    share = colcon_install / "share" / "roboloop_ros"
    assert (share / "package.xml").is_file()
    assert (colcon_install / "share" / "ament_index" / "resource_index" / "packages" / "roboloop_ros").is_file()
    for f in LAUNCH_FILES:
        assert (share / "launch" / f).read_bytes() == (Path(REPO) / "launch" / f).read_bytes()
    for f in ["sim_robot.yaml", "camera.yaml", "robot_driver.yaml"]:
        assert (share / "config" / f).is_file()


def test_launcher_reads_the_installed_package(colcon_install, monkeypatch):
    """With the colcon install on AMENT_PREFIX_PATH (as `ros2 launch` sees it), the launcher runs
    the installed console scripts and reads launch/config files from share/."""
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(colcon_install))
    desc = load("sim.launch.xml", {"task": "roboloop/Reach-v0", "actor": "false"})
    assert desc.files[0] == colcon_install / "share" / "roboloop_ros" / "launch" / "sim.launch.xml"
    launcher = Launcher(desc)
    cmd = launcher.commands[0]
    assert [c[0] for c in launcher.commands] == [str(colcon_install / "lib" / "roboloop_ros" / n)
                                                 for n in ("sim_robot_node", "teleop_node")]
    assert str(colcon_install / "share" / "roboloop_ros" / "config" / "sim_robot.yaml") in cmd
    launcher.stop()
    # The installed script runs (with the install's site-packages on the path, as its setup.sh
    # would set) and imports roboloop from this environment.
    site = colcon_install / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    r = subprocess.run([cmd[0], "--ros-args", "-p", "task:=NoSuchTask"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, PYTHONPATH=str(site)))
    assert r.returncode == 2 and "unknown task 'NoSuchTask'" in r.stderr, r.stderr


@pytest.mark.parametrize("name,args,nodes", [
    ("sim.launch.xml", {}, ["sim_robot", "teleop", "safety", "actor"]),
    ("sim.launch.xml", {"scripted_person": "true"}, ["sim_robot", "scripted_person", "teleop", "safety", "actor"]),
    ("robot.launch.xml", {"use_joy_node": "false"},
     ["robot_driver", "front_camera", "wrist_camera", "teleop", "safety", "actor"]),
    ("robot.launch.xml", {"use_joy_node": "false", "use_wrist_camera": "false", "use_pygame_pad": "true"},
     ["robot_driver", "front_camera", "joy_node", "teleop", "safety", "actor"]),
    ("teleop.launch.xml", {}, ["teleop"]),
    ("base_sim.launch.xml", {}, ["sim_base", "teleop", "safety", "actor"]),
    ("base_sim.launch.xml", {"scripted_person": "true"}, ["sim_base", "scripted_person", "teleop", "safety", "actor"]),
])
def test_all_launch_files_parse(name, args, nodes):
    desc = load(name, args)
    assert [n.label for n in desc.nodes] == nodes
    Launcher(desc).stop()  # every executable resolves


def test_launch_arguments_reach_the_nodes():
    desc = load("sim.launch.xml", {"checkpoint": "runs/x/checkpoint", "learner": "tcp://10.0.0.2:5555",
                                   "gamepad": "playstation", "env": "variant=heavy_cube"})
    by_name = {n.label: n for n in desc.nodes}
    assert ("value", ("learner_address", "tcp://10.0.0.2:5555")) in by_name["actor"].params
    assert ("value", ("checkpoint", "runs/x/checkpoint")) in by_name["actor"].params
    assert ("value", ("pad", "playstation")) in by_name["teleop"].params
    assert ("value", ("env", "variant=heavy_cube")) in by_name["sim_robot"].params
    assert ("cmd_vel", "actor/cmd_vel") in by_name["actor"].remaps
    assert ("cmd_out", "cmd_vel") in by_name["safety"].remaps


def test_base_launch_hands_the_task_to_the_scripted_person():
    """The person drives the base the sim runs: the task and its options reach both (and only there)."""
    desc = load("base_sim.launch.xml", {"scripted_person": "true", "env": "camera=true", "patience": "7"})
    by_name = {n.label: dict(v for k, v in n.params if k == "value") for n in desc.nodes}
    assert by_name["scripted_person"]["task"] == by_name["sim_base"]["task"] == "roboloop/base-Nav-v0"
    assert by_name["scripted_person"]["env"] == by_name["sim_base"]["env"] == "camera=true"
    assert by_name["scripted_person"]["patience"] == "7" and by_name["teleop"]["act_dim"] == "2"
    # The arm's sim.launch.xml has a task too (an arm's): its scripted person stays the arm's.
    arm = {n.label: dict(v for k, v in n.params if k == "value")
           for n in load("sim.launch.xml", {"scripted_person": "true"}).nodes}
    assert arm["scripted_person"]["task"] == "" and arm["sim_robot"]["task"] == "roboloop/PickCubeGap-v0"
    # The arm's person looks at the sim's world (a miscalibrated robot misreports the cube); the base's
    # person goes by the published state.
    assert arm["scripted_person"]["state_topic"] == "ground_truth/state"
    assert by_name["scripted_person"]["state_topic"] == "observation/state"


def test_robot_launch_takes_the_ur5e_walkthrough():
    """The UR5e setup robot.launch.xml documents reaches the driver and the safety node."""
    desc = load("robot.launch.xml", {"robot": "ur5", "description_from_topic": "true",
                                     "controller": "scaled_joint_trajectory_controller", "gripper": "action",
                                     "gripper_controller": "/robotiq_gripper_controller/gripper_cmd",
                                     "gripper_range": "[0.0, 0.8]", "use_joy_node": "false"})
    by_name = {n.label: n for n in desc.nodes}
    driver = dict(v for k, v in by_name["robot_driver"].params if k == "value")
    assert driver["robot"] == "ur5" and driver["interface"] == "joint_trajectory"
    assert driver["controller"] == "scaled_joint_trajectory_controller" and driver["gripper_range"] == "[0.0, 0.8]"
    assert ("value", ("robot", "ur5")) in by_name["safety"].params   # the envelope is the UR5's workspace
    Launcher(desc).stop()


def write(tmp_path, body: str, name="t.launch.xml") -> Path:
    p = tmp_path / name
    p.write_text(f"<launch>\n{body}\n</launch>\n")
    return p


@pytest.mark.parametrize("body,args,match", [
    ('<arg name="x"/>', {}, r"t.launch.xml:2: missing launch argument 'x': pass x:=VALUE"),
    ('<arg name="x" default="1"/>', {"y": "2"}, r"unknown launch argument\(s\) y; this file declares: x"),
    ('<nodes pkg="a" exec="b"/>', {}, r"t.launch.xml:2: unknown tag <nodes> inside <launch>"),
    ('<node pkg="roboloop_ros" exec="camera_node"><parm name="a" value="1"/></node>', {},
     r"t.launch.xml:2: unknown tag <parm> inside <node>"),
    ('<node pkg="roboloop_ros" exec="camera_node" nmae="x"/>', {}, r"unknown attribute 'nmae'"),
    ('<node pkg="roboloop_ros" exec="camera_node" if="maybe"/>', {}, r"if='maybe' is not true/false"),
    ('<node pkg="roboloop_ros" exec="camera_node" name="$(var nope)"/>', {}, r"\$\(var nope\): no such argument"),
    ('<include file="missing.launch.xml"/>', {}, r"included file .*missing.launch.xml does not exist"),
    ('<node pkg="roboloop_ros" exec="camera_node"', {}, r"not valid XML"),
])
def test_launch_errors_name_file_line_and_problem(tmp_path, body, args, match):
    with pytest.raises(LaunchError, match=match):
        load(write(tmp_path, body), args)


def test_include_group_namespace_params_and_remaps(tmp_path):
    write(tmp_path, '<arg name="rate"/>\n<node pkg="roboloop_ros" exec="camera_node" name="cam">'
                    '<param name="rate_hz" value="$(var rate)"/></node>', "inner.launch.xml")
    top = write(tmp_path, '<arg name="r" default="5"/>\n<group>\n<push-ros-namespace namespace="robot1"/>\n'
                          '<include file="$(dirname)/inner.launch.xml"><arg name="rate" value="$(var r)"/></include>\n'
                          '</group>\n<let name="x" value="y"/>\n'
                          '<node pkg="roboloop_ros" exec="camera_node" name="c2" unless="true"/>')
    desc = load(top, {"r": "30"})
    (node,) = desc.nodes
    assert node.namespace == "/robot1" and node.params == [("value", ("rate_hz", "30"))]
    launcher = Launcher(desc)
    cmd = launcher.commands[0]
    assert cmd[-6:-2] == ["-r", "__node:=cam", "-r", "__ns:=/robot1"]
    params_file = cmd[cmd.index("--params-file") + 1]
    assert "rate_hz: 30" in Path(params_file).read_text()  # typed like YAML, as ROS does
    launcher.stop()


def test_cli_launch_errors_exit_2_with_the_reason(capsys):
    from roboloop.cli import main
    assert main(["launch", "sim.launch.xml", "tsak:=Reach"]) == 2
    assert "unknown launch argument(s) tsak" in capsys.readouterr().err
    assert main(["launch", "nope.launch.xml"]) == 2
    assert "launch file 'nope.launch.xml' not found" in capsys.readouterr().err
    assert main(["launch", "sim.launch.xml", "task"]) == 2
    assert "'task' is not NAME:=VALUE" in capsys.readouterr().err
    assert main(["launch", "sim.launch.xml", "--dry-run"]) == 0
    assert "sim_robot: " in capsys.readouterr().out
