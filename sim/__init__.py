"""roboloop.sim: MuJoCo arm model, Gymnasium tasks and scripted experts.

Importing this package registers the Gymnasium ids ``roboloop/Reach-v0``,
``roboloop/PickCube-v0``, ``roboloop/PickCubeVision-v0``, ``roboloop/PickCubeGap-v0`` and
``roboloop/PickCubeVisionGap-v0`` (PickCube and PickCubeVision with reality-gap physics; ``variant=`` picks
one, see ``tasks.GAP_VARIANTS``), the same tasks on
arms built from their descriptions (``arm_tasks``): ``roboloop/<arm>-<Task>-v0`` for the shipped SO-101,
Panda and UR5, ``roboloop/arm-<Task>-v0`` with ``arm=<YAML path>`` for a user's arm, and the
Crazyflie-class quadrotor tasks ``roboloop/QuadHover-v0`` and ``roboloop/QuadTrack-v0`` (``quad_tasks``),
and the mobile-base tasks ``roboloop/base-Nav-v0`` (``base_tasks``) and ``roboloop/base-Race-v0`` (``race_task``).
"""

import os

# Offscreen rendering must pick its GL backend before mujoco is first imported; EGL works
# headless (no X server). A user's explicit MUJOCO_GL wins.
os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402

from .experts import make_expert  # noqa: E402
from .robot import ArmSim  # noqa: E402
from .tasks import (GAP_VARIANTS, ArmTaskEnv, PickCubeEnv, PickCubeGapEnv, PickCubeVisionEnv,  # noqa: E402
                    PickCubeVisionGapEnv, ReachEnv)

from .registry import TASKS, register_tasks, resolve_task, short_name, task_ids  # noqa: E402

register_tasks()

__all__ = ["ArmSim", "ArmTaskEnv", "ReachEnv", "PickCubeEnv", "PickCubeVisionEnv", "PickCubeGapEnv",
           "PickCubeVisionGapEnv", "GAP_VARIANTS", "make_expert", "TASKS", "resolve_task", "short_name",
           "task_ids"]
