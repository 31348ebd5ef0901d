"""Gymnasium tasks on the roboloop arm: Reach, PickCube (state) and PickCubeVision.

Contract (ARCHITECTURE.md, "Env contract"):
  * observation: ``Dict(state=Box(float32, (n,)))``; PickCubeVision adds
    ``front`` and ``wrist``: ``Box(0, 255, (S, S, 3), uint8)`` offscreen renders (S = image_size).
  * action: ``Box(-1, 1, (4,), float32)`` = [dx, dy, dz, gripper]; with ``use_yaw=True``
    ``(5,)`` = [dx, dy, dz, dyaw, gripper]. 1.0 on a position axis moves the commanded
    end-effector target by ``max_delta_pos`` metres; 1.0 on dyaw by ``max_delta_yaw`` rad.
    gripper is absolute: -1 fully open, +1 closed (squeeze).
  * reward: sparse by default (1.0 on the success step, else 0.0); ``reward_type="dense"``
    adds shaping, documented on each task's ``_reward``.
  * ``terminated`` on success or failure (cube off the table); ``truncated`` only comes from
    the TimeLimit wrapper added by ``gymnasium.make``. ``info["is_success"]`` is always set.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium import spaces  # noqa: E402

from .physics import ArmPhysics  # noqa: E402
from .rendering import offscreen_renderer  # noqa: E402
from .robot import TABLE_Z, ArmSim  # noqa: E402
from .rules import PickCubeRules, ReachRules, TaskRules, named  # noqa: E402


# Observation bounds by unit. Positions are world-frame metres (the floor is 3 m square),
# "1" entries are gripper opening (0..1) or sin/cos, yaw comes from arctan2.
UNIT_BOUNDS = {"m": (-5.0, 5.0), "m/s": (-50.0, 50.0), "rad": (-np.pi, np.pi), "rad/s": (-50.0, 50.0),
               "1": (-1.0, 1.0)}


class ArmTaskEnv(gym.Env):
    """Shared machinery of the arm tasks: actions, stepping, images, spec.

    Subclasses define ``TASK_ID``, ``_state_names_units()``, ``_state()``, ``_sample_scene()`` and
    ``self.rules`` (a `roboloop.sim.rules.TaskRules`: success, failure and reward over the named
    state, the same rules a robot runs).

    Kwargs:
        control_hz: policy/control rate, Hz (default 10).
        physics_hz: MuJoCo rate, Hz (default 500); an integer multiple of control_hz.
        reward_type: "sparse" (default) or "dense".
        image_size: side (px) of the camera observations of vision tasks (default 128).
        use_yaw: add a dyaw action dimension (default False).
        max_delta_pos: metres per control step at action 1.0 (default 0.05).
        max_delta_yaw: radians per control step at action 1.0 (default 0.25), with use_yaw.
        render_mode: None or "rgb_array" (front camera at render_size x render_size).
        render_size: side (px) of `render()` frames (default 480).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    TASK_ID = "roboloop/Arm-v0"
    CAMERAS: tuple[str, ...] = ()

    def __init__(
        self,
        control_hz: float = 10.0,
        physics_hz: float = 500.0,
        reward_type: str = "sparse",
        image_size: int = 128,
        use_yaw: bool = False,
        max_delta_pos: float = 0.05,
        max_delta_yaw: float = 0.25,
        render_mode: str | None = None,
        render_size: int = 480,
    ):
        if reward_type not in ("sparse", "dense"):
            raise ValueError(f"reward_type must be 'sparse' or 'dense', got {reward_type!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if max_delta_pos <= 0 or max_delta_yaw <= 0:
            raise ValueError("max_delta_pos and max_delta_yaw must be positive")
        self.sim = self._make_sim(physics_hz, control_hz)
        self.control_hz = float(control_hz)
        self.physics_hz = float(physics_hz)
        self.reward_type = reward_type
        self.image_size = int(image_size)
        self.use_yaw = bool(use_yaw)
        self.max_delta_pos = float(max_delta_pos)
        self.max_delta_yaw = float(max_delta_yaw)
        self.render_mode = render_mode
        self.render_size = int(render_size)
        self.metadata = dict(self.metadata, render_fps=int(round(self.control_hz)))

        _, units = self._state_names_units()
        # Finite, generous bounds per unit (the checker rejects infinite ones); `_obs` clips
        # into them so an observation is always inside its space.
        self._state_low = np.array([UNIT_BOUNDS[u][0] for u in units], dtype=np.float32)
        self._state_high = np.array([UNIT_BOUNDS[u][1] for u in units], dtype=np.float32)
        obs = {"state": spaces.Box(self._state_low, self._state_high, dtype=np.float32)}
        for cam in self.CAMERAS:
            obs[cam] = spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Box(-1.0, 1.0, (5 if self.use_yaw else 4,), np.float32)

        self._cam_renderer: mujoco.Renderer | None = None
        self._video_renderer: mujoco.Renderer | None = None
        self._success = False
        self._failure = False

    # ------------------------------------------------------------------ subclass hooks
    def _make_sim(self, physics_hz: float, control_hz: float) -> ArmSim:
        """The simulated arm (roboloop's own; the described arms of `arm_tasks` return theirs)."""
        return ArmSim(physics_hz=physics_hz, control_hz=control_hz)

    def _state_names_units(self) -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def _state(self) -> np.ndarray:
        raise NotImplementedError

    def true_state(self) -> np.ndarray:
        """The state as the world is, free of the robot's sensing errors (a reality-gap variant's
        miscalibration): what a person watching the scene goes by. The same as the observed state here."""
        return self._state()

    def _sample_scene(self) -> None:
        """Randomize the episode (goal / cube pose) with ``self.np_random``; sim is at home."""
        raise NotImplementedError

    def _rule_state(self) -> dict[str, float]:
        """The named state the rules read (unclipped, float64)."""
        return named(self._state_names_units()[0], self._state())

    def _flags(self) -> dict[str, bool]:
        """What the rules need beyond the state (see roboloop.sim.rules)."""
        return {}

    def _evaluate(self) -> tuple[bool, bool]:
        """(success, failure) for the current state, by the task's rules."""
        return self.rules.outcome(self._rule_state(), self._flags())

    def _reward(self, success: bool) -> float:
        return self.rules.reward(self._rule_state(), success, self._flags())

    def _extra_info(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.sim.reset()
        self._sample_scene()
        self._success, self._failure = self._evaluate()
        return self._obs(), self._info()

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(self.action_space.shape)
        if not np.all(np.isfinite(a)):
            # Never turn a NaN into a motion; the safety envelope (hardware/) makes this a stop.
            raise ValueError(f"{self.TASK_ID}: non-finite action {a.tolist()}")
        a = np.clip(a, -1.0, 1.0)
        dpos = a[:3] * self.max_delta_pos
        dyaw = a[3] * self.max_delta_yaw if self.use_yaw else 0.0
        self.sim.apply_action(dpos, dyaw, a[-1])
        self._success, self._failure = self._evaluate()
        reward = float(self._reward(self._success))
        terminated = bool(self._success or self._failure)
        return self._obs(), reward, terminated, False, self._info()

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._video_renderer is None:
            self._video_renderer = self._make_renderer(self.render_size)
            self._video_option = mujoco.MjvOption()
            self._video_option.sitegroup[4] = 1  # task markers (the Reach goal) show in videos only
        # Shadows for videos only (they are costly for the per-step camera observations).
        cast = self.sim.model.light_castshadow
        saved = cast.copy()
        cast[0] = 1
        try:
            self._video_renderer.update_scene(self.sim.data, camera="front", scene_option=self._video_option)
            return self._video_renderer.render()
        finally:
            cast[:] = saved

    def close(self):
        for r in (self._cam_renderer, self._video_renderer):
            if r is not None:
                r.close()
        self._cam_renderer = self._video_renderer = None

    # ------------------------------------------------------------------ robot interface (safety wrapper)
    def commanded_target(self) -> np.ndarray:
        """Where the end effector is commanded to be (3,), m, world frame."""
        return self.sim.target_pos.copy()

    def set_gripper_force_limit(self, newtons: float) -> None:
        """Cap the gripper servo's force (N); the squeeze of a closed gripper is at most this."""
        act = self.sim.model.actuator("gripper").id
        self.sim.model.actuator_forcerange[act] = (-float(newtons), float(newtons))

    # ------------------------------------------------------------------ helpers
    def _make_renderer(self, size: int) -> mujoco.Renderer:
        return offscreen_renderer(self.sim.model, size, size)

    def _obs(self) -> dict[str, np.ndarray]:
        state = np.clip(self._state(), self._state_low, self._state_high).astype(np.float32)
        obs = {"state": state}
        if self.CAMERAS:
            if self._cam_renderer is None:
                self._cam_renderer = self._make_renderer(self.image_size)
            for cam in self.CAMERAS:
                self._cam_renderer.update_scene(self.sim.data, camera=cam)
                obs[cam] = self._cam_renderer.render()  # fresh (S, S, 3) uint8 array
        return obs

    def _info(self) -> dict[str, Any]:
        return {"is_success": bool(self._success), "is_failure": bool(self._failure),
                **self._extra_info()}

    def task_spec(self) -> dict[str, Any]:
        """JSON-serializable interface spec; identical for identical constructor kwargs.

        Checkpoints store it and compare on load (names, shapes, units, rates).
        """
        names, units = self._state_names_units()
        observation: dict[str, Any] = {
            "state": {"shape": [len(names)], "dtype": "float32", "names": names, "units": units}
        }
        for cam in self.CAMERAS:
            observation[cam] = {"shape": [self.image_size, self.image_size, 3], "dtype": "uint8",
                                "camera": cam}
        act_names = ["dx", "dy", "dz"] + (["dyaw"] if self.use_yaw else []) + ["gripper"]
        act_units = ["m", "m", "m"] + (["rad"] if self.use_yaw else []) + ["1"]
        action: dict[str, Any] = {
            "shape": [len(act_names)], "dtype": "float32", "names": act_names, "units": act_units,
            "low": -1.0, "high": 1.0, "max_delta_pos_m": self.max_delta_pos,
            "gripper": "absolute: -1 open, +1 closed",
        }
        if self.use_yaw:
            action["max_delta_yaw_rad"] = self.max_delta_yaw
        return {"task": self.TASK_ID, "robot": self.sim.robot_spec(), "control_hz": self.control_hz,
                "physics_hz": self.physics_hz, "observation": observation, "action": action}


class ReachEnv(ArmTaskEnv):
    """Move the pinch point to a random goal in the workspace.

    state (13,): ee_pos (3, m), ee_vel (3, m/s), gripper_opening (1, 0..1), goal_pos (3, m),
    goal - ee (3, m). Success: ||goal - ee|| < success_dist (default 0.03 m). Never fails.
    Dense reward: success - tanh(10 * distance), in [-1, 1].
    """

    TASK_ID = "roboloop/Reach-v0"
    GOAL_LOW = np.array([0.28, -0.20, TABLE_Z + 0.05])
    GOAL_HIGH = np.array([0.56, 0.20, TABLE_Z + 0.30])

    def __init__(self, success_dist: float = 0.03, **kwargs):
        self.success_dist = float(success_dist)
        self.goal = np.zeros(3)
        super().__init__(**kwargs)
        self.rules: TaskRules = ReachRules(self.success_dist, self.reward_type)

    def _state_names_units(self):
        names = ["ee_x", "ee_y", "ee_z", "ee_vx", "ee_vy", "ee_vz", "gripper_opening",
                 "goal_x", "goal_y", "goal_z", "goal_minus_ee_x", "goal_minus_ee_y",
                 "goal_minus_ee_z"]
        units = ["m"] * 3 + ["m/s"] * 3 + ["1"] + ["m"] * 6
        return names, units

    def _state(self):
        ee = self.sim.ee_pos()
        return np.concatenate([ee, self.sim.ee_vel(), [self.sim.gripper_opening()], self.goal,
                               self.goal - ee])

    def _sample_scene(self):
        self.goal = self.np_random.uniform(self.GOAL_LOW, self.GOAL_HIGH)
        self.sim.model.site_pos[self.sim.model.site("goal").id] = self.goal  # the marker; no physics
        # Park the cube on a table corner out of reach so it never blocks a goal.
        self.sim.set_cube_pose((0.1, 0.42))

    def distance(self) -> float:
        return float(np.linalg.norm(self.goal - self.sim.ee_pos()))

    def _extra_info(self):
        return {"distance": self.distance()}


class PickCubeEnv(ArmTaskEnv):
    """Pick up the cube and lift it.

    state (13,): ee_pos (3, m), ee_yaw (1, rad), gripper_opening (1, 0..1), cube_pos (3, m),
    sin/cos of 4 * cube_yaw (2; the cube looks the same every 90 deg), cube - ee (3, m).
    Cube xy is uniform in CUBE_LOW..CUBE_HIGH, yaw uniform in +/- cube_yaw_range (default
    0.25 rad, or pi/4 with use_yaw). Success: cube lifted >= lift_height (default 0.05 m)
    above its resting height. Failure: cube off the table or out of bounds.
    Dense reward: success + 0.25 * (1 - tanh(10 * |cube - ee|)) + 0.25 * grasped
    + 0.5 * grasped * clip(lift / lift_height, 0, 1), in [0, 2].
    """

    TASK_ID = "roboloop/PickCube-v0"
    CUBE_LOW = np.array([0.32, -0.15])
    CUBE_HIGH = np.array([0.52, 0.15])
    # Failure bounds on the cube centre (m): table top spans x [-0.2, 0.8], y [-0.6, 0.6].
    BOUNDS_LOW = np.array(PickCubeRules.bounds_low)
    BOUNDS_HIGH = np.array(PickCubeRules.bounds_high)

    def __init__(self, lift_height: float = 0.05, cube_yaw_range: float | None = None, **kwargs):
        self.lift_height = float(lift_height)
        use_yaw = kwargs.get("use_yaw", False)
        self.cube_yaw_range = float(
            cube_yaw_range if cube_yaw_range is not None else (np.pi / 4 if use_yaw else 0.25))
        super().__init__(**kwargs)
        self.rules: TaskRules = PickCubeRules(self.lift_height, self.reward_type)

    def _state_names_units(self):
        names = ["ee_x", "ee_y", "ee_z", "ee_yaw", "gripper_opening", "cube_x", "cube_y", "cube_z",
                 "cube_yaw4_sin", "cube_yaw4_cos", "cube_minus_ee_x", "cube_minus_ee_y",
                 "cube_minus_ee_z"]
        units = ["m", "m", "m", "rad", "1", "m", "m", "m", "1", "1", "m", "m", "m"]
        return names, units

    def _state(self):
        ee, cube = self.sim.ee_pos(), self.sim.cube_pos()
        yaw4 = 4.0 * self.sim.cube_yaw()
        return np.concatenate([ee, [self.sim.ee_yaw(), self.sim.gripper_opening()], cube,
                               [np.sin(yaw4), np.cos(yaw4)], cube - ee])

    def _sample_scene(self):
        xy = self.np_random.uniform(self.CUBE_LOW, self.CUBE_HIGH)
        yaw = self.np_random.uniform(-self.cube_yaw_range, self.cube_yaw_range)
        self.sim.set_cube_pose(xy, yaw)

    def lift(self) -> float:
        """Cube height above its resting height on the table (m)."""
        return float(self.sim.cube_pos()[2] - (TABLE_Z + self.sim.cube_half()))

    def _rule_state(self):
        # The cube's resting height follows its size (domain randomization may scale it).
        self.rules.cube_rest_z = TABLE_Z + self.sim.cube_half()
        return named(PickCubeEnv._state_names_units(self)[0], PickCubeEnv._state(self))

    def _flags(self):
        # Contacts are not in the observation; only the dense reward reads them.
        return {"is_grasped": self.sim.is_grasped()} if self.reward_type == "dense" else {}

    def _extra_info(self):
        return {"is_grasped": bool(self.sim.is_grasped()), "lift": self.lift()}


class PickCubeVisionEnv(PickCubeEnv):
    """PickCube seen through cameras: state is proprioception only.

    state (5,): ee_pos (3, m), ee_yaw (1, rad), gripper_opening (1, 0..1);
    front, wrist: (image_size, image_size, 3) uint8 RGB.
    """

    TASK_ID = "roboloop/PickCubeVision-v0"
    CAMERAS = ("front", "wrist")
    # The sim decides from its privileged cube pose (PickCube's rules, see _rule_state); a robot's state
    # has no cube, so there success/failure come as flags (roboloop.sim.rules.FlagRules).

    def _state_names_units(self):
        return ["ee_x", "ee_y", "ee_z", "ee_yaw", "gripper_opening"], ["m", "m", "m", "rad", "1"]

    def _state(self):
        return np.concatenate([self.sim.ee_pos(), [self.sim.ee_yaw(), self.sim.gripper_opening()]])


# Reality-gap variants: hidden physics that differ from the nominal sim (the stand-in for a robot).
# Physics values as sim.physics.ArmPhysics takes them (scales, or offsets for cameras; the front camera
# moves, the wrist camera does not); action_delay is in control steps; cube_pos_bias (m, base frame) is
# added to the cube position the robot reports, as a camera-to-base calibration error would.
_SHIFTED_CAMERA = {"camera_pos": [[0.03, -0.04, 0.02], [0.0, 0.0, 0.0]], "camera_fovy": [5.0, 0.0]}
GAP_VARIANTS = {
    "heavy_cube": {"cube_mass": 4.0},
    "low_friction": {"friction": 0.45},
    "latency": {"action_delay": 2},
    "shifted_camera": _SHIFTED_CAMERA,
    "weak_servos": {"actuator_gain": 0.6},
    "miscalibrated": {"cube_pos_bias": [0.03, -0.02, 0.0]},
    "combined": {"cube_mass": 3.0, "friction": 0.6, "action_delay": 1, **_SHIFTED_CAMERA, "actuator_gain": 0.75},
}


def gap_physics(variant: str) -> tuple[dict[str, Any], int, np.ndarray]:
    """(ArmPhysics values, action delay in control steps, cube position bias in m) of the reality-gap
    variant `variant`."""
    if variant not in GAP_VARIANTS:
        raise ValueError(f"unknown reality-gap variant {variant!r}; choose from {', '.join(GAP_VARIANTS)}")
    physics = dict(GAP_VARIANTS[variant])
    bias = np.asarray(physics.pop("cube_pos_bias", [0.0, 0.0, 0.0]), dtype=np.float64)
    return physics, int(physics.pop("action_delay", 0)), bias


class RealityGap:
    """A reality gap for a PickCube task (mixed in before the task class): the same spaces and spec as the
    task (its checkpoints run on it unchanged), different hidden physics. `variant` is one of GAP_VARIANTS:

    heavy_cube (cube 4x heavier), low_friction (cube and pads at 45% friction), latency (actions
    applied 2 control steps late), shifted_camera (front camera moved by cm and zoomed out 5 deg),
    weak_servos (arm servo gains at 60%), miscalibrated (the cube position the robot reports is 3 cm / -2 cm
    off in x / y: a camera-to-base calibration error; the physics is nominal), combined (a milder mix of all
    but the miscalibration; the default, and what the ROS 2 sim_robot runs).

    The miscalibration shifts the cube estimate in the state (cube_x/y/z and cube_minus_ee_*); a task
    whose state has no cube estimate (PickCubeVision) reads the scene through its cameras instead, so
    there that variant is the nominal scene.
    """

    _CUBE_ESTIMATE = ("cube_x", "cube_y", "cube_z", "cube_minus_ee_x", "cube_minus_ee_y", "cube_minus_ee_z")

    def __init__(self, variant: str = "combined", **kwargs):
        physics, self._delay, self._cube_bias = gap_physics(variant)
        self.variant = variant
        super().__init__(**kwargs)
        ArmPhysics(self.sim.model, self.sim.data).apply(physics)
        names = self._state_names_units()[0]
        # (state index, bias axis) of each estimated cube coordinate the state holds
        self._biased = [(names.index(n), i % 3) for i, n in enumerate(self._CUBE_ESTIMATE) if n in names]
        self._pipe: list[np.ndarray] = []

    def reset(self, *, seed=None, options=None):
        self._pipe = []
        return super().reset(seed=seed, options=options)

    def _state(self):
        s = super()._state()
        for index, axis in self._biased:
            s[index] += self._cube_bias[axis]
        return s

    def true_state(self) -> np.ndarray:
        return super()._state()

    def step(self, action):
        a = np.asarray(action, dtype=np.float32)
        if not np.all(np.isfinite(a)):
            return super().step(a)  # refused at once, never queued
        if not self._pipe:  # until the first commands arrive the arm holds still with the gripper open, as at reset
            hold = np.zeros_like(a)
            hold[-1] = -1.0
            self._pipe = [hold] * self._delay
        self._pipe.append(a)
        return super().step(self._pipe.pop(0))


class PickCubeGapEnv(RealityGap, PickCubeEnv):
    """PickCube with a reality gap (see RealityGap): the stand-in for a robot that a PickCube policy meets."""


class PickCubeVisionGapEnv(RealityGap, PickCubeVisionEnv):
    """PickCubeVision with a reality gap (see RealityGap): the moved camera and the physics are seen and felt;
    `miscalibrated` changes nothing here, as the policy reads no cube estimate."""
