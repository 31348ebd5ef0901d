"""The one training loop: SAC/RLPD on experience from an env in this process (`roboloop train`) or from
actors over the transport (`roboloop learn`).

    loop = TrainingLoop(cfg, spec, layout, interventions=True, updates_per_step=1.0)
    loop.callbacks = [EvalCallback(...), TensorBoardCallback(...), ProgressCallback(...), CheckpointCallback(...)]
    loop.run(source)       # source: an ExperienceSource (the Trainer's env, the Learner's socket)

Each round: the source adds new transitions (`loop.add`, `loop.add_batch`) and reports finished
episodes; the agent makes one update call (utd_ratio critic steps + one actor step) while the update
budget allows, updates_per_step calls per env step after learning_starts; then the callbacks run
(evaluation, TensorBoard, progress, checkpoints). Training ends at a boundary the source allows (an
episode end in-process) once `steps` are reached and the budget is spent, or when an evaluation
reached stop_at_success.

Buffers (RLPD): `online` holds every transition; `demo` holds scripted-expert demos (`demos`), recorded
demos (`demo_file`) and every step a person drove (interventions), and half of each batch comes from it.
Optionally the actor is warm-started by behaviour cloning on the demo buffer (`demo_bc_updates`) and keeps
a behaviour-cloning term on the demo rows (`sac.bc_weight`, policies/sac.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch
from tqdm import tqdm

from roboloop.checkpoint import Checkpoint, CheckpointError, SpecMismatchError, check_spec
from roboloop.policies.config import TrainConfig
from roboloop.policies.behaviour_cloning import distill_actor
from roboloop.policies.encoders import replay_storage
from roboloop.policies.evaluate import EvalResult
from roboloop.policies.replay import ReplayBuffer, sample_rlpd, to_torch
from roboloop.policies.reward_classifier import classifier_reward
from roboloop.policies.sac import SAC


@dataclass
class Layout:
    """Observation shapes/dtypes and action size of a task (from roboloop.envs.obs_layout)."""

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, np.dtype]
    act_dim: int

    @property
    def image_keys(self) -> list[str]:
        return [k for k, s in self.shapes.items() if len(s) == 3]


class Callback:
    """A hook into the training loop (policies/callbacks.py has the standard ones). The loop calls its
    callbacks in their list order, at these points; the base class does nothing at each:

        on_start(loop)                  before the first experience (after the demos are loaded)
        on_update(loop, metrics)        after each SAC update call (utd_ratio critic steps + one actor step)
        on_episode_end(loop, episode)   per finished episode: {"return", "success", "length"?, "intervention_rate"?}
        on_step(loop)                   after each round of new experience and its update
        on_eval(loop, result)           after each evaluation
        on_end(loop)                    after training (the final evaluation and checkpoint happen here)
    """

    def on_start(self, loop: "TrainingLoop") -> None: ...
    def on_update(self, loop: "TrainingLoop", metrics: dict) -> None: ...
    def on_episode_end(self, loop: "TrainingLoop", episode: dict) -> None: ...
    def on_step(self, loop: "TrainingLoop") -> None: ...
    def on_eval(self, loop: "TrainingLoop", result: EvalResult) -> None: ...
    def on_end(self, loop: "TrainingLoop") -> None: ...


class ExperienceSource(Protocol):
    in_process: bool   # experience comes from an env stepped here (updates follow each step at once)

    def collect(self, loop: "TrainingLoop", wait_ms: int) -> list[dict]:
        """Add new transitions to the loop (waiting up to wait_ms for them); return the episodes that
        ended, as {"return", "success", ...} dicts."""
        ...

    def next_round(self, loop: "TrainingLoop") -> None:
        """After the callbacks of a round (e.g. reset an env whose episode ended)."""
        ...


def load_agent_state(agent: SAC, model: dict, path: Path) -> None:
    """Networks, temperature and optimizer state of a checkpoint's `model` into `agent`."""
    saved_grasp = any(k.startswith("grasp.") for k in model.get("agent", {}))
    if saved_grasp != agent.cfg.grasp_critic:
        raise CheckpointError(f"checkpoint {path} was trained with sac.grasp_critic={str(saved_grasp).lower()}, "
                              f"this agent has sac.grasp_critic={str(agent.cfg.grasp_critic).lower()}")
    try:
        agent.load_state_dict(model["agent"], strict=True)
        agent.load_optimizer_state(model["optim"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit this agent's networks: {e}") from None


def gripper_demo_spec(saved: dict, episodes: list, path: str) -> dict:
    """The spec of demos recorded without the discrete_gripper wrapper (sac.grasp_critic), as if with it: their
    absolute gripper commands (-1 open, +1 closed) mean the same through it. Gripper values between -0.5 and
    0.5, which it would read as "stay", are refused (ValueError naming the file)."""
    if "discrete_gripper" in saved.get("wrappers", []):
        return saved
    held = sum(int(np.sum(np.abs(np.asarray(e.actions)[:, -1]) <= 0.5)) for e in episodes)
    if held:
        raise ValueError(f"demo file {path} was recorded with an absolute gripper and has {held} gripper "
                         f"value(s) in [-0.5, 0.5], which sac.grasp_critic's discrete_gripper reads as 'stay'")
    return {**saved, "wrappers": [*saved.get("wrappers", []), "discrete_gripper"]}


def collect_demos(cfg: TrainConfig, buffer: ReplayBuffer, episodes: int, log: Callable[[str], None],
                  progress: bool = True) -> float:
    """Fill `buffer` with scripted-expert episodes (own env and seeds); returns their success rate."""
    from roboloop.envs import make_env
    from roboloop.sim import make_expert

    # With a reward classifier, demos are rewarded by it too: the task's own reward never reaches the learner.
    env = classifier_reward(make_env(cfg.task, cfg.env, cfg.wrappers, training=False, success=cfg.success),
                            cfg.reward_classifier)
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


class TrainingLoop:
    """The agent, its replay buffers, RLPD sampling, the update budget, and the callbacks.

    spec: the env spec (checked against demo files and prior checkpoints); layout: the buffers' shapes.
    interventions: steps a person drove may arrive (the demo buffer keeps room for them).
    updates_per_step: update calls per env step after learning_starts (0: as many as the time allows).
    """

    def __init__(self, cfg: TrainConfig, spec: dict, layout: Layout, interventions: bool = False,
                 updates_per_step: float = 1.0, log: Callable[[str], None] = print, progress: bool = True):
        self.cfg, self.spec, self.layout, self.log, self.progress = cfg, spec, layout, log, progress
        self.updates_per_step = updates_per_step
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.agent = SAC(layout.shapes, layout.act_dim, cfg.sac)
        # A frozen pretrained encoder's features are stored instead of the frames (policies/encoders.py).
        stored_shapes, stored_dtypes, self._encode = replay_storage(self.agent.encoder, layout.shapes, layout.dtypes)
        self.online = ReplayBuffer(stored_shapes, stored_dtypes, layout.act_dim, cfg.replay_capacity, self._encode)
        self.demo_episodes = []
        if cfg.demo_file:
            from roboloop.dataset import load_demos
            self.demo_episodes, meta = load_demos(cfg.demo_file)
            saved = meta["env_spec"]
            if cfg.sac.grasp_critic:
                saved = gripper_demo_spec(saved, self.demo_episodes, cfg.demo_file)
            try:
                check_spec(saved, spec)
            except SpecMismatchError as e:
                raise SpecMismatchError(f"demo file {cfg.demo_file} was recorded on another task: {e}") from None
        max_len = spec.get("max_episode_steps") or 1_000
        demo_capacity = (cfg.demos * (max_len + 2) + sum(len(e.actions) + 1 for e in self.demo_episodes)
                         + (cfg.replay_capacity if interventions else 0))
        self.demo = (ReplayBuffer(stored_shapes, stored_dtypes, layout.act_dim, demo_capacity + 2, self._encode)
                     if demo_capacity else None)
        self._demo_open = False    # the last step went to the demo buffer and its episode goes on
        self.prior_demos = False   # the demo buffer came with a prior run (init): no demos are collected
        self.prior_networks = False   # the networks came with a prior run (init): no behaviour-cloning warm start
        self.step = self.episode = self.updates = 0
        self.evals: list[tuple[int, float]] = []       # (step, eval success rate)
        self.intervention_rates: list[tuple[int, float]] = []   # (step, share of the episode a person drove)
        self.last_eval: EvalResult | None = None
        self.checkpoint: Path | None = None
        self.stop_requested = False
        self.at_boundary = True    # the source may stop or checkpoint here (in-process: at episode ends)
        self.perf: dict[str, float] = {}
        self.status: dict[str, str] = {}               # extra progress-bar fields from the owner
        self.callbacks: list[Callback] = []

    # ------------------------------------------------------------------------------ experience
    def fill_demos(self) -> None:
        """Scripted demos and the demo file into an empty demo buffer (not on resume, not over prior demos)."""
        if self.demo is None or self.demo.num_added > 0 or self.prior_demos:
            return
        if self.cfg.demos:
            collect_demos(self.cfg, self.demo, self.cfg.demos, self.log, self.progress)
        if self.demo_episodes:
            from roboloop.dataset import add_to_buffer
            n = add_to_buffer(self.demo_episodes, self.demo)
            self.log(f"loaded {len(self.demo_episodes)} recorded demos ({n} transitions) from {self.cfg.demo_file}")

    def clone_demos(self) -> None:
        """`demo_bc_updates` behaviour-cloning steps of a fresh actor on the demo buffer's (state, action)
        pairs, before any RL update (not on resume, not over a prior run's networks)."""
        n = self.cfg.demo_bc_updates
        if not n or self.updates > 0 or self.prior_networks or self.demo is None or self.demo.num_added == 0:
            return
        demo = self.demo
        if set(demo.obs) != {"state"}:
            raise ValueError(f"demo_bc_updates clones state-only actors; this task's observation has "
                             f"{sorted(demo.obs)}: set demo_bc_updates: 0")
        valid = demo.is_start[:demo.filled]   # slots whose transition was stored (not a final next obs)
        states, actions = demo.obs["state"][:demo.filled][valid], demo.action[:demo.filled][valid]
        fit = distill_actor(self.agent, states.astype(np.float32), actions, updates=n,
                            batch_size=self.cfg.sac.batch_size, seed=self.cfg.seed)
        self.log(f"actor warm start: {n} behaviour-cloning steps on {len(states)} demo transitions "
                 f"(mse {fit.final_mse:.4f})")

    def add(self, obs, action, reward: float, next_obs, terminated: bool, truncated: bool,
            intervened: bool = False) -> None:
        """One env step: into the online buffer, and into the demo buffer when a person drove it."""
        if intervened:
            self.demo.add(obs, action, reward, next_obs, terminated, truncated)
        elif self._demo_open:   # the person let go mid-episode: their last step keeps its next observation
            self.demo.cut()
        self._demo_open = intervened and not (terminated or truncated)
        self.online.add(obs, action, reward, next_obs, terminated, truncated)
        self.step += 1

    def init_from(self, ckpt: Checkpoint, networks: bool = True) -> dict[str, int]:
        """Start from a trained run (fine-tuning): its networks, temperature and optimizer state (unless
        `networks` is False), and its replay as prior data: online transitions into `online`, demos into
        `demo`. Returns {buffer name: transitions added}."""
        check_spec(ckpt.meta["env_spec"], self.spec)
        counts = load_prior(ckpt, self.agent, self.online, self.demo, networks)
        self.prior_demos = counts.get("demo", 0) > 0
        self.prior_networks = networks
        return counts

    # -------------------------------------------------------------------------------- learning
    def update_budget(self, upto: int | None = None) -> float:
        """Critic steps allowed for the env steps so far, or for the first `upto` of them (inf when uncapped,
        0 before learning starts)."""
        step = self.step if upto is None else min(self.step, upto)
        if step < self.cfg.learning_starts or self.online.num_added == 0:
            return 0
        k = self.updates_per_step
        return float("inf") if k <= 0 else k * (step - self.cfg.learning_starts + 1) * self.cfg.sac.utd_ratio

    def budget_spent(self) -> bool:
        """True once `steps` are reached and the updates they earn are made (uncapped: once `steps` are
        reached). Only the first `steps` count: behind the transport actors keep sending while the
        learner catches up, and a budget that grew with them could never be spent."""
        budget = self.update_budget(upto=self.cfg.steps)
        return self.step >= self.cfg.steps and (budget == float("inf") or self.updates >= budget)

    def sample(self) -> dict:
        return to_torch(sample_rlpd(self.online, self.demo, self.cfg.sac.batch_size, self.rng))

    def update(self) -> dict:
        metrics = self.agent.update([self.sample() for _ in range(self.cfg.sac.utd_ratio)])
        self.updates += self.cfg.sac.utd_ratio   # counted in critic steps
        for cb in self.callbacks:
            cb.on_update(self, metrics)
        return metrics

    def episode_ended(self, episode: dict) -> None:
        self.episode += 1
        if "intervention_rate" in episode:
            self.intervention_rates.append((self.step, float(episode["intervention_rate"])))
        for cb in self.callbacks:
            cb.on_episode_end(self, episode)

    def run(self, source: ExperienceSource) -> EvalResult:
        """Train until `steps` (see the module docstring); returns the final evaluation."""
        self.fill_demos()
        self.clone_demos()
        for cb in self.callbacks:
            cb.on_start(self)
        while True:
            can_update = self.updates < self.update_budget()
            for episode in source.collect(self, 0 if can_update else 20):
                self.episode_ended(episode)
            # Behind the transport an update that became possible only now waits one round: the socket is
            # drained (and acknowledged) once more first, since an update can take long (the first compiles).
            if self.updates < self.update_budget() and (can_update or source.in_process):
                self.update()
            for cb in self.callbacks:
                cb.on_step(self)
            if self.at_boundary and (self.stop_requested or self.budget_spent()):
                break
            source.next_round(self)
        for cb in self.callbacks:
            cb.on_end(self)
        return self.last_eval


def load_prior(ckpt: Checkpoint, agent: SAC, online: ReplayBuffer, demo: ReplayBuffer | None,
               networks: bool = True) -> dict[str, int]:
    """A trained run's networks, temperature and optimizer state (unless `networks` is False) into
    `agent`, and its replay as prior data: online transitions into `online`, demos into `demo`.
    Returns {buffer name: transitions added}."""
    if networks:
        load_agent_state(agent, ckpt.model, ckpt.path)
    return {name: buf.extend_from_state(ckpt.replay[name])
            for name, buf in (("online", online), ("demo", demo)) if name in ckpt.replay and buf is not None}
