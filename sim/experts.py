"""Scripted experts for demonstrations and sanity checks.

Experts read privileged simulator state from ``env.unwrapped`` (so they work through any
wrapper) and return normalized actions in the env's action space. Call ``reset()`` after each
``env.reset()``.

    env = gymnasium.make("roboloop/PickCube-v0")
    expert = make_expert(env, noise=0.1, seed=0)
    obs, info = env.reset(seed=0); expert.reset()
    obs, r, term, trunc, info = env.step(expert.act())
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .base_tasks import BaseNavEnv
from .race_task import BaseRaceEnv, RacePursuit
from .robot import TABLE_Z
from .quad_tasks import QuadHoverEnv
from .quadrotor import HoverController
from .tasks import PickCubeEnv, RealityGap, ReachEnv


class _Expert:
    def __init__(self, env, noise: float = 0.0, seed: int | None = None):
        self.env = env.unwrapped
        self.noise = float(noise)
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """Start a new episode (call after env.reset())."""

    def act(self) -> np.ndarray:
        """Normalized action (float32, action-space shape), with optional gaussian noise."""
        a = self._act()
        if self.noise > 0:
            a = a + self.rng.normal(0.0, self.noise, size=a.shape)
        return np.clip(a, -1.0, 1.0).astype(np.float32)

    def _act(self) -> np.ndarray:
        raise NotImplementedError

    def _action(self, target_pos, gripper: float, target_yaw: float = 0.0,
                gain: float = 1.0) -> np.ndarray:
        """Proportional Cartesian step toward target_pos (m) / target_yaw (rad)."""
        env, sim = self.env, self.env.sim
        dpos = gain * (np.asarray(target_pos) - sim.ee_pos()) / env.max_delta_pos
        parts = [np.clip(dpos, -1.0, 1.0)]
        if env.use_yaw:
            dyaw = (target_yaw - sim.ee_yaw()) / env.max_delta_yaw
            parts.append([np.clip(dyaw, -1.0, 1.0)])
        parts.append([gripper])
        return np.concatenate(parts)


class ReachExpert(_Expert):
    """Proportional move of the pinch point to the goal, gripper open."""

    def _act(self):
        return self._action(self.env.goal, -1.0)


class PickCubeExpert(_Expert):
    """State machine: hover above cube -> descend open -> close -> lift.

    Falls back to hovering if the cube slips out or moves away during the descent.
    """

    HOVER = 0.07  # m above the cube centre
    GRASP_DZ = 0.003  # m; pad centres just above the cube centre (pads are 3.6 cm tall)
    CLOSE_STEPS = 3  # control steps to let the jaws close before lifting
    LIFT_Z = TABLE_Z + 0.16  # m, absolute lift target for the pinch point

    def reset(self):
        self.phase = "hover"
        self.close_count = 0

    def _grasp_yaw(self) -> float:
        """Gripper yaw (rad) that aligns the jaws with the cube faces (cube symmetry: 90 deg)."""
        if not self.env.use_yaw:
            return 0.0
        yaw = self.env.sim.cube_yaw()
        return float(yaw - np.round(yaw / (np.pi / 2)) * (np.pi / 2))

    def _act(self):
        sim = self.env.sim
        ee, cube = sim.ee_pos(), sim.cube_pos()
        yaw = self._grasp_yaw()
        xy_err = np.linalg.norm(cube[:2] - ee[:2])
        yaw_ok = (not self.env.use_yaw) or abs(yaw - sim.ee_yaw()) < 0.05

        if self.phase == "hover":
            target = cube + [0.0, 0.0, self.HOVER]
            # Tolerances are loose enough that action noise (demo diversity) still gets through.
            if xy_err < 0.012 and abs(ee[2] - target[2]) < 0.03 and yaw_ok:
                self.phase = "descend"
            return self._action(target, -1.0, yaw)
        if self.phase == "descend":
            target = cube + [0.0, 0.0, self.GRASP_DZ]
            if xy_err > 0.03:  # cube pushed away: re-approach from above
                self.phase = "hover"
            elif xy_err < 0.012 and abs(target[2] - ee[2]) < 0.01:
                self.phase, self.close_count = "close", 0
            return self._action(target, -1.0, yaw)
        if self.phase == "close":
            self.close_count += 1
            if self.close_count >= self.CLOSE_STEPS:
                self.phase = "lift"
            return self._action(cube + [0.0, 0.0, self.GRASP_DZ], 1.0, yaw)
        # lift
        if not sim.is_grasped() and cube[2] < TABLE_Z + 0.03:
            self.phase = "hover"  # dropped it: try again
            return self._action(ee + [0.0, 0.0, 0.05], -1.0, yaw)
        return self._action([ee[0], ee[1], self.LIFT_Z], 1.0, yaw)


class _Predicted:
    """The expert's view of the arm with the end effector where its pending commands will take it."""

    def __init__(self, env, offset):
        self._env, self._offset = env, offset
        self.sim = _PredictedSim(env.sim, offset)

    def __getattr__(self, name):
        return getattr(self._env, name)


class _PredictedSim:
    def __init__(self, sim, offset):
        self._sim, self._offset = sim, offset

    def ee_pos(self) -> np.ndarray:
        return self._sim.ee_pos() + self._offset()

    def __getattr__(self, name):
        return getattr(self._sim, name)


class LagAwarePickCubeExpert(PickCubeExpert):
    """The PickCube expert for an arm whose actions arrive `delay` control steps late, as a person who has
    felt the lag acts: it steers the end effector where its last `delay` commands (sent, not yet applied)
    will take it (a Smith predictor on the commanded Cartesian steps) and waits `delay` more steps for the
    jaws to close. Measured on PickCubeGap latency (2 steps): 8 of 8 episodes lifted in 16-18 steps, and
    8 of 8 with 3 steps of lag, where the plain expert lifts none."""

    def __init__(self, env, delay: int, noise: float = 0.0, seed: int | None = None):
        super().__init__(env, noise, seed)
        if delay < 1:
            raise ValueError(f"delay must be >= 1 control step (got {delay}); use PickCubeExpert without lag")
        self.pending: deque[np.ndarray] = deque(maxlen=delay)
        arm = self.env
        self.env = _Predicted(arm, lambda: sum((a[:3] for a in self.pending), np.zeros(3)) * arm.max_delta_pos)
        self.CLOSE_STEPS = PickCubeExpert.CLOSE_STEPS + delay

    def reset(self) -> None:
        super().reset()
        self.pending.clear()

    def act(self) -> np.ndarray:
        a = super().act()
        self.pending.append(a.copy())
        return a

    def not_sent(self) -> None:
        """The last action was not sent (someone else drives): predict from what is known, no motion."""
        if self.pending:
            self.pending[-1] = np.zeros_like(self.pending[-1])


class QuadExpert(_Expert):
    """The geometric hover controller (quadrotor.HoverController.expert(): memoryless in the observation, so
    a policy can imitate it) on the noise-free state."""

    def __init__(self, env, noise: float = 0.0, seed: int | None = None):
        super().__init__(env, noise, seed)
        self.controller = HoverController.expert(control_hz=self.env.control_hz)

    def reset(self) -> None:
        self.controller.reset()

    def _act(self) -> np.ndarray:
        return self.controller(self.env.true_state()).astype(np.float64)


def make_expert(env, noise: float = 0.0, seed: int | None = None) -> _Expert:
    """Scripted expert for ``env`` (any wrapper around a roboloop task).

    Args:
        env: a roboloop Reach/PickCube/PickCubeVision/QuadHover/QuadTrack/base-Nav/base-Race env, possibly wrapped.
        noise: std of gaussian noise added to the normalized action (then clipped).
        seed: seed of the noise generator.
    Returns:
        An object with ``reset()`` and ``act() -> np.ndarray`` (float32, in the action space).
    """
    base = env.unwrapped
    if isinstance(base, RealityGap) and base._delay:   # a robot that lags: a person who waits it out
        expert = LagAwarePickCubeExpert(env, base._delay, noise, seed)
        expert.reset()
        return expert
    own = getattr(base, "scripted_expert", None)  # a task variant with its own expert settings
    if own is not None:
        expert: _Expert = own(env, noise, seed)
        expert.reset()
        return expert
    if isinstance(base, PickCubeEnv):  # also PickCubeVisionEnv
        expert = PickCubeExpert(env, noise, seed)
    elif isinstance(base, ReachEnv):
        expert = ReachExpert(env, noise, seed)
    elif isinstance(base, QuadHoverEnv):  # also QuadTrackEnv
        expert = QuadExpert(env, noise, seed)
    elif isinstance(base, BaseNavEnv):
        expert = BaseNavExpert(env, noise, seed)
    elif isinstance(base, BaseRaceEnv):
        expert = BaseRaceExpert(env, noise, seed)
    else:
        raise ValueError(f"no scripted expert for {type(base).__name__}: scripted demos (demos: N) exist for "
                         "roboloop's Reach, PickCube, quadrotor and mobile-base tasks; give this env recorded demos (demo_file) or demos: 0")
    expert.reset()
    return expert


class ObservedPickCube:
    """What a person watching the robot knows, rebuilt from PickCube's published state vector, shaped
    like the env so `PickCubeExpert` runs on it (`expert_from_state`). Used where only the robot's
    topics exist (the ROS 2 scripted person), not the simulator.

    state: PickCube's (13,) observation["state"] (names in `roboloop tasks`); limits from the task.
    A grasp is inferred from the jaws being partly closed with the cube between them (the sim's own
    test is pad contact, which the state does not carry).
    """

    def __init__(self, max_delta_pos: float, max_delta_yaw: float, use_yaw: bool):
        self.max_delta_pos, self.max_delta_yaw, self.use_yaw = max_delta_pos, max_delta_yaw, use_yaw
        self.state = np.zeros(13)
        self.sim = self

    @property
    def unwrapped(self):
        return self

    def update(self, state: np.ndarray) -> None:
        state = np.asarray(state, dtype=float)
        if state.shape != (13,):
            raise ValueError(f"PickCube state has 13 entries, got shape {state.shape}")
        self.state = state

    def ee_pos(self) -> np.ndarray:
        return self.state[0:3].copy()

    def ee_yaw(self) -> float:
        return float(self.state[3])

    def gripper_opening(self) -> float:
        return float(self.state[4])

    def cube_pos(self) -> np.ndarray:
        return self.state[5:8].copy()

    def cube_yaw(self) -> float:
        return float(np.arctan2(self.state[8], self.state[9]) / 4.0)   # the state carries 4 x yaw

    def is_grasped(self) -> bool:
        return 0.05 < self.gripper_opening() < 0.9 and float(np.linalg.norm(self.state[10:13])) < 0.02


def expert_from_state(max_delta_pos: float, max_delta_yaw: float, use_yaw: bool,
                      delay: int = 0) -> tuple[PickCubeExpert, ObservedPickCube]:
    """A PickCube expert that acts on published states: call `view.update(state)`, then `expert.act()`.
    delay: control steps the robot applies actions late; > 0 gives the `LagAwarePickCubeExpert`."""
    view = ObservedPickCube(max_delta_pos, max_delta_yaw, use_yaw)
    expert = LagAwarePickCubeExpert(view, delay) if delay > 0 else PickCubeExpert(view)
    expert.reset()
    return expert, view


class BaseNavExpert(_Expert):
    """The DWA local planner (roboloop.sim.dwa) on the navigation task's own observation: no privileged state."""

    def __init__(self, env, noise: float = 0.0, seed: int | None = None):
        super().__init__(env, noise, seed)
        from .dwa import DWAPolicy
        self.policy = DWAPolicy(self.env.task_spec())

    def reset(self) -> None:
        self.policy.reset()

    def _act(self) -> np.ndarray:
        return self.policy.act({"state": self.env._last_state}).astype(np.float64)


class BaseRaceExpert(_Expert):
    """Pure pursuit on the race task's next checkpoints at full speed, from its observation."""

    def __init__(self, env, noise: float = 0.0, seed: int | None = None):
        super().__init__(env, noise, seed)
        self.policy = RacePursuit(self.env.task_spec())

    def _act(self) -> np.ndarray:
        return self.policy.act({"state": self.env._last_state}).astype(np.float64)


def base_expert_from_spec(spec: dict):
    """The scripted driver of a mobile-base task that acts on its published state alone (what a person
    watching the robot's topics sees): the DWA planner for base-Nav, pure pursuit on the checkpoints for
    base-Race. spec: the task's `task_spec()`. Returns an object with ``reset()`` and
    ``act(obs) -> (2,) float32`` (normalized [v, w])."""
    if spec["task"] == BaseRaceEnv.TASK_ID:
        return RacePursuit(spec)
    from .dwa import DWAPolicy
    if spec["action"].get("command") != "base_velocity" or "goal_x" not in spec["observation"]["state"]["names"]:
        raise ValueError(f"{spec['task']} is not a mobile-base navigation or race task")
    return DWAPolicy(spec)
