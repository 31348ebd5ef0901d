"""`roboloop classifier record|train|eval`: labelled success/failure camera frames for a reward classifier
(roboloop.policies.reward_classifier), recorded from the sim's success flag or from a person's button.

    data = record_frames("PickCubeVision", "expert", episodes=20, seed=0)
    save_frames("frames.npz", data)

Every frame of an episode (the reset's and each step's) is kept with its label:

* source `expert` (sim): the scripted expert drives, with action noise drawn per episode from `noises`,
  and a `random_share` of the episodes are random actions (failures of every kind); the label is the
  task's own success flag (`info["is_success"]`) for that frame. A success does not end the recording:
  the expert keeps going for `after_success` more steps (holding the cube up), so success looks are
  well represented.
* source `gamepad` / `keyboard` / `evdev` (a person, on a robot or in sim): the person drives while
  holding the deadman; a frame is labelled success while they hold the success button, failure
  otherwise; the reset button ends the episode.

`gap` (sim only) applies a reality-gap variant's physics and camera changes (roboloop.sim.tasks.
GAP_VARIANTS, e.g. `shifted_camera`) to the task's scene, to measure a classifier under that gap.

`randomize` (sim only) is the share of episodes recorded with a randomized look (SceneLook), so that a
classifier trained on them tolerates a camera that is not exactly where the sim puts it: per episode,
each camera moved by U(-s, s) per axis and its field of view changed by U(-f, f) degrees (front camera
s = 5 cm, f = 8 deg; wrist camera 1 cm, 3 deg), and every light's intensity scaled by U(0.6, 1.4).
With a gap too, the randomization is added on top of the gap's changes.

File (.npz, loaded without pickle): frames.<camera> (N, H, W, 3) uint8, label (N,) bool, episode (N,)
int64, meta (JSON: format, version, task, source, gap, randomize, cameras).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from roboloop.dataset import read_npz, write_npz
from roboloop.envs import make_env, resolve_task

FORMAT, VERSION = "roboloop-reward-frames", 1


class FramesError(ValueError):
    """A frames file that cannot be used; the message names the file and the problem."""


def camera_keys(space: Any) -> list[str]:
    """The image observations of a Dict space: (H, W, 3) uint8 boxes."""
    return [k for k, s in space.spaces.items() if len(s.shape) == 3 and s.shape[-1] == 3]


def _arm_physics(env, what: str):
    from roboloop.sim.physics import ArmPhysics
    base = env.unwrapped
    if not hasattr(base, "sim"):
        raise ValueError(f"{what}: {base} is not a sim arm task")
    return ArmPhysics(base.sim.model, base.sim.data)


def apply_gap(env, variant: str) -> None:
    """Give a sim arm task's scene the physics and camera changes of reality-gap `variant` (its action
    delay does not change what the cameras see and is left out)."""
    from roboloop.sim.tasks import gap_physics
    physics, _, _ = gap_physics(variant)   # the delay and the cube estimate's bias change no frame
    _arm_physics(env, f"gap {variant!r}").apply(physics)


class SceneLook:
    """Randomized looks of a sim arm task's scene (cameras and lights), on top of fixed physics values.

    camera_shift: m, per camera (front, wrist), the bound of the U(-s, s) move along each axis;
    camera_fovy: degrees, per camera, the bound of the U(-f, f) change of the vertical field of view;
    light: (low, high) of the scale of each light's diffuse intensity.
    """

    def __init__(self, env, base: dict[str, Any] | None = None, camera_shift: tuple[float, float] = (0.05, 0.01),
                 camera_fovy: tuple[float, float] = (8.0, 3.0), light: tuple[float, float] = (0.6, 1.4)):
        self.physics = _arm_physics(env, "randomize")
        self.base = dict(base or {})
        self.shift = np.asarray(camera_shift, float)
        self.fovy = np.asarray(camera_fovy, float)
        self.light = light

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        """One episode's physics values: the base ones with a random camera move, zoom and lighting."""
        n = len(self.shift)
        pos = rng.uniform(-1, 1, (n, 3)) * self.shift[:, None]
        fovy = rng.uniform(-1, 1, n) * self.fovy
        light = rng.uniform(*self.light, self.physics.model.nlight)
        b = self.base
        return {**b, "camera_pos": np.broadcast_to(np.asarray(b.get("camera_pos", np.zeros(3)), float).reshape(-1, 3),
                                                   (n, 3)) + pos,
                "camera_fovy": np.asarray(b.get("camera_fovy", 0.0), float) + fovy,
                "light": np.asarray(b.get("light", 1.0), float) * light}

    def apply(self, values: dict[str, Any] | None) -> None:
        """The drawn values, or the base ones for None (before the episode's reset)."""
        self.physics.apply(self.base if values is None else values)


def record_frames(task: str, source: str, episodes: int, seed: int = 0, env_kwargs: dict | None = None,
                  gap: str = "", randomize: float = 0.0, after_success: int = 10, random_share: float = 0.2,
                  noises: tuple[float, ...] = (0.1, 0.3, 0.6), pad: str = "xbox", teleop=None, env=None,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Record `episodes` episodes of labelled frames (see the module docstring). randomize: share of the
    episodes (in [0, 1]) recorded with a randomized scene look (SceneLook). Returns
    {"frames": {camera: (N, H, W, 3) uint8}, "label": (N,) bool, "episode": (N,) int64, "meta": {...}}."""
    if not 0.0 <= randomize <= 1.0:
        raise ValueError(f"randomize: the share of randomized episodes must be in [0, 1], got {randomize}")
    if env is None:
        kwargs = dict(env_kwargs or {})
        steps = gym.spec(resolve_task(task)).max_episode_steps
        if source == "expert" and steps:   # room to keep recording a success reached near the episode limit
            kwargs.setdefault("max_episode_steps", steps + after_success)
        env = make_env(task, kwargs, training=False)
    look = None
    if randomize > 0:   # the look applies the gap itself: ArmPhysics takes the model it finds as nominal
        from roboloop.sim.tasks import gap_physics
        look = SceneLook(env, gap_physics(gap)[0] if gap else None)
        look.apply(None)
    elif gap:
        apply_gap(env, gap)
    cams = camera_keys(env.observation_space)
    if not cams:
        raise ValueError(f"task {task!r} has no cameras (observation keys {list(env.observation_space.spaces)})")
    rng = np.random.default_rng(seed)
    expert = None
    if source == "expert":
        from roboloop.sim import make_expert
    elif teleop is None:
        from roboloop.hardware.gamepad import make_teleop
        teleop = make_teleop(source, env.action_space.shape[0], pad)
    frames: dict[str, list[np.ndarray]] = {c: [] for c in cams}
    labels: list[bool] = []
    ep_ids: list[int] = []

    def keep(obs, label: bool, ep: int) -> None:
        for c in cams:
            frames[c].append(np.asarray(obs[c], np.uint8))
        labels.append(bool(label))
        ep_ids.append(ep)

    try:
        for ep in range(episodes):
            if look is not None:   # before the reset, which renders the first frame
                look.apply(look.draw(rng) if rng.random() < randomize else None)
            obs, info = env.reset(seed=seed + ep)
            randomly = source == "expert" and rng.random() < random_share
            if source == "expert":
                expert = make_expert(env, noise=float(rng.choice(noises)), seed=int(rng.integers(2**31)))
                expert.reset()
            else:
                teleop.reset()
            keep(obs, source == "expert" and info.get("is_success", False), ep)
            extra, n0 = -1, len(labels)
            while True:
                if source == "expert":
                    action = rng.uniform(-1, 1, env.action_space.shape) if randomly else expert.act()
                else:
                    cmd = teleop.poll()
                    action = cmd.action if cmd.intervening else np.zeros(env.action_space.shape)
                    action[-1] = cmd.action[-1]
                obs, _, terminated, truncated, info = env.step(np.asarray(action, np.float32))
                label = bool(info.get("is_success", False)) if source == "expert" else bool(cmd.success)
                keep(obs, label, ep)
                if source != "expert" and cmd.reset:
                    break
                if source == "expert" and label and extra < 0:
                    extra = after_success   # keep recording the success for a while
                if extra >= 0:
                    extra -= 1
                    if extra < 0:
                        break
                # A success's termination is what we keep recording past; a failure or the time limit ends it.
                if truncated or (terminated and not label):
                    break
            log(f"episode {ep + 1}/{episodes}: {len(labels) - n0} frames, {sum(labels[n0:])} success")
    finally:
        env.close()
    meta = {"format": FORMAT, "version": VERSION, "task": task, "source": source, "gap": gap, "randomize": randomize,
            "cameras": cams}
    return {"frames": {c: np.stack(v) for c, v in frames.items()}, "label": np.array(labels, bool),
            "episode": np.array(ep_ids, np.int64), "meta": meta}


def save_frames(path: str | Path, data: dict[str, Any]) -> Path:
    arrays = {f"frames.{c}": v for c, v in data["frames"].items()}
    arrays.update(label=data["label"], episode=data["episode"], meta=np.array(json.dumps(data["meta"])))
    return write_npz(path, arrays)


def load_frames(path: str | Path) -> dict[str, Any]:
    """A frames file as record_frames returns it; FramesError naming what is wrong."""
    data, meta = read_npz(path, "frames file", FramesError)
    if meta.get("format") != FORMAT:
        raise FramesError(f"{path} is not a roboloop frames file (format {meta.get('format')!r})")
    frames = {k.split(".", 1)[1]: v for k, v in data.items() if k.startswith("frames.")}
    for key in ("label", "episode"):
        if key not in data or len(data[key]) != len(next(iter(frames.values()), [])):
            raise FramesError(f"frames file {path}: {key!r} is missing or of another length than the frames")
    return {"frames": frames, "label": data["label"].astype(bool), "episode": data["episode"], "meta": meta}


def merge_frames(datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """Several recordings as one (episode ids renumbered so they stay distinct)."""
    cams = [c for c in datasets[0]["frames"] if all(c in d["frames"] for d in datasets)]
    offset, episodes = 0, []
    for d in datasets:
        episodes.append(d["episode"] + offset)
        offset += int(d["episode"].max()) + 1 if len(d["episode"]) else 0
    return {"frames": {c: np.concatenate([d["frames"][c] for d in datasets]) for c in cams},
            "label": np.concatenate([d["label"] for d in datasets]), "episode": np.concatenate(episodes),
            "meta": {**datasets[0]["meta"], "merged": len(datasets)}}
