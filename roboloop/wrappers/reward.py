"""The reward from a success detector that looks at the observation (a reward classifier on camera
frames, roboloop.policies.reward_classifier), in sim and on the robot alike.

Each step, `detector.success_probability(obs)` is compared with `detector.threshold`: the reward is 1.0
when it says success, else 0.0, and (with `terminate`) a detected success ends the episode, as the
task's own success does. The task's reward stays in `info["task_reward"]`; `info["is_success"]` is left
as the task reports it (in sim, the ground truth evaluations measure), so a detector's mistakes show.
"""
from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym


class SuccessDetector(Protocol):
    threshold: float

    def success_probability(self, obs: Any) -> float: ...

    def check_observation_space(self, space: Any, where: str = "the env") -> None: ...


class DetectorReward(gym.Wrapper):
    """reward = 1 if detector(obs) >= threshold else 0 (see the module docstring).

    info gains "task_reward" (the wrapped env's reward), "detector_probability" (float in [0, 1]) and
    "detector_success" (bool). The detector's observation space check runs here, so a detector of other
    cameras or image shapes is refused when the env is built, not at the first step.
    """

    def __init__(self, env: gym.Env, detector: SuccessDetector, terminate: bool = True):
        super().__init__(env)
        threshold = getattr(detector, "threshold", None)
        if threshold is None or not 0.0 < float(threshold) < 1.0:
            raise ValueError(f"threshold: the success detector has no decision threshold in (0, 1) "
                             f"(got {threshold!r}); is it trained?")
        detector.check_observation_space(env.observation_space)
        self.detector, self.terminate = detector, bool(terminate)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        p = float(self.detector.success_probability(obs))
        success = p >= self.detector.threshold
        info = {**info, "task_reward": reward, "detector_probability": p, "detector_success": success}
        return obs, float(success), bool(terminated or (self.terminate and success)), truncated, info
