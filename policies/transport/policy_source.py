"""The actor side of the transport for control loops other than `roboloop act` (the ROS 2 actor node):
where the policy's weights come from, and where its experience goes.

    source = PolicySource(checkpoint="runs/sim/checkpoint", endpoint="tcp://127.0.0.1:5555")
    action = source.act(obs)                                     # newest weights, between control steps
    source.record(obs, action, intervened, reward, next_obs, terminated, truncated, episode)

Weights: a trained checkpoint, the learner's stream, or both (the learner's take over as soon as the
first version arrives; before any weights exist the actor acts uniformly at random, as
`learning_starts` does). Experience goes to the learner with `ActorClient` (never blocks the loop).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from roboloop.envs import env_spec, make_env, obs_layout
from roboloop.policies.actor import Actor
from roboloop.policies.config import TrainConfig, from_dict
from roboloop.policies.transport.actor import ActorClient, ConnectError, welcome_actor
from roboloop.policies.transport.batch import Step


class PolicySource:
    """checkpoint: a checkpoint folder ("" for none); endpoint: the learner ("" to run without one)."""

    def __init__(self, checkpoint: str = "", endpoint: str = "", keys: str | None = None, key_name: str = "actor",
                 insecure: bool = False, name: str = "ros-actor", connect_timeout_s: float = 60.0,
                 log: Callable[[str], None] = print, seed: int = 0):
        from roboloop.checkpoint import load_checkpoint
        from roboloop.policies.train_loop import load_actor
        if not checkpoint and not endpoint:
            raise ValueError("the actor needs a checkpoint, a learner_address, or both")
        self.client: ActorClient | None = None
        self.fixed: Actor | None = None
        self.rng = np.random.default_rng(seed)
        how = None   # how to make the env: {"task", "env", "wrappers", "reward_classifier"}
        if checkpoint:
            ckpt = load_checkpoint(checkpoint, load_replay=False)
            cfg = from_dict(TrainConfig, ckpt.meta["config"])
            how = {"task": cfg.task, "env": cfg.env, "wrappers": cfg.wrappers,
                   "reward_classifier": cfg.reward_classifier}
            self.env = make_env(cfg.task, cfg.env, cfg.wrappers, training=False)   # for its spaces; never stepped
            self.fixed = load_actor(ckpt, env_spec(self.env))
        if endpoint:
            self.client = ActorClient(endpoint, keys, key_name, insecure, name, log)
            try:
                welcome = self.client.connect(env_spec(self.env) if how else None, connect_timeout_s)
                template = welcome_actor(welcome)
            except ConnectError as e:
                raise ValueError(str(e)) from None
            if how is None:
                how = welcome["env"]
                self.env = make_env(how["task"], how["env"], how["wrappers"], training=False)
            self.client.set_policy_template(template)
        self.task, self.how = how["task"], how   # how the env is made: {"task", "env", "wrappers"}
        self.spec = env_spec(self.env)
        shapes, dtypes, self.act_dim = obs_layout(self.env)
        self.layout = {k: (tuple(shapes[k]), np.dtype(dtypes[k])) for k in shapes}
        self.image_keys = [k for k, (shape, _) in self.layout.items() if len(shape) == 3]
        self.max_episode_steps = int(self.spec.get("max_episode_steps") or 1000)
        self.act(self.env.observation_space.sample())   # torch's one-time setup now, not in the first step

    def policy(self) -> tuple[int, Actor | None]:
        """(weights version, policy): the learner's newest, else the checkpoint's (version 0)."""
        if self.client is not None:
            version, pol = self.client.policy()
            if pol is not None:
                return version, pol
        return 0, self.fixed

    def act(self, obs: dict[str, np.ndarray], deterministic: bool = False) -> np.ndarray:
        """One observation -> normalized action (A,) float32."""
        _, pol = self.policy()
        if pol is None:
            return self.rng.uniform(-1.0, 1.0, self.act_dim).astype(np.float32)
        return pol.act(obs, deterministic)

    def record(self, obs, action, intervened: bool, reward: float, next_obs, terminated: bool, truncated: bool,
               episode: dict | None = None) -> None:
        """Queue one transition for the learner (a no-op without one)."""
        if self.client is not None:
            self.client.push(Step(obs, np.asarray(action, np.float32), float(reward), next_obs, bool(terminated),
                                  bool(truncated), bool(intervened)), episode)

    def stats(self) -> dict:
        version = self.policy()[0]
        if self.client is None:
            return {"weights_version": version}
        s = self.client.stats()
        return {"weights_version": version, "learner_version": s["learner_version"], "queue": s["queue_depth"],
                "unacked": s["unacked"], "acked": s["acked"], "dropped_steps": s["dropped_steps"],
                "connected": s["connected"]}

    def describe(self) -> str:
        s = self.stats()
        where = "checkpoint only" if self.client is None else f"learner {self.client.endpoint}"
        return f"weights v{s['weights_version']} ({where})"

    def close(self) -> None:
        if self.client is not None:
            if not self.client.flush(timeout_s=5.0):
                print(f"{len(self.client.unacked)} batches were not acknowledged before exit")
            self.client.close()
        self.env.close()
