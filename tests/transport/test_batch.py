"""Transition batches from a real env: checked against the task layout, and added to the replay buffer
exactly as the in-process loop adds them."""
import numpy as np
import pytest

from roboloop.envs import make_env, obs_layout
from roboloop.policies.replay import ReplayBuffer
from roboloop.policies.transport.batch import Layout, Step, add_to_replay, check_batch, pack_batch
from roboloop.policies.transport.wire import WireError, decode, encode


@pytest.fixture(scope="module")
def rollout():
    env = make_env("Reach")
    shapes, dtypes, act_dim = obs_layout(env)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    steps = []
    for _ in range(70):   # 30-step episodes: two episode ends inside
        a = rng.uniform(-1, 1, 4).astype(np.float32)
        nxt, r, term, trunc, _ = env.step(a)
        steps.append(Step(obs, a, float(r), nxt, term, trunc))
        obs = env.reset()[0] if term or trunc else nxt
    return Layout(shapes, dtypes, act_dim), steps


def batches(steps, size):
    return [decode(encode(pack_batch(steps[i:i + size], {"actor": "a", "seq": i // size})))
            for i in range(0, len(steps), size)]


def test_batches_fill_the_replay_like_direct_adds(rollout):
    layout, steps = rollout
    direct = ReplayBuffer(layout.shapes, layout.dtypes, layout.act_dim, 500)
    for s in steps:
        direct.add(s.obs, s.action, s.reward, s.next_obs, s.terminated, s.truncated)
    wired = ReplayBuffer(layout.shapes, layout.dtypes, layout.act_dim, 500)
    for msg in batches(steps, 16):
        assert check_batch(msg, layout) == len(msg.arrays["reward"])
        add_to_replay(wired, msg)
    assert len(direct) == len(wired) == 70 and wired.num_added == 70
    a, b = direct.gather(np.flatnonzero(direct.is_start)), wired.gather(np.flatnonzero(wired.is_start))
    for key in ("action", "reward", "terminated"):
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(a["obs"]["state"], b["obs"]["state"])
    np.testing.assert_array_equal(a["next_obs"]["state"], b["next_obs"]["state"])


def test_only_chain_breaks_carry_a_second_observation(rollout):
    layout, steps = rollout
    msg = batches(steps, 70)[0]
    ends = [i for i, s in enumerate(steps) if s.terminated or s.truncated]
    assert list(msg.arrays["final_idx"]) == ends + ([69] if 69 not in ends else [])


@pytest.mark.parametrize("tamper, reason", [
    (lambda a: a.__setitem__("action", np.full_like(a["action"], np.nan)), "NaN"),
    (lambda a: a.__setitem__("action", a["action"] * 3), "outside the normalized range"),
    (lambda a: a.__setitem__("obs/state", a["obs/state"][:, :5]), "obs/state"),
    (lambda a: a.pop("reward"), "do not match"),
    (lambda a: a.__setitem__("final_idx", a["final_idx"][-1:]), "every episode end"),
    (lambda a: a.__setitem__("obs/state", a["obs/state"].astype(np.float64)), "float64"),
])
def test_batches_that_do_not_fit_the_task_are_refused(rollout, tamper, reason):
    layout, steps = rollout
    msg = batches(steps, 40)[0]
    msg.arrays = dict(msg.arrays)
    tamper(msg.arrays)
    with pytest.raises(WireError, match=reason):
        check_batch(msg, layout)
