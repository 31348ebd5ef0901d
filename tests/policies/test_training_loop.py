"""`TrainingLoop` ends behind a source that sends faster than the agent learns (actors over the transport)."""
import numpy as np

from roboloop.envs import env_spec, make_env, obs_layout
from roboloop.policies.training import Layout, TrainingLoop

from .conftest import tiny_config


class FloodingSource:
    """Adds `per_round` random Reach transitions each round, as actors that never wait for the learner."""
    in_process = False

    def __init__(self, env, per_round: int):
        self.env, self.per_round = env, per_round
        self.obs, _ = env.reset(seed=0)
        self.rng = np.random.default_rng(0)

    def collect(self, loop, wait_ms):
        for _ in range(self.per_round):
            action = self.rng.uniform(-1, 1, loop.layout.act_dim).astype(np.float32)
            nxt, r, term, trunc, _ = self.env.step(action)
            loop.add(self.obs, action, r, nxt, term, trunc)
            self.obs = self.env.reset()[0] if term or trunc else nxt
        return []

    def next_round(self, loop):
        pass


def test_the_loop_ends_when_transitions_outpace_updates():
    env = make_env("Reach")
    cfg = tiny_config(steps=60, extra=["learning_starts=20", "eval_every=0"])
    loop = TrainingLoop(cfg, env_spec(env), Layout(*obs_layout(env)), progress=False, log=lambda s: None)
    loop.run(FloodingSource(env, per_round=4))   # never returned while the budget grew with every transition
    assert loop.step > cfg.steps   # the source kept sending past `steps`
    assert loop.updates == (cfg.steps - cfg.learning_starts + 1) * cfg.sac.utd_ratio   # only `steps` earn updates


def test_demo_warm_start_clones_the_demo_actions_before_any_update():
    """demo_bc_updates: the actor fits the scripted demos' actions before RL starts; not with 0, and not over
    networks that came with a prior run."""
    import torch

    env = make_env("Reach")

    def demo_fit(extra):
        cfg = tiny_config(steps=0, extra=["demos=3", "demo_noise=0", *(e for e in extra if e != "prior")])
        loop = TrainingLoop(cfg, env_spec(env), Layout(*obs_layout(env)), progress=False, log=lambda s: None)
        loop.fill_demos()
        n = loop.demo.filled
        valid = loop.demo.is_start[:n]
        states, actions = torch.as_tensor(loop.demo.obs["state"][:n][valid]), loop.demo.action[:n][valid]
        before = loop.agent.actor.deterministic(loop.agent.encoder({"state": states})).numpy()
        if "prior" in extra:
            loop.prior_networks = True
        loop.clone_demos()
        after = loop.agent.actor.deterministic(loop.agent.encoder({"state": states})).numpy()
        return float(np.mean((before - actions) ** 2)), float(np.mean((after - actions) ** 2)), loop.updates

    before, after, updates = demo_fit(["demo_bc_updates=300"])
    assert after < 0.35 * before and updates == 0   # cloning is not an RL update
    for extra in ([], ["demo_bc_updates=300", "prior"]):
        before, after, _ = demo_fit(extra)
        assert after == before
