"""Domain-randomized PickCube renders with their ground truth, to pretrain and check the image encoder.

    data = render_dataset(episodes=20, seed=0)    # {"front", "wrist": uint8 (N, S, S, 3), "target": (N, 9)}

Scenes come from PickCube episodes (PickCubeVision's scene and cameras) driven by the scripted expert (with random noise levels) or
by random actions, so they cover what a learner sees: the arm approaching, grasping and lifting the
cube, and wandering. Each randomized episode draws, on top of the task's own cube pose:

  * colours: every material's RGB (arm links, joints, fingers, pads, table, floor, cube) scaled per
    channel by U(0.6, 1.35) (the cube by U(0.75, 1.2), so it stays a reddish cube);
  * lights: diffuse intensity scaled by U(0.5, 1.5) per light, directions tilted by up to ~0.3 rad;
  * camera poses: both cameras moved by U(-3, 3) cm per axis and their fields of view changed by
    U(-5, 5) deg (the `shifted_camera` reality gap is within this range);
  * distractors: 0-4 visual-only boxes and spheres of random colours on the table, away from the cube.

`randomize_share` of the episodes keep the nominal look instead. Targets (metres, world frame): the
end effector's position (3), the cube's position (3) and cube - end effector (3).
"""
from __future__ import annotations

import numpy as np

from roboloop.envs import make_env
from roboloop.sim import make_expert  # sets MUJOCO_GL before mujoco loads

import mujoco  # noqa: E402
from roboloop.sim.physics import ArmPhysics
from roboloop.sim.robot import TABLE_Z

TARGET_NAMES = ("ee_x", "ee_y", "ee_z", "cube_x", "cube_y", "cube_z", "cube_minus_ee_x", "cube_minus_ee_y",
                "cube_minus_ee_z")
CAMERAS = ("front", "wrist")


class SceneRandomizer:
    """Draws and applies one episode's look (colours, lights, cameras, distractors) to an arm model."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData):
        self.model, self.physics = model, ArmPhysics(model, data)
        self.mat_rgba = model.mat_rgba.copy()
        self.light_dir = model.light_dir.copy()
        self.cube_mat = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_MATERIAL, "cube_mat")
        self.distractors: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def nominal(self) -> None:
        self.model.mat_rgba[:] = self.mat_rgba
        self.model.light_dir[:] = self.light_dir
        self.physics.apply({})
        self.distractors = []

    def randomize(self, rng: np.random.Generator) -> None:
        """Colours, lights and cameras; before the episode's reset (the physics refresh resets poses)."""
        m = self.model
        scale = rng.uniform(0.6, 1.35, size=(m.nmat, 3))
        scale[self.cube_mat] = rng.uniform(0.75, 1.2, size=3)
        m.mat_rgba[:, :3] = np.clip(self.mat_rgba[:, :3] * scale, 0.0, 1.0)
        tilt = self.light_dir + rng.uniform(-0.3, 0.3, size=self.light_dir.shape)
        m.light_dir[:] = tilt / np.linalg.norm(tilt, axis=1, keepdims=True)
        self.physics.apply({"light": rng.uniform(0.5, 1.5, size=m.nlight),
                            "camera_pos": rng.uniform(-0.03, 0.03, size=(2, 3)),
                            "camera_fovy": rng.uniform(-5.0, 5.0, size=2)})
        self.distractors = []

    def draw_distractors(self, rng: np.random.Generator, cube_xy: np.ndarray) -> None:
        """0-4 distractors on the table, at least 8 cm from the cube (after the reset placed it)."""
        self.distractors = []
        for _ in range(int(rng.integers(0, 5))):
            while True:
                xy = rng.uniform([0.2, -0.3], [0.65, 0.3])
                if np.linalg.norm(xy - cube_xy) > 0.08:
                    break
            kind = mujoco.mjtGeom.mjGEOM_BOX if rng.random() < 0.5 else mujoco.mjtGeom.mjGEOM_SPHERE
            size = np.full(3, rng.uniform(0.01, 0.03))
            pos = np.array([xy[0], xy[1], TABLE_Z + size[0]])
            rgba = np.r_[rng.uniform(0, 1, 3), 1.0]
            self.distractors.append((int(kind), size, pos, rgba))

    def add_distractors(self, scene: mujoco.MjvScene) -> None:
        """Visual-only geoms appended to a scene after `update_scene` (they never touch the physics)."""
        for kind, size, pos, rgba in self.distractors:
            if scene.ngeom >= scene.maxgeom:
                return
            mujoco.mjv_initGeom(scene.geoms[scene.ngeom], kind, size, pos, np.eye(3).ravel(), rgba.astype(np.float32))
            scene.ngeom += 1


def render_dataset(episodes: int, seed: int, image_size: int = 128, randomize_share: float = 0.7,
                   max_steps: int = 50, every: int = 1) -> dict[str, np.ndarray]:
    """Frames and targets of `episodes` PickCubeVision episodes (see the module docstring), rendered
    at the reset and every `every`-th control step (many short looks at many scenes generalize better
    than every step of a few).

    Returns {"front", "wrist": uint8 (N, S, S, 3), "target": float32 (N, 9)} with N = frames in all."""
    rng = np.random.default_rng(seed)
    # PickCube has the same scene and cameras; its observations render nothing, so each frame renders once.
    env = make_env("PickCube")
    base = env.unwrapped
    sim = base.sim
    looks = SceneRandomizer(sim.model, sim.data)
    renderer = base._make_renderer(image_size)
    frames: dict[str, list[np.ndarray]] = {c: [] for c in CAMERAS}
    targets: list[np.ndarray] = []

    def record() -> None:
        for cam in CAMERAS:
            renderer.update_scene(sim.data, camera=cam)
            looks.add_distractors(renderer.scene)
            frames[cam].append(renderer.render())
        ee, cube = sim.ee_pos(), sim.cube_pos()
        targets.append(np.concatenate([ee, cube, cube - ee]).astype(np.float32))

    try:
        for ep in range(episodes):
            randomized = rng.random() < randomize_share
            if randomized:
                looks.randomize(rng)
            else:
                looks.nominal()
            env.reset(seed=int(rng.integers(2**31)))
            if randomized:
                looks.draw_distractors(rng, sim.cube_pos()[:2])
            mode = rng.random()
            expert = make_expert(env, noise=float(rng.choice([0.1, 0.3, 0.6])), seed=int(rng.integers(2**31)))
            expert.reset()
            record()
            for t in range(max_steps):
                action = expert.act() if mode < 0.75 else rng.uniform(-1, 1, size=env.action_space.shape)
                _, _, terminated, truncated, _ = env.step(action.astype(np.float32))
                if (t + 1) % every == 0:
                    record()
                if terminated or truncated:
                    break
    finally:
        looks.nominal()
        renderer.close()
        env.close()
    return {**{c: np.stack(v) for c, v in frames.items()}, "target": np.stack(targets)}
