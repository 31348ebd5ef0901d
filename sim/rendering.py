"""Offscreen rendering shared by every sim (arm, mobile base, quadrotor)."""
from __future__ import annotations

import mujoco


def offscreen_renderer(model: mujoco.MjModel, width: int, height: int) -> mujoco.Renderer:
    """A renderer of width x height px for `model`. MuJoCo refuses a renderer larger than the model's
    offscreen framebuffer, so the framebuffer is grown to fit first."""
    vis = model.vis.global_
    vis.offwidth, vis.offheight = max(vis.offwidth, width), max(vis.offheight, height)
    return mujoco.Renderer(model, height, width)
