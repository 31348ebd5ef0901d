"""Observation shaping: state history, the policy's own recent commands, image crop/resize, and the end
effector's relative frame."""
from __future__ import annotations

from collections import deque

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces


class HistoryStack(gym.Wrapper):
    """Concatenates the last `length` states (oldest first): state (D,) -> (length * D,). Camera images
    are stacked along channels too when `images` is true: (H, W, 3) -> (H, W, 3 * length)."""

    def __init__(self, env: gym.Env, length: int = 2, images: bool = False):
        super().__init__(env)
        if int(length) != length or length < 1:
            raise ValueError(f"history.length must be a whole number >= 1, got {length}")
        self.length, self.images = int(length), bool(images)
        self.keys = [k for k in env.observation_space.spaces if k == "state" or self.images]
        new = dict(env.observation_space.spaces)
        for k in self.keys:
            s = new[k]
            new[k] = spaces.Box(np.concatenate([s.low] * self.length, axis=-1),
                                np.concatenate([s.high] * self.length, axis=-1), dtype=s.dtype)
        self.observation_space = spaces.Dict(new)
        self.frames = {k: deque(maxlen=self.length) for k in self.keys}

    def _stacked(self, obs):
        return {**obs, **{k: np.concatenate(list(self.frames[k]), axis=-1) for k in self.keys}}

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        for k in self.keys:
            self.frames[k].extend([obs[k]] * self.length)
        return self._stacked(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        for k in self.keys:
            self.frames[k].append(obs[k])
        return self._stacked(obs), reward, terminated, truncated, info


class ActionHistory(gym.Wrapper):
    """Appends the last `length` actions sent through this wrapper (oldest first) to the state:
    state (D,) -> (D + length * A,), A the action dimension, in the normalized action units.

    Under an unknown action delay a memoryless policy cannot tell which of its commands are still on
    their way to the robot; with them in its observation it can (a delay of k steps needs length >= k).
    The history records what was commanded at this point of the stack: placed last (next to the
    policy), that is the policy's action, or the person's while they intervene (the intervention
    wrapper sits outside the stack). It starts at zero after each reset. A non-finite action goes on
    unchanged (the safety envelope turns it into a stop) and is recorded as zeros, so the observation
    stays finite.
    """

    def __init__(self, env: gym.Env, length: int = 2):
        super().__init__(env)
        if int(length) != length or length < 1:
            raise ValueError(f"action_history.length must be a whole number >= 1, got {length}")
        act = env.action_space
        if not isinstance(act, spaces.Box) or len(act.shape) != 1:
            raise ValueError(f"action_history needs a 1-D Box action space, got {act}")
        state = env.observation_space.spaces.get("state") if isinstance(env.observation_space, spaces.Dict) else None
        if state is None:
            raise ValueError("action_history needs a Dict observation with a 'state' key")
        self.length, self.act_dim = int(length), int(act.shape[0])
        new = dict(env.observation_space.spaces)
        new["state"] = spaces.Box(np.concatenate([state.low] + [act.low.astype(state.dtype)] * self.length),
                                  np.concatenate([state.high] + [act.high.astype(state.dtype)] * self.length),
                                  dtype=state.dtype)
        self.observation_space = spaces.Dict(new)
        self.actions: deque = deque(maxlen=self.length)

    def _with_history(self, obs):
        state = obs["state"]
        return {**obs, "state": np.concatenate([state, *self.actions]).astype(state.dtype, copy=False)}

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.actions.extend([np.zeros(self.act_dim, np.float32)] * self.length)
        return self._with_history(obs), info

    def step(self, action):
        a = np.asarray(action, dtype=np.float32).reshape(-1)
        self.actions.append(a.copy() if np.all(np.isfinite(a)) else np.zeros(self.act_dim, np.float32))
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._with_history(obs), reward, terminated, truncated, info


class ImageCropResize(gym.ObservationWrapper):
    """Crops every camera image to `crop` = [top, left, bottom, right] (fractions of the frame), then
    resizes to size x size (OpenCV area interpolation)."""

    def __init__(self, env: gym.Env, size: int = 96, crop: tuple[float, ...] = (0.0, 0.0, 1.0, 1.0)):
        super().__init__(env)
        if len(crop) != 4 or not (0 <= crop[0] < crop[2] <= 1 and 0 <= crop[1] < crop[3] <= 1):
            raise ValueError(f"image_crop_resize.crop must be [top, left, bottom, right] fractions with "
                             f"top < bottom and left < right, got {list(crop)}")
        if int(size) != size or size < 8:
            raise ValueError(f"image_crop_resize.size must be a whole number >= 8 px, got {size}")
        self.size, self.crop = int(size), tuple(float(c) for c in crop)
        self.cams = [k for k, s in env.observation_space.spaces.items() if k != "state" and len(s.shape) == 3]
        new = dict(env.observation_space.spaces)
        for k in self.cams:
            new[k] = spaces.Box(0, 255, (self.size, self.size, new[k].shape[-1]), np.uint8)
        self.observation_space = spaces.Dict(new)

    def observation(self, obs):
        out = dict(obs)
        for k in self.cams:
            h, w = obs[k].shape[:2]
            t, l, b, r = self.crop
            img = obs[k][int(t * h):int(b * h), int(l * w):int(r * w)]
            out[k] = cv2.resize(img, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return out


class RelativeFrame(gym.Wrapper):
    """Absolute positions in the state (ee_*, cube_*, goal_* x/y/z) become relative to the end effector's
    position at reset, as SERL's RelativeFrame: a policy then does not depend on where the robot was
    homed. Differences (cube_minus_ee_*) are frame-free and stay as they are."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        spec = env.get_wrapper_attr("task_spec")()["observation"]["state"]   # an adapted env's spec too
        names = spec["names"]
        try:
            self.ee = [names.index(f"ee_{a}") for a in "xyz"]
        except ValueError:
            raise ValueError("relative_frame needs ee_x, ee_y, ee_z in the state") from None
        self.cols = [[names.index(f"{p}_{a}") for a in "xyz"] for p in ("ee", "cube", "goal")
                     if f"{p}_x" in names]
        self.origin = np.zeros(3, np.float32)

    def _relative(self, obs):
        state = obs["state"].copy()
        for cols in self.cols:
            state[cols] -= self.origin
        return {**obs, "state": state}

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.origin = obs["state"][self.ee].copy()
        return self._relative(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._relative(obs), reward, terminated, truncated, info
