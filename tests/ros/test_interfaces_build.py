"""ros2_ws/interfaces/build_interfaces.py, which builds control_msgs and tf2_msgs (no PyPI wheel) into the venv.

The packages it builds are used over real DDS by test_controller_drivers.py (the FollowJointTrajectory and
GripperCommand actions) and test_mobile_base_dds.py (/tf); here: the installed build is the current one,
and a machine without a C++ compiler gets an error naming it instead of a traceback.
"""
import os
import subprocess

from .ros_helpers import PY, REPO

SCRIPT = os.path.join(REPO, "ros2_ws", "interfaces", "build_interfaces.py")


def test_the_installed_interfaces_are_built_from_the_shipped_definitions():
    r = subprocess.run([PY, SCRIPT, "--check"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "control_msgs: up to date" in r.stdout and "tf2_msgs: up to date" in r.stdout


def test_a_missing_compiler_is_named(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}   # no gcc, no g++
    r = subprocess.run([PY, SCRIPT, "--force"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 1
    assert "gcc and g++ not found" in r.stderr and "apt-get install gcc g++" in r.stderr, r.stderr
