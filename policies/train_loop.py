"""In-process SAC / RLPD training: env -> replay buffer -> learner, with evaluation, TensorBoard,
a progress bar and checkpoints that resume exactly.

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
from typing import Callable

import numpy as np
import torch
import yaml
from tqdm import tqdm

from roboloop.checkpoint import (Checkpoint, CheckpointError, SpecMismatchError, check_spec, load_checkpoint,
                                 save_checkpoint)
from roboloop.policies.config import TrainConfig, from_dict, to_dict
from roboloop.envs import env_spec, make_env, obs_layout
from roboloop.policies.evaluate import EvalResult, evaluate
from roboloop.policies.replay import ReplayBuffer, sample_rlpd, to_torch
from roboloop.policies.sac import SAC


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
    _load_agent_state(agent, ckpt.model, ckpt.path)
    return agent, cfg, ckpt.meta


def load_prior(ckpt: Checkpoint, agent: SAC, online: ReplayBuffer, demo: ReplayBuffer | None,
               networks: bool = True) -> dict[str, int]:
    """Fine-tuning from a trained run (`roboloop learn --init`): its networks, temperature and optimizer
    state (unless `networks` is False), and its replay as prior data: online transitions into `online`,
    demos into `demo`. Returns {buffer name: transitions added}."""
    if networks:
        _load_agent_state(agent, ckpt.model, ckpt.path)
    return {name: buf.extend_from_state(ckpt.replay[name])
            for name, buf in (("online", online), ("demo", demo)) if name in ckpt.replay and buf is not None}


def _load_agent_state(agent: SAC, model: dict, path: Path) -> None:
    try:
        agent.load_state_dict(model["agent"], strict=True)
        agent.load_optimizer_state(model["optim"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit this agent's networks: {e}") from None


def collect_demos(cfg: TrainConfig, buffer: ReplayBuffer, episodes: int, log: Callable[[str], None],
                  progress: bool = True) -> float:
    """Fill `buffer` with scripted-expert episodes (own env and seeds); returns their success rate."""
    from roboloop.sim import make_expert

    env = make_env(cfg.task, cfg.env, cfg.wrappers, training=False, success=cfg.success)
    expert = make_expert(env, noise=cfg.demo_noise, seed=cfg.seed + 7_919)
    successes = []
    for ep in tqdm(range(episodes), desc="scripted demos", leave=False, disable=not progress):
        obs, _ = env.reset(seed=cfg.seed + 1_000_000 + ep)
        expert.reset()
        done = False
        while not done:
            action = expert.act()
            next_obs, reward, terminated, truncated, info = env.step(action)
            buffer.add(obs, action, reward, next_obs, terminated, truncated)
            obs, done = next_obs, terminated or truncated
        successes.append(bool(info.get("is_success", False)))
    env.close()
    rate = float(np.mean(successes)) if successes else 0.0
    log(f"collected {episodes} scripted demos ({buffer.num_added} transitions, expert success {rate:.0%})")
    return rate


class Trainer:
    """One training run. `Trainer(cfg).run()` trains from scratch; `Trainer.resume(path)` continues."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path | None = None, progress: bool = True,
                 log: Callable[[str], None] = print, teleop=None):
        self.cfg, self.progress, self.log = cfg, progress, log
        torch.set_num_threads(cfg.torch_threads or os.cpu_count() or 1)
        self.run_dir = Path(run_dir) if run_dir else Path(cfg.run_dir) / \
            f"{cfg.task}-s{cfg.seed}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        self.env = make_env(cfg.task, cfg.env, cfg.wrappers, success=cfg.success)
        if teleop is None and cfg.teleop:
            from roboloop.hardware.gamepad import make_teleop
            teleop = make_teleop(cfg.teleop, self.env.action_space.shape[0], cfg.teleop_pad)
        if teleop is not None:  # outermost: the person's action replaces the policy's before anything else
            from roboloop.wrappers.intervention import InterventionWrapper
            self.env = InterventionWrapper(self.env, teleop)
        self.eval_env = make_env(cfg.task, cfg.env, cfg.wrappers, training=False, success=cfg.success)
        self.spec = env_spec(self.env)
        shapes, dtypes, act_dim = obs_layout(self.env)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.agent = build_agent(cfg, self.env)
        self.online = ReplayBuffer(shapes, dtypes, act_dim, cfg.replay_capacity)
        max_len = self.spec["max_episode_steps"] or 1_000
        self.demo_episodes = []
        if cfg.demo_file:
            from roboloop.dataset import load_demos
            self.demo_episodes, meta = load_demos(cfg.demo_file)
            try:
                check_spec(meta["env_spec"], self.spec)
            except SpecMismatchError as e:
                raise SpecMismatchError(f"demo file {cfg.demo_file} was recorded on another task: {e}") from None
        # RLPD demo buffer: scripted demos + recorded ones + (with a person in the loop) interventions
        demo_capacity = (cfg.demos * (max_len + 2) + sum(len(e.actions) + 1 for e in self.demo_episodes)
                         + (cfg.replay_capacity if teleop is not None else 0))
        self.demo = ReplayBuffer(shapes, dtypes, act_dim, demo_capacity + 2) if demo_capacity else None
        self.step = self.episode = self.updates = 0
        self.next_eval = cfg.eval_every if cfg.eval_every > 0 else None
        self.next_ckpt = cfg.checkpoint_every
        self.evals: list[tuple[int, float]] = []
        self.intervention_rates: list[tuple[int, float]] = []  # (step, share of the episode a person drove)
        self._resumed_env_rng: dict | None = None

    # --------------------------------------------------------------------------------- resume
    @classmethod
    def resume(cls, path: str | Path, steps: int | None = None, progress: bool = True,
               log: Callable[[str], None] = print) -> "Trainer":
        """Continue the run saved at `path` (optionally to a new total of `steps`)."""
        ckpt = load_checkpoint(path)
        cfg = from_dict(TrainConfig, ckpt.meta["config"])
        if steps is not None:
            cfg.steps = steps
        trainer = cls(cfg, run_dir=Path(path).parent, progress=progress, log=log)
        check_spec(ckpt.meta["env_spec"], trainer.spec)
        _load_agent_state(trainer.agent, ckpt.model, ckpt.path)
        torch.set_rng_state(ckpt.model["torch_rng"])
        trainer.rng.bit_generator.state = ckpt.meta["numpy_rng"]
        trainer._resumed_env_rng = ckpt.meta["env_rng"]
        c = ckpt.meta["counters"]
        if cfg.steps <= c["step"]:
            raise ValueError(f"checkpoint {path} is already at step {c['step']}; "
                             f"pass --steps larger than that to continue (got {cfg.steps})")
        trainer.step, trainer.episode, trainer.updates = c["step"], c["episode"], c["updates"]
        trainer.next_eval, trainer.next_ckpt = c["next_eval"], c["next_ckpt"]
        trainer.evals = [tuple(e) for e in ckpt.meta.get("evals", [])]
        trainer.online.load_state_dict(ckpt.replay["online"])
        if trainer.demo is not None:
            if "demo" not in ckpt.replay:
                raise CheckpointError(f"checkpoint {path} has no demo buffer but its config has demos={cfg.demos}")
            trainer.demo.load_state_dict(ckpt.replay["demo"])
        log(f"resumed {path} at step {trainer.step} ({trainer.updates} updates, {len(trainer.online)} transitions)")
        return trainer

    def save(self) -> Path:
        path = self.run_dir / "checkpoint"
        meta = {
            "config": to_dict(self.cfg), "env_spec": self.spec,
            "counters": {"step": self.step, "episode": self.episode, "updates": self.updates,
                         "next_eval": self.next_eval, "next_ckpt": self.next_ckpt},
            "numpy_rng": self.rng.bit_generator.state,
            "env_rng": self.env.unwrapped.np_random.bit_generator.state,
            "evals": self.evals,
        }
        model = {"agent": self.agent.state_dict(), "optim": self.agent.optimizer_state(),
                 "torch_rng": torch.get_rng_state()}
        replay = {"online": self.online.state_dict()}
        if self.demo is not None:
            replay["demo"] = self.demo.state_dict()
        return save_checkpoint(path, meta, model, replay)

    # ------------------------------------------------------------------------------- learning
    def _sample(self) -> dict:
        return to_torch(sample_rlpd(self.online, self.demo, self.cfg.sac.batch_size, self.rng))

    def _evaluate(self) -> EvalResult:
        result = evaluate(lambda o: self.agent.act(o, deterministic=True), self.eval_env,
                          self.cfg.eval_episodes, seed=self.cfg.seed + 500_000)
        self.evals.append((self.step, result.success_rate))
        return result

    def run(self) -> TrainResult:
        cfg = self.cfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        from torch.utils.tensorboard import SummaryWriter
        tb = SummaryWriter(str(self.run_dir / "tb"))
        if self.demo is not None and self.demo.num_added == 0:
            if cfg.demos:
                collect_demos(cfg, self.demo, cfg.demos, self.log, self.progress)
            if self.demo_episodes:
                from roboloop.dataset import add_to_buffer
                n = add_to_buffer(self.demo_episodes, self.demo)
                self.log(f"loaded {len(self.demo_episodes)} recorded demos ({n} transitions) from {cfg.demo_file}")
        if self._resumed_env_rng is None:
            obs, _ = self.env.reset(seed=cfg.seed)
        else:
            self.env.unwrapped.np_random.bit_generator.state = self._resumed_env_rng
            obs, _ = self.env.reset()
        ep_return, ep_len, recent = 0.0, 0, []
        last_eval: EvalResult | None = None
        t0 = time.time()
        window_t, window_updates = t0, self.updates
        ups = 0.0
        bar = tqdm(total=cfg.steps, initial=min(self.step, cfg.steps), desc=f"train {cfg.task}",
                   disable=not self.progress, dynamic_ncols=True, unit="step")
        while True:
            if self.step < cfg.learning_starts:
                action = self.rng.uniform(-1.0, 1.0, size=self.env.action_space.shape).astype(np.float32)
            else:
                action = self.agent.act(obs)
            next_obs, reward, terminated, truncated, info = self.env.step(action)
            if "intervention" in info:  # the person drove: learn their action, in both buffers (RLPD)
                action = info["intervention"]
                self.demo.add(obs, action, reward, next_obs, terminated, truncated)
            self.online.add(obs, action, reward, next_obs, terminated, truncated)
            obs = next_obs
            self.step += 1
            ep_return += float(reward)
            ep_len += 1
            bar.update(1)

            if self.step >= cfg.learning_starts:
                metrics = self.agent.update([self._sample() for _ in range(cfg.sac.utd_ratio)])
                self.updates += cfg.sac.utd_ratio
                if self.updates % (100 * cfg.sac.utd_ratio) == 0:
                    for k, v in metrics.items():
                        tb.add_scalar(f"learner/{k}", float(v), self.step)

            if self.next_eval is not None and self.step >= self.next_eval:
                self.next_eval += cfg.eval_every
                last_eval = self._evaluate()
                tb.add_scalar("eval/success_rate", last_eval.success_rate, self.step)
                tb.add_scalar("eval/return", last_eval.mean_return, self.step)
                (tqdm.write if self.progress else self.log)(f"step {self.step}: eval {last_eval}")

            if terminated or truncated:
                self.episode += 1
                recent = (recent + [bool(info.get("is_success", False))])[-20:]
                tb.add_scalar("train/episode_return", ep_return, self.step)
                tb.add_scalar("train/episode_length", ep_len, self.step)
                tb.add_scalar("train/success", float(recent[-1]), self.step)
                if "intervention_rate" in info:
                    self.intervention_rates.append((self.step, info["intervention_rate"]))
                    tb.add_scalar("train/intervention_rate", info["intervention_rate"], self.step)
                now = time.time()
                if now - window_t > 1.0:
                    ups = (self.updates - window_updates) / (now - window_t)
                    window_t, window_updates = now, self.updates
                    tb.add_scalar("perf/updates_per_s", ups, self.step)
                human = {"human": f"{info['intervention_rate']:.0%}"} if "intervention_rate" in info else {}
                bar.set_postfix(eval=f"{last_eval.success_rate:.0%}" if last_eval else "-",
                                train=f"{np.mean(recent):.0%}", ups=f"{ups:.0f}", **human, refresh=False)
                ep_return, ep_len = 0.0, 0
                if self.step >= self.next_ckpt:
                    self.next_ckpt += cfg.checkpoint_every
                    self.save()
                if self.step >= cfg.steps or (cfg.stop_at_success > 0 and last_eval is not None
                                              and last_eval.success_rate >= cfg.stop_at_success):
                    break
                obs, _ = self.env.reset()
        bar.close()
        if last_eval is None or self.evals[-1][0] != self.step:
            last_eval = self._evaluate()
            tb.add_scalar("eval/success_rate", last_eval.success_rate, self.step)
        ckpt = self.save()
        tb.close()
        wall = time.time() - t0
        self.log(f"{cfg.task}: {self.step} steps, {self.updates} updates in {wall:.0f}s; eval {last_eval}")
        self.log(f"checkpoint: {ckpt}")
        return TrainResult(self.run_dir, ckpt, last_eval, self.step, self.updates, wall, list(self.evals))
