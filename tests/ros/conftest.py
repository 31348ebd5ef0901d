"""Fixtures for the ROS 2 tests: real rclpy over real Fast DDS, between real processes.

Every test session gets its own ROS_DOMAIN_ID and localhost-only discovery, so parallel runs on
one machine (other engineers, CI) never hear each other's topics. Child processes inherit both.
"""
import os
import random
import threading

import pytest

os.environ["ROS_DOMAIN_ID"] = str(random.Random(os.getpid()).randint(1, 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("MUJOCO_GL", "egl")

import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from .ros_helpers import Proc  # noqa: E402



@pytest.fixture(scope="module")
def ros_node():
    """An rclpy node in this (test) process, spun by a background executor."""
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f"test_probe_{os.getpid()}", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield node
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)


@pytest.fixture
def spawn():
    procs: list[Proc] = []

    def _spawn(*args, **kw):
        proc = Proc(list(args), **kw)
        procs.append(proc)
        return proc

    yield _spawn
    for proc in procs:
        proc.stop()

