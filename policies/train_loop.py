"""In-process SAC / RLPD training (`roboloop train`): an env in this process feeds the training loop
(policies/training.py), with evaluation, TensorBoard, a progress bar and checkpoints that resume exactly.

Exact resume: every source of randomness (numpy generator for warm-up actions and batch sampling,
torch RNG, the env's own generator) is saved with the networks, optimizers and replay buffers.
Checkpoints are written at episode ends, so no half episode has to be restored, and a run always
ends at the first episode end at or after `steps`.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Union

import gymnasium as gym
import numpy as np
import torch
import yaml

from roboloop.checkpoint import Checkpoint, check_spec, load_checkpoint, save_checkpoint
from roboloop.envs import env_spec, make_env, obs_layout
from roboloop.policies.allocator import retain_freed_memory
from roboloop.policies.actor import Actor
from roboloop.policies.callbacks import CheckpointCallback, EvalCallback, ProgressCallback, TensorBoardCallback
from roboloop.policies.config import TrainConfig, from_dict, to_dict
from roboloop.policies.evaluate import EvalResult
from roboloop.policies.reward_classifier import classifier_reward
from roboloop.policies.sac import SAC, actor_arch
from roboloop.policies.training import (Layout, TrainingLoop, collect_demos, load_agent_state,  # noqa: F401
                                        load_prior)

EnvSource = Union[gym.Env, Callable[[], gym.Env]]

# kept under their former names for callers of this module
_load_agent_state = load_agent_state


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path
    final_eval: EvalResult
    steps: int
    updates: int
    wall_s: float
    evals: list[tuple[int, float]] = field(default_factory=list)   # (env step, eval success rate)


def build_agent(cfg: TrainConfig, env) -> SAC:
    shapes, _, act_dim = obs_layout(env)
    return SAC(shapes, act_dim, cfg.sac)


def load_agent(source: str | Path | Checkpoint, env) -> tuple[SAC, TrainConfig, dict]:
    """The agent saved at `source` (a checkpoint folder, or one already loaded), after checking it was
    trained on `env`'s spec. Returns (agent, cfg, meta)."""
    ckpt = source if isinstance(source, Checkpoint) else load_checkpoint(source, load_replay=False)
    check_spec(ckpt.meta["env_spec"], env_spec(env))
    cfg = from_dict(TrainConfig, ckpt.meta["config"])
    agent = build_agent(cfg, env)
    load_agent_state(agent, ckpt.model, ckpt.path)
    return agent, cfg, ckpt.meta


def load_actor(source: str | Path | Checkpoint, spec: dict | None = None) -> Actor:
    """The actor saved at `source`, built from the checkpoint's env spec and architecture alone (no
    critics, no optimizers); with `spec`, refused unless it matches the checkpoint's."""
    ckpt = source if isinstance(source, Checkpoint) else load_checkpoint(source, load_replay=False)
    if spec is not None:
        check_spec(ckpt.meta["env_spec"], spec)
    cfg = from_dict(TrainConfig, ckpt.meta["config"])
    actor = Actor.from_spec(ckpt.meta["env_spec"], actor_arch(cfg.sac))
    saved = ckpt.model["agent"]
    try:   # the agent's checkpoint stores the actor's tensors under the actor's own names
        actor.load_actor_state({k: saved[k] for k in actor.state_dict()})
    except KeyError as e:
        raise ValueError(f"checkpoint {ckpt.path} has no actor tensor {e}") from None
    return actor.eval()


class Trainer:
    """One training run. `Trainer(cfg).run()` trains from scratch; `Trainer.resume(path)` continues.

    env: the training env, ready-made or a factory (default: cfg.task with cfg.env and cfg.wrappers).
    eval_env: the evaluation env (default: the factory's, or cfg.task's when no env is given; with a
    ready-made env and none given, evaluation runs on that env between training episodes).
    teleop: a person who may intervene (default: cfg.teleop's device, if any).
    """

    in_process = True   # as a source of the training loop: the env is stepped here

    def __init__(self, cfg: TrainConfig, run_dir: str | Path | None = None, progress: bool = True,
                 log: Callable[[str], None] = print, teleop=None, env: EnvSource | None = None,
                 eval_env: gym.Env | None = None):
        self.cfg, self.progress, self.log = cfg, progress, log
        torch.set_num_threads(cfg.torch_threads or os.cpu_count() or 1)
        retain_freed_memory()   # an eager update otherwise page-faults on most of its tensors
        self.run_dir = Path(run_dir) if run_dir else Path(cfg.run_dir) / \
            f"{cfg.task}-s{cfg.seed}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        shared_eval = False
        if env is None:
            self.env = make_env(cfg.task, cfg.env, cfg.wrappers, success=cfg.success)
            eval_env = eval_env or make_env(cfg.task, cfg.env, cfg.wrappers, training=False,
                                             success=cfg.success)
        elif isinstance(env, gym.Env):
            self.env = env
            shared_eval = eval_env is None
        else:
            self.env = env()
            eval_env = eval_env or env()
        self.env = classifier_reward(self.env, cfg.reward_classifier)
        if teleop is None and cfg.teleop:
            from roboloop.hardware.gamepad import make_teleop
            teleop = make_teleop(cfg.teleop, self.env.action_space.shape[0], cfg.teleop_pad)
        if teleop is not None:  # outermost: the person's action replaces the policy's before anything else
            from roboloop.wrappers.intervention import InterventionWrapper
            self.env = InterventionWrapper(self.env, teleop)
        self.eval_env = self.env if shared_eval else eval_env
        self.spec = env_spec(self.env)
        self.loop = TrainingLoop(cfg, self.spec, Layout(*obs_layout(self.env)), interventions=teleop is not None,
                                 updates_per_step=1.0, log=log, progress=progress)
        self.eval_cb = EvalCallback(self.eval_env, cfg.eval_every, cfg.eval_episodes, cfg.seed + 500_000,
                                    cfg.stop_at_success, at_episode_end=shared_eval)
        self.ckpt_cb = CheckpointCallback(self.save, cfg.checkpoint_every)
        self.loop.callbacks = [self.eval_cb, TensorBoardCallback(self.run_dir / "tb", perf_every_s=1.0),
                               ProgressCallback(f"train {cfg.task}", progress, log), self.ckpt_cb]
        self._resumed_env_rng: dict | None = None
        self._obs = None
        self._ep_return, self._ep_len = 0.0, 0

    # the loop's state, under the names this class has always had
    agent = property(lambda self: self.loop.agent)
    online = property(lambda self: self.loop.online)
    demo = property(lambda self: self.loop.demo)
    rng = property(lambda self: self.loop.rng)
    evals = property(lambda self: self.loop.evals)
    intervention_rates = property(lambda self: self.loop.intervention_rates)
    step = property(lambda self: self.loop.step)
    updates = property(lambda self: self.loop.updates)
    episode = property(lambda self: self.loop.episode)

    # --------------------------------------------------------------------------------- resume
    @classmethod
    def resume(cls, path: str | Path, steps: int | None = None, progress: bool = True,
               log: Callable[[str], None] = print, env: EnvSource | None = None,
               eval_env: gym.Env | None = None) -> "Trainer":
        """Continue the run saved at `path` (optionally to a new total of `steps`)."""
        from roboloop.checkpoint import CheckpointError
        ckpt = load_checkpoint(path)
        cfg = from_dict(TrainConfig, ckpt.meta["config"])
        if steps is not None:
            cfg.steps = steps
        trainer = cls(cfg, run_dir=Path(path).parent, progress=progress, log=log, env=env, eval_env=eval_env)
        check_spec(ckpt.meta["env_spec"], trainer.spec)
        loop = trainer.loop
        load_agent_state(loop.agent, ckpt.model, ckpt.path)
        torch.set_rng_state(ckpt.model["torch_rng"])
        loop.rng.bit_generator.state = ckpt.meta["numpy_rng"]
        trainer._resumed_env_rng = ckpt.meta["env_rng"]
        c = ckpt.meta["counters"]
        if cfg.steps <= c["step"]:
            raise ValueError(f"checkpoint {path} is already at step {c['step']}; "
                             f"pass --steps larger than that to continue (got {cfg.steps})")
        loop.step, loop.episode, loop.updates = c["step"], c["episode"], c["updates"]
        trainer.eval_cb.next_at, trainer.ckpt_cb.next_at = c["next_eval"], c["next_ckpt"]
        loop.evals[:] = [tuple(e) for e in ckpt.meta.get("evals", [])]
        loop.online.load_state_dict(ckpt.replay["online"])
        if loop.demo is not None:
            if "demo" not in ckpt.replay:
                raise CheckpointError(f"checkpoint {path} has no demo buffer but its config has demos={cfg.demos}")
            loop.demo.load_state_dict(ckpt.replay["demo"])
        log(f"resumed {path} at step {loop.step} ({loop.updates} updates, {len(loop.online)} transitions)")
        return trainer

    def save(self) -> Path:
        loop = self.loop
        meta = {
            "config": to_dict(self.cfg), "env_spec": self.spec,
            "counters": {"step": loop.step, "episode": loop.episode, "updates": loop.updates,
                         "next_eval": self.eval_cb.next_at, "next_ckpt": self.ckpt_cb.next_at},
            "numpy_rng": loop.rng.bit_generator.state,
            "env_rng": self.env.unwrapped.np_random.bit_generator.state,
            "evals": loop.evals,
        }
        model = {"agent": loop.agent.state_dict(), "optim": loop.agent.optimizer_state(),
                 "torch_rng": torch.get_rng_state()}
        replay = {"online": loop.online.state_dict()}
        if loop.demo is not None:
            replay["demo"] = loop.demo.state_dict()
        return save_checkpoint(self.run_dir / "checkpoint", meta, model, replay)

    # ------------------------------------------------------------------------ the loop's source
    def collect(self, loop: TrainingLoop, wait_ms: int) -> list[dict]:
        """One env step: a uniform random action before learning_starts, else a sample of the policy."""
        if loop.step < self.cfg.learning_starts:
            action = loop.rng.uniform(-1.0, 1.0, size=self.env.action_space.shape).astype(np.float32)
        else:
            action = loop.agent.act(self._obs)
        next_obs, reward, terminated, truncated, info = self.env.step(action)
        intervened = "intervention" in info
        if intervened:  # the person drove: learn their action, in both buffers (RLPD)
            action = info["intervention"]
        loop.add(self._obs, action, reward, next_obs, terminated, truncated, intervened)
        self._obs = next_obs
        self._ep_return += float(reward)
        self._ep_len += 1
        loop.at_boundary = bool(terminated or truncated)
        if not loop.at_boundary:
            return []
        episode = {"return": self._ep_return, "length": self._ep_len, "success": bool(info.get("is_success", False))}
        if "intervention_rate" in info:
            episode["intervention_rate"] = info["intervention_rate"]
        loop.status = {"human": f"{info['intervention_rate']:.0%}"} if "intervention_rate" in info else {}
        self._ep_return, self._ep_len = 0.0, 0
        return [episode]

    def next_round(self, loop: TrainingLoop) -> None:
        if loop.at_boundary:
            self._obs, _ = self.env.reset()

    def run(self) -> TrainResult:
        cfg = self.cfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        if self._resumed_env_rng is None:
            self._obs, _ = self.env.reset(seed=cfg.seed)
        else:
            self.env.unwrapped.np_random.bit_generator.state = self._resumed_env_rng
            self._obs, _ = self.env.reset()
        t0 = time.time()
        final_eval = self.loop.run(self)
        wall = time.time() - t0
        self.log(f"{cfg.task}: {self.step} steps, {self.updates} updates in {wall:.0f}s; eval {final_eval}")
        self.log(f"checkpoint: {self.loop.checkpoint}")
        return TrainResult(self.run_dir, self.loop.checkpoint, final_eval, self.step, self.updates, wall,
                           list(self.evals))
