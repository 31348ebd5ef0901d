"""Held-out evaluation loads the saved actor and plays episodes no training or stopping eval used."""
import numpy as np
import pytest

from roboloop.checkpoint import SpecMismatchError
from roboloop.envs import make_env
from roboloop.policies.evaluate import HELD_OUT_SEED, evaluate
from roboloop.policies.held_out import evaluate_held_out
from roboloop.policies.train_loop import load_agent

from .conftest import tiny_config


def test_held_out_evaluation_is_the_saved_actor_on_fresh_seeds(tiny_checkpoint):
    cfg = tiny_config()
    # the seeds a run trains, collects demos and evaluates (and stops) on lie elsewhere
    assert HELD_OUT_SEED > cfg.seed + 1_000_000 + 10_000 and HELD_OUT_SEED > cfg.seed + 500_000 + 10_000
    held_out = evaluate_held_out(tiny_checkpoint, episodes=2)
    assert len(held_out.successes) == 2
    # the same numbers as the full agent loaded from the checkpoint, on the same episodes
    env = make_env("Reach", cfg.env, cfg.wrappers, training=False)
    agent, _, _ = load_agent(tiny_checkpoint, env)
    direct = evaluate(lambda o: agent.act(o, deterministic=True), env, 2, HELD_OUT_SEED)
    assert (direct.successes, direct.mean_return) == (held_out.successes, pytest.approx(held_out.mean_return))
    # other episodes give other returns: the seeds reach the env
    other = evaluate_held_out(tiny_checkpoint, episodes=2, seed=HELD_OUT_SEED + 2, env=env)
    assert not np.isclose(other.mean_return, held_out.mean_return)


def test_held_out_evaluation_refuses_bad_requests(tiny_checkpoint):
    with pytest.raises(ValueError, match="at least one episode"):
        evaluate_held_out(tiny_checkpoint, episodes=0)
    with pytest.raises(SpecMismatchError, match="does not match this task"):
        evaluate_held_out(tiny_checkpoint, episodes=1, env=make_env("PickCube"))
