"""One actor loop for every env: a sim task or the robot (`RobotEnv`), each with its wrapper stack.

    loop = ActorLoop(env, policy.act, sink)       # sink(step, episode): ActorClient.push, ...
    loop.run(steps=1000, stop=event.is_set)

Each step: the policy acts on the observation, the env steps (an `InterventionWrapper` in the stack
swaps in the person's action and reports it in info["intervention"]), and the transition goes to the
sink with the action that was executed. A `RobotFault` (the robot stopped on a missing, stale or
malformed input) is reported, cuts the transition chain there and starts a new episode.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from roboloop.hardware.robot_env import RobotFault
from roboloop.policies.transport.batch import Step
from roboloop.wrappers.intervention import InterventionWrapper


Policy = Callable[[dict[str, np.ndarray], bool], np.ndarray]
Sink = Callable[[Step, "dict[str, Any] | None"], None]   # the transport's Step: one transition


def _find(env: gym.Env, kind: type) -> gym.Env | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, kind):
            return env
        env = env.env
    return None


class ActorLoop:
    """Steps `env` with `policy(obs, deterministic) -> action`; every transition goes to `sink(transition,
    episode)`, where episode is None or, on the last step of an episode, {"return", "success"}.

    Hooks (all optional): on_step(loop) after every step, on_episode(loop, success) when an episode ends,
    on_reset(loop) after every reset, on_fault(loop, why) after a RobotFault.
    """

    def __init__(self, env: gym.Env, policy: Policy, sink: Sink, deterministic: bool = False, seed: int | None = None,
                 on_step: Callable[["ActorLoop"], None] | None = None,
                 on_episode: Callable[["ActorLoop", bool], None] | None = None,
                 on_reset: Callable[["ActorLoop"], None] | None = None,
                 on_fault: Callable[["ActorLoop", str], None] | None = None, fault_pause_s: float = 0.1):
        self.env, self.policy, self.sink, self.deterministic, self.seed = env, policy, sink, deterministic, seed
        self.on_step, self.on_episode, self.on_reset, self.on_fault = on_step, on_episode, on_reset, on_fault
        self.fault_pause_s = fault_pause_s
        self.steps = self.episodes = self.person_steps = self.faults = 0
        self.t = 0                     # step within the episode
        self.ep_return, self.ep_person = 0.0, 0
        self.recent: deque[bool] = deque(maxlen=20)
        self.last_fault = ""
        self.obs: dict[str, np.ndarray] | None = None
        self.person = _find(env, InterventionWrapper)

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.recent)) if self.recent else 0.0

    def run(self, steps: int = 0, stop: Callable[[], bool] = lambda: False) -> None:
        """Step until `steps` env steps (0: no limit) or `stop()`."""
        target = self.steps + steps
        while not stop() and (steps <= 0 or self.steps < target):
            try:
                if self.obs is None:
                    self._reset()
                self._step()
            except RobotFault as e:
                self.faults += 1
                self.last_fault = str(e)
                self.obs = None   # the next observation is unknown: no transition spans the fault
                if self.on_fault:
                    self.on_fault(self, str(e))
                time.sleep(self.fault_pause_s)

    def _reset(self) -> None:
        seed, self.seed = self.seed, None
        self.obs, _ = self.env.reset(seed=seed)
        self.t, self.ep_return, self.ep_person = 0, 0.0, 0
        if self.on_reset:
            self.on_reset(self)

    def _step(self) -> None:
        obs = self.obs
        # Ask the person first: while they drive the policy is not run (it would only delay their command).
        cmd = self.person.poll() if self.person is not None else None
        if cmd is not None and cmd.intervening:
            action = cmd.action.copy()
        else:
            action = np.asarray(self.policy(obs, self.deterministic), dtype=np.float32)
        next_obs, reward, terminated, truncated, info = self.env.step(action)
        person = "intervention" in info
        if person:
            action = np.asarray(info["intervention"], dtype=np.float32)
        self.steps += 1
        self.t += 1
        self.person_steps += int(person)
        self.ep_person += int(person)
        self.ep_return += float(reward)
        done = bool(terminated or truncated)
        episode = None
        if done:
            success = bool(info.get("is_success", False))
            self.episodes += 1
            self.recent.append(success)
            episode = {"return": self.ep_return, "success": success}   # the transport's episode summary
        self.sink(Step(obs, action, float(reward), next_obs, bool(terminated), bool(truncated), person), episode)
        self.obs = None if done else next_obs
        if self.on_step:
            self.on_step(self)
        if done and self.on_episode:
            self.on_episode(self, episode["success"])
