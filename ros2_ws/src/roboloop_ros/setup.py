"""ament_python package roboloop_ros: `colcon build` installs the nodes to lib/roboloop_ros and the
launch (../../../launch, linked here as launch/) and config files to share/roboloop_ros."""
from glob import glob

from setuptools import setup

PACKAGE = "roboloop_ros"
# Entry-point name == module name, so `roboloop launch` can also run a node as `python -m roboloop_ros.<exec>`.
NODES = ["sim_robot_node", "camera_node", "robot_driver_node", "safety_node", "teleop_node", "joy_node",
         "scripted_person_node", "actor_node", "sim_base_node"]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", sorted(glob("launch/*.launch.xml"))),
        (f"share/{PACKAGE}/config", sorted(glob("config/*.yaml"))),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="roboloop maintainers",
    maintainer_email="roboloop@example.com",
    description="Thin ROS 2 nodes of roboloop (sim robot, cameras, robot drivers, safety, teleop, actor)",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"{n} = {PACKAGE}.{n}:main" for n in NODES]},
)
