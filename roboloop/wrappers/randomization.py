"""Domain randomization of the MuJoCo arm tasks, per episode and per env (a sim-only wrapper).

Every quantity is a [low, high] range (null = not randomized). Scales multiply the nominal value of
the MJCF; jitters are added. The sampled values go to `info["randomization"]["domain"]` on every
step, and `reset(options={"randomization": {"domain": values}})` replays them exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np

from roboloop.sim.physics import ArmPhysics

from .base import RandomWrapper, check_range


@dataclass
class DomainRandomizationConfig:
    """Ranges, [low, high]; scales are dimensionless factors on the MJCF's nominal values."""

    link_mass: tuple[float, ...] | None = (0.8, 1.2)        # arm link masses
    friction: tuple[float, ...] | None = (0.6, 1.3)         # sliding friction of cube and finger pads
    joint_damping: tuple[float, ...] | None = (0.7, 1.3)
    armature: tuple[float, ...] | None = (0.7, 1.3)
    actuator_gain: tuple[float, ...] | None = (0.8, 1.2)    # arm position servos' kp (and kv)
    cube_size: tuple[float, ...] | None = (0.9, 1.1)
    cube_mass: tuple[float, ...] | None = (0.5, 2.0)
    camera_pos: tuple[float, ...] | None = (-0.01, 0.01)    # m, added per axis
    camera_fovy: tuple[float, ...] | None = (-3.0, 3.0)     # degrees, added
    light: tuple[float, ...] | None = (0.6, 1.4)            # diffuse intensity of every light
    image_brightness: tuple[float, ...] | None = (-20.0, 20.0)  # added to every pixel (0..255 units)
    image_contrast: tuple[float, ...] | None = (0.8, 1.2)   # scales pixels about the frame mean
    image_color: tuple[float, ...] | None = (0.9, 1.1)      # per-channel gain
    gravity_tilt: tuple[float, ...] | None = (0.0, 0.02)    # rad, tilt of gravity in a random direction

    SIGNED = ("camera_pos", "camera_fovy", "image_brightness")  # jitters may be negative

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            bound = None if f.name in self.SIGNED else 0.0
            setattr(self, f.name, check_range(f"domain_randomization.{f.name}", value, bound))
        if self.gravity_tilt is not None and self.gravity_tilt[1] > np.pi / 4:
            raise ValueError(f"domain_randomization.gravity_tilt above pi/4 rad is not a tilt: {self.gravity_tilt}")


class DomainRandomization(RandomWrapper):
    """Resamples the physics, cameras, lights and image colours of an arm task at every reset."""

    name = "domain"

    def __init__(self, env: gym.Env, cfg: DomainRandomizationConfig | None = None):
        super().__init__(env)
        self.cfg = cfg or DomainRandomizationConfig()
        sim = getattr(env.unwrapped, "sim", None)
        if sim is None:
            raise ValueError("domain randomization needs a MuJoCo arm task (env.unwrapped.sim); "
                             "on a real robot, leave it out of the wrapper stack")
        self.physics: ArmPhysics = sim.physics()  # the arm's own links and joints

    def sample(self) -> dict[str, Any]:
        c, rng, out = self.cfg, self.rng, {}

        def draw(name: str, size: int | None = None):
            r = getattr(c, name)
            if r is not None:
                v = rng.uniform(r[0], r[1], size)
                out[name] = v.tolist() if size else float(v)

        n = self.physics.sizes()
        for name in ("link_mass", "friction", "joint_damping", "armature", "actuator_gain"):
            draw(name, n[name])
        draw("cube_size")
        draw("cube_mass")
        draw("camera_pos", n["camera_pos"])
        draw("camera_fovy", n["camera_fovy"])
        draw("light", n["light"])
        draw("image_brightness")
        draw("image_contrast")
        draw("image_color", 3)
        if c.gravity_tilt is not None:
            out["gravity_tilt"] = [float(rng.uniform(*c.gravity_tilt)), float(rng.uniform(-np.pi, np.pi))]
        return out

    def apply(self, v: dict[str, Any]) -> None:
        self.physics.apply({k: x for k, x in v.items() if not k.startswith("image_")})

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        return self._jitter(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return self._jitter(obs), reward, terminated, truncated, info

    def _jitter(self, obs: dict) -> dict:
        """Brightness, contrast and colour of camera images (uint8 HxWx3 entries)."""
        v = self.values
        if not any(k in v for k in ("image_brightness", "image_contrast", "image_color")):
            return obs
        out = dict(obs)
        for k, img in obs.items():
            if k == "state" or img.dtype != np.uint8 or img.ndim != 3:
                continue
            x = img.astype(np.float32)
            mean = x.mean()
            x = (x - mean) * v.get("image_contrast", 1.0) + mean + v.get("image_brightness", 0.0)
            x *= np.asarray(v.get("image_color", [1.0, 1.0, 1.0]), dtype=np.float32)
            out[k] = np.clip(x, 0, 255).astype(np.uint8)
        return out
