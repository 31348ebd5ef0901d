import numpy as np
import pytest

from roboloop.policies.replay import ReplayBuffer


def make(capacity=10):
    return ReplayBuffer({"state": (2,), "cam": (4, 4, 3)}, {"state": np.float32, "cam": np.uint8}, 1, capacity)


def obs(t):
    return {"state": np.array([t, -t], np.float32), "cam": np.full((4, 4, 3), t % 256, np.uint8)}


def fill(buf, episode_lengths, start=0):
    """Episodes of consecutive t; transition t goes obs(t) -> obs(t+1) with action t, reward 10t."""
    t = start
    for n in episode_lengths:
        for k in range(n):
            last = k == n - 1
            buf.add(obs(t), np.array([t], np.float32), 10.0 * t, obs(t + 1), terminated=last, truncated=False)
            t += 1
        t += 1  # the next episode starts from a fresh observation
    return t


def check_consistent(batch):
    t = batch["action"][:, 0]
    np.testing.assert_array_equal(batch["obs"]["state"][:, 0], t)
    np.testing.assert_array_equal(batch["next_obs"]["state"][:, 0], t + 1)
    np.testing.assert_array_equal(batch["next_obs"]["cam"][:, 0, 0, 0], (t + 1) % 256)
    np.testing.assert_array_equal(batch["reward"], 10 * t)


def test_next_obs_and_episode_ends_are_right():
    buf = make(100)
    fill(buf, [3, 5, 1])
    assert len(buf) == 9
    batch = buf.sample(500, np.random.default_rng(0))
    check_consistent(batch)
    # terminal transitions are the last of each episode: t = 2, 8, 10
    term_t = set(batch["action"][batch["terminated"] == 1, 0].astype(int))
    assert term_t == {2, 8, 10}


def test_images_are_stored_once_per_step():
    buf = make(100)
    fill(buf, [20])
    # 20 transitions need 21 frames, not 40
    assert buf.filled == 21


def test_wraparound_never_returns_a_broken_transition():
    buf = make(7)
    fill(buf, [4, 3, 5, 2, 6, 3])
    rng = np.random.default_rng(1)
    batch = buf.sample(1000, rng)
    check_consistent(batch)
    # only recent transitions survive
    assert batch["action"].min() >= 20


def test_state_dict_round_trip():
    buf = make(12)
    fill(buf, [5, 9])
    other = make(12)
    other.load_state_dict(buf.state_dict())
    a = buf.sample(64, np.random.default_rng(3))
    b = other.sample(64, np.random.default_rng(3))
    for k in ("action", "reward", "terminated"):
        np.testing.assert_array_equal(a[k], b[k])
    assert other.ptr == buf.ptr and len(other) == len(buf)


def test_mismatched_state_dict_is_refused():
    buf = make(12)
    fill(buf, [3])
    with pytest.raises(ValueError, match="capacity"):
        make(13).load_state_dict(buf.state_dict())
    other = ReplayBuffer({"state": (3,), "cam": (4, 4, 3)}, {"state": np.float32, "cam": np.uint8}, 1, 12)
    with pytest.raises(ValueError, match="'state' shape"):
        other.load_state_dict(buf.state_dict())


def test_empty_buffer_refuses_to_sample():
    with pytest.raises(RuntimeError, match="empty"):
        make().sample(4, np.random.default_rng(0))


@pytest.mark.parametrize("source_capacity", [100, 17])   # 17: the source has wrapped around
def test_extend_from_state_copies_every_transition_chained(source_capacity):
    src = make(source_capacity)
    fill(src, [3, 5, 1, 6])
    dst = make(64)
    fill(dst, [2], start=1000)               # data already there stays
    added = dst.extend_from_state(src.state_dict())
    assert added == len(src)
    assert len(dst) == 2 + len(src)
    all_src = src.gather(np.flatnonzero(src.is_start[: src.filled]))
    got = dst.gather(np.flatnonzero(dst.is_start[: dst.filled]))
    check_consistent(got)
    assert set(got["action"][:, 0]) == set(all_src["action"][:, 0]) | {1000, 1001}
    np.testing.assert_array_equal(got["terminated"][np.argsort(got["action"][:, 0])],
                                  np.r_[all_src["terminated"][np.argsort(all_src["action"][:, 0])], [0, 1]])
    # Episodes stay chained: consecutive transitions share their observation slot (no slot per step wasted).
    assert dst.filled <= 2 + 1 + len(src) + 4 + 1


def test_extend_from_state_refuses_other_observations():
    src = ReplayBuffer({"state": (2,)}, {"state": np.float32}, 1, 10)
    src.add({"state": np.zeros(2)}, np.zeros(1), 0.0, {"state": np.ones(2)}, True, False)
    with pytest.raises(ValueError, match="cam"):
        make().extend_from_state(src.state_dict())
