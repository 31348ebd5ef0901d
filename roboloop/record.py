"""`roboloop teleop` and `roboloop record`: drive a task from a gamepad, the keyboard or the scripted
expert, with a live camera view where there is a display, and optionally save the episodes."""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from roboloop.dataset import Episode, save_demos
from roboloop.envs import env_spec, make_env


class CameraView:
    """An OpenCV window with the front camera; nothing when headless (no DISPLAY) or when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        if self.enabled:
            import cv2
            self.cv2 = cv2

    def show(self, frame: np.ndarray | None) -> None:
        if self.enabled and frame is not None:
            self.cv2.imshow("roboloop teleop (front camera)", frame[:, :, ::-1])
            self.cv2.waitKey(1)

    def close(self) -> None:
        if self.enabled:
            self.cv2.destroyAllWindows()


def drive(task: str, source: str, episodes: int, seed: int = 0, env_kwargs: dict | None = None,
          wrappers: list | None = None, pad: str = "xbox", view: bool = True, teleop=None, env=None,
          log: Callable[[str], None] = print) -> tuple[list[Episode], dict]:
    """Run `episodes` episodes driven by `source` ('gamepad', 'keyboard', 'evdev' or 'expert').

    A person drives only while holding the deadman (else the arm holds still); their success/failure
    buttons end the episode with that label, reset truncates it. Returns (episodes, env spec).
    `teleop` and `env` replace the ones built from the arguments.
    """
    if env is None:
        env = make_env(task, env_kwargs or {}, wrappers, training=False, render_mode="rgb_array" if view else None)
    act_dim = env.action_space.shape[0]
    expert = None
    if source == "expert":
        from roboloop.sim import make_expert
        expert = make_expert(env, noise=0.0, seed=seed)
    elif teleop is None:
        from roboloop.hardware.gamepad import make_teleop
        teleop = make_teleop(source, act_dim, pad)
    screen = CameraView(view)
    recorded = []
    try:
        for ep in range(episodes):
            obs, _ = env.reset(seed=seed + ep)
            (expert or teleop).reset()
            rec = Episode(observations=[obs])
            done = False
            while not done:
                if expert is not None:
                    action, person = expert.act(), False
                    label = None
                else:
                    cmd = teleop.poll()
                    person = cmd.intervening
                    action = cmd.action if person else np.zeros(act_dim, np.float32)
                    action[-1] = cmd.action[-1]  # the gripper stays where the person left it
                    label = "success" if cmd.success else "failure" if cmd.failure else "reset" if cmd.reset else None
                obs, reward, terminated, truncated, info = env.step(action)
                success = bool(info.get("is_success", False))
                if label in ("success", "failure"):
                    terminated, success, reward = True, label == "success", float(label == "success")
                truncated = truncated or label == "reset"
                rec.observations.append(obs)
                rec.actions.append(np.asarray(action, np.float32))
                rec.rewards.append(float(reward))
                rec.terminated.append(bool(terminated))
                rec.truncated.append(bool(truncated and not terminated))
                rec.intervention.append(bool(person))
                done = terminated or truncated
                if view:
                    screen.show(env.render())
            rec.success = success
            recorded.append(rec)
            log(f"episode {ep + 1}/{episodes}: {len(rec.actions)} steps, {'success' if success else 'no success'}")
    finally:
        screen.close()
        spec = env_spec(env)
        env.close()
    return recorded, spec


def record(out: str, task: str, source: str, episodes: int, **kwargs) -> str:
    eps, spec = drive(task, source, episodes, **kwargs)
    path = save_demos(out, eps, spec)
    rate = np.mean([e.success for e in eps])
    kwargs.get("log", print)(f"saved {len(eps)} episodes ({sum(len(e.actions) for e in eps)} steps, "
                             f"success {rate:.0%}) to {path}")
    return str(path)
