"""The training loop's callbacks (see `Callback` in policies/training.py for when each hook runs):
evaluation, checkpoints, TensorBoard and progress. Each is small and does one thing.

`loop.step` counts env steps (taken in-process, or received from actors); x axes use it.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from roboloop.policies.evaluate import EvalResult, evaluate
from roboloop.policies.training import Callback, TrainingLoop


class EvalCallback(Callback):
    """Evaluate the deterministic policy every `every` steps (0: only at the end) on `env`, with seeds
    seed, seed+1, ...; stops training at an eval of at least `stop_at_success` (> 0).

    after_first_update: wait for the first update (a learner without data has nothing to show).
    at_episode_end: evaluate only between training episodes (when `env` is also the training env).
    """

    def __init__(self, env: gym.Env, every: int, episodes: int, seed: int, stop_at_success: float = 0.0,
                 after_first_update: bool = False, at_episode_end: bool = False):
        self.env, self.every, self.episodes, self.seed = env, every, episodes, seed
        self.stop_at_success, self.after_first_update, self.at_episode_end = stop_at_success, after_first_update, at_episode_end
        self.next_at: int | None = every if every > 0 else None

    def start_after(self, step: int) -> None:
        """Schedule the next evaluation after `step` (a run continued from there)."""
        self.next_at = (step // self.every + 1) * self.every if self.every > 0 else None

    def evaluate(self, loop: TrainingLoop) -> EvalResult:
        result = evaluate(lambda o: loop.agent.act(o, deterministic=True), self.env, self.episodes, self.seed)
        loop.evals.append((loop.step, result.success_rate))
        loop.last_eval = result
        for cb in loop.callbacks:
            cb.on_eval(loop, result)
        if self.stop_at_success > 0 and result.success_rate >= self.stop_at_success:
            loop.stop_requested = True
        return result

    def on_step(self, loop: TrainingLoop) -> None:
        if self.next_at is None or loop.step < self.next_at:
            return
        if (self.after_first_update and loop.updates == 0) or (self.at_episode_end and not loop.at_boundary):
            return
        self.next_at += self.every
        self.evaluate(loop)

    def on_end(self, loop: TrainingLoop) -> None:
        if not loop.evals or loop.evals[-1][0] != loop.step:
            self.evaluate(loop)


class CheckpointCallback(Callback):
    """Call `save` every `every` steps, at the first boundary the loop allows (an episode end in-process),
    and once at the end; `loop.checkpoint` is the last path written."""

    def __init__(self, save: Callable[[], Path], every: int):
        self.save, self.every = save, every
        self.next_at = every

    def start_after(self, step: int) -> None:
        self.next_at = (step // self.every + 1) * self.every

    def on_step(self, loop: TrainingLoop) -> None:
        if loop.at_boundary and loop.step >= self.next_at:
            self.next_at += self.every
            loop.checkpoint = self.save()

    def on_end(self, loop: TrainingLoop) -> None:
        loop.checkpoint = self.save()


class TensorBoardCallback(Callback):
    """Scalars to <run>/tb: learner losses every 100 updates, episodes, evaluations, throughput, and
    whatever the loop's owner passes to `loop.record(key, value)`."""

    def __init__(self, log_dir: Path, perf_every_s: float = 2.0):
        self.log_dir, self.perf_every_s = log_dir, perf_every_s
        self.tb = None

    def on_start(self, loop: TrainingLoop) -> None:
        from torch.utils.tensorboard import SummaryWriter
        self.tb = SummaryWriter(str(self.log_dir))
        self._window = (time.monotonic(), loop.updates, loop.step)

    def scalar(self, key: str, value: float, step: int) -> None:
        if self.tb is not None:
            self.tb.add_scalar(key, float(value), step)

    def on_update(self, loop: TrainingLoop, metrics: dict) -> None:
        utd = loop.cfg.sac.utd_ratio
        if loop.updates % (100 * utd) == 0:
            for k, v in metrics.items():
                self.scalar(f"learner/{k}", v, loop.step)

    def on_episode_end(self, loop: TrainingLoop, episode: dict) -> None:
        self.scalar("train/episode_return", episode.get("return", 0.0), loop.step)
        self.scalar("train/success", float(bool(episode.get("success"))), loop.step)
        for key in ("length", "intervention_rate"):
            if key in episode:
                self.scalar(f"train/{'episode_length' if key == 'length' else key}", episode[key], loop.step)

    def on_eval(self, loop: TrainingLoop, result: EvalResult) -> None:
        self.scalar("eval/success_rate", result.success_rate, loop.step)
        self.scalar("eval/return", result.mean_return, loop.step)

    def on_step(self, loop: TrainingLoop) -> None:
        now = time.monotonic()
        t, updates, steps = self._window
        if now - t >= self.perf_every_s:
            loop.perf = {"updates_per_s": (loop.updates - updates) / (now - t),
                         "steps_per_s": (loop.step - steps) / (now - t)}
            self._window = (now, loop.updates, loop.step)
            for k, v in loop.perf.items():
                self.scalar(f"perf/{k}", v, loop.step)

    def on_end(self, loop: TrainingLoop) -> None:
        if self.tb is not None:
            self.tb.close()


class ProgressCallback(Callback):
    """A tqdm bar over `loop.cfg.steps` with eval and train success, updates/s and the owner's
    `loop.status` fields; evaluations are printed above it (or logged, without a bar)."""

    def __init__(self, desc: str, enabled: bool, log: Callable[[str], None]):
        self.desc, self.enabled, self.log = desc, enabled, log
        self.bar: tqdm | None = None
        self.recent: list[bool] = []

    def on_start(self, loop: TrainingLoop) -> None:
        self.bar = tqdm(total=loop.cfg.steps, initial=min(loop.step, loop.cfg.steps), desc=self.desc, unit="step",
                        disable=not self.enabled, dynamic_ncols=True)
        self._shown = min(loop.step, loop.cfg.steps)

    def on_episode_end(self, loop: TrainingLoop, episode: dict) -> None:
        self.recent = (self.recent + [bool(episode.get("success"))])[-20:]

    def on_eval(self, loop: TrainingLoop, result: EvalResult) -> None:
        (tqdm.write if self.enabled else self.log)(f"step {loop.step}, {loop.updates} updates: eval {result}")

    def on_step(self, loop: TrainingLoop) -> None:
        shown = min(loop.step, loop.cfg.steps)
        if shown != self._shown:
            self.bar.update(shown - self._shown)
            self._shown = shown
        if loop.at_boundary:
            self.bar.set_postfix(eval=f"{loop.last_eval.success_rate:.0%}" if loop.last_eval else "-",
                                 train=f"{np.mean(self.recent):.0%}" if self.recent else "-",
                                 ups=f"{loop.perf.get('updates_per_s', 0.0):.0f}", **loop.status, refresh=False)

    def on_end(self, loop: TrainingLoop) -> None:
        self.bar.close()
